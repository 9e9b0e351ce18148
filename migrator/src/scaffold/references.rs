//! References found from values: a key path whose values are (mostly) among another
//! collection's `_id`s, or among the values of a field unique in it, refers to that collection.
//! Names play no part except as a tie-breaker for weak evidence (few distinct integers or short
//! strings, which small ranges make look contained by chance).
//!
//! Unique fields come from the values (every document has one, none repeats) and from the
//! source's unique indexes (`.metadata.json`).

use std::collections::BTreeMap;

use super::confirm::Confirmed;
use super::scan::{CollectionScan, KeySet, SourceScan};

/// Share of a path's distinct values that must be found for a reference.
pub(super) const MIN_SHARE: f64 = 0.5;
/// Weak evidence (integers, strings) needs this many distinct values and this share, or a name
/// that says it holds ids.
const WEAK_DISTINCT: usize = 20;
const WEAK_SHARE: f64 = 0.9;

/// A key path of a collection.
pub type PathOf = (String, String);

/// A reference found from values.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// The collection referred to.
    pub target: String,
    /// Its key: `_id`, or a unique field.
    pub key: String,
    /// Distinct values found there, of the distinct values compared.
    pub found: usize,
    pub compared: usize,
    /// Every value was compared (no hash sample).
    pub exact: bool,
    /// A sample's decision counted exactly by a second read ([`super::confirm`]).
    pub confirmed: Option<Confirmed>,
}

impl Found {
    /// Distinct values that dangle: exactly when every value was compared or confirmed, else
    /// among the sampled ones.
    pub fn dangling(&self) -> usize {
        match self.confirmed {
            Some(c) => c.dangling as usize,
            None => self.compared - self.found,
        }
    }

    /// How sure the reference is, in words. On a hash sample (past [`KEY_SET_CAP`] distinct
    /// values a set keeps the values whose hash starts with zero bits: a sample chosen by value,
    /// the same on both sides, so a kept value is compared exactly), the share of distinct values
    /// that dangle is bounded at 95% confidence: below 3/n when none of n sampled values does (the
    /// rule of three), else the share seen ± 1.96 standard errors.
    ///
    /// [`KEY_SET_CAP`]: super::scan::KEY_SET_CAP
    /// A sampled reference confirmed by a second read says what that read counted: every
    /// value compared, nothing estimated.
    pub fn confidence(&self) -> String {
        // (An exact reference that dangles is read again only for its documents.)
        if let (Some(c), false) = (self.confirmed, self.exact) {
            let resolved = c.distinct - c.dangling;
            let dangle = match c.dangling {
                0 => format!("all {} values resolve", c.values),
                d => format!(
                    "{d} distinct values dangle, in {} of {} values",
                    c.dangling_values, c.values
                ),
            };
            return format!(
                "confirmed exactly by a second read: {resolved} of {} distinct values resolve, {dangle} (decided on a hash sample: {} of {} found)",
                c.distinct, self.found, self.compared
            );
        }
        let n = self.compared.max(1) as f64;
        let share = self.found as f64 / n;
        let figures = format!(
            "{} of {} distinct values found ({:.1}%",
            self.found,
            self.compared,
            share * 100.0
        );
        if self.exact {
            return format!("{figures}, exact over every value)");
        }
        let dangling = 1.0 - share;
        let bound = if self.found == self.compared {
            format!("under {:.3}% of all distinct values dangle", 300.0 / n)
        } else {
            let margin = 1.96 * (dangling * share / n).sqrt();
            format!(
                "{:.2}% to {:.2}% of all distinct values dangle",
                100.0 * (dangling - margin).max(0.0),
                100.0 * (dangling + margin).min(1.0)
            )
        };
        format!("{figures} on a hash sample of the values; at 95% confidence {bound})")
    }
}

/// A field whose values are unique in its collection.
#[derive(Debug, Clone, PartialEq)]
pub struct UniqueKey {
    /// The unique index declaring it, if any.
    pub index: Option<String>,
    pub distinct: usize,
    /// Values that repeat (rejected as repeated keys if the field is made unique).
    pub repeats: u64,
    pub exact: bool,
    /// `distinct` and `repeats` were counted by a second read ([`super::confirm`]) after a
    /// hash sample.
    pub confirmed: bool,
}

/// What was found in a scanned source.
#[derive(Debug, Clone, Default)]
pub struct References {
    pub found: BTreeMap<PathOf, Found>,
    /// Candidate keys (unique by values or by index), referenced or not.
    pub unique: BTreeMap<PathOf, UniqueKey>,
}

impl References {
    /// Whether a field is a natural key others reference (it gets `unique`).
    pub fn is_referenced_key(&self, collection: &str, path: &str) -> bool {
        self.found
            .values()
            .any(|f| f.target == collection && f.key == path && path != "_id")
    }
}

fn is_top(path: &str) -> bool {
    !path.contains('.') && !path.contains('[')
}

fn single_kind(kinds: u8) -> Option<u8> {
    (kinds.count_ones() == 1).then(|| kinds.trailing_zeros() as u8)
}

/// Unique candidates of one collection: fields present (not null) in every document whose
/// values barely repeat, and single-field unique indexes.
fn unique_keys(c: &CollectionScan) -> BTreeMap<String, UniqueKey> {
    let mut out = BTreeMap::new();
    for (path, p) in &c.profiles {
        let (Some(keys), true) = (&p.keys, is_top(path) && path != "_id") else {
            continue;
        };
        let Some(stats) = c.census.keys.get(path) else {
            continue;
        };
        let everywhere =
            stats.documents == c.census.documents && stats.non_null() == stats.documents;
        let few_repeats = keys.repeats <= (keys.values / 1000).max(1);
        if everywhere && few_repeats && single_kind(p.key_kinds).is_some() && keys.distinct() > 1 {
            out.insert(
                path.clone(),
                UniqueKey {
                    index: None,
                    distinct: keys.distinct(),
                    repeats: keys.repeats,
                    exact: keys.exact(),
                    confirmed: false,
                },
            );
        }
    }
    for index in &c.unique_indexes {
        if let ([key], false) = (index.keys.as_slice(), index.partial) {
            let keys = c.profile(key).and_then(|p| p.keys.as_ref());
            let entry = out.entry(key.clone()).or_insert_with(|| UniqueKey {
                index: None,
                distinct: keys.map_or(0, KeySet::distinct),
                repeats: keys.map_or(0, |k| k.repeats),
                exact: keys.is_none_or(KeySet::exact),
                confirmed: false,
            });
            entry.index = Some(index.name.clone());
        }
    }
    out
}

/// Whether a key's name says it holds ids (`user_id`, `userId`, `_id`, `ownerIds`).
fn names_an_id(path: &str) -> bool {
    let last = path
        .rsplit(['.', '['])
        .find(|s| !s.is_empty() && *s != "]")
        .unwrap_or(path)
        .trim_end_matches(']')
        .to_ascii_lowercase();
    last == "_id" || last.ends_with("id") || last.ends_with("ids") || last.ends_with("key")
}

/// Every reference the values show.
pub fn find(scan: &SourceScan) -> References {
    let mut refs = References::default();
    for c in &scan.collections {
        for (path, key) in unique_keys(c) {
            refs.unique.insert((c.name.clone(), path), key);
        }
    }
    // Targets: every `_id`, and every unique candidate.
    let mut targets: Vec<(&str, String, &KeySet, u8, bool)> = Vec::new();
    for c in &scan.collections {
        // Every collection's `_id` is indexed: that is no evidence that a few small integers
        // (`reviews[].stars` 1..5 among items numbered 1..23) point at it.
        let mut wanted = vec![("_id".to_string(), false)];
        for ((coll, path), key) in &refs.unique {
            if coll == &c.name {
                wanted.push((path.clone(), key.index.is_some()));
            }
        }
        for (path, indexed) in wanted {
            if let Some((_, p)) = c.profiles.get_key_value(&path) {
                if let (Some(keys), Some(kind)) = (&p.keys, single_kind(p.key_kinds)) {
                    targets.push((&c.name, path, keys, kind, indexed));
                }
            }
        }
    }
    let mut paths: Vec<(&CollectionScan, &String)> = scan
        .collections
        .iter()
        .flat_map(|c| c.profiles.keys().map(move |p| (c, p)))
        .collect();
    paths.sort_by(|a, b| (&a.0.name, a.1).cmp(&(&b.0.name, b.1)));
    for (c, path) in paths {
        if path == "_id" || path.contains('*') {
            continue;
        }
        let p = &c.profiles[path];
        let (Some(keys), Some(kind)) = (&p.keys, single_kind(p.key_kinds)) else {
            continue;
        };
        let mut best: Option<(f64, bool, Found)> = None;
        for (target, key, tkeys, tkind, indexed) in &targets {
            let (target, key, tkeys, tkind, indexed) =
                (*target, key.as_str(), *tkeys, *tkind, *indexed);
            if tkind != kind || (target == c.name && key == path) {
                continue;
            }
            let Some((found, compared)) = keys.contained_at_least(tkeys, MIN_SHARE) else {
                continue;
            };
            if found == 0 || compared == 0 {
                continue;
            }
            let share = found as f64 / compared as f64;
            if share < MIN_SHARE {
                continue;
            }
            // ObjectIds (kind 1) are evidence on their own; integers and strings need numbers
            // or a name that says so; a string natural key needs an index or such a name.
            let strong = kind == 1 || (compared >= WEAK_DISTINCT && share >= WEAK_SHARE);
            // A key declared unique by an index, holding every value, is evidence enough.
            let weak_ok = names_an_id(path) || (indexed && share >= WEAK_SHARE);
            if !strong && !weak_ok {
                continue;
            }
            if kind == 2 && key != "_id" && !indexed && !names_an_id(path) {
                continue;
            }
            let candidate = Found {
                target: target.to_string(),
                key: key.to_string(),
                found,
                compared,
                exact: keys.exact() && tkeys.exact(),
                confirmed: None,
            };
            let better = match &best {
                None => true,
                Some((s, was_id, _)) => share > *s || (share == *s && key == "_id" && !was_id),
            };
            if better {
                best = Some((share, key == "_id", candidate));
            }
        }
        if let Some((_, _, found)) = best {
            refs.found.insert((c.name.clone(), path.clone()), found);
        }
    }
    refs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confidence_is_stated_with_its_bound_on_a_sample() {
        let found = |found, compared, exact| Found {
            target: "users".into(),
            key: "_id".into(),
            found,
            compared,
            exact,
            confirmed: None,
        };
        let cases = [
            (
                found(10, 10, true),
                "10 of 10 distinct values found (100.0%, exact over every value)",
            ),
            (
                found(1000, 1000, false),
                "at 95% confidence under 0.300% of all distinct values dangle",
            ),
            (
                found(900, 1000, false),
                "at 95% confidence 8.14% to 11.86% of all distinct values dangle",
            ),
        ];
        for (f, expected) in cases {
            let text = f.confidence();
            assert!(text.contains(expected), "{text}");
        }
    }

    #[test]
    fn id_names() {
        assert!(names_an_id("user_id"));
        assert!(names_an_id("items[]._id"));
        assert!(names_an_id("ownerIds[]"));
        assert!(names_an_id("rival.slugKey"));
        assert!(!names_an_id("stars"));
        assert!(!names_an_id("accounts[]"));
    }
}
