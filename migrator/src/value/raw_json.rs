//! `jsonb` text written straight from raw BSON: the relaxed Extended JSON that
//! `Bson::into_relaxed_extjson` makes of a value, serialized as `serde_json` serializes it, byte
//! for byte, without building the `Document` or the `serde_json::Value` tree in between.
//!
//! Strings, numbers, booleans, null, documents, arrays, ObjectIds, dates within years
//! 1970..=9999 and Decimal128 are written here; any other value (and a document that repeats a
//! key, whose JSON keeps the first key's place with the last value) goes through `bson`'s own
//! conversion. A string holding NUL is refused, as [`super::json`] refuses it when reading.

use bson::{Bson, Document, RawBsonRef, RawDocument};

use crate::error::FieldError;
use crate::transform::Elements;

/// Milliseconds since 1970 of 10000-01-01T00:00:00Z: `bson` writes earlier dates (from 1970 on)
/// as RFC 3339 text.
const YEAR_10000_MILLIS: i64 = 253_402_300_800_000;

/// Appends `value` as JSON text.
pub(crate) fn write_value(value: RawBsonRef<'_>, out: &mut Vec<u8>) -> Result<(), FieldError> {
    match value {
        RawBsonRef::Double(v) if v.is_finite() => serialize(out, &v),
        RawBsonRef::String(s) => write_str(s, out),
        RawBsonRef::Document(doc) => write_document(doc, out),
        RawBsonRef::Array(array) => {
            out.push(b'[');
            for (index, element) in Elements::of_array(array).enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                let (_, value) = element?;
                write_value(value, out)?;
            }
            out.push(b']');
            Ok(())
        }
        RawBsonRef::Boolean(b) => serialize(out, &b),
        RawBsonRef::Null => {
            out.extend_from_slice(b"null");
            Ok(())
        }
        RawBsonRef::Int32(v) => serialize(out, &v),
        RawBsonRef::Int64(v) => serialize(out, &v),
        RawBsonRef::ObjectId(id) => {
            out.extend_from_slice(b"{\"$oid\":\"");
            out.extend_from_slice(id.to_hex().as_bytes());
            out.extend_from_slice(b"\"}");
            Ok(())
        }
        RawBsonRef::DateTime(d) if (0..YEAR_10000_MILLIS).contains(&d.timestamp_millis()) => {
            match d.try_to_rfc3339_string() {
                Ok(text) => {
                    out.extend_from_slice(b"{\"$date\":");
                    serialize(out, &text)?;
                    out.push(b'}');
                    Ok(())
                }
                Err(_) => through_bson(value, out),
            }
        }
        RawBsonRef::Decimal128(d) => {
            out.extend_from_slice(b"{\"$numberDecimal\":");
            serialize(out, &d.to_string())?;
            out.push(b'}');
            Ok(())
        }
        _ => through_bson(value, out),
    }
}

/// Appends a document as a JSON object, its keys in their order.
fn write_document(doc: &RawDocument, out: &mut Vec<u8>) -> Result<(), FieldError> {
    let start = out.len();
    out.push(b'{');
    let mut keys = Keys::default();
    for element in Elements::of(doc) {
        let (key, value) = element?;
        if !keys.insert(key) {
            // A repeated key: `bson` keeps the first key's place with the last value.
            out.truncate(start);
            return repeated_keys(doc, out);
        }
        if keys.len > 1 {
            out.push(b',');
        }
        let key = std::str::from_utf8(key).map_err(|e| FieldError::invalid(e.to_string()))?;
        serialize(out, key)?;
        out.push(b':');
        write_value(value, out)?;
    }
    out.push(b'}');
    Ok(())
}

/// The keys of one object so far: the first few on the stack, the rest on the heap.
#[derive(Default)]
struct Keys<'a> {
    first: [&'a [u8]; 16],
    more: Vec<&'a [u8]>,
    len: usize,
}

impl<'a> Keys<'a> {
    /// Adds `key`; `false` if it was there already.
    fn insert(&mut self, key: &'a [u8]) -> bool {
        let held = self.len.min(self.first.len());
        if self.first[..held].contains(&key) || self.more.contains(&key) {
            return false;
        }
        match self.first.get_mut(self.len) {
            Some(slot) => *slot = key,
            None => self.more.push(key),
        }
        self.len += 1;
        true
    }
}

fn write_str(s: &str, out: &mut Vec<u8>) -> Result<(), FieldError> {
    if s.as_bytes().contains(&0) {
        return Err(FieldError::invalid(format!(
            "{}: {}",
            super::json::NUL_IN_JSON,
            super::excerpt_str(s)
        )));
    }
    serialize(out, s)
}

/// A document with a repeated key, written as `bson` converts it.
fn repeated_keys(doc: &RawDocument, out: &mut Vec<u8>) -> Result<(), FieldError> {
    super::json::check_json_text(RawBsonRef::Document(doc))?;
    let doc = Document::try_from(doc).map_err(super::json::malformed)?;
    serialize(out, &Bson::Document(doc).into_relaxed_extjson())
}

/// A value this module does not write itself, converted by `bson`.
fn through_bson(value: RawBsonRef<'_>, out: &mut Vec<u8>) -> Result<(), FieldError> {
    super::json::check_json_text(value)?;
    let bson = Bson::try_from(value).map_err(super::json::malformed)?;
    serialize(out, &bson.into_relaxed_extjson())
}

fn serialize<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) -> Result<(), FieldError> {
    serde_json::to_writer(out, value).map_err(|e| FieldError::invalid(e.to_string()))
}

#[cfg(test)]
mod tests {
    use bson::spec::BinarySubtype;
    use bson::{
        doc, oid::ObjectId, Binary, DateTime, Decimal128, JavaScriptCodeWithScope, Regex, Timestamp,
    };

    use super::*;

    /// What the owned path writes: `bson`'s relaxed Extended JSON through `serde_json`.
    fn owned(value: &Bson) -> String {
        serde_json::to_string(&value.clone().into_relaxed_extjson()).expect("serializes")
    }

    fn raw(value: &Bson) -> String {
        let doc = doc! { "v": value.clone() };
        let bytes = bson::RawDocumentBuf::try_from(&doc).expect("encodes");
        let value = bytes.get("v").expect("reads").expect("present");
        let mut out = Vec::new();
        write_value(value, &mut out).expect("writes");
        String::from_utf8(out).expect("UTF-8")
    }

    fn values() -> Vec<Bson> {
        let mut values = vec![
            Bson::Double(1.0),
            Bson::Double(-0.0),
            Bson::Double(0.1),
            Bson::Double(1e21),
            Bson::Double(1.5e-7),
            Bson::Double(f64::MAX),
            Bson::Double(f64::NAN),
            Bson::Double(f64::INFINITY),
            Bson::Double(f64::NEG_INFINITY),
            Bson::String("plain".into()),
            Bson::String("quote \" backslash \\ tab \t newline \n é 😀 \u{1f} \u{7f}".into()),
            Bson::String(String::new()),
            Bson::Boolean(true),
            Bson::Null,
            Bson::Int32(i32::MIN),
            Bson::Int64(i64::MAX),
            Bson::ObjectId(ObjectId::from_bytes([0xab; 12])),
            Bson::DateTime(DateTime::from_millis(0)),
            Bson::DateTime(DateTime::from_millis(1_600_000_000_123)),
            Bson::DateTime(DateTime::from_millis(YEAR_10000_MILLIS - 1)),
            Bson::DateTime(DateTime::from_millis(YEAR_10000_MILLIS)),
            Bson::DateTime(DateTime::from_millis(-1)),
            Bson::DateTime(DateTime::from_millis(i64::MAX)),
            Bson::DateTime(DateTime::from_millis(i64::MIN)),
            Bson::Binary(Binary {
                subtype: BinarySubtype::Generic,
                bytes: vec![0, 1, 254, 255],
            }),
            Bson::Binary(Binary {
                subtype: BinarySubtype::Uuid,
                bytes: vec![7; 16],
            }),
            Bson::RegularExpression(Regex {
                pattern: "a+".try_into().expect("pattern"),
                options: "xi".try_into().expect("options"),
            }),
            Bson::JavaScriptCode("f()".into()),
            Bson::JavaScriptCodeWithScope(JavaScriptCodeWithScope {
                code: "g()".into(),
                scope: doc! { "x": 1 },
            }),
            Bson::Timestamp(Timestamp {
                time: 1,
                increment: 2,
            }),
            Bson::Symbol("s".into()),
            Bson::Undefined,
            Bson::MinKey,
            Bson::MaxKey,
        ];
        for text in [
            "0",
            "1.50",
            "-1E+3",
            "NaN",
            "-Infinity",
            "123456789012345678901234567890.1234",
        ] {
            values.push(Bson::Decimal128(
                text.parse::<Decimal128>().expect("decimal"),
            ));
        }
        let scalars = values.clone();
        values.push(Bson::Array(scalars.clone()));
        values.push(Bson::Array(Vec::new()));
        values.push(Bson::Document(Document::new()));
        let nested: Document = scalars
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("k{i} \"ü\""), v.clone()))
            .collect();
        values.push(Bson::Document(
            doc! { "a": nested.clone(), "b": [nested.clone(), [1, [2]]] },
        ));
        values
    }

    #[test]
    fn writes_what_bson_and_serde_json_write() {
        for value in values() {
            assert_eq!(raw(&value), owned(&value), "{value:?}");
        }
    }

    #[test]
    fn a_repeated_key_keeps_its_first_place_and_last_value() {
        // `doc!` cannot repeat a key: build the bytes by hand.
        let mut bytes = Vec::new();
        let mut body = Vec::new();
        for (key, value) in [("a", 1i32), ("b", 2), ("a", 3)] {
            body.push(0x10);
            body.extend_from_slice(key.as_bytes());
            body.push(0);
            body.extend_from_slice(&value.to_le_bytes());
        }
        bytes.extend_from_slice(&(body.len() as i32 + 5).to_le_bytes());
        bytes.extend_from_slice(&body);
        bytes.push(0);
        let doc = RawDocument::from_bytes(&bytes).expect("valid");
        let mut out = Vec::new();
        write_value(RawBsonRef::Document(doc), &mut out).expect("writes");
        let expected = owned(&Bson::Document(Document::try_from(doc).expect("converts")));
        assert_eq!(String::from_utf8(out).expect("UTF-8"), expected);
        assert_eq!(expected, r#"{"a":3,"b":2}"#);
    }

    #[test]
    fn nul_is_refused_anywhere() {
        for value in [
            Bson::String("a\0b".into()),
            Bson::Document(doc! { "x": { "y": ["ok", "n\0"] } }),
            Bson::JavaScriptCode("\0".into()),
            Bson::Symbol("\0".into()),
        ] {
            let doc = doc! { "v": value.clone() };
            let bytes = bson::RawDocumentBuf::try_from(&doc).expect("encodes");
            let value = bytes.get("v").expect("reads").expect("present");
            let e = write_value(value, &mut Vec::new()).expect_err("NUL");
            assert!(e.to_string().contains("NUL"), "{e}");
        }
    }
}
