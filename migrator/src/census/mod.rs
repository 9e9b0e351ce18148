//! The key census: every key path of a collection's documents, how many documents have it and
//! the BSON types of its values, counted while the documents are read (`migrate`, `--dry-run`,
//! `validate`), and what the model does with each path (its [`Fate`]).
//!
//! Paths name nested documents with `.` and arrays with `[]`: `address.city`, `items[]` (the
//! elements of `items`), `items[].sku` (a key of the documents inside `items`). The root of a
//! collection is the path `""`, whose document count is the collection's. Keys that are data (a
//! map keyed by ids) are counted together as `*` (`tier_and_details.*.tier`).
//!
//! [`Tally`] counts raw documents on one reading thread; [`Tally::take`] hands out what was
//! counted since the last call as a [`KeyCensus`], the delta a batch commits with its rows
//! ([`store`]), so a resumed run counts every document once. [`coverage`] sets a census against a
//! model: the fate of every path, the keys dropped, the declared keys never seen.

pub mod coverage;
pub mod fate;
pub(crate) mod frame;
pub mod store;
mod tally;

use std::collections::BTreeMap;

use bson::spec::ElementType;
use serde::{Deserialize, Serialize};

pub use coverage::{
    coverage, CollectionCoverage, Coverage, DroppedKey, KeyCoverage, KeyFindings, NeverSeen,
};
pub use fate::Fate;
pub use tally::{is_data_key, Scalars, Tally, MAX_CHILDREN};

/// What the documents of one collection hold under one key path.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyStats {
    /// Documents (of the collection) in which the path occurs at least once.
    pub documents: u64,
    /// Values under the path per BSON type (MongoDB's `$type` names: `string`, `int`, `object`,
    /// `array`, `null`, ...). Inside arrays a document can hold several.
    pub types: BTreeMap<String, u64>,
    /// The `_id` (relaxed Extended JSON) of the first document found with the path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub example_id: Option<String>,
}

impl KeyStats {
    /// Values that are not `null` (nor `undefined`).
    pub fn non_null(&self) -> u64 {
        self.types
            .iter()
            .filter(|(t, _)| !matches!(t.as_str(), "null" | "undefined"))
            .map(|(_, n)| n)
            .sum()
    }

    pub fn merge(&mut self, other: &KeyStats) {
        self.documents += other.documents;
        for (t, n) in &other.types {
            *self.types.entry(t.clone()).or_default() += n;
        }
        if self.example_id.is_none() {
            self.example_id.clone_from(&other.example_id);
        }
    }
}

/// The key paths of one collection's documents.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyCensus {
    /// Documents counted.
    pub documents: u64,
    /// Every path seen, with its figures.
    pub keys: BTreeMap<String, KeyStats>,
}

impl KeyCensus {
    pub fn is_empty(&self) -> bool {
        self.documents == 0 && self.keys.is_empty()
    }

    pub fn merge(&mut self, other: &KeyCensus) {
        self.documents += other.documents;
        for (path, stats) in &other.keys {
            self.keys.entry(path.clone()).or_default().merge(stats);
        }
    }
}

/// The environment variable that turns the census of `migrate`'s reading off, for measuring
/// what it costs (tests/bench/README.md) and for nothing else: a run without it reports no
/// dropped keys.
pub const OFF_FOR_MEASUREMENT: &str = "MIGRATOR_MEASURE_WITHOUT_CENSUS";

/// Whether `migrate` counts the census as it reads: always, unless [`OFF_FOR_MEASUREMENT`] is set.
pub fn counted_while_loading() -> bool {
    std::env::var_os(OFF_FOR_MEASUREMENT).is_none()
}

/// A census per collection.
pub type Census = BTreeMap<String, KeyCensus>;

/// MongoDB's name for a BSON type (the `$type` alias).
pub fn type_name(t: ElementType) -> &'static str {
    match t {
        ElementType::Double => "double",
        ElementType::String => "string",
        ElementType::EmbeddedDocument => "object",
        ElementType::Array => "array",
        ElementType::Binary => "binData",
        ElementType::Undefined => "undefined",
        ElementType::ObjectId => "objectId",
        ElementType::Boolean => "bool",
        ElementType::DateTime => "date",
        ElementType::Null => "null",
        ElementType::RegularExpression => "regex",
        ElementType::DbPointer => "dbPointer",
        ElementType::JavaScriptCode => "javascript",
        ElementType::Symbol => "symbol",
        ElementType::JavaScriptCodeWithScope => "javascriptWithScope",
        ElementType::Int32 => "int",
        ElementType::Timestamp => "timestamp",
        ElementType::Int64 => "long",
        ElementType::Decimal128 => "decimal",
        ElementType::MinKey => "minKey",
        ElementType::MaxKey => "maxKey",
    }
}

/// The path of key `key` below `parent` (`""` is the document itself).
pub fn child_path(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// The paths above `path`, outermost first: `a[].b.c` gives `a`, `a[]`, `a[].b`.
pub fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    let bytes = path.as_bytes();
    (1..path.len())
        .filter(move |&i| bytes[i] == b'.' || (bytes[i] == b'[' && path[i..].starts_with("[]")))
        .map(move |i| &path[..i])
}

/// The path a path sits in: `a[].b` for `a[].b.c`, `a` for `a[]`, `""` for a top key.
pub fn parent_path(path: &str) -> &str {
    ancestors(path).last().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ancestors_and_parents_follow_dots_and_brackets() {
        let a: Vec<&str> = ancestors("a[].b.c").collect();
        assert_eq!(a, ["a", "a[]", "a[].b"]);
        assert_eq!(parent_path("a[].b.c"), "a[].b");
        assert_eq!(parent_path("a[]"), "a");
        assert_eq!(parent_path("a[][]"), "a[]");
        assert_eq!(parent_path("top"), "");
        assert_eq!(ancestors("top").count(), 0);
    }

    #[test]
    fn stats_merge_and_count_non_null() {
        let mut a = KeyStats {
            documents: 2,
            types: BTreeMap::from([("null".into(), 1), ("string".into(), 1)]),
            example_id: None,
        };
        let b = KeyStats {
            documents: 3,
            types: BTreeMap::from([("string".into(), 2), ("int".into(), 1)]),
            example_id: Some("1".into()),
        };
        a.merge(&b);
        assert_eq!(a.documents, 5);
        assert_eq!(a.non_null(), 4);
        assert_eq!(a.types["string"], 3);
        assert_eq!(a.example_id.as_deref(), Some("1"));
    }
}
