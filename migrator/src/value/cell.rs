//! [`Cell`]: an owned, comparable, printable column value.

use serde::ser::{Serialize, SerializeSeq, Serializer};
use uuid::Uuid;

/// One column value as PostgreSQL stores it, in a form tests and `validate` can compare and print.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Bool(bool),
    Int(i32),
    BigInt(i64),
    Double(f64),
    /// Exact decimal text as PostgreSQL prints it (`12.50`, `NaN`, `Infinity`).
    Numeric(String),
    Text(String),
    Bytes(Vec<u8>),
    Uuid(Uuid),
    /// Microseconds since 1970-01-01T00:00:00Z.
    Timestamp(i64),
    Json(serde_json::Value),
    Array(Vec<Cell>),
    /// An enum label.
    Enum(String),
    /// A PostGIS geometry as EWKT (`SRID=4326;POINT(-93.24565 44.85466)`).
    Geometry(String),
}

impl Cell {
    /// The timestamp as RFC 3339 text with microseconds (`1969-07-20T20:17:40Z`).
    pub fn format_timestamp(micros: i64) -> String {
        let secs = micros.div_euclid(1_000_000);
        let sub = micros.rem_euclid(1_000_000);
        let days = secs.div_euclid(86_400);
        let tod = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let mut out = format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
            tod / 3600,
            (tod / 60) % 60,
            tod % 60
        );
        if sub != 0 {
            let frac = format!("{sub:06}");
            out.push('.');
            out.push_str(frac.trim_end_matches('0'));
        }
        out.push('Z');
        out
    }
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

impl Serialize for Cell {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Cell::Null => s.serialize_none(),
            Cell::Bool(b) => s.serialize_bool(*b),
            Cell::Int(i) => s.serialize_i32(*i),
            Cell::BigInt(i) => s.serialize_i64(*i),
            Cell::Double(f) => {
                if f.is_finite() {
                    s.serialize_f64(*f)
                } else {
                    s.serialize_str(&f.to_string())
                }
            }
            Cell::Numeric(n) => s.serialize_str(&format!("numeric {n}")),
            Cell::Text(t) => s.serialize_str(t),
            Cell::Bytes(b) => {
                let mut hex = String::with_capacity(2 + b.len() * 2);
                hex.push_str("\\x");
                for byte in b {
                    hex.push_str(&format!("{byte:02x}"));
                }
                s.serialize_str(&hex)
            }
            Cell::Uuid(u) => s.serialize_str(&u.to_string()),
            Cell::Timestamp(t) => s.serialize_str(&Cell::format_timestamp(*t)),
            Cell::Json(v) => v.serialize(s),
            Cell::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Cell::Enum(e) => s.serialize_str(e),
            Cell::Geometry(g) => s.serialize_str(&format!("geometry {g}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_format_before_and_after_epoch() {
        for (micros, text) in [
            (0, "1970-01-01T00:00:00Z"),
            (-1, "1969-12-31T23:59:59.999999Z"),
            (-14_182_940_000_000, "1969-07-20T20:17:40Z"),
            (951_782_400_000_000, "2000-02-29T00:00:00Z"),
            (1_500_000, "1970-01-01T00:00:01.5Z"),
            (253_402_300_799_000_000, "9999-12-31T23:59:59Z"),
        ] {
            assert_eq!(Cell::format_timestamp(micros), text, "{micros}");
        }
    }
}
