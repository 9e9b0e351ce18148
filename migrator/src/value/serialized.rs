//! `jsonb` columns for any serde type: [`decode_serde`] reads it, [`SerdeJson`] writes it.
//!
//! Reading goes through bson's raw deserializer (not human-readable, as the MongoDB driver reads
//! typed collections), so `ObjectId`, `bson::DateTime` and friends inside the type read as they
//! do with the driver. Writing is `serde_json::to_value` of the type: its own JSON, not Extended
//! JSON. A nullable column is `Option<SerdeJson<T>>`:
//!
//! ```ignore
//! let settings: Settings = decode_serde(value)?;
//! out.value(&SerdeJson(&self.settings));
//! out.value(&self.extra.as_ref().map(SerdeJson)); // Option<T> -> NULL or jsonb
//! ```

use bson::RawBsonRef;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::json::{check_json_text, put_jsonb};
use super::{Cell, PgValue};
use crate::error::FieldError;
use crate::model::PgType;

/// Writes `T` as `jsonb` through `serde_json`.
///
/// A `T` whose `Serialize` fails writes text that is not JSON, which PostgreSQL rejects (see
/// [`super::json`]); its [`Cell`] is the text `<not JSON: ...>`.
#[derive(Debug, Clone, Copy)]
pub struct SerdeJson<'a, T>(pub &'a T);

impl<T: Serialize> PgValue for SerdeJson<'_, T> {
    fn column_type() -> (PgType, bool) {
        (PgType::Jsonb, false)
    }

    fn encode(&self, buf: &mut Vec<u8>) {
        put_jsonb(buf, self.0);
    }

    fn to_cell(&self) -> Cell {
        match serde_json::to_value(self.0) {
            Ok(value) => Cell::Json(value),
            Err(e) => Cell::Text(format!("<not JSON: {e}>")),
        }
    }
}

/// Reads `T` from one BSON value with its `Deserialize` impl.
///
/// A string holding NUL is rejected (the value is bound for `jsonb`, which cannot store it), and
/// serde's message becomes a [`FieldError::invalid`] error.
pub fn decode_serde<T: DeserializeOwned>(value: RawBsonRef<'_>) -> Result<T, FieldError> {
    check_json_text(value)?;
    let owned = bson::Bson::try_from(value)
        .map_err(|e| FieldError::invalid(format!("unreadable value: {e}")))?;
    serde_path_to_error::deserialize(bson::Deserializer::new(owned)).map_err(|e| {
        // The path runs from this field inwards; errors are built from the inside out.
        let mut err = FieldError::invalid(serde_message(e.inner()));
        for segment in e.path().iter().collect::<Vec<_>>().into_iter().rev() {
            err = match segment {
                serde_path_to_error::Segment::Seq { index } => err.at_index(*index),
                serde_path_to_error::Segment::Map { key } => err.at_key(key.clone()),
                serde_path_to_error::Segment::Enum { variant } => err.at_key(variant.clone()),
                serde_path_to_error::Segment::Unknown => err,
            };
        }
        err
    })
}

/// serde's own message, without the bson crate's "BSON error. Kind: ..." wrapping.
fn serde_message(e: &bson::error::Error) -> String {
    let text = e.to_string();
    match text.split_once("Message: ") {
        Some((_, message)) => message.trim_end_matches('.').to_string(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use bson::oid::ObjectId;
    use bson::{bson, Bson, RawBson};
    use serde_json::json;

    use serde::Deserialize;

    use super::*;
    use crate::value::fixtures::{body, field};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Settings {
        theme: String,
        #[serde(default)]
        sizes: Vec<u16>,
        owner: Option<ObjectId>,
    }

    fn read<T: DeserializeOwned>(value: Bson) -> Result<T, FieldError> {
        let raw = RawBson::try_from(value).expect("raw");
        decode_serde(raw.as_raw_bson_ref())
    }

    #[test]
    fn serde_types_read_from_bson() {
        let oid = ObjectId::parse_str("5a9427648b0beebeb69579e7").expect("oid");
        let settings: Settings =
            read(bson!({"theme": "dark", "sizes": [1, 2], "owner": oid})).expect("settings");
        assert_eq!(
            settings,
            Settings {
                theme: "dark".into(),
                sizes: vec![1, 2],
                owner: Some(oid)
            }
        );
        assert_eq!(read::<Vec<i64>>(bson!([1, 2_i64])).expect("vec"), [1, 2]);
        assert_eq!(read::<Option<String>>(Bson::Null).expect("null"), None);
        assert_eq!(read::<u8>(Bson::Int32(7)).expect("scalar"), 7);
    }

    #[test]
    fn serde_errors_are_invalid_values() {
        let error = read::<Settings>(bson!({"sizes": []})).expect_err("missing theme");
        assert_eq!(error.kind().class(), "invalid");
        assert!(error.to_string().contains("theme"), "{error}");
        let nul = read::<BTreeMap<String, String>>(bson!({"a": "\0"})).expect_err("NUL");
        assert_eq!(
            nul.to_string(),
            "field `a`: string contains a NUL character (\\u0000), which PostgreSQL jsonb cannot store: \"\\u0000\""
        );
    }

    #[test]
    fn serde_types_write_their_own_json() {
        let settings = Settings {
            theme: "light".into(),
            sizes: vec![3],
            owner: None,
        };
        let bytes = body(&SerdeJson(&settings));
        assert_eq!(
            bytes,
            b"\x01{\"theme\":\"light\",\"sizes\":[3],\"owner\":null}"
        );
        assert_eq!(
            SerdeJson(&settings).to_cell(),
            Cell::Json(json!({"theme": "light", "sizes": [3], "owner": null}))
        );
        assert_eq!(
            <SerdeJson<'static, Settings>>::column_type(),
            (PgType::Jsonb, false)
        );
        let absent: Option<Settings> = None;
        assert_eq!(field(&absent.as_ref().map(SerdeJson)), [0xff; 4]);
        assert_eq!(
            <Option<SerdeJson<'static, Settings>>>::column_type(),
            (PgType::Jsonb, true)
        );
    }
}
