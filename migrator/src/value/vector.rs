//! `real[]`, `smallint[]` and `boolean[]` from BSON vectors (binData subtype 9).
//!
//! A vector's bytes are a dtype byte, a padding byte and the elements (the BSON specification's
//! vector subtype):
//!
//! | dtype | elements | Rust | column |
//! |---|---|---|---|
//! | `0x27` float32 | 4 bytes each, little-endian | `Vector<f32>` | `real[]` |
//! | `0x03` int8 | 1 signed byte each | `Vector<i8>` | `smallint[]` |
//! | `0x10` packed bit | 8 per byte, most significant bit first; the padding byte says how many bits of the last byte are not elements | `Vector<bool>` | `boolean[]` |
//!
//! A field of another dtype, a binData of another subtype, a length that does not fit the dtype or
//! a padding byte where the dtype allows none is a per-document error. Floats are kept bit for bit
//! (NaN and infinities included: `real` stores them). `#[migrate(dimensions = N)]` on a vector
//! field makes a vector of another length a per-document error.

use bson::RawBsonRef;

use super::array::encode_array;
use super::wire::put_field;
use super::{excerpt, wrong_type, Cell, FromBson, PgValue};
use crate::error::FieldError;
use crate::model::PgType;

/// The binData subtype of a vector.
pub const VECTOR_SUBTYPE: u8 = 9;

/// A vector read from binData subtype 9, stored as a one-dimensional array.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Vector<T>(pub Vec<T>);

impl<T> Vector<T> {
    /// The number of elements (the vector's dimensions).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// An element type of a BSON vector.
pub trait VectorElement: Sized + Copy {
    /// The dtype byte of vectors of this element type.
    const DTYPE: u8;
    /// The dtype's name in messages (`float32`).
    const NAME: &'static str;
    /// The PostgreSQL element type and its OID.
    const ELEMENT: (PgType, u32);
    /// The elements of a vector's data bytes (after dtype and padding).
    fn elements(data: &[u8], padding: u8) -> Result<Vec<Self>, String>;
    /// Appends one element as a binary field.
    fn encode(&self, buf: &mut Vec<u8>);
    fn to_cell(&self) -> Cell;
}

impl VectorElement for f32 {
    const DTYPE: u8 = 0x27;
    const NAME: &'static str = "float32";
    const ELEMENT: (PgType, u32) = (PgType::Real, 700);

    fn elements(data: &[u8], padding: u8) -> Result<Vec<Self>, String> {
        no_padding(padding)?;
        if !data.len().is_multiple_of(4) {
            return Err(format!(
                "a float32 vector has 4 bytes per element, found {} bytes",
                data.len()
            ));
        }
        Ok(data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect())
    }

    fn encode(&self, buf: &mut Vec<u8>) {
        put_field(buf, &self.to_bits().to_be_bytes());
    }

    fn to_cell(&self) -> Cell {
        Cell::Double(f64::from(*self))
    }
}

impl VectorElement for i8 {
    const DTYPE: u8 = 0x03;
    const NAME: &'static str = "int8";
    const ELEMENT: (PgType, u32) = (PgType::SmallInt, 21);

    fn elements(data: &[u8], padding: u8) -> Result<Vec<Self>, String> {
        no_padding(padding)?;
        Ok(data.iter().map(|b| i8::from_le_bytes([*b])).collect())
    }

    fn encode(&self, buf: &mut Vec<u8>) {
        put_field(buf, &i16::from(*self).to_be_bytes());
    }

    fn to_cell(&self) -> Cell {
        Cell::Int(i32::from(*self))
    }
}

impl VectorElement for bool {
    const DTYPE: u8 = 0x10;
    const NAME: &'static str = "packed bit";
    const ELEMENT: (PgType, u32) = (PgType::Boolean, 16);

    fn elements(data: &[u8], padding: u8) -> Result<Vec<Self>, String> {
        if padding > 7 || (data.is_empty() && padding > 0) {
            return Err(format!(
                "a packed bit vector's padding is 0 to 7 bits (0 when it is empty), found {padding}"
            ));
        }
        let bits = data.len() * 8 - usize::from(padding);
        Ok((0..bits)
            .map(|i| data[i / 8] & (0x80 >> (i % 8)) != 0)
            .collect())
    }

    fn encode(&self, buf: &mut Vec<u8>) {
        put_field(buf, &[u8::from(*self)]);
    }

    fn to_cell(&self) -> Cell {
        Cell::Bool(*self)
    }
}

fn no_padding(padding: u8) -> Result<(), String> {
    if padding == 0 {
        Ok(())
    } else {
        Err(format!(
            "only packed bit vectors have padding, found a padding byte of {padding}"
        ))
    }
}

/// The name of a vector dtype byte in messages.
fn dtype_name(dtype: u8) -> String {
    match dtype {
        0x27 => "float32".into(),
        0x03 => "int8".into(),
        0x10 => "packed bit".into(),
        other => format!("unknown dtype 0x{other:02x}"),
    }
}

/// Accepts binData subtype 9 whose dtype is `T`'s.
impl<T: VectorElement> FromBson for Vector<T> {
    fn from_bson(value: RawBsonRef<'_>) -> Result<Self, FieldError> {
        let binary = match value {
            RawBsonRef::Binary(b) => b,
            other => return Err(wrong_type("binData vector (subtype 9)", &other)),
        };
        let invalid = |why: String| FieldError::invalid(format!("{why}: {}", excerpt(value)));
        let subtype = u8::from(binary.subtype);
        if subtype != VECTOR_SUBTYPE {
            return Err(invalid(format!(
                "expected a {} vector (binData subtype 9), found binData subtype {subtype}",
                T::NAME
            )));
        }
        let [dtype, padding, data @ ..] = binary.bytes else {
            return Err(invalid(
                "a vector starts with a dtype and a padding byte, found fewer than 2 bytes".into(),
            ));
        };
        if *dtype != T::DTYPE {
            return Err(invalid(format!(
                "expected a {} vector, found a {} vector",
                T::NAME,
                dtype_name(*dtype)
            )));
        }
        T::elements(data, *padding).map(Vector).map_err(invalid)
    }
}

impl<T: VectorElement> PgValue for Vector<T> {
    fn column_type() -> (PgType, bool) {
        (PgType::Array(Box::new(T::ELEMENT.0)), false)
    }

    fn encode(&self, buf: &mut Vec<u8>) {
        encode_array(buf, T::ELEMENT.1, &self.0, T::encode);
    }

    fn to_cell(&self) -> Cell {
        Cell::Array(self.0.iter().map(T::to_cell).collect())
    }
}

/// A field type whose length `#[migrate(dimensions = N)]` checks: a [`Vector`], or an `Option` of one.
#[diagnostic::on_unimplemented(
    message = "`dimensions` needs a vector field, not `{Self}`",
    label = "not a `migrator::Vector<_>` or `Option<migrator::Vector<_>>`",
    note = "`dimensions = N` checks the length of a BSON vector (binData subtype 9) read as `migrator::Vector<f32>`, `Vector<i8>` or `Vector<bool>`"
)]
pub trait Dimensions {
    /// The number of elements, `None` for an absent optional vector.
    fn dimensions(&self) -> Option<usize>;
    /// The first elements, as the error shows them.
    fn shown(&self) -> String;
}

impl<T: VectorElement> Dimensions for Vector<T> {
    fn dimensions(&self) -> Option<usize> {
        Some(self.len())
    }

    fn shown(&self) -> String {
        let cells = Cell::Array(self.0.iter().take(8).map(T::to_cell).collect());
        let mut text = serde_json::to_string(&cells).unwrap_or_default();
        if self.len() > 8 {
            text.pop();
            text.push_str(",…]");
        }
        text
    }
}

impl<D: Dimensions> Dimensions for Option<D> {
    fn dimensions(&self) -> Option<usize> {
        self.as_ref().and_then(D::dimensions)
    }

    fn shown(&self) -> String {
        self.as_ref().map(D::shown).unwrap_or_default()
    }
}

/// Checks a vector's length against the model's `dimensions = expected`.
pub fn check_dimensions<D: Dimensions>(value: &D, expected: usize) -> Result<(), FieldError> {
    match value.dimensions() {
        Some(found) if found != expected => Err(FieldError::invalid(format!(
            "expected a vector of {expected} dimensions, found {found}: {}",
            value.shown()
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use bson::spec::BinarySubtype;
    use bson::{Binary, Bson};

    use super::*;
    use crate::value::fixtures::{body, decode, hex, rejection};

    fn vector(bytes: &[u8]) -> Bson {
        Bson::Binary(Binary {
            subtype: BinarySubtype::from(VECTOR_SUBTYPE),
            bytes: bytes.to_vec(),
        })
    }

    fn float32(values: &[f32]) -> Bson {
        let mut bytes = vec![0x27, 0];
        for v in values {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        vector(&bytes)
    }

    #[test]
    fn float32_vectors_are_read_bit_for_bit() {
        let values = [
            0.1f32,
            -2.5,
            f32::MAX,
            f32::MIN_POSITIVE,
            0.0,
            -0.0,
            f32::INFINITY,
        ];
        let read = decode::<Vector<f32>>(float32(&values)).expect("float32");
        assert_eq!(read.0.len(), values.len());
        for (a, b) in read.0.iter().zip(values) {
            assert_eq!(a.to_bits(), b.to_bits());
        }
        let nan = decode::<Vector<f32>>(float32(&[f32::NAN])).expect("NaN");
        assert_eq!(nan.0[0].to_bits(), f32::NAN.to_bits());
        assert_eq!(decode::<Vector<f32>>(float32(&[])).expect("empty").len(), 0);
    }

    #[test]
    fn int8_and_packed_bit_vectors() {
        assert_eq!(
            decode::<Vector<i8>>(vector(&[0x03, 0, 0x7f, 0x80, 0xff, 0]))
                .expect("int8")
                .0,
            [127, -128, -1, 0]
        );
        // The BSON specification's example: 0b1111_1111, 0b0000_1000 with 3 bits of padding.
        assert_eq!(
            decode::<Vector<bool>>(vector(&[0x10, 3, 0xff, 0x08]))
                .expect("bits")
                .0,
            [true, true, true, true, true, true, true, true, false, false, false, false, true]
        );
    }

    #[test]
    fn vectors_that_do_not_fit_are_rejected_with_the_value() {
        for (input, message) in [
            (
                vector(&[0x27, 0, 1, 2, 3]),
                "a float32 vector has 4 bytes per element, found 3 bytes: {\"$binary\":{\"base64\":\"JwABAgM=\",\"subType\":\"09\"}}",
            ),
            (
                vector(&[0x03, 0, 1]),
                "expected a float32 vector, found a int8 vector: {\"$binary\":{\"base64\":\"AwAB\",\"subType\":\"09\"}}",
            ),
            (
                vector(&[0x27, 1]),
                "only packed bit vectors have padding, found a padding byte of 1: {\"$binary\":{\"base64\":\"JwE=\",\"subType\":\"09\"}}",
            ),
            (
                vector(&[0x27]),
                "a vector starts with a dtype and a padding byte, found fewer than 2 bytes: {\"$binary\":{\"base64\":\"Jw==\",\"subType\":\"09\"}}",
            ),
            (
                Bson::Binary(Binary { subtype: BinarySubtype::Generic, bytes: vec![0x27, 0] }),
                "expected a float32 vector (binData subtype 9), found binData subtype 0: {\"$binary\":{\"base64\":\"JwA=\",\"subType\":\"00\"}}",
            ),
            (
                Bson::Array(vec![Bson::Double(0.5)]),
                "expected binData vector (subtype 9), found array [0.5]",
            ),
        ] {
            assert_eq!(rejection::<Vector<f32>>(input), message);
        }
        assert!(
            rejection::<Vector<bool>>(vector(&[0x10, 8, 0xff])).starts_with(
                "a packed bit vector's padding is 0 to 7 bits (0 when it is empty), found 8"
            )
        );
        assert!(rejection::<Vector<bool>>(vector(&[0x10, 1])).contains("found 1"));
    }

    #[test]
    fn vectors_are_written_as_arrays() {
        let floats = Vector(vec![1.5f32, -0.25]);
        assert_eq!(
            body(&floats),
            hex("00000001 00000000 000002bc 00000002 00000001
                 00000004 3fc00000 00000004 be800000")
        );
        assert_eq!(
            <Vector<f32>>::column_type(),
            (PgType::Array(Box::new(PgType::Real)), false)
        );
        assert_eq!(
            body(&Vector(vec![-1i8])),
            hex("00000001 00000000 00000015 00000001 00000001 00000002 ffff")
        );
        assert_eq!(<Vector<i8>>::column_type().0.sql(), "smallint[]");
        assert_eq!(<Vector<bool>>::column_type().0.sql(), "boolean[]");
        assert_eq!(
            floats.to_cell(),
            Cell::Array(vec![Cell::Double(1.5), Cell::Double(-0.25)])
        );
    }

    #[test]
    fn dimensions_are_checked_against_the_model() {
        let v = Vector(vec![0.5f32; 10]);
        assert!(check_dimensions(&v, 10).is_ok());
        assert_eq!(
            check_dimensions(&v, 3).expect_err("length").to_string(),
            "expected a vector of 3 dimensions, found 10: [0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,…]"
        );
        assert!(check_dimensions(&None::<Vector<f32>>, 3).is_ok());
        assert!(check_dimensions(&Some(Vector(vec![1i8])), 2).is_err());
    }
}
