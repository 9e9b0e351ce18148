//! PostgreSQL `numeric`: the binary wire format and the text PostgreSQL prints, for a decimal
//! given as sign, coefficient and power of ten.
//!
//! The binary format is a header of four big-endian 16-bit words followed by base-10000 digits:
//!
//! ```text
//! ndigits  number of base-10000 digits that follow (trailing zero digits are left out)
//! weight   power of 10000 of the first digit (0: units, -1: the first 4 decimals)
//! sign     0x0000 positive, 0x4000 negative, 0xC000 NaN, 0xD000 +Infinity, 0xF000 -Infinity
//! dscale   decimal digits after the point that the value displays (keeps `1.50` as `1.50`)
//! ```
//!
//! The infinities exist since PostgreSQL 14. PostgreSQL has no negative zero: `-0.00` is `0.00`.

use super::wire::{begin_field, end_field};

const POSITIVE: u16 = 0x0000;
const NEGATIVE: u16 = 0x4000;
const NAN: u16 = 0xC000;
const POSITIVE_INFINITY: u16 = 0xD000;
const NEGATIVE_INFINITY: u16 = 0xF000;

/// Base-10000 digits of a coefficient below 10^37 (10^34 times at most 10^3 of alignment).
const MAX_DIGITS: usize = 10;

/// A decimal value as `numeric` stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decimal {
    /// `(-1)^negative * coefficient * 10^exponent`; the coefficient has at most 34 digits.
    Finite {
        negative: bool,
        coefficient: u128,
        exponent: i32,
    },
    NaN,
    Infinity {
        negative: bool,
    },
}

impl Decimal {
    /// Digits shown after the decimal point.
    fn dscale(exponent: i32) -> u16 {
        u16::try_from(exponent.min(0).unsigned_abs()).unwrap_or(u16::MAX)
    }

    /// Appends the value as one binary COPY field (length word included).
    pub(crate) fn encode(&self, buf: &mut Vec<u8>) {
        let start = begin_field(buf);
        match *self {
            Decimal::NaN => put_header(buf, 0, 0, NAN, 0),
            Decimal::Infinity { negative: false } => put_header(buf, 0, 0, POSITIVE_INFINITY, 0),
            Decimal::Infinity { negative: true } => put_header(buf, 0, 0, NEGATIVE_INFINITY, 0),
            Decimal::Finite {
                negative,
                coefficient,
                exponent,
            } => {
                let dscale = Self::dscale(exponent);
                if coefficient == 0 {
                    put_header(buf, 0, 0, POSITIVE, dscale);
                } else {
                    let (digits, count, weight) = base_10000(coefficient, exponent);
                    let sign = if negative { NEGATIVE } else { POSITIVE };
                    put_header(buf, count as u16, weight, sign, dscale);
                    for digit in &digits[MAX_DIGITS - count..] {
                        buf.extend_from_slice(&digit.to_be_bytes());
                    }
                }
            }
        }
        end_field(buf, start);
    }

    /// The value as PostgreSQL prints it: `1.50`, `1000`, `0.000001`, `NaN`, `-Infinity`.
    pub(crate) fn to_text(self) -> String {
        let (negative, coefficient, exponent) = match self {
            Decimal::NaN => return "NaN".into(),
            Decimal::Infinity { negative: false } => return "Infinity".into(),
            Decimal::Infinity { negative: true } => return "-Infinity".into(),
            Decimal::Finite {
                negative,
                coefficient,
                exponent,
            } => (negative, coefficient, exponent),
        };
        let digits = coefficient.to_string();
        let scale = usize::from(Self::dscale(exponent));
        let mut out = String::with_capacity(digits.len() + scale + 3);
        if negative && coefficient != 0 {
            out.push('-');
        }
        if exponent >= 0 {
            out.push_str(&digits);
            if coefficient != 0 {
                out.extend(std::iter::repeat_n('0', exponent.unsigned_abs() as usize));
            }
        } else if digits.len() > scale {
            let (int, frac) = digits.split_at(digits.len() - scale);
            out.push_str(int);
            out.push('.');
            out.push_str(frac);
        } else {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', scale - digits.len()));
            out.push_str(&digits);
        }
        out
    }
}

fn put_header(buf: &mut Vec<u8>, ndigits: u16, weight: i16, sign: u16, dscale: u16) {
    buf.extend_from_slice(&ndigits.to_be_bytes());
    buf.extend_from_slice(&weight.to_be_bytes());
    buf.extend_from_slice(&sign.to_be_bytes());
    buf.extend_from_slice(&dscale.to_be_bytes());
}

/// The base-10000 digits of a non-zero `coefficient * 10^exponent`, right-aligned in the array,
/// with trailing zero digits removed: `(digits, count, weight)`.
fn base_10000(coefficient: u128, exponent: i32) -> ([u16; MAX_DIGITS], usize, i16) {
    // Align the lowest decimal digit to a base-10000 digit boundary.
    let shift = exponent.rem_euclid(4);
    let mut rest = coefficient * 10u128.pow(shift.unsigned_abs());
    let mut lowest = (exponent - shift) / 4;
    while rest != 0 && rest.is_multiple_of(10_000) {
        rest /= 10_000;
        lowest += 1;
    }
    let mut digits = [0u16; MAX_DIGITS];
    let mut count = 0;
    while rest != 0 && count < MAX_DIGITS {
        digits[MAX_DIGITS - 1 - count] = (rest % 10_000) as u16;
        rest /= 10_000;
        count += 1;
    }
    // |exponent| <= 6176 for Decimal128, so the weight is far inside i16.
    let weight = i16::try_from(lowest + count as i32 - 1).unwrap_or(i16::MAX);
    (digits, count, weight)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::fixtures::hex;

    fn finite(negative: bool, coefficient: u128, exponent: i32) -> Decimal {
        Decimal::Finite {
            negative,
            coefficient,
            exponent,
        }
    }

    fn encoded(d: Decimal) -> Vec<u8> {
        let mut buf = Vec::new();
        d.encode(&mut buf);
        let len = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
        assert_eq!(len as usize, buf.len() - 4, "length word of {d:?}");
        buf.split_off(4)
    }

    /// Encodings as `numeric_send` of PostgreSQL 15 writes them (`SELECT numeric_send('1.50')`),
    /// except that it fills the unused dscale of the infinities with 32 where we write 0;
    /// `numeric_recv` ignores it.
    #[test]
    fn binary_matches_postgres() {
        for (value, text, wire) in [
            (finite(false, 0, 0), "0", "0000 0000 0000 0000"),
            (finite(false, 1, 0), "1", "0001 0000 0000 0000 0001"),
            (
                finite(false, 150, -2),
                "1.50",
                "0002 0000 0000 0002 0001 1388",
            ),
            (finite(false, 1, 3), "1000", "0001 0000 0000 0000 03e8"),
            (finite(false, 1, 4), "10000", "0001 0001 0000 0000 0001"),
            (
                finite(true, 123_456_789, -4),
                "-12345.6789",
                "0003 0001 4000 0004 0001 0929 1a85",
            ),
            (finite(false, 1, -6), "0.000001", "0001 fffe 0000 0006 0064"),
            (finite(true, 0, -2), "0.00", "0000 0000 0000 0002"),
            (finite(false, 100, 0), "100", "0001 0000 0000 0000 0064"),
            (finite(false, 5, -1), "0.5", "0001 ffff 0000 0001 1388"),
            (
                finite(false, 1_0000_0000_0001, 0),
                "1000000000001",
                "0004 0003 0000 0000 0001 0000 0000 0001",
            ),
            (Decimal::NaN, "NaN", "0000 0000 c000 0000"),
            (
                Decimal::Infinity { negative: false },
                "Infinity",
                "0000 0000 d000 0000",
            ),
            (
                Decimal::Infinity { negative: true },
                "-Infinity",
                "0000 0000 f000 0000",
            ),
        ] {
            assert_eq!(value.to_text(), text, "{value:?}");
            assert_eq!(encoded(value), hex(wire), "{text}");
        }
    }

    #[test]
    fn extremes_of_decimal128_fit() {
        let max = 9_999_999_999_999_999_999_999_999_999_999_999u128;
        // 34 nines times 10^6111 and 34 digits at the smallest exponent, as
        // `numeric_send` writes them.
        assert_eq!(
            encoded(finite(false, max, 6111)),
            hex("000a 0600 0000 0000 0009 270f 270f 270f 270f 270f 270f 270f 270f 2328")
        );
        assert_eq!(
            encoded(finite(
                true,
                1_234_567_890_123_456_789_012_345_678_901_234,
                -6176
            )),
            hex("0009 fa00 4000 1820 000c 0d80 1ed2 04d2 162e 2334 0d80 1ed2 04d2")
        );
        assert_eq!(
            encoded(finite(false, 1, -6176)),
            hex("0001 f9f8 0000 1820 0001")
        );
        assert_eq!(finite(false, 1, -6176).to_text().len(), 2 + 6176);
        assert_eq!(finite(false, 7, 6111).to_text().len(), 6112);
    }

    #[test]
    fn zero_keeps_its_scale_but_not_its_sign() {
        assert_eq!(finite(true, 0, 0).to_text(), "0");
        assert_eq!(finite(false, 0, 5).to_text(), "0");
        assert_eq!(finite(false, 0, -3).to_text(), "0.000");
        assert_eq!(encoded(finite(false, 0, 5)), hex("0000 0000 0000 0000"));
    }
}
