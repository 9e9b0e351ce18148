//! Conversions for the shapes the first version of the application left in its documents.
//!
//! Until early 2019 the application stored dates as text: `2018-03-04 10:11:12` (the server's
//! UTC wall clock), an ISO 8601 timestamp, or a bare day (`2018-03-04`) for due dates. Newer
//! documents hold BSON dates. Both shapes become `timestamptz`.

use migrator::bson::{DateTime, RawBsonRef};

/// A BSON date, or a date written as text by the first version of the application.
pub fn flexible_date(value: RawBsonRef<'_>) -> Result<DateTime, String> {
    match value {
        RawBsonRef::DateTime(d) => Ok(d),
        RawBsonRef::String(s) => parse_text_date(s),
        other => Err(format!(
            "expected a date or a date string, found {:?}",
            other.element_type()
        )),
    }
}

/// [`flexible_date`] for optional fields: `null` is `None`.
pub fn optional_flexible_date(value: RawBsonRef<'_>) -> Result<Option<DateTime>, String> {
    match value {
        RawBsonRef::Null => Ok(None),
        other => flexible_date(other).map(Some),
    }
}

/// `2018-03-04T10:11:12.345Z` (any RFC 3339 offset), `2018-03-04 10:11:12[.fff]` (UTC) or
/// `2018-03-04` (midnight UTC).
pub fn parse_text_date(text: &str) -> Result<DateTime, String> {
    let s = text.trim();
    let bad = || {
        format!(
            "`{text}` is not a date like `2018-03-04T10:11:12Z`, `2018-03-04 10:11:12` or `2018-03-04`"
        )
    };
    let iso = if s.len() == 10 {
        format!("{s}T00:00:00Z")
    } else if s.as_bytes().get(10) == Some(&b' ') {
        format!("{}T{}Z", &s[..10], &s[11..])
    } else {
        s.to_string()
    };
    if !iso.is_ascii() {
        return Err(bad());
    }
    DateTime::parse_rfc3339_str(&iso).map_err(|_| bad())
}

/// The text the first version of the application wrote for a date: `2018-03-04 10:11:12` with
/// milliseconds when there are any (`2018-03-04 10:11:12.345`).
pub fn legacy_text(date: DateTime) -> Option<String> {
    let iso = date.try_to_rfc3339_string().ok()?;
    let trimmed = iso.strip_suffix('Z')?;
    Some(trimmed.replacen('T', " ", 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_text_shape_parses() {
        let cases = [
            ("2018-03-04T10:11:12Z", 1_520_158_272_000),
            ("2018-03-04T10:11:12.345Z", 1_520_158_272_345),
            ("2018-03-04T12:11:12+02:00", 1_520_158_272_000),
            ("2018-03-04 10:11:12", 1_520_158_272_000),
            ("2018-03-04 10:11:12.5", 1_520_158_272_500),
            ("2018-03-04", 1_520_121_600_000),
        ];
        for (text, millis) in cases {
            let parsed = parse_text_date(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(parsed.timestamp_millis(), millis, "{text}");
        }
        for bad in [
            "04/03/2018",
            "yesterday",
            "2018-13-01",
            "",
            "2018-03-04 25:00:00",
            "２０１８-03-04",
        ] {
            assert!(parse_text_date(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn legacy_text_round_trips() {
        for millis in [1_520_158_272_000, 1_520_158_272_345, 0] {
            let date = DateTime::from_millis(millis);
            let text = legacy_text(date).expect("formats");
            assert!(!text.contains('T') && !text.ends_with('Z'), "{text}");
            assert_eq!(parse_text_date(&text), Ok(date), "{text}");
        }
    }

    #[test]
    fn optional_dates_accept_null_and_reject_other_types() {
        assert_eq!(optional_flexible_date(RawBsonRef::Null), Ok(None));
        assert!(optional_flexible_date(RawBsonRef::Int32(3)).is_err());
        assert!(flexible_date(RawBsonRef::Boolean(true)).is_err());
    }
}
