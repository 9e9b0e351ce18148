//! Test support for the value modules: decode an owned [`Bson`] as a Rust type, and look at
//! what a value writes.

use bson::{Bson, RawBson};

use super::{FromBson, PgValue};
use crate::error::FieldError;

/// Decodes `value` as `T`, the way a generated `decode` reads one field.
pub(crate) fn decode<T: FromBson>(value: Bson) -> Result<T, FieldError> {
    let raw = RawBson::try_from(value).expect("test value converts to raw BSON");
    T::from_bson(raw.as_raw_bson_ref())
}

/// The message of the error decoding `value` as `T` gives; panics if it decodes.
pub(crate) fn rejection<T: FromBson + std::fmt::Debug>(value: Bson) -> String {
    match decode::<T>(value.clone()) {
        Ok(v) => panic!("{value:?} was accepted as {v:?}"),
        Err(e) => e.to_string(),
    }
}

/// The field `value` writes: its length word and bytes.
pub(crate) fn field(value: &dyn PgValue) -> Vec<u8> {
    let mut buf = Vec::new();
    value.encode(&mut buf);
    buf
}

/// The bytes of a non-NULL field, checking that the length word matches them.
pub(crate) fn body(value: &dyn PgValue) -> Vec<u8> {
    let buf = field(value);
    let (len, rest) = buf.split_at(4);
    let len = i32::from_be_bytes(len.try_into().expect("four bytes"));
    assert_eq!(usize::try_from(len).ok(), Some(rest.len()), "length word");
    rest.to_vec()
}

/// Parses hex such as `"0001 ff"` (spaces ignored) into bytes.
pub(crate) fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    digits
        .chunks(2)
        .map(|pair| {
            let s = std::str::from_utf8(pair).expect("ascii hex");
            u8::from_str_radix(s, 16).expect("hex digit pair")
        })
        .collect()
}
