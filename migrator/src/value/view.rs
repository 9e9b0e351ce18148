//! Borrowed views of BSON values that are written as columns straight from the document's bytes:
//! what a load stores for `String`, `Vec<String>`, `Document` and `Bson` fields, without the
//! owned value in between (`transform::transcode` picks them).
//!
//! Each reading function accepts and refuses exactly what the owned type's [`FromBson`] does,
//! and each view encodes exactly what the owned value's [`PgValue`] encodes: tests compare both
//! ways on every kind of value.

use bson::{Bson, RawArray, RawBsonRef};

use super::array::encode_array_of;
use super::json::{check_json_text, put_jsonb_with, ToJson};
use super::scalar::check_text;
use super::wire::put_field;
use super::{wrong_type, Cell, PgValue};
use crate::error::FieldError;
use crate::model::PgType;
use crate::transform::Elements;

/// A string of the document, stored as `text` (what `String` stores).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextRef<'a>(pub &'a str);

/// Reads a `String` field's value: a BSON string or symbol without NUL.
pub fn text(value: RawBsonRef<'_>) -> Result<TextRef<'_>, FieldError> {
    match value {
        RawBsonRef::String(s) | RawBsonRef::Symbol(s) => {
            check_text(s)?;
            Ok(TextRef(s))
        }
        other => Err(wrong_type("string", &other)),
    }
}

impl PgValue for TextRef<'_> {
    fn column_type() -> (PgType, bool) {
        String::column_type()
    }

    fn encode(&self, buf: &mut Vec<u8>) {
        put_field(buf, self.0.as_bytes());
    }

    fn to_cell(&self) -> Cell {
        Cell::Text(self.0.to_owned())
    }
}

/// An array of strings of the document, stored as `text[]` (what `Vec<String>` stores).
#[derive(Debug, Clone, Copy)]
pub struct TextArrayRef<'a> {
    array: &'a RawArray,
    len: usize,
}

/// Reads a `Vec<String>` field's value: an array whose every element [`text`] accepts.
pub fn text_array(value: RawBsonRef<'_>) -> Result<TextArrayRef<'_>, FieldError> {
    let RawBsonRef::Array(array) = value else {
        return Err(wrong_type("array", &value));
    };
    let mut len = 0;
    for (index, element) in Elements::of_array(array).enumerate() {
        element
            .and_then(|(_, value)| text(value))
            .map_err(|e| e.at_index(index))?;
        len += 1;
    }
    Ok(TextArrayRef { array, len })
}

impl TextArrayRef<'_> {
    fn items(&self) -> impl Iterator<Item = TextRef<'_>> {
        Elements::of_array(self.array).filter_map(|element| match element {
            Ok((_, RawBsonRef::String(s) | RawBsonRef::Symbol(s))) => Some(TextRef(s)),
            _ => None,
        })
    }
}

impl PgValue for TextArrayRef<'_> {
    fn column_type() -> (PgType, bool) {
        Vec::<String>::column_type()
    }

    fn encode(&self, buf: &mut Vec<u8>) {
        encode_array_of(buf, 25, self.len, self.items(), TextRef::encode);
    }

    fn to_cell(&self) -> Cell {
        Cell::Array(self.items().map(|t| t.to_cell()).collect())
    }
}

/// A value of the document stored as `jsonb`: what `Document` (an embedded document) and `Bson`
/// (any value) store.
#[derive(Debug, Clone, Copy)]
pub struct JsonRef<'a>(RawBsonRef<'a>);

/// Reads a `Document` field's value: an embedded document with no NUL in any string.
pub fn json_document(value: RawBsonRef<'_>) -> Result<JsonRef<'_>, FieldError> {
    match value {
        RawBsonRef::Document(doc) => json_value(RawBsonRef::Document(doc)),
        other => Err(wrong_type("object", &other)),
    }
}

/// Reads a `Bson` field's value: anything with no NUL in any string.
pub fn json_value(value: RawBsonRef<'_>) -> Result<JsonRef<'_>, FieldError> {
    check_json_text(value)?;
    Ok(JsonRef(value))
}

impl PgValue for JsonRef<'_> {
    fn column_type() -> (PgType, bool) {
        Bson::column_type()
    }

    fn encode(&self, buf: &mut Vec<u8>) {
        put_jsonb_with(buf, |buf| super::raw_json::write_value(self.0, buf));
    }

    fn to_cell(&self) -> Cell {
        match Bson::try_from(self.0) {
            Ok(bson) => Cell::Json(bson.to_json()),
            Err(e) => Cell::Text(format!("!not BSON: {e}")),
        }
    }
}

/// Reads an `Option<..>` field's value with `read`: `null` is `None`.
pub fn optional<'a, T>(
    value: RawBsonRef<'a>,
    read: impl FnOnce(RawBsonRef<'a>) -> Result<T, FieldError>,
) -> Result<Option<T>, FieldError> {
    match value {
        RawBsonRef::Null => Ok(None),
        other => read(other).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use bson::{doc, Document};

    use super::*;
    use crate::value::FromBson;

    fn raw(doc: &Document) -> bson::RawDocumentBuf {
        bson::RawDocumentBuf::try_from(doc).expect("encodes")
    }

    fn encoded(value: &dyn PgValue) -> Vec<u8> {
        let mut buf = Vec::new();
        value.encode(&mut buf);
        buf
    }

    #[test]
    fn views_read_and_write_what_the_owned_types_do() {
        let doc = raw(&doc! {
            "s": "héllo",
            "sym": Bson::Symbol("x".into()),
            "nul": "a\0b",
            "n": 1,
            "tags": ["a", "b", ""],
            "empty": [],
            "mixed": ["a", 2],
            "d": { "a": [1, { "b": "c" }], "t": bson::DateTime::from_millis(5) },
            "dnul": { "a": ["\0"] },
            "null": Bson::Null,
        });
        let keys = [
            "s", "sym", "nul", "n", "tags", "empty", "mixed", "d", "dnul", "null",
        ];
        for key in keys {
            let value = doc.get(key).expect("reads").expect("present");
            match (String::from_bson(value), text(value)) {
                (Ok(owned), Ok(view)) => assert_eq!(encoded(&owned), encoded(&view), "{key}"),
                (Err(a), Err(b)) => assert_eq!(a, b, "{key}"),
                (a, b) => panic!("{key}: {a:?} vs {b:?}"),
            }
            match (Vec::<String>::from_bson(value), text_array(value)) {
                (Ok(owned), Ok(view)) => {
                    assert_eq!(encoded(&owned), encoded(&view), "{key}");
                    assert_eq!(owned.to_cell(), view.to_cell(), "{key}");
                }
                (Err(a), Err(b)) => assert_eq!(a, b, "{key}"),
                (a, b) => panic!("{key}: {a:?} vs {b:?}"),
            }
            match (Document::from_bson(value), json_document(value)) {
                (Ok(owned), Ok(view)) => {
                    assert_eq!(encoded(&owned), encoded(&view), "{key}");
                    assert_eq!(owned.to_cell(), view.to_cell(), "{key}");
                }
                (Err(a), Err(b)) => assert_eq!(a, b, "{key}"),
                (a, b) => panic!("{key}: {a:?} vs {b:?}"),
            }
            match (Bson::from_bson(value), json_value(value)) {
                (Ok(owned), Ok(view)) => assert_eq!(encoded(&owned), encoded(&view), "{key}"),
                (Err(a), Err(b)) => assert_eq!(a, b, "{key}"),
                (a, b) => panic!("{key}: {a:?} vs {b:?}"),
            }
        }
    }
}
