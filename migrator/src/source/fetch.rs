//! Finding documents by `_id` in sources that can only be scanned (files, archives).

use std::collections::HashSet;

use bson::raw::{cstr, RawBson, RawBsonRef, RawDocument};
use bson::{Bson, RawDocumentBuf};

use super::{Positioned, SourceError};

/// A set of `_id` values compared exactly: same BSON type and same bytes (so `1` and `1L` differ,
/// unlike a server's `$in`; ids taken from documents of the same source always match).
#[derive(Debug, Default)]
pub(crate) struct IdSet {
    keys: HashSet<Vec<u8>>,
}

/// The bytes of `{"k": value}`: the value's type and encoding in one comparable key.
fn key(value: RawBsonRef<'_>) -> Vec<u8> {
    let mut doc = RawDocumentBuf::new();
    doc.append(cstr!("k"), value);
    doc.into_bytes()
}

impl IdSet {
    pub(crate) fn new(ids: &[Bson]) -> Self {
        let keys = ids
            .iter()
            // An id that cannot be encoded (a key with a nul byte) cannot match anything either.
            .filter_map(|id| RawBson::try_from(id.clone()).ok())
            .map(|raw| key(raw.as_raw_bson_ref()))
            .collect();
        IdSet { keys }
    }

    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    pub(crate) fn contains(&self, doc: &RawDocument) -> bool {
        matches!(doc.get("_id"), Ok(Some(id)) if self.keys.contains(&key(id)))
    }

    /// Scans `docs` for the ids, stopping once every id was found.
    pub(crate) fn scan(
        &self,
        docs: impl Iterator<Item = Result<Positioned, SourceError>>,
    ) -> Result<Vec<RawDocumentBuf>, SourceError> {
        let mut found = Vec::new();
        if self.keys.is_empty() {
            return Ok(found);
        }
        for item in docs {
            let item = item?;
            if self.contains(&item.doc) {
                found.push(item.doc);
                if found.len() == self.len() {
                    break;
                }
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::oid::ObjectId;

    #[test]
    fn matches_exact_type_and_value() {
        let oid = ObjectId::parse_str("59a47286cfa9a3a73e51e72c").expect("oid");
        let set = IdSet::new(&[
            Bson::Int32(1),
            Bson::ObjectId(oid),
            Bson::String("a".into()),
        ]);
        let cases = [
            (bson::rawdoc! {"_id": 1}, true),
            (bson::rawdoc! {"_id": 1_i64}, false),
            (bson::rawdoc! {"_id": 2}, false),
            (bson::rawdoc! {"_id": oid}, true),
            (bson::rawdoc! {"_id": "a", "x": 1}, true),
            (bson::rawdoc! {"x": 1}, false),
        ];
        for (doc, expected) in cases {
            assert_eq!(set.contains(&doc), expected, "{doc:?}");
        }
    }
}
