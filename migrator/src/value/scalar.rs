//! `text` from `String`, `boolean` from `bool`, and nullable columns from `Option<T>`.

use bson::RawBsonRef;

use super::wire::{put_field, put_null};
use super::{wrong_type, ArrayElement, Cell, FromBson, PgValue};
use crate::error::FieldError;
use crate::model::PgType;

/// The message for a string PostgreSQL cannot store.
pub(crate) const NUL_IN_TEXT: &str =
    "string contains a NUL character (\\u0000), which PostgreSQL text cannot store";

/// Checks that `s` can be stored as PostgreSQL text.
pub(crate) fn check_text(s: &str) -> Result<(), FieldError> {
    if s.contains('\0') {
        Err(FieldError::invalid(format!(
            "{NUL_IN_TEXT}: {}",
            super::excerpt_str(s)
        )))
    } else {
        Ok(())
    }
}

/// Accepts BSON `string` and the deprecated `symbol`.
impl FromBson for String {
    fn from_bson(value: RawBsonRef<'_>) -> Result<Self, FieldError> {
        match value {
            RawBsonRef::String(s) | RawBsonRef::Symbol(s) => {
                check_text(s)?;
                Ok(s.to_owned())
            }
            other => Err(wrong_type("string", &other)),
        }
    }
}

impl PgValue for String {
    fn column_type() -> (PgType, bool) {
        (PgType::Text, false)
    }

    fn encode(&self, buf: &mut Vec<u8>) {
        put_field(buf, self.as_bytes());
    }

    fn to_cell(&self) -> Cell {
        Cell::Text(self.clone())
    }
}

impl ArrayElement for String {
    const ELEMENT_OID: u32 = 25;
}

impl FromBson for bool {
    fn from_bson(value: RawBsonRef<'_>) -> Result<Self, FieldError> {
        match value {
            RawBsonRef::Boolean(b) => Ok(b),
            other => Err(wrong_type("bool", &other)),
        }
    }
}

impl PgValue for bool {
    fn column_type() -> (PgType, bool) {
        (PgType::Boolean, false)
    }

    fn encode(&self, buf: &mut Vec<u8>) {
        put_field(buf, &[u8::from(*self)]);
    }

    fn to_cell(&self) -> Cell {
        Cell::Bool(*self)
    }
}

impl ArrayElement for bool {
    const ELEMENT_OID: u32 = 16;
}

/// `null` and an absent key are `None`; anything else is read as `T`.
impl<T: FromBson> FromBson for Option<T> {
    fn from_bson(value: RawBsonRef<'_>) -> Result<Self, FieldError> {
        match value {
            RawBsonRef::Null => Ok(None),
            other => T::from_bson(other).map(Some),
        }
    }

    fn from_missing() -> Result<Self, FieldError> {
        Ok(None)
    }
}

/// A nullable column of `T`'s type; `None` is SQL NULL.
impl<T: PgValue> PgValue for Option<T> {
    fn column_type() -> (PgType, bool) {
        (T::column_type().0, true)
    }

    fn encode(&self, buf: &mut Vec<u8>) {
        match self {
            Some(v) => v.encode(buf),
            None => put_null(buf),
        }
    }

    fn to_cell(&self) -> Cell {
        match self {
            Some(v) => v.to_cell(),
            None => Cell::Null,
        }
    }
}

/// A NULL element of an array.
impl<T: ArrayElement> ArrayElement for Option<T> {
    const ELEMENT_OID: u32 = T::ELEMENT_OID;
}

#[cfg(test)]
mod tests {
    use bson::{doc, Bson};

    use super::*;
    use crate::value::fixtures::{decode, field, rejection};

    #[test]
    fn strings_accept_string_and_symbol() {
        for (input, expected) in [
            (Bson::String("héllo".into()), "héllo"),
            (Bson::String(String::new()), ""),
            (Bson::Symbol("sym".into()), "sym"),
        ] {
            assert_eq!(decode::<String>(input).expect("accepted"), expected);
        }
    }

    #[test]
    fn strings_reject_other_types_and_nul() {
        for (input, message) in [
            (Bson::Int32(1), "expected string, found int32 1"),
            (Bson::Document(doc! {}), "expected string, found object {}"),
            (Bson::Null, "required field is null"),
            (
                Bson::String("a\0b".into()),
                "string contains a NUL character (\\u0000), which PostgreSQL text cannot store: \"a\\u0000b\"",
            ),
        ] {
            assert_eq!(rejection::<String>(input), message);
        }
        assert_eq!(
            decode::<String>(Bson::String("\0".into()))
                .expect_err("NUL")
                .kind()
                .class(),
            "invalid"
        );
    }

    #[test]
    fn text_is_written_as_utf8() {
        assert_eq!(field(&"hé".to_string()), [0, 0, 0, 3, b'h', 0xc3, 0xa9]);
        assert_eq!(field(&String::new()), [0, 0, 0, 0]);
        assert_eq!("x".to_string().to_cell(), Cell::Text("x".into()));
        assert_eq!(String::column_type(), (PgType::Text, false));
    }

    #[test]
    fn bools_accept_bool_only() {
        assert!(decode::<bool>(Bson::Boolean(true)).expect("true"));
        assert!(!decode::<bool>(Bson::Boolean(false)).expect("false"));
        assert_eq!(
            rejection::<bool>(Bson::Int32(1)),
            "expected bool, found int32 1"
        );
        assert_eq!(
            rejection::<bool>(Bson::String("true".into())),
            "expected bool, found string \"true\""
        );
        assert_eq!(field(&true), [0, 0, 0, 1, 1]);
        assert_eq!(field(&false), [0, 0, 0, 1, 0]);
        assert_eq!(bool::column_type(), (PgType::Boolean, false));
    }

    #[test]
    fn options_are_null_when_null_or_missing() {
        assert_eq!(decode::<Option<String>>(Bson::Null).expect("null"), None);
        assert_eq!(<Option<String>>::from_missing().expect("missing"), None);
        assert_eq!(
            String::from_missing().expect_err("required").to_string(),
            "required field is missing"
        );
        assert_eq!(
            decode::<Option<String>>(Bson::String("x".into())).expect("present"),
            Some("x".to_string())
        );
        assert_eq!(
            rejection::<Option<String>>(Bson::Int64(3)),
            "expected string, found int64 3"
        );
    }

    #[test]
    fn options_are_nullable_columns() {
        assert_eq!(<Option<bool>>::column_type(), (PgType::Boolean, true));
        assert_eq!(field(&None::<bool>), [0xff, 0xff, 0xff, 0xff]);
        assert_eq!(field(&Some(true)), [0, 0, 0, 1, 1]);
        assert_eq!(None::<bool>.to_cell(), Cell::Null);
        assert_eq!(Some(false).to_cell(), Cell::Bool(false));
        assert_eq!(<Option<String> as ArrayElement>::ELEMENT_OID, 25);
    }
}
