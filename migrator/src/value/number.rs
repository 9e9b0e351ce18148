//! `integer` from `i32`, `bigint` from `i64`, `double precision` from `f64`.
//!
//! MongoDB shells write every number as a double, and drivers pick int32 or int64 by magnitude,
//! so each accepts the other numeric BSON types when the value converts exactly:
//!
//! | Rust  | int32 | int64          | double                                  |
//! |-------|-------|----------------|-----------------------------------------|
//! | `i32` | yes   | if it fits     | if whole and it fits                    |
//! | `i64` | yes   | yes            | if whole and within ±2^53               |
//! | `f64` | yes   | within ±2^53   | yes (NaN and ±Infinity included)        |
//!
//! Anything else is an out-of-range error rather than a silent rounding.

use bson::RawBsonRef;

use super::wire::put_field;
use super::{wrong_type, ArrayElement, Cell, FromBson, PgValue};
use crate::error::FieldError;
use crate::model::PgType;

const NUMBER: &str = "int32, int64 or double";

/// 2^53: past it, not every integer is a double.
pub(crate) const EXACT_DOUBLE_INT: i64 = 1 << 53;

const INTEGER_RANGE: &str = "integer holds -2147483648 to 2147483647";
const WHOLE_INTEGER: &str = "integer holds whole numbers only";
const WHOLE_BIGINT: &str = "bigint holds whole numbers only";
const DOUBLE_TO_BIGINT: &str =
    "a double beyond ±2^53 (9007199254740992) may not be the integer that was meant; store it as int64";
const BIGINT_TO_DOUBLE: &str =
    "double precision holds integers exactly only within ±2^53 (9007199254740992)";

/// A double that holds a whole number within `min..=max` (both exact doubles), as an `i64`.
fn whole_double(x: f64, min: i64, max: i64, range: &str, whole: &str) -> Result<i64, FieldError> {
    if x.is_nan() {
        Err(FieldError::out_of_range(x, whole))
    } else if !(min as f64..=max as f64).contains(&x) {
        Err(FieldError::out_of_range(x, range))
    } else if x.fract() != 0.0 {
        Err(FieldError::out_of_range(x, whole))
    } else {
        Ok(x as i64)
    }
}

impl FromBson for i32 {
    fn from_bson(value: RawBsonRef<'_>) -> Result<Self, FieldError> {
        match value {
            RawBsonRef::Int32(i) => Ok(i),
            RawBsonRef::Int64(i) => {
                i32::try_from(i).map_err(|_| FieldError::out_of_range(i, INTEGER_RANGE))
            }
            RawBsonRef::Double(x) => {
                let i = whole_double(
                    x,
                    i32::MIN.into(),
                    i32::MAX.into(),
                    INTEGER_RANGE,
                    WHOLE_INTEGER,
                )?;
                i32::try_from(i).map_err(|_| FieldError::out_of_range(x, INTEGER_RANGE))
            }
            other => Err(wrong_type(NUMBER, &other)),
        }
    }
}

impl FromBson for i64 {
    fn from_bson(value: RawBsonRef<'_>) -> Result<Self, FieldError> {
        match value {
            RawBsonRef::Int32(i) => Ok(i.into()),
            RawBsonRef::Int64(i) => Ok(i),
            RawBsonRef::Double(x) => whole_double(
                x,
                -EXACT_DOUBLE_INT,
                EXACT_DOUBLE_INT,
                DOUBLE_TO_BIGINT,
                WHOLE_BIGINT,
            ),
            other => Err(wrong_type(NUMBER, &other)),
        }
    }
}

impl FromBson for f64 {
    fn from_bson(value: RawBsonRef<'_>) -> Result<Self, FieldError> {
        match value {
            RawBsonRef::Double(x) => Ok(x),
            RawBsonRef::Int32(i) => Ok(i.into()),
            RawBsonRef::Int64(i) if i.unsigned_abs() <= EXACT_DOUBLE_INT.unsigned_abs() => {
                Ok(i as f64)
            }
            RawBsonRef::Int64(i) => Err(FieldError::out_of_range(i, BIGINT_TO_DOUBLE)),
            other => Err(wrong_type(NUMBER, &other)),
        }
    }
}

impl PgValue for i32 {
    fn column_type() -> (PgType, bool) {
        (PgType::Integer, false)
    }

    fn encode(&self, buf: &mut Vec<u8>) {
        put_field(buf, &self.to_be_bytes());
    }

    fn to_cell(&self) -> Cell {
        Cell::Int(*self)
    }
}

impl ArrayElement for i32 {
    const ELEMENT_OID: u32 = 23;
}

impl PgValue for i64 {
    fn column_type() -> (PgType, bool) {
        (PgType::BigInt, false)
    }

    fn encode(&self, buf: &mut Vec<u8>) {
        put_field(buf, &self.to_be_bytes());
    }

    fn to_cell(&self) -> Cell {
        Cell::BigInt(*self)
    }
}

impl ArrayElement for i64 {
    const ELEMENT_OID: u32 = 20;
}

impl PgValue for f64 {
    fn column_type() -> (PgType, bool) {
        (PgType::Double, false)
    }

    fn encode(&self, buf: &mut Vec<u8>) {
        put_field(buf, &self.to_bits().to_be_bytes());
    }

    fn to_cell(&self) -> Cell {
        Cell::Double(*self)
    }
}

impl ArrayElement for f64 {
    const ELEMENT_OID: u32 = 701;
}

#[cfg(test)]
mod tests {
    use bson::Bson;

    use super::*;
    use crate::value::fixtures::{decode, field, hex, rejection};

    const TWO_53: i64 = 9_007_199_254_740_992;

    #[test]
    fn i32_accepts_exact_values() {
        for (input, expected) in [
            (Bson::Int32(i32::MIN), i32::MIN),
            (Bson::Int32(i32::MAX), i32::MAX),
            (Bson::Int64(-2_147_483_648), i32::MIN),
            (Bson::Int64(2_147_483_647), i32::MAX),
            (Bson::Double(42.0), 42),
            (Bson::Double(-0.0), 0),
            (Bson::Double(2_147_483_647.0), i32::MAX),
            (Bson::Double(-2_147_483_648.0), i32::MIN),
        ] {
            assert_eq!(
                decode::<i32>(input.clone()).expect("accepted"),
                expected,
                "{input:?}"
            );
        }
    }

    #[test]
    fn i32_rejects_inexact_values() {
        for (input, message) in [
            (
                Bson::Int64(2_147_483_648),
                "value 2147483648 is out of range: integer holds -2147483648 to 2147483647",
            ),
            (
                Bson::Int64(-2_147_483_649),
                "value -2147483649 is out of range: integer holds -2147483648 to 2147483647",
            ),
            (
                Bson::Double(2_147_483_648.0),
                "value 2147483648 is out of range: integer holds -2147483648 to 2147483647",
            ),
            (
                Bson::Double(1e300),
                &format!(
                    "value {} is out of range: integer holds -2147483648 to 2147483647",
                    1e300
                ),
            ),
            (
                Bson::Double(1.5),
                "value 1.5 is out of range: integer holds whole numbers only",
            ),
            (
                Bson::Double(f64::NAN),
                "value NaN is out of range: integer holds whole numbers only",
            ),
            (
                Bson::Double(f64::INFINITY),
                "value inf is out of range: integer holds -2147483648 to 2147483647",
            ),
            (
                Bson::String("1".into()),
                "expected int32, int64 or double, found string \"1\"",
            ),
            (
                Bson::Boolean(true),
                "expected int32, int64 or double, found bool true",
            ),
            (Bson::Null, "required field is null"),
        ] {
            assert_eq!(rejection::<i32>(input), message);
        }
        assert_eq!(
            decode::<i32>(Bson::Int64(1 << 40))
                .expect_err("too big")
                .kind()
                .class(),
            "out_of_range"
        );
    }

    #[test]
    fn i64_accepts_exact_values() {
        for (input, expected) in [
            (Bson::Int32(-7), -7),
            (Bson::Int64(i64::MIN), i64::MIN),
            (Bson::Int64(i64::MAX), i64::MAX),
            (Bson::Double(TWO_53 as f64), TWO_53),
            (Bson::Double(-(TWO_53 as f64)), -TWO_53),
            (Bson::Double(1e15), 1_000_000_000_000_000),
        ] {
            assert_eq!(
                decode::<i64>(input.clone()).expect("accepted"),
                expected,
                "{input:?}"
            );
        }
    }

    #[test]
    fn i64_rejects_inexact_doubles() {
        let beyond = "value 9007199254740994 is out of range: a double beyond ±2^53 (9007199254740992) may not be the integer that was meant; store it as int64";
        for (input, message) in [
            (Bson::Double((TWO_53 + 2) as f64), beyond),
            (Bson::Double(0.25), "value 0.25 is out of range: bigint holds whole numbers only"),
            (Bson::Double(f64::NAN), "value NaN is out of range: bigint holds whole numbers only"),
            (Bson::Double(f64::NEG_INFINITY), "value -inf is out of range: a double beyond ±2^53 (9007199254740992) may not be the integer that was meant; store it as int64"),
            (Bson::Decimal128("1".parse().expect("decimal")), "expected int32, int64 or double, found decimal128 {\"$numberDecimal\":\"1\"}"),
        ] {
            assert_eq!(rejection::<i64>(input), message);
        }
    }

    #[test]
    fn f64_accepts_doubles_and_exact_integers() {
        for (input, expected) in [
            (Bson::Double(0.1), 0.1),
            (Bson::Int32(i32::MIN), -2_147_483_648.0),
            (Bson::Int64(TWO_53), TWO_53 as f64),
            (Bson::Int64(-TWO_53), -(TWO_53 as f64)),
            (Bson::Double(f64::INFINITY), f64::INFINITY),
        ] {
            assert_eq!(decode::<f64>(input).expect("accepted"), expected);
        }
        assert!(decode::<f64>(Bson::Double(f64::NAN)).expect("NaN").is_nan());
    }

    #[test]
    fn f64_rejects_integers_that_would_round() {
        assert_eq!(
            rejection::<f64>(Bson::Int64(TWO_53 + 1)),
            "value 9007199254740993 is out of range: double precision holds integers exactly only within ±2^53 (9007199254740992)"
        );
        assert_eq!(
            rejection::<f64>(Bson::Int64(i64::MIN)),
            "value -9223372036854775808 is out of range: double precision holds integers exactly only within ±2^53 (9007199254740992)"
        );
        assert_eq!(
            rejection::<f64>(Bson::String("1.0".into())),
            "expected int32, int64 or double, found string \"1.0\""
        );
    }

    #[test]
    fn numbers_are_big_endian() {
        assert_eq!(field(&1i32), hex("00000004 00000001"));
        assert_eq!(field(&-2i32), hex("00000004 fffffffe"));
        assert_eq!(field(&i64::MIN), hex("00000008 8000000000000000"));
        assert_eq!(field(&1.5f64), hex("00000008 3ff8000000000000"));
        assert_eq!(field(&f64::NEG_INFINITY), hex("00000008 fff0000000000000"));
        assert_eq!(i32::column_type(), (PgType::Integer, false));
        assert_eq!(i64::column_type(), (PgType::BigInt, false));
        assert_eq!(f64::column_type(), (PgType::Double, false));
        assert_eq!(7i64.to_cell(), Cell::BigInt(7));
        assert_eq!(
            [i32::ELEMENT_OID, i64::ELEMENT_OID, f64::ELEMENT_OID],
            [23, 20, 701]
        );
    }
}
