//! `jsonb` from `bson::Document`, `bson::Bson`, `BTreeMap<String, V>` and `HashMap<String, V>`.
//!
//! The JSON written is MongoDB's *relaxed* Extended JSON (`Bson::into_relaxed_extjson`): plain
//! JSON for strings, numbers, booleans, arrays and objects, and `$`-wrappers for the rest, for
//! example `{"$oid": "5a94..."}`, `{"$date": "2020-01-01T00:00:00Z"}` (or
//! `{"$date": {"$numberLong": "..."}}` outside years 1970..=9999), `{"$numberDecimal": "1.50"}`,
//! `{"$numberDouble": "NaN"}` and `{"$binary": {"base64": "...", "subType": "00"}}`.
//!
//! `Document` and `Bson` keep the value as it was in the document. A map keeps each value as its
//! Rust type `V` read it (through [`ToJson`]): a `BTreeMap<String, i64>` read from `{"a": 2.0}`
//! is written `{"a": 2}`. `HashMap` entries are written sorted by key so the output is stable.
//!
//! `jsonb` cannot store the NUL character (`\u0000`), so a string holding it anywhere in the
//! value is rejected when the document is read, with the path to it.
//!
//! Binary `jsonb` is a version byte (1) followed by the JSON text.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;

use bson::oid::ObjectId;
use bson::{Binary, Bson, DateTime, Decimal128, Document, RawBsonRef, RawDocument};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use super::wire::{begin_field, end_field};
use super::{wrong_type, ArrayElement, Cell, FromBson, PgValue};
use crate::error::FieldError;
use crate::model::PgType;

/// The version byte of binary `jsonb`.
const JSONB_VERSION: u8 = 1;

pub(crate) const NUL_IN_JSON: &str =
    "string contains a NUL character (\\u0000), which PostgreSQL jsonb cannot store";

/// A value that can be written inside a `jsonb` column, as relaxed Extended JSON.
pub trait ToJson {
    fn to_json(&self) -> Value;
}

/// Appends `value` as a binary `jsonb` field.
///
/// Encoding cannot fail, so a value that does not serialize (a map with non-string keys, a
/// failing `Serialize` impl) is written as text that is not JSON and names the error:
/// PostgreSQL then rejects the row loudly instead of storing something else.
pub(crate) fn put_jsonb<T: Serialize + ?Sized>(buf: &mut Vec<u8>, value: &T) {
    let start = begin_field(buf);
    buf.push(JSONB_VERSION);
    if let Err(e) = serde_json::to_writer(&mut *buf, value) {
        buf.truncate(start.body() + 1);
        buf.extend_from_slice(b"!not JSON: ");
        buf.extend_from_slice(e.to_string().as_bytes());
    }
    end_field(buf, start);
}

/// Appends a binary `jsonb` field whose JSON text `write` appends; if it fails, the field holds
/// text that is not JSON and names the error, which PostgreSQL refuses (as [`put_jsonb`] does).
pub(crate) fn put_jsonb_with(
    buf: &mut Vec<u8>,
    write: impl FnOnce(&mut Vec<u8>) -> Result<(), FieldError>,
) {
    let start = begin_field(buf);
    buf.push(JSONB_VERSION);
    if let Err(e) = write(buf) {
        buf.truncate(start.body() + 1);
        buf.extend_from_slice(b"!not JSON: ");
        buf.extend_from_slice(e.to_string().as_bytes());
    }
    end_field(buf, start);
}

/// Rejects a value with a NUL character in any string `jsonb` would hold.
pub(crate) fn check_json_text(value: RawBsonRef<'_>) -> Result<(), FieldError> {
    match value {
        RawBsonRef::String(s) | RawBsonRef::Symbol(s) | RawBsonRef::JavaScriptCode(s) => {
            check_str(s)
        }
        RawBsonRef::JavaScriptCodeWithScope(c) => {
            check_str(c.code)?;
            check_document_text(c.scope)
        }
        RawBsonRef::Document(doc) => check_document_text(doc),
        RawBsonRef::Array(array) => {
            for (index, element) in array.into_iter().enumerate() {
                element
                    .map_err(malformed)
                    .and_then(check_json_text)
                    .map_err(|e| e.at_index(index))?;
            }
            Ok(())
        }
        // Its namespace is a string with no public accessor: look at its JSON form.
        RawBsonRef::DbPointer(_) => {
            let json = to_bson(value)?.into_relaxed_extjson();
            if json_has_nul(&json) {
                Err(FieldError::invalid(NUL_IN_JSON))
            } else {
                Ok(())
            }
        }
        _ => Ok(()),
    }
}

fn check_document_text(doc: &RawDocument) -> Result<(), FieldError> {
    for element in doc {
        let (key, value) = element.map_err(malformed)?;
        // Keys are C strings: they cannot hold NUL.
        check_json_text(value).map_err(|e| e.at_key(key.as_str().to_owned()))?;
    }
    Ok(())
}

fn check_str(s: &str) -> Result<(), FieldError> {
    if s.contains('\0') {
        Err(FieldError::invalid(format!(
            "{NUL_IN_JSON}: {}",
            super::excerpt_str(s)
        )))
    } else {
        Ok(())
    }
}

fn json_has_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(json_has_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || json_has_nul(v)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

pub(crate) fn malformed(e: bson::error::Error) -> FieldError {
    FieldError::invalid(format!("malformed BSON: {e}"))
}

fn to_bson(value: RawBsonRef<'_>) -> Result<Bson, FieldError> {
    Bson::try_from(value).map_err(malformed)
}

/// Accepts an embedded document.
impl FromBson for Document {
    fn from_bson(value: RawBsonRef<'_>) -> Result<Self, FieldError> {
        match value {
            RawBsonRef::Document(doc) => {
                check_document_text(doc)?;
                Document::try_from(doc).map_err(malformed)
            }
            other => Err(wrong_type("object", &other)),
        }
    }
}

/// Accepts any value, `null` included (JSON `null`; use `Option<Bson>` for SQL NULL).
impl FromBson for Bson {
    fn from_bson(value: RawBsonRef<'_>) -> Result<Self, FieldError> {
        check_json_text(value)?;
        to_bson(value)
    }
}

/// Accepts an embedded document whose every value `V` accepts.
impl<V: FromBson> FromBson for BTreeMap<String, V> {
    fn from_bson(value: RawBsonRef<'_>) -> Result<Self, FieldError> {
        let mut out = BTreeMap::new();
        read_map(value, |k, v| {
            out.insert(k, v);
        })?;
        Ok(out)
    }
}

/// Accepts an embedded document whose every value `V` accepts.
impl<V: FromBson, S: BuildHasher + Default> FromBson for HashMap<String, V, S> {
    fn from_bson(value: RawBsonRef<'_>) -> Result<Self, FieldError> {
        let mut out = HashMap::default();
        read_map(value, |k, v| {
            out.insert(k, v);
        })?;
        Ok(out)
    }
}

fn read_map<V: FromBson>(
    value: RawBsonRef<'_>,
    mut insert: impl FnMut(String, V),
) -> Result<(), FieldError> {
    let doc = match value {
        RawBsonRef::Document(doc) => doc,
        other => return Err(wrong_type("object", &other)),
    };
    for element in doc {
        let (key, value) = element.map_err(malformed)?;
        let key = key.as_str();
        let value = V::from_bson(value).map_err(|e| e.at_key(key.to_owned()))?;
        insert(key.to_owned(), value);
    }
    Ok(())
}

macro_rules! jsonb_column {
    ($(impl[$($generics:tt)*] $ty:ty),* $(,)?) => {$(
        impl<$($generics)*> PgValue for $ty {
            fn column_type() -> (PgType, bool) {
                (PgType::Jsonb, false)
            }

            fn encode(&self, buf: &mut Vec<u8>) {
                put_jsonb(buf, &self.to_json());
            }

            fn to_cell(&self) -> Cell {
                Cell::Json(self.to_json())
            }
        }

        impl<$($generics)*> ArrayElement for $ty {
            const ELEMENT_OID: u32 = 3802;
        }
    )*};
}

jsonb_column!(
    impl[] Document,
    impl[] Bson,
    impl[V: ToJson] BTreeMap<String, V>,
    impl[V: ToJson, S: BuildHasher] HashMap<String, V, S>,
);

macro_rules! json_via_bson {
    ($($ty:ty),*) => {$(
        impl ToJson for $ty {
            fn to_json(&self) -> Value {
                Bson::from(self.clone()).into_relaxed_extjson()
            }
        }
    )*};
}

json_via_bson!(String, bool, i32, i64, f64, DateTime, Decimal128, ObjectId, Binary, Document);

impl ToJson for Bson {
    fn to_json(&self) -> Value {
        self.clone().into_relaxed_extjson()
    }
}

/// A binData of subtype 4.
impl ToJson for Uuid {
    fn to_json(&self) -> Value {
        Bson::from(bson::Uuid::from_bytes(self.into_bytes())).into_relaxed_extjson()
    }
}

impl<T: ToJson> ToJson for Option<T> {
    fn to_json(&self) -> Value {
        self.as_ref().map_or(Value::Null, ToJson::to_json)
    }
}

impl<T: ToJson> ToJson for Vec<T> {
    fn to_json(&self) -> Value {
        Value::Array(self.iter().map(ToJson::to_json).collect())
    }
}

impl<V: ToJson> ToJson for BTreeMap<String, V> {
    fn to_json(&self) -> Value {
        Value::Object(self.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
    }
}

impl<V: ToJson, S: BuildHasher> ToJson for HashMap<String, V, S> {
    fn to_json(&self) -> Value {
        let mut entries: Vec<_> = self.iter().collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
        Value::Object(
            entries
                .into_iter()
                .map(|(k, v)| (k.clone(), v.to_json()))
                .collect(),
        )
    }
}

#[cfg(test)]
#[path = "json_tests.rs"]
mod tests;
