//! `numeric` from `bson::Decimal128`.
//!
//! Accepted: decimal128 (digits and scale exactly as stored: `1.50` stays `1.50`, `1E+3` is
//! `1000`, NaN and ±Infinity included), int32 and int64 (exact), and double, read through its
//! shortest round-trip decimal text (`0.1` is `0.1`, not `0.1000000000000000055511151231257827`;
//! NaN and ±Infinity map to numeric's own). Every Decimal128 fits `numeric`, so nothing is out of
//! range. A signed NaN and a signalling NaN are NaN; negative zero is zero.

use bson::{Decimal128, RawBsonRef};

use super::numeric::Decimal;
use super::{wrong_type, ArrayElement, Cell, FromBson, PgValue};
use crate::error::FieldError;
use crate::model::PgType;

/// Exponent bias of Decimal128.
const BIAS: i32 = 6176;
/// The largest canonical coefficient: 34 nines. Larger ones are non-canonical and mean zero.
const MAX_COEFFICIENT: u128 = 9_999_999_999_999_999_999_999_999_999_999_999;

/// The value of a Decimal128 (IEEE 754-2008 decimal128, binary integer decimal encoding,
/// little-endian in BSON).
pub(crate) fn unpack(value: &Decimal128) -> Decimal {
    let bits = u128::from_le_bytes(value.bytes());
    let negative = bits >> 127 == 1;
    let combination = (bits >> 122) & 0x1f;
    if combination == 0x1f {
        return Decimal::NaN;
    }
    if combination == 0x1e {
        return Decimal::Infinity { negative };
    }
    let (raw_exponent, coefficient) = if (bits >> 125) & 0b11 == 0b11 {
        // The long form: its implied coefficient is at least 2^113, above the largest canonical
        // one, so the value is zero.
        ((bits >> 111) & 0x3fff, 0)
    } else {
        let coefficient = bits & ((1u128 << 113) - 1);
        (
            (bits >> 113) & 0x3fff,
            if coefficient > MAX_COEFFICIENT {
                0
            } else {
                coefficient
            },
        )
    };
    Decimal::Finite {
        negative,
        coefficient,
        // 14 bits: 0..=16383, so the cast is exact.
        exponent: raw_exponent as i32 - BIAS,
    }
}

/// A Decimal128 from decimal text that bson's parser accepts exactly.
fn parse(text: &str) -> Result<Decimal128, FieldError> {
    text.parse()
        .map_err(|e| FieldError::invalid(format!("`{text}` is not a decimal128: {e}")))
}

impl FromBson for Decimal128 {
    fn from_bson(value: RawBsonRef<'_>) -> Result<Self, FieldError> {
        match value {
            RawBsonRef::Decimal128(d) => Ok(d),
            RawBsonRef::Int32(i) => parse(&i.to_string()),
            RawBsonRef::Int64(i) => parse(&i.to_string()),
            // `{:e}` writes the shortest digits that read back as the same double, and
            // `NaN`, `inf` and `-inf` for the rest, all of which the parser takes.
            RawBsonRef::Double(x) => parse(&format!("{x:e}")),
            other => Err(wrong_type("decimal128, int32, int64 or double", &other)),
        }
    }
}

impl PgValue for Decimal128 {
    fn column_type() -> (PgType, bool) {
        (PgType::Numeric, false)
    }

    fn encode(&self, buf: &mut Vec<u8>) {
        unpack(self).encode(buf);
    }

    fn to_cell(&self) -> Cell {
        Cell::Numeric(unpack(self).to_text())
    }
}

impl ArrayElement for Decimal128 {
    const ELEMENT_OID: u32 = 1700;
}

#[cfg(test)]
mod tests {
    use bson::Bson;

    use super::*;
    use crate::value::fixtures::{body, decode, hex, rejection};

    fn dec(text: &str) -> Decimal128 {
        text.parse().expect("valid decimal128 text")
    }

    fn numeric_text(input: Bson) -> String {
        match decode::<Decimal128>(input).expect("accepted").to_cell() {
            Cell::Numeric(text) => text,
            other => panic!("not numeric: {other:?}"),
        }
    }

    #[test]
    fn decimal128_unpacks_to_sign_coefficient_exponent() {
        let finite = |negative, coefficient, exponent| Decimal::Finite {
            negative,
            coefficient,
            exponent,
        };
        for (text, expected) in [
            ("1.50", finite(false, 150, -2)),
            ("1E+3", finite(false, 1, 3)),
            ("-0", finite(true, 0, 0)),
            ("-12.345", finite(true, 12345, -3)),
            (
                "9999999999999999999999999999999999E+6111",
                finite(false, MAX_COEFFICIENT, 6111),
            ),
            ("1E-6176", finite(false, 1, -6176)),
            ("NaN", Decimal::NaN),
            ("-NaN", Decimal::NaN),
            ("sNaN", Decimal::NaN),
            ("Infinity", Decimal::Infinity { negative: false }),
            ("-Infinity", Decimal::Infinity { negative: true }),
        ] {
            assert_eq!(unpack(&dec(text)), expected, "{text}");
        }
    }

    #[test]
    fn non_canonical_coefficients_are_zero() {
        // Long form (combination bits 11): implied coefficient above 34 nines.
        let long_form = (0b0110u128 << 124) | (BIAS as u128) << 111 | 5;
        let d = Decimal128::from_bytes(long_form.to_le_bytes());
        assert_eq!(d.to_cell(), Cell::Numeric("0".into()));
        // Short form with a coefficient of 10^34.
        let too_big = ((BIAS as u128) << 113) | (MAX_COEFFICIENT + 1);
        let d = Decimal128::from_bytes(too_big.to_le_bytes());
        assert_eq!(d.to_cell(), Cell::Numeric("0".into()));
    }

    #[test]
    fn decimals_keep_their_digits_and_scale() {
        for (input, text) in [
            ("1.50", "1.50"),
            ("1E+3", "1000"),
            ("-0", "0"),
            ("-0.00", "0.00"),
            ("0.000001", "0.000001"),
            ("1E-7", "0.0000001"),
            (
                "-123456789012345678901234567890.1234",
                "-123456789012345678901234567890.1234",
            ),
            ("NaN", "NaN"),
            ("Infinity", "Infinity"),
            ("-Infinity", "-Infinity"),
        ] {
            assert_eq!(numeric_text(Bson::Decimal128(dec(input))), text, "{input}");
        }
    }

    #[test]
    fn integers_and_doubles_convert_exactly() {
        for (input, text) in [
            (Bson::Int32(i32::MIN), "-2147483648"),
            (Bson::Int64(i64::MAX), "9223372036854775807"),
            (Bson::Int64(0), "0"),
            (Bson::Double(0.1), "0.1"),
            (Bson::Double(-2.5), "-2.5"),
            (Bson::Double(100.0), "100"),
            (Bson::Double(-0.0), "0"),
            (Bson::Double(1e21), "1000000000000000000000"),
            (
                Bson::Double(1.7976931348623157e308),
                &format!("17976931348623157{}", "0".repeat(292)),
            ),
            (Bson::Double(5e-324), &format!("0.{}5", "0".repeat(323))),
            (Bson::Double(f64::NAN), "NaN"),
            (Bson::Double(f64::INFINITY), "Infinity"),
            (Bson::Double(f64::NEG_INFINITY), "-Infinity"),
        ] {
            assert_eq!(numeric_text(input.clone()), text, "{input:?}");
        }
    }

    #[test]
    fn other_types_are_rejected() {
        for (input, message) in [
            (
                Bson::String("1.5".into()),
                "expected decimal128, int32, int64 or double, found string \"1.5\"",
            ),
            (
                Bson::Boolean(false),
                "expected decimal128, int32, int64 or double, found bool false",
            ),
            (Bson::Null, "required field is null"),
        ] {
            assert_eq!(rejection::<Decimal128>(input), message);
        }
    }

    #[test]
    fn numeric_is_written_in_binary() {
        assert_eq!(body(&dec("1.50")), hex("0002 0000 0000 0002 0001 1388"));
        assert_eq!(body(&dec("-1E+3")), hex("0001 0000 4000 0000 03e8"));
        assert_eq!(body(&dec("NaN")), hex("0000 0000 c000 0000"));
        assert_eq!(body(&dec("-Infinity")), hex("0000 0000 f000 0000"));
        assert_eq!(Decimal128::column_type(), (PgType::Numeric, false));
        assert_eq!(Decimal128::ELEMENT_OID, 1700);
    }
}
