//! mongodump's collection metadata (`<collection>.metadata.json`, or the `metadata` string of an
//! archive's prelude): Extended JSON with the collection's options and index definitions. Only
//! the unique indexes (a collection's natural keys) and the `2dsphere` ones (its GeoJSON) are read.

use serde_json::Value;

/// A unique index (other than the implicit one on `_id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UniqueIndex {
    pub name: String,
    /// The indexed fields in index order, as dotted paths.
    pub keys: Vec<String>,
    /// Only documents matching a `partialFilterExpression` are constrained.
    pub partial: bool,
    /// Documents without the fields are not constrained.
    pub sparse: bool,
}

/// Why a metadata text could not be read, and the line it failed on (1-based, 0 if unknown).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MetadataError {
    pub(crate) line: u64,
    pub(crate) reason: String,
}

/// `true`, or a non-zero number in any Extended JSON spelling (old servers wrote `unique: 1`).
fn truthy(value: Option<&Value>) -> bool {
    match value {
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(Value::Object(map)) => [
            "$numberInt",
            "$numberLong",
            "$numberDouble",
            "$numberDecimal",
        ]
        .iter()
        .find_map(|k| map.get(*k).and_then(Value::as_str))
        .and_then(|s| s.parse::<f64>().ok())
        .is_some_and(|f| f != 0.0),
        _ => false,
    }
}

/// The unique indexes declared in a metadata text.
pub(crate) fn unique_indexes(text: &str) -> Result<Vec<UniqueIndex>, MetadataError> {
    let fail = |reason: String| MetadataError { line: 0, reason };
    let json: Value = serde_json::from_str(text).map_err(|e| MetadataError {
        line: e.line() as u64,
        reason: e.to_string(),
    })?;
    let indexes = match json.get("indexes") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(indexes)) => indexes,
        Some(_) => return Err(fail("`indexes` is not an array".into())),
    };
    let mut unique = Vec::new();
    for (i, index) in indexes.iter().enumerate() {
        if !truthy(index.get("unique")) {
            continue;
        }
        let name = index
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| fail(format!("index {i} has no `name`")))?;
        let keys = match index.get("key") {
            Some(Value::Object(key)) if !key.is_empty() => key.keys().cloned().collect(),
            _ => return Err(fail(format!("index `{name}` has no `key` document"))),
        };
        unique.push(UniqueIndex {
            name: name.to_string(),
            keys,
            partial: index.get("partialFilterExpression").is_some(),
            sparse: truthy(index.get("sparse")),
        });
    }
    Ok(unique)
}

/// The key paths of a collection's `2dsphere` indexes (GeoJSON the server indexes as spheres),
/// in index order; a compound index gives its `2dsphere` keys only.
pub(crate) fn geo_indexes(text: &str) -> Result<Vec<String>, MetadataError> {
    let json: Value = serde_json::from_str(text).map_err(|e| MetadataError {
        line: e.line() as u64,
        reason: e.to_string(),
    })?;
    let Some(Value::Array(indexes)) = json.get("indexes") else {
        return Ok(Vec::new());
    };
    let mut paths = Vec::new();
    for index in indexes {
        if let Some(Value::Object(key)) = index.get("key") {
            for (path, kind) in key {
                if kind.as_str() == Some("2dsphere") && !paths.contains(path) {
                    paths.push(path.clone());
                }
            }
        }
    }
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_2dsphere_keys() {
        let text = r#"{"indexes":[{"v":2,"key":{"_id":1},"name":"_id_"},{"v":2,"key":{"location.geo":"2dsphere"},"name":"geo index","2dsphereIndexVersion":3},{"key":{"a":1,"area":"2dsphere"},"name":"c"}]}"#;
        assert_eq!(
            geo_indexes(text),
            Ok(vec!["location.geo".to_string(), "area".to_string()])
        );
        assert_eq!(geo_indexes(r#"{"options":{}}"#), Ok(vec![]));
    }

    fn index(name: &str, keys: &[&str], partial: bool, sparse: bool) -> UniqueIndex {
        UniqueIndex {
            name: name.into(),
            keys: keys.iter().map(|k| k.to_string()).collect(),
            partial,
            sparse,
        }
    }

    #[test]
    fn reads_unique_indexes_in_every_spelling() {
        let cases = [
            (
                r#"{"options":{},"indexes":[{"v":2,"key":{"_id":1},"name":"_id_"}]}"#,
                vec![],
            ),
            (
                r#"{"indexes":[{"v":2,"unique":true,"key":{"email":1.0},"name":"email_1"}]}"#,
                vec![index("email_1", &["email"], false, false)],
            ),
            (
                r#"{"indexes":[{"unique":{"$numberInt":"1"},"key":{"b":{"$numberInt":"1"},"a":-1},"name":"b_a","sparse":true}]}"#,
                vec![index("b_a", &["b", "a"], false, true)],
            ),
            (
                r#"{"indexes":[{"unique":true,"key":{"x":1},"name":"x","partialFilterExpression":{"x":{"$exists":true}}},{"unique":false,"key":{"y":1},"name":"y"}]}"#,
                vec![index("x", &["x"], true, false)],
            ),
            (r#"{"options":{}}"#, vec![]),
        ];
        for (text, expected) in cases {
            assert_eq!(unique_indexes(text), Ok(expected), "{text}");
        }
    }

    #[test]
    fn reports_bad_metadata() {
        let cases = [
            ("{\n\"indexes\": [}", "at line 2", 2),
            (r#"{"indexes": 3}"#, "`indexes` is not an array", 0),
            (
                r#"{"indexes": [{"unique": true, "key": {"a": 1}}]}"#,
                "index 0 has no `name`",
                0,
            ),
            (
                r#"{"indexes": [{"unique": true, "name": "a"}]}"#,
                "index `a` has no `key` document",
                0,
            ),
        ];
        for (text, expected, line) in cases {
            let err = unique_indexes(text).expect_err(text);
            assert!(err.reason.contains(expected), "{err:?}");
            assert_eq!(err.line, line, "{text}");
        }
    }
}
