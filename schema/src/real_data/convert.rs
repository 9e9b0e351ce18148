//! Custom conversions (`#[migrate(with = ...)]`) for the shapes the attributes do not cover.

use migrator::bson::{oid::ObjectId, DateTime, RawBsonRef};

/// A date written as text by an old application: `2015-08-13 00:27:59.177000000` (UTC), also
/// accepting a real BSON date.
pub fn legacy_datetime(value: RawBsonRef<'_>) -> Result<DateTime, String> {
    match value {
        RawBsonRef::DateTime(d) => Ok(d),
        RawBsonRef::String(s) => parse_legacy(s),
        other => Err(format!(
            "expected a date or a date string, found {:?}",
            other.element_type()
        )),
    }
}

fn parse_legacy(s: &str) -> Result<DateTime, String> {
    let bad = || format!("`{s}` is not a date like `2015-08-13 00:27:59.177000000`");
    let (date, time) = s.trim().split_once(' ').ok_or_else(bad)?;
    let (time, fraction) = time.split_once('.').unwrap_or((time, "0"));
    if !fraction.bytes().all(|b| b.is_ascii_digit()) || fraction.is_empty() {
        return Err(bad());
    }
    // Keep milliseconds (what a BSON date holds); digits past them must be zero: no silent loss.
    let (millis_digits, rest) = fraction.split_at(fraction.len().min(3));
    if rest.bytes().any(|b| b != b'0') {
        return Err(format!(
            "`{s}` has sub-millisecond digits a BSON date cannot hold"
        ));
    }
    let millis: i64 = format!("{millis_digits:0<3}").parse().map_err(|_| bad())?;
    let iso = format!("{date}T{time}Z");
    let parsed = DateTime::parse_rfc3339_str(&iso).map_err(|_| bad())?;
    Ok(DateTime::from_millis(parsed.timestamp_millis() + millis))
}

/// Milliseconds since the epoch stored as a double (or an integer); must be a whole number.
pub fn millis_double(value: RawBsonRef<'_>) -> Result<DateTime, String> {
    match value {
        RawBsonRef::DateTime(d) => Ok(d),
        RawBsonRef::Int64(i) => Ok(DateTime::from_millis(i)),
        RawBsonRef::Int32(i) => Ok(DateTime::from_millis(i64::from(i))),
        RawBsonRef::Double(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => {
            Ok(DateTime::from_millis(f as i64))
        }
        RawBsonRef::Double(f) => Err(format!("{f} is not a whole number of milliseconds")),
        other => Err(format!(
            "expected milliseconds since the epoch, found {:?}",
            other.element_type()
        )),
    }
}

/// An ObjectId written as 24 hexadecimal digits (or a real ObjectId).
pub fn object_id_hex(value: RawBsonRef<'_>) -> Result<ObjectId, String> {
    match value {
        RawBsonRef::ObjectId(o) => Ok(o),
        RawBsonRef::String(s) => ObjectId::parse_str(s)
            .map_err(|_| format!("`{s}` is not a 24-digit hexadecimal ObjectId")),
        other => Err(format!(
            "expected an ObjectId or its hex string, found {:?}",
            other.element_type()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_dates_parse_exactly() {
        let d = parse_legacy("2015-08-13 00:27:59.177000000").expect("valid");
        assert_eq!(
            d.try_to_rfc3339_string().expect("format"),
            "2015-08-13T00:27:59.177Z"
        );
        let d = parse_legacy("1999-01-02 03:04:05").expect("valid");
        assert_eq!(
            d.try_to_rfc3339_string().expect("format"),
            "1999-01-02T03:04:05Z"
        );
        for bad in [
            "2015-08-13",
            "2015-08-13 00:27:59.1770001",
            "13/08/2015 00:00:00",
            "2015-08-13 00:27:59.x",
        ] {
            assert!(parse_legacy(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn millis_must_be_whole() {
        assert_eq!(
            millis_double(RawBsonRef::Double(1_456_067_725_049.0)).expect("whole"),
            DateTime::from_millis(1_456_067_725_049)
        );
        assert!(millis_double(RawBsonRef::Double(1.5)).is_err());
        assert!(object_id_hex(RawBsonRef::String("558098a65133816958968d88")).is_ok());
        assert!(object_id_hex(RawBsonRef::String("nope")).is_err());
    }
}
