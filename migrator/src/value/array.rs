//! One-dimensional PostgreSQL arrays from `Vec<T>`.
//!
//! Binary array format, after the field's length word:
//!
//! ```text
//! i32 ndim        1 (0 for an empty array, which then has no dimension words)
//! i32 has-null    1 if an element is NULL, else 0
//! u32 element OID the element type (PostgreSQL checks it against the column's)
//! i32 length      number of elements     } once per dimension
//! i32 lower bound 1                      }
//! elements        each as a field: i32 length and bytes, or -1 for NULL
//! ```
//!
//! `Vec<Option<T>>` holds NULL elements. Decoding reports an element's error with its index.

use bson::RawBsonRef;

use super::wire::{begin_field, end_field, NULL_LENGTH};
use super::{wrong_type, ArrayElement, Cell, FromBson, PgValue};
use crate::error::FieldError;
use crate::model::PgType;
use crate::transform::Elements;

/// Accepts a BSON array whose every element `T` accepts.
impl<T: FromBson> FromBson for Vec<T> {
    fn from_bson(value: RawBsonRef<'_>) -> Result<Self, FieldError> {
        let array = match value {
            RawBsonRef::Array(array) => array,
            other => return Err(wrong_type("array", &other)),
        };
        let mut out = Vec::new();
        for (index, element) in Elements::of_array(array).enumerate() {
            let element = element
                .and_then(|(_, value)| T::from_bson(value))
                .map_err(|e| e.at_index(index))?;
            out.push(element);
        }
        Ok(out)
    }
}

/// A `T[]` column.
impl<T: ArrayElement> PgValue for Vec<T> {
    fn column_type() -> (PgType, bool) {
        (PgType::Array(Box::new(T::column_type().0)), false)
    }

    fn encode(&self, buf: &mut Vec<u8>) {
        encode_array(buf, T::ELEMENT_OID, self, T::encode);
    }

    fn to_cell(&self) -> Cell {
        Cell::Array(self.iter().map(PgValue::to_cell).collect())
    }
}

/// Appends `items` as a one-dimensional array field of element type `element_oid`, each item
/// written by `encode` as a field of its own (or NULL).
pub(crate) fn encode_array<T>(
    buf: &mut Vec<u8>,
    element_oid: u32,
    items: &[T],
    encode: impl Fn(&T, &mut Vec<u8>),
) {
    encode_array_of(buf, element_oid, items.len(), items.iter(), encode);
}

/// [`encode_array`] of the `len` items of an iterator.
pub(crate) fn encode_array_of<T, I: std::borrow::Borrow<T>>(
    buf: &mut Vec<u8>,
    element_oid: u32,
    len: usize,
    items: impl Iterator<Item = I>,
    encode: impl Fn(&T, &mut Vec<u8>),
) {
    let start = begin_field(buf);
    let ndim: i32 = if len == 0 { 0 } else { 1 };
    buf.extend_from_slice(&ndim.to_be_bytes());
    let flags_at = buf.len();
    buf.extend_from_slice(&0i32.to_be_bytes());
    buf.extend_from_slice(&element_oid.to_be_bytes());
    if len > 0 {
        // A Vec built from one BSON document has far fewer than 2^31 elements.
        let len = i32::try_from(len).unwrap_or(i32::MAX);
        buf.extend_from_slice(&len.to_be_bytes());
        buf.extend_from_slice(&1i32.to_be_bytes());
    }
    let mut has_null = false;
    for item in items {
        let at = buf.len();
        encode(item.borrow(), buf);
        has_null |= buf.len() == at + 4 && buf[at..] == NULL_LENGTH;
    }
    if has_null {
        buf[flags_at..flags_at + 4].copy_from_slice(&1i32.to_be_bytes());
    }
    end_field(buf, start);
}

#[cfg(test)]
mod tests {
    use bson::{bson, Bson};

    use super::*;
    use crate::value::fixtures::{body, decode, hex, rejection};

    #[test]
    fn arrays_decode_element_by_element() {
        assert_eq!(
            decode::<Vec<i32>>(bson!([1, 2_i64, 3.0])).expect("ints"),
            [1, 2, 3]
        );
        assert_eq!(
            decode::<Vec<String>>(bson!([])).expect("empty"),
            Vec::<String>::new()
        );
        assert_eq!(
            decode::<Vec<Option<i64>>>(bson!([1, null, 3])).expect("nullable elements"),
            [Some(1), None, Some(3)]
        );
        assert_eq!(
            decode::<Vec<Vec<bool>>>(bson!([[true], []])).expect("nested"),
            [vec![true], vec![]]
        );
    }

    #[test]
    fn element_errors_name_their_index() {
        for (input, message) in [
            (
                bson!([1, "two", 3]),
                "field `[1]`: expected int32, int64 or double, found string \"two\"",
            ),
            (bson!([1, null]), "field `[1]`: required field is null"),
            (Bson::Int32(1), "expected array, found int32 1"),
            (bson!({"0": 1}), "expected array, found object {\"0\":1}"),
        ] {
            assert_eq!(rejection::<Vec<i32>>(input), message);
        }
        let error = decode::<Vec<Vec<i32>>>(bson!([[1], [2, 2.5]]))
            .expect_err("nested")
            .at_key("grid");
        assert_eq!(
            error.to_string(),
            "field `grid[1][1]`: value 2.5 is out of range: integer holds whole numbers only"
        );
        assert_eq!(error.path_pattern(), "grid[][]");
    }

    #[test]
    fn arrays_are_written_in_binary() {
        assert_eq!(
            body(&vec![1i32, -1]),
            hex("00000001 00000000 00000017 00000002 00000001 00000004 00000001 00000004 ffffffff")
        );
        assert_eq!(body(&Vec::<i32>::new()), hex("00000000 00000000 00000017"));
        assert_eq!(
            body(&vec![Some(true), None]),
            hex("00000001 00000001 00000010 00000002 00000001 00000001 01 ffffffff")
        );
        assert_eq!(
            body(&vec![Some("a".to_string())]),
            hex("00000001 00000000 00000019 00000001 00000001 00000001 61")
        );
    }

    #[test]
    fn array_columns_and_cells() {
        assert_eq!(
            <Vec<i64>>::column_type(),
            (PgType::Array(Box::new(PgType::BigInt)), false)
        );
        assert_eq!(
            <Option<Vec<Option<String>>>>::column_type(),
            (PgType::Array(Box::new(PgType::Text)), true)
        );
        assert_eq!(
            vec![Some(1i32), None].to_cell(),
            Cell::Array(vec![Cell::Int(1), Cell::Null])
        );
    }
}
