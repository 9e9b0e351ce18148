//! A census set against the models: the fate of every key path, the keys dropped, and the
//! declared keys no document has (each with the closest key that was seen).

use serde::Serialize;

use super::fate::{fate, is_read_at, Fate};
use super::{parent_path, Census, KeyCensus, KeyStats};
use crate::model::{ModelDef, TableRole};
use crate::schema::Schema;

/// One key path of a collection and its fate.
#[derive(Debug, Clone, Serialize)]
pub struct KeyCoverage {
    pub path: String,
    #[serde(flatten)]
    pub stats: KeyStats,
    pub fate: Fate,
}

/// A key path no part of the model reads (its values are not in the target).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DroppedKey {
    pub collection: String,
    pub path: String,
    /// Documents having it.
    pub documents: u64,
    /// Its values that are not null: a key holding only nulls loses nothing.
    pub non_null: u64,
    /// Key paths below it, dropped with it.
    pub paths_below: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub example_id: Option<String>,
}

/// A key the model reads that no document has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NeverSeen {
    pub collection: String,
    pub path: String,
    /// Where it would have gone (`table.column`, or the child or junction table).
    pub target: String,
    /// The seen key at the same level that looks most like it (case, separators, spelling).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closest: Option<String>,
    /// Documents having `closest`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closest_documents: Option<u64>,
}

/// One collection: every path seen, and the findings.
#[derive(Debug, Clone, Serialize)]
pub struct CollectionCoverage {
    pub collection: String,
    pub documents: u64,
    pub keys: Vec<KeyCoverage>,
    pub dropped: Vec<DroppedKey>,
    pub never_seen: Vec<NeverSeen>,
}

/// Every collection of a schema against its census.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Coverage {
    pub collections: Vec<CollectionCoverage>,
}

impl Coverage {
    pub fn dropped(&self) -> impl Iterator<Item = &DroppedKey> {
        self.collections.iter().flat_map(|c| &c.dropped)
    }

    pub fn never_seen(&self) -> impl Iterator<Item = &NeverSeen> {
        self.collections.iter().flat_map(|c| &c.never_seen)
    }

    /// Dropped keys that hold values: data the target does not have and the model does not
    /// say it leaves out.
    pub fn losing(&self) -> impl Iterator<Item = &DroppedKey> {
        self.dropped().filter(|d| d.non_null > 0)
    }
}

/// What a run or `validate` reports about keys: the dropped ones and the declared ones never seen.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct KeyFindings {
    pub dropped: Vec<DroppedKey>,
    pub never_seen: Vec<NeverSeen>,
}

impl KeyFindings {
    pub fn of(coverage: &Coverage) -> KeyFindings {
        KeyFindings {
            dropped: coverage.dropped().cloned().collect(),
            never_seen: coverage.never_seen().cloned().collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.dropped.is_empty() && self.never_seen.is_empty()
    }

    /// Dropped keys holding values.
    pub fn losing(&self) -> impl Iterator<Item = &DroppedKey> {
        self.dropped.iter().filter(|d| d.non_null > 0)
    }
}

/// Sets `census` against every model of `schema` (a collection without a census is left out).
pub fn coverage(schema: &Schema, census: &Census) -> Coverage {
    let collections = schema
        .models()
        .iter()
        .filter_map(|m| {
            let c = census.get(m.collection())?;
            Some(collection_coverage(m.def(), c))
        })
        .collect();
    Coverage { collections }
}

/// One collection's coverage.
pub fn collection_coverage(model: &ModelDef, census: &KeyCensus) -> CollectionCoverage {
    let collection = model.collection.clone();
    let keys: Vec<KeyCoverage> = census
        .keys
        .iter()
        .map(|(path, stats)| KeyCoverage {
            path: path.clone(),
            stats: stats.clone(),
            fate: fate(model, path),
        })
        .collect();
    let dropped = keys
        .iter()
        .filter(|k| k.fate == Fate::Dropped)
        .map(|k| DroppedKey {
            collection: collection.clone(),
            path: k.path.clone(),
            documents: k.stats.documents,
            non_null: k.stats.non_null(),
            paths_below: keys
                .iter()
                .filter(|b| matches!(&b.fate, Fate::InsideDropped { key } if *key == k.path))
                .count(),
            example_id: k.stats.example_id.clone(),
        })
        .collect();
    let never_seen = if census.documents == 0 {
        Vec::new()
    } else {
        declared(model)
            .into_iter()
            .filter(|(path, _)| !seen(census, path))
            // A key inside rows that never occurred (an empty child array) is not missing.
            .filter(|(path, _)| match path.rfind("[]") {
                Some(end) => seen(census, &path[..end + 2]),
                None => true,
            })
            .map(|(path, target)| {
                let closest = closest(&path, census);
                NeverSeen {
                    collection: collection.clone(),
                    closest_documents: closest
                        .as_ref()
                        .and_then(|c| census.keys.get(c))
                        .map(|s| s.documents),
                    path,
                    target,
                    closest,
                }
            })
            .collect()
    };
    CollectionCoverage {
        collection,
        documents: census.documents,
        keys,
        dropped,
        never_seen,
    }
}

/// Whether the census has the path the model reads at `read` (`loc.0` is seen as `loc[]`).
fn seen(census: &KeyCensus, read: &str) -> bool {
    census.keys.contains_key(read) || census.keys.keys().any(|k| is_read_at(read, k))
}

/// Every document path the model reads, with where it goes.
fn declared(model: &ModelDef) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for table in &model.tables {
        match &table.role {
            TableRole::Child { field } => {
                out.push((field.clone(), format!("child table {}", table.name)));
            }
            TableRole::Junction { field } => {
                out.push((field.clone(), format!("junction table {}", table.name)));
                continue;
            }
            TableRole::Collection => {}
        }
        for c in &table.columns {
            if !c.source.starts_with('<') {
                out.push((c.source.clone(), format!("{}.{}", table.name, c.name)));
            }
        }
    }
    out
}

/// A key for comparing names: lowercase, without `_`, `-` and spaces.
fn folded(key: &str) -> String {
    key.chars()
        .filter(|c| !matches!(c, '_' | '-' | ' '))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Levenshtein distance between two short strings.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(above + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

/// The seen key next to `path` (same parent) most like it: the same once case and separators
/// are folded, else within a few edits.
fn closest(path: &str, census: &KeyCensus) -> Option<String> {
    let parent = parent_path(path);
    let key = |p: &str| p[parent.len()..].trim_start_matches('.').to_string();
    let wanted = folded(&key(path));
    let siblings = census
        .keys
        .keys()
        .filter(|p| parent_path(p) == parent && p.as_str() != path && !p.ends_with("[]"));
    let limit = (wanted.chars().count() / 3).max(1);
    siblings
        .map(|p| (distance(&wanted, &folded(&key(p))), p))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, p)| (*d, census.keys.get(*p).map(|s| u64::MAX - s.documents)))
        .map(|(_, p)| p.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn census(paths: &[(&str, u64)]) -> KeyCensus {
        KeyCensus {
            documents: 10,
            keys: paths
                .iter()
                .map(|(p, n)| {
                    (
                        p.to_string(),
                        KeyStats {
                            documents: *n,
                            ..KeyStats::default()
                        },
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn the_closest_key_folds_case_and_separators_then_allows_a_few_edits() {
        let c = census(&[
            ("Custom_Note", 4),
            ("adress", 3),
            ("name", 10),
            ("items", 2),
            ("items[]", 2),
            ("items[].Price", 2),
        ]);
        assert_eq!(closest("custom_note", &c).as_deref(), Some("Custom_Note"));
        assert_eq!(closest("customNote", &c).as_deref(), Some("Custom_Note"));
        assert_eq!(closest("address", &c).as_deref(), Some("adress"));
        assert_eq!(
            closest("items[].price", &c).as_deref(),
            Some("items[].Price")
        );
        assert_eq!(closest("zzz", &c), None);
        assert_eq!(closest("title", &c), None);
    }

    #[test]
    fn distances() {
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("same", "same"), 0);
    }
}
