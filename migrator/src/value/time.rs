//! `timestamptz` from `bson::DateTime`.
//!
//! A BSON date is milliseconds since 1970-01-01 UTC in an `i64`; `timestamptz` is microseconds
//! since 2000-01-01 UTC. Accepted dates run from 4714-11-24 BC 00:00 UTC, PostgreSQL's first
//! (Julian day 0; year -4713 in the astronomical numbering that error messages use, "4713 BC" in
//! PostgreSQL's documentation), to 294247-01-10 04:00:54.775 UTC, the last millisecond whose
//! microseconds since 1970 fit the `i64` of [`Cell::Timestamp`]. PostgreSQL itself would go on
//! to 294276-12-31; those last 30 years are rejected too. Dates outside the range are rejected
//! when the document is read; dates before 1970 are negative and fine.

use bson::{DateTime, RawBsonRef};

use super::wire::put_field;
use super::{wrong_type, ArrayElement, Cell, FromBson, PgValue};
use crate::error::FieldError;
use crate::model::PgType;

/// Microseconds from 1970-01-01 to PostgreSQL's epoch, 2000-01-01.
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;
/// The first valid `timestamptz`, in microseconds since 2000 (`MIN_TIMESTAMP` in PostgreSQL).
const MIN_PG_MICROS: i64 = -211_813_488_000_000_000;

const RANGE: &str = "dates run from -4713-11-24 (4714 BC) to 294247-01-10";

/// Microseconds since 1970, if `millis` since 1970 is in the accepted range. (PostgreSQL's upper
/// limit, `END_TIMESTAMP`, is past `i64::MAX` microseconds since 1970, so the multiplication is
/// the upper check.)
fn unix_micros(millis: i64) -> Option<i64> {
    let micros = millis.checked_mul(1000)?;
    (micros.checked_sub(PG_EPOCH_MICROS)? >= MIN_PG_MICROS).then_some(micros)
}

static LOAD_TIME: std::sync::OnceLock<DateTime> = std::sync::OnceLock::new();

/// The load time: the run's, as its state records it (a resume and `validate`, in another
/// process, use the same), else the moment this process first asked for it; the same for
/// every document after. For a column the documents do not always fill, such as Prisma's
/// `@updatedAt`: `#[migrate(default = migrator::load_time)] updated_at: bson::DateTime` takes
/// the document's `updatedAt` when it has one, else this.
pub fn load_time() -> DateTime {
    *LOAD_TIME.get_or_init(DateTime::now)
}

/// Makes `recorded` (a run's load time) this process's unless it has one already; returns
/// the load time in force.
pub fn adopt_load_time(recorded: DateTime) -> DateTime {
    *LOAD_TIME.get_or_init(|| recorded)
}

impl FromBson for DateTime {
    fn from_bson(value: RawBsonRef<'_>) -> Result<Self, FieldError> {
        match value {
            RawBsonRef::DateTime(dt) => {
                let millis = dt.timestamp_millis();
                match unix_micros(millis) {
                    Some(_) => Ok(dt),
                    None => Err(FieldError::out_of_range(describe(millis), RANGE)),
                }
            }
            other => Err(wrong_type("date", &other)),
        }
    }
}

/// A date for an error message: calendar text when it can be computed, else the raw count.
fn describe(millis: i64) -> String {
    match millis.checked_mul(1000) {
        Some(micros) => Cell::format_timestamp(micros),
        None => format!("{millis} ms since 1970"),
    }
}

impl PgValue for DateTime {
    fn column_type() -> (PgType, bool) {
        (PgType::Timestamptz, false)
    }

    fn encode(&self, buf: &mut Vec<u8>) {
        // Decoding checked the range; a value built elsewhere saturates, and PostgreSQL rejects
        // it rather than storing a wrong date.
        let micros = self
            .timestamp_millis()
            .saturating_mul(1000)
            .saturating_sub(PG_EPOCH_MICROS);
        put_field(buf, &micros.to_be_bytes());
    }

    fn to_cell(&self) -> Cell {
        Cell::Timestamp(self.timestamp_millis().saturating_mul(1000))
    }
}

impl ArrayElement for DateTime {
    const ELEMENT_OID: u32 = 1184;
}

#[cfg(test)]
mod tests {
    use bson::Bson;

    use super::*;
    use crate::value::fixtures::{body, decode, hex, rejection};

    /// Milliseconds since 1970 of a UTC calendar date (proleptic Gregorian, astronomical years).
    fn millis(year: i64, month: i64, day: i64) -> i64 {
        let y = if month <= 2 { year - 1 } else { year };
        let era = y.div_euclid(400);
        let yoe = y.rem_euclid(400);
        let mp = (month + 9) % 12;
        let doy = (153 * mp + 2) / 5 + day - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        (era * 146_097 + doe - 719_468) * 86_400_000
    }

    #[test]
    fn dates_across_the_range_are_accepted() {
        for (ms, text) in [
            (0, "1970-01-01T00:00:00Z"),
            (-1, "1969-12-31T23:59:59.999Z"),
            (millis(1900, 1, 1), "1900-01-01T00:00:00Z"),
            (millis(1, 1, 1), "0001-01-01T00:00:00Z"),
            (millis(9999, 12, 31), "9999-12-31T00:00:00Z"),
            (millis(2000, 2, 29) + 1, "2000-02-29T00:00:00.001Z"),
            (millis(-4713, 11, 24), "-4713-11-24T00:00:00Z"),
            (i64::MAX / 1000, "294247-01-10T04:00:54.775Z"),
        ] {
            let dt = decode::<DateTime>(Bson::DateTime(DateTime::from_millis(ms))).expect(text);
            assert_eq!(dt.timestamp_millis(), ms);
            assert_eq!(dt.to_cell(), Cell::Timestamp(ms * 1000));
            assert_eq!(Cell::format_timestamp(ms * 1000), text);
        }
    }

    #[test]
    fn dates_outside_postgres_are_rejected() {
        for (ms, message) in [
            (
                millis(-4713, 11, 24) - 1,
                "value -4713-11-23T23:59:59.999Z is out of range: dates run from -4713-11-24 (4714 BC) to 294247-01-10",
            ),
            (
                i64::MAX / 1000 + 1,
                "value 9223372036854776 ms since 1970 is out of range: dates run from -4713-11-24 (4714 BC) to 294247-01-10",
            ),
            (
                i64::MAX,
                "value 9223372036854775807 ms since 1970 is out of range: dates run from -4713-11-24 (4714 BC) to 294247-01-10",
            ),
            (
                i64::MIN,
                "value -9223372036854775808 ms since 1970 is out of range: dates run from -4713-11-24 (4714 BC) to 294247-01-10",
            ),
        ] {
            assert_eq!(rejection::<DateTime>(Bson::DateTime(DateTime::from_millis(ms))), message);
        }
        assert_eq!(
            rejection::<DateTime>(Bson::Int64(0)),
            "expected date, found int64 0"
        );
        assert_eq!(
            rejection::<DateTime>(Bson::String("2020-01-01".into())),
            "expected date, found string \"2020-01-01\""
        );
    }

    #[test]
    fn timestamps_are_micros_since_2000() {
        let at = |ms| body(&DateTime::from_millis(ms));
        assert_eq!(at(946_684_800_000), hex("0000000000000000"));
        assert_eq!(at(946_684_800_001), hex("00000000000003e8"));
        assert_eq!(at(0), (-PG_EPOCH_MICROS).to_be_bytes());
        assert_eq!(at(millis(-4713, 11, 24)), MIN_PG_MICROS.to_be_bytes());
        assert_eq!(DateTime::column_type(), (PgType::Timestamptz, false));
        assert_eq!(DateTime::ELEMENT_OID, 1184);
    }
}
