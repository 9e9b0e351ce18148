//! Reading a source for `scaffold`: every document of every collection (or the first N with
//! `--sample`), counted twice in one walk each: the key census ([`Tally`], the same counts
//! `coverage` shows) and a [`Profile`] per key path of what its values are (integer range,
//! integral doubles, string labels, binary subtypes) with a bounded [`KeySet`] of hashed values
//! for references and uniqueness.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::Hasher;

use bson::{RawBsonRef, RawDocument, RawDocumentBuf};

use crate::census::{is_data_key, KeyCensus, Tally};
use crate::source::{Partition, Position, Source, SourceError, UniqueIndex};
use crate::transform::Elements;

/// Hashes kept per key path before the set keeps only a hash-chosen half of the values.
pub const KEY_SET_CAP: usize = 1 << 16;
/// Distinct strings remembered per path (enum evidence); past it the path is no enum.
pub const LABEL_CAP: usize = 24;
/// Strings longer than this are text, not keys: no hashed set is kept for them.
pub const KEY_MAX_LEN: usize = 64;
/// Paths profiled per collection (a map with word keys could otherwise make one per key).
const PATH_CAP: usize = 4096;

/// The hashed values of one key path, bounded: past [`KEY_SET_CAP`] hashes, only values whose
/// hash starts with `level` zero bits are kept (a sample chosen by value, the same in every
/// collection, so containment and repeats stay measurable on it).
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    hashes: HashSet<u64>,
    /// Values seen (all of them, kept or not).
    pub values: u64,
    /// Values whose hash was kept already (repeats among the kept values).
    pub repeats: u64,
    /// Sampling level: 0 keeps every value.
    pub level: u32,
}

fn kept(level: u32, hash: u64) -> bool {
    level == 0 || hash >> (64 - level) == 0
}

impl KeySet {
    fn insert(&mut self, hash: u64) {
        self.values += 1;
        if !kept(self.level, hash) {
            return;
        }
        if !self.hashes.insert(hash) {
            self.repeats += 1;
        } else if self.hashes.len() > KEY_SET_CAP {
            self.level += 1;
            let level = self.level;
            self.hashes.retain(|h| kept(level, *h));
        }
    }

    /// Distinct values kept (all distinct values when `level` is 0).
    pub fn distinct(&self) -> usize {
        self.hashes.len()
    }

    /// How many of this set's values (kept at `level`) the other set holds, and of how many.
    pub fn contained_in(&self, other: &KeySet) -> (usize, usize) {
        let level = self.level.max(other.level);
        let mine = self.hashes.iter().filter(|h| kept(level, **h));
        let (mut found, mut total) = (0, 0);
        for h in mine {
            total += 1;
            if kept(level, *h) && other.hashes.contains(h) {
                found += 1;
            }
        }
        (found, total)
    }

    /// Whether every value was kept (figures are exact, up to 64-bit hash collisions).
    pub fn exact(&self) -> bool {
        self.level == 0
    }
}

/// What the values under one key path are.
#[derive(Debug, Clone, Default)]
pub struct Profile {
    /// int32 and int64 values, and their range.
    pub ints: u64,
    pub int_min: i64,
    pub int_max: i64,
    pub doubles: u64,
    /// Doubles holding a whole number (within ±2^63).
    pub integral_doubles: u64,
    pub integral_min: f64,
    pub integral_max: f64,
    /// Doubles beyond ±2^53: integers there are not exact.
    pub beyond_2_53: u64,
    pub strings: u64,
    /// Distinct strings with their counts, until more than [`LABEL_CAP`] are seen.
    pub labels: BTreeMap<String, u64>,
    pub labels_overflow: bool,
    pub empty_strings: u64,
    /// Strings that read as a number (`"7.5"`).
    pub numeric_strings: u64,
    /// Strings of 24 hexadecimal digits (an ObjectId written as text).
    pub hex24_strings: u64,
    pub nul_strings: u64,
    pub max_len: usize,
    /// Binary values per subtype; float32 vectors (subtype 9, dtype 0x27) counted apart.
    pub binary_subtypes: BTreeMap<u8, u64>,
    pub float32_vectors: u64,
    /// Hashed objectId, string and integer values, while they look like keys.
    pub keys: Option<KeySet>,
    /// The path held a value that is not key-like (long text, a double): no key set.
    pub not_key: bool,
    /// The kinds of key values seen: 1 objectId, 2 string, 3 integer.
    pub key_kinds: u8,
}

impl Profile {
    fn key(&mut self, kind: u8, hash: u64) {
        self.key_kinds |= 1 << kind;
        if self.not_key {
            return;
        }
        self.keys.get_or_insert_with(KeySet::default).insert(hash);
    }

    fn drop_keys(&mut self) {
        self.not_key = true;
        self.keys = None;
    }
}

fn hash(kind: u8, bytes: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    h.write_u8(kind);
    h.write(bytes);
    h.finish()
}

/// One collection as read.
#[derive(Debug, Clone)]
pub struct CollectionScan {
    pub name: String,
    pub census: KeyCensus,
    pub profiles: HashMap<String, Profile>,
    pub unique_indexes: Vec<UniqueIndex>,
    /// The first document, for the generated snapshot test.
    pub first: Option<RawDocumentBuf>,
    /// Reading stopped at `--sample`.
    pub sampled: bool,
    pub bytes: u64,
}

impl CollectionScan {
    pub fn profile(&self, path: &str) -> Option<&Profile> {
        self.profiles.get(path)
    }
}

/// The whole source as read.
#[derive(Debug, Clone)]
pub struct SourceScan {
    pub describe: String,
    pub collections: Vec<CollectionScan>,
    /// `--sample N`: at most N documents per collection were read.
    pub sample: Option<u64>,
}

impl SourceScan {
    pub fn collection(&self, name: &str) -> Option<&CollectionScan> {
        self.collections.iter().find(|c| c.name == name)
    }

    pub fn documents(&self) -> u64 {
        self.collections.iter().map(|c| c.census.documents).sum()
    }
}

/// Reads every collection of `source`; `unique` gives a collection's unique indexes (from its
/// metadata); `progress` hears (collection, documents so far) now and then and at each end.
pub fn scan(
    source: &dyn Source,
    sample: Option<u64>,
    unique: &dyn Fn(&str) -> Vec<UniqueIndex>,
    progress: &mut dyn FnMut(&str, u64, bool),
) -> Result<SourceScan, SourceError> {
    let mut infos = source.collections()?;
    infos.sort_by(|a, b| a.name.cmp(&b.name));
    let mut collections = Vec::new();
    for info in infos {
        let mut walker = Walker::default();
        let mut tally = Tally::new();
        let mut first = None;
        let mut n = 0u64;
        let mut bytes = 0u64;
        let mut sampled = false;
        let mut stream = source.read(&info.name, &Partition::whole(), &Position::Start)?;
        while let Some(next) = stream.next_doc() {
            let (doc, _) = next?;
            if sample.is_some_and(|s| n >= s) {
                sampled = true;
                break;
            }
            if first.is_none() {
                first = Some(doc.to_owned());
            }
            tally.observe(doc);
            walker.document(doc);
            n += 1;
            bytes += doc.as_bytes().len() as u64;
            if n.is_multiple_of(20_000) {
                progress(&info.name, n, false);
            }
        }
        progress(&info.name, n, true);
        collections.push(CollectionScan {
            unique_indexes: unique(&info.name),
            name: info.name,
            census: tally.take(),
            profiles: walker.profiles,
            first,
            sampled,
            bytes,
        });
    }
    Ok(SourceScan {
        describe: source.describe(),
        collections,
        sample,
    })
}

/// Walks documents, naming paths as the census does.
#[derive(Debug, Default)]
struct Walker {
    profiles: HashMap<String, Profile>,
    path: String,
}

impl Walker {
    fn document(&mut self, doc: &RawDocument) {
        for element in Elements::of(doc) {
            let Ok((key, value)) = element else { break };
            let len = self.path.len();
            if !self.path.is_empty() {
                self.path.push('.');
            }
            if is_data_key(key) {
                self.path.push('*');
            } else {
                self.path.push_str(&String::from_utf8_lossy(key));
            }
            self.value(value);
            self.path.truncate(len);
        }
    }

    fn value(&mut self, value: RawBsonRef<'_>) {
        match value {
            RawBsonRef::Document(doc) => return self.document(doc),
            RawBsonRef::Array(array) => {
                let len = self.path.len();
                self.path.push_str("[]");
                for element in Elements::of_array(array) {
                    let Ok((_, value)) = element else { break };
                    self.value(value);
                }
                self.path.truncate(len);
                return;
            }
            RawBsonRef::Null | RawBsonRef::Undefined => return,
            _ => {}
        }
        if !self.profiles.contains_key(self.path.as_str()) {
            if self.profiles.len() >= PATH_CAP {
                return;
            }
            self.profiles.insert(self.path.clone(), Profile::default());
        }
        if let Some(profile) = self.profiles.get_mut(self.path.as_str()) {
            observe(profile, value);
        }
    }
}

fn observe(p: &mut Profile, value: RawBsonRef<'_>) {
    match value {
        RawBsonRef::Int32(i) => int(p, i64::from(i)),
        RawBsonRef::Int64(i) => int(p, i),
        RawBsonRef::Double(d) => {
            p.doubles += 1;
            if d.abs() > 9_007_199_254_740_992.0 && d.is_finite() {
                p.beyond_2_53 += 1;
            }
            if d.fract() == 0.0 && d.abs() < 9.2e18 {
                if p.integral_doubles == 0 {
                    p.integral_min = d;
                    p.integral_max = d;
                }
                p.integral_doubles += 1;
                p.integral_min = p.integral_min.min(d);
                p.integral_max = p.integral_max.max(d);
            }
            p.drop_keys();
        }
        RawBsonRef::String(s) => {
            p.strings += 1;
            p.max_len = p.max_len.max(s.len());
            if s.is_empty() {
                p.empty_strings += 1;
            } else if s.trim().parse::<f64>().is_ok() {
                p.numeric_strings += 1;
            }
            if s.len() == 24 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
                p.hex24_strings += 1;
            }
            if s.contains('\0') {
                p.nul_strings += 1;
            }
            if !p.labels_overflow {
                let room = p.labels.len() < LABEL_CAP && s.len() <= 40;
                match p.labels.get_mut(s) {
                    Some(n) => *n += 1,
                    None if room => {
                        p.labels.insert(s.to_string(), 1);
                    }
                    None => {
                        p.labels_overflow = true;
                        p.labels.clear();
                    }
                }
            }
            if s.len() > KEY_MAX_LEN {
                p.drop_keys();
            } else {
                p.key(2, hash(2, s.as_bytes()));
            }
        }
        RawBsonRef::ObjectId(o) => p.key(1, hash(1, &o.bytes())),
        RawBsonRef::Binary(b) => {
            *p.binary_subtypes.entry(u8::from(b.subtype)).or_default() += 1;
            if u8::from(b.subtype) == 9 && b.bytes.first() == Some(&0x27) {
                p.float32_vectors += 1;
            }
            p.drop_keys();
        }
        _ => p.drop_keys(),
    }
}

fn int(p: &mut Profile, i: i64) {
    if p.ints == 0 {
        p.int_min = i;
        p.int_max = i;
    }
    p.ints += 1;
    p.int_min = p.int_min.min(i);
    p.int_max = p.int_max.max(i);
    p.key(3, hash(3, &i.to_le_bytes()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_sets_stay_bounded_and_measure_containment() {
        let mut a = KeySet::default();
        let mut b = KeySet::default();
        for i in 0..(KEY_SET_CAP as u64 * 3) {
            a.insert(hash(3, &i.to_le_bytes()));
            if i % 2 == 0 {
                b.insert(hash(3, &i.to_le_bytes()));
            }
        }
        assert!(a.distinct() <= KEY_SET_CAP && a.level > 0);
        assert_eq!(a.repeats, 0);
        let (found, total) = b.contained_in(&a);
        assert_eq!(found, total, "every value of b is in a");
        let (found, total) = a.contained_in(&b);
        let share = found as f64 / total as f64;
        assert!((0.4..0.6).contains(&share), "{share}");
    }

    #[test]
    fn profiles_follow_census_paths() {
        let doc = bson::rawdoc! { "_id": 1, "a": { "b": 2.0, "c": "x" }, "items": [ { "sku": "p" } ], "m": { "2019": 1 } };
        let mut w = Walker::default();
        w.document(&doc);
        let mut paths: Vec<&str> = w.profiles.keys().map(String::as_str).collect();
        paths.sort();
        assert_eq!(paths, ["_id", "a.b", "a.c", "items[].sku", "m.*"]);
        assert_eq!(w.profiles["a.b"].integral_doubles, 1);
        assert_eq!(w.profiles["a.c"].labels["x"], 1);
    }
}
