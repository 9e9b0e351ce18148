//! Writes adapted to a user's own column types (`--schema-mode existing`) when nothing is lost.
//!
//! The derived code encodes each value as the model's own type ([`crate::value::PgValue`]); an
//! [`Adapter`] turns that binary field into the existing column's binary field, or refuses it
//! when the value would not survive the trip (a timestamp finer than the column's precision, a
//! number with more digits than `numeric(p, s)` holds, a text longer than `varchar(n)`). The
//! refusal is a per-document error naming the field, so the document becomes a dead letter and
//! the rest of its batch lands. [`Adapting`] is the [`RowSink`] that applies the adapters of a
//! model's columns on the way to the COPY encoder.
//!
//! Which columns need which adapter is decided once per run by [`super::existing`].

use std::sync::Arc;

use crate::error::FieldError;
use crate::transform::RowSink;
use crate::value::PgValue;

/// How one column's values are rewritten or checked on their way into an existing column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adapter {
    /// A `uuid` into `text` or `varchar`: its canonical text (`8-4-4-4-12` lowercase hex).
    UuidText,
    /// An integer into a wider integer column: `from` and `to` are byte widths (2, 4, 8).
    Widen { from: u8, to: u8 },
    /// A timestamp into a column keeping `precision` (0..=5) decimal places of seconds: the
    /// bytes are the same (microseconds since 2000-01-01 UTC); a finer value is refused.
    Timestamp { precision: u8 },
    /// A timestamp into a `date` column: the UTC day, refused when the value is not midnight
    /// UTC (never truncated).
    Date,
    /// A `numeric` into `numeric(precision, scale)`: refused when it needs rounding (more
    /// decimal places than `scale`) or has more than `precision - scale` integer digits.
    Numeric { precision: u16, scale: i16 },
    /// A text into `varchar(n)`: refused when longer than `n` characters.
    MaxChars(u32),
}

impl Adapter {
    /// Appends to `out` the field `field` (the model's binary field, length word included)
    /// as the existing column takes it. NULL passes unchanged.
    pub fn apply(self, field: &[u8], out: &mut Vec<u8>) -> Result<(), FieldError> {
        let Some(body) = field_body(field) else {
            out.extend_from_slice(field);
            return Ok(());
        };
        match self {
            Adapter::UuidText => {
                let bytes: [u8; 16] = body.try_into().map_err(|_| malformed("uuid"))?;
                let text = uuid::Uuid::from_bytes(bytes).hyphenated().to_string();
                put(out, text.as_bytes());
            }
            Adapter::Widen { from, to } => {
                let value = match (from, body.len()) {
                    (2, 2) => i64::from(i16::from_be_bytes([body[0], body[1]])),
                    (4, 4) => i64::from(i32::from_be_bytes([body[0], body[1], body[2], body[3]])),
                    _ => return Err(malformed("integer")),
                };
                match to {
                    4 => put(out, &(value as i32).to_be_bytes()),
                    _ => put(out, &value.to_be_bytes()),
                }
            }
            Adapter::Timestamp { precision } => {
                let micros: [u8; 8] = body.try_into().map_err(|_| malformed("timestamp"))?;
                check_timestamp(i64::from_be_bytes(micros), precision)?;
                out.extend_from_slice(field);
            }
            Adapter::Date => {
                let micros: [u8; 8] = body.try_into().map_err(|_| malformed("timestamp"))?;
                put(out, &utc_day(i64::from_be_bytes(micros))?.to_be_bytes());
            }
            Adapter::Numeric { precision, scale } => {
                check_numeric(body, precision, scale)?;
                out.extend_from_slice(field);
            }
            Adapter::MaxChars(max) => {
                let text = std::str::from_utf8(body).map_err(|_| malformed("text"))?;
                let chars = text.chars().count();
                if chars > max as usize {
                    return Err(FieldError::out_of_range(
                        crate::value::excerpt_str(text),
                        format!("{chars} characters do not fit in varchar({max})"),
                    ));
                }
                out.extend_from_slice(field);
            }
        }
        Ok(())
    }
}

/// The bytes of a binary field, `None` for NULL.
fn field_body(field: &[u8]) -> Option<&[u8]> {
    let len = i32::from_be_bytes(field.get(..4)?.try_into().ok()?);
    usize::try_from(len).ok().and_then(|n| field.get(4..4 + n))
}

fn put(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
    out.extend_from_slice(bytes);
}

fn malformed(what: &str) -> FieldError {
    FieldError::invalid(format!(
        "the model wrote a malformed {what} value for an adapted column"
    ))
}

/// A timestamp (microseconds since 2000-01-01 UTC) must have no digit below `precision`.
fn check_timestamp(micros: i64, precision: u8) -> Result<(), FieldError> {
    if precision >= 6 || micros == i64::MAX || micros == i64::MIN {
        return Ok(());
    }
    let unit = 10i64.pow(u32::from(6 - precision));
    if micros.rem_euclid(unit) == 0 {
        return Ok(());
    }
    // 2000-01-01T00:00:00Z is 946684800 seconds after the Unix epoch.
    let unix_micros = micros.saturating_add(946_684_800_000_000);
    let shown = crate::value::Cell::format_timestamp(unix_micros);
    Err(FieldError::out_of_range(
        shown,
        format!("timestamp({precision}) keeps {precision} decimal places of seconds; the value would be rounded"),
    ))
}

/// The day of a timestamp (microseconds since 2000-01-01 UTC) that is midnight UTC, as days
/// since 2000-01-01 (PostgreSQL's binary `date`).
fn utc_day(micros: i64) -> Result<i32, FieldError> {
    const DAY: i64 = 86_400_000_000;
    if micros.rem_euclid(DAY) == 0 {
        if let Ok(days) = i32::try_from(micros.div_euclid(DAY)) {
            return Ok(days);
        }
    }
    let shown = crate::value::Cell::format_timestamp(micros.saturating_add(946_684_800_000_000));
    Err(FieldError::out_of_range(
        shown,
        "a date keeps the day only; the value has a time of day (UTC) that would be lost",
    ))
}

/// A binary `numeric` must fit `numeric(precision, scale)` without rounding.
fn check_numeric(body: &[u8], precision: u16, scale: i16) -> Result<(), FieldError> {
    let word = |i: usize| -> Option<u16> {
        Some(u16::from_be_bytes(
            body.get(2 * i..2 * i + 2)?.try_into().ok()?,
        ))
    };
    let (Some(ndigits), Some(weight), Some(sign)) = (word(0), word(1), word(2)) else {
        return Err(malformed("numeric"));
    };
    let weight = weight as i16;
    match sign {
        0xC000 => return Ok(()),
        0xD000 | 0xF000 => {
            return Err(FieldError::out_of_range(
                if sign == 0xD000 {
                    "Infinity"
                } else {
                    "-Infinity"
                },
                format!("numeric({precision}, {scale}) holds no infinity"),
            ))
        }
        _ => {}
    }
    let digits: Vec<u16> = (0..usize::from(ndigits))
        .map(|i| word(4 + i))
        .collect::<Option<_>>()
        .ok_or_else(|| malformed("numeric"))?;
    let text = numeric_text(sign == 0x4000, weight, &digits);
    // Decimal places the value needs: the last non-zero base-10000 digit's position.
    let mut places = 0i32;
    if let Some(last) = digits.iter().rposition(|d| *d != 0) {
        let power = i32::from(weight) - last as i32;
        if power < 0 {
            let d = digits[last];
            let trailing = (0..4)
                .take_while(|k| d.is_multiple_of(10u16.pow(k + 1)))
                .count() as i32;
            places = -power * 4 - trailing;
        }
    }
    if places > i32::from(scale) {
        return Err(FieldError::out_of_range(
            text,
            format!(
                "numeric({precision}, {scale}) keeps {scale} decimal places; the value has {places} and would be rounded"
            ),
        ));
    }
    // Integer digits: the first digit's decimal length plus four per base-10000 digit after it.
    let first = digits.iter().position(|d| *d != 0);
    let integer_digits = match first {
        Some(i) if i32::from(weight) - i as i32 >= 0 => {
            let power = i32::from(weight) - i as i32;
            power * 4 + digits[i].to_string().len() as i32
        }
        _ => 0,
    };
    let room = i32::from(precision) - i32::from(scale);
    if integer_digits > room {
        return Err(FieldError::out_of_range(
            text,
            format!(
                "numeric({precision}, {scale}) holds {room} integer digits; the value has {integer_digits}"
            ),
        ));
    }
    Ok(())
}

/// The value of base-10000 `digits` whose first has power `weight`, as plain decimal text.
fn numeric_text(negative: bool, weight: i16, digits: &[u16]) -> String {
    let mut integer = String::new();
    let mut fraction = String::new();
    for (i, d) in digits.iter().enumerate() {
        let power = i32::from(weight) - i as i32;
        if power >= 0 {
            if integer.is_empty() {
                integer = d.to_string();
            } else {
                integer.push_str(&format!("{d:04}"));
            }
        } else {
            if fraction.is_empty() && power < -1 {
                fraction.push_str(&"0000".repeat((-power - 1) as usize));
            }
            fraction.push_str(&format!("{d:04}"));
        }
    }
    // Zero digits after the last one given, up to the units.
    let last_power = i32::from(weight) - digits.len() as i32 + 1;
    if last_power > 0 {
        integer.push_str(&"0000".repeat(last_power as usize));
    }
    if integer.is_empty() {
        integer.push('0');
    }
    let fraction = fraction.trim_end_matches('0');
    let sign = if negative { "-" } else { "" };
    if fraction.is_empty() {
        format!("{sign}{integer}")
    } else {
        format!("{sign}{integer}.{fraction}")
    }
}

/// The adapters of one model: for each of its tables, for each column, the adapter if any;
/// and each column's document path, for the errors.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelAdapters {
    pub tables: Vec<Vec<Option<(Adapter, String)>>>,
}

impl ModelAdapters {
    /// Whether any column needs one.
    pub fn is_empty(&self) -> bool {
        self.tables.iter().flatten().all(Option::is_none)
    }

    fn get(&self, table: usize, column: usize) -> Option<&(Adapter, String)> {
        self.tables.get(table)?.get(column)?.as_ref()
    }
}

/// A [`RowSink`] applying a model's adapters on the way to `inner`. A value an adapter refuses
/// is left out and remembered; [`Adapting::failure`] gives every refusal of the document.
pub struct Adapting<'a, S: RowSink + ?Sized> {
    inner: &'a mut S,
    adapters: &'a Arc<ModelAdapters>,
    table: usize,
    column: usize,
    scratch: Vec<u8>,
    adapted: Vec<u8>,
    failures: Vec<FieldError>,
}

impl<S: RowSink + ?Sized> std::fmt::Debug for Adapting<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Adapting")
            .field("adapters", &self.adapters)
            .field("failures", &self.failures)
            .finish_non_exhaustive()
    }
}

impl<'a, S: RowSink + ?Sized> Adapting<'a, S> {
    pub fn new(inner: &'a mut S, adapters: &'a Arc<ModelAdapters>) -> Self {
        Adapting {
            inner,
            adapters,
            table: 0,
            column: 0,
            scratch: Vec::new(),
            adapted: Vec::new(),
            failures: Vec::new(),
        }
    }

    /// Every value refused since the document began, as one error (`None`: none was).
    pub fn failure(&mut self) -> Option<FieldError> {
        FieldError::gather(std::mem::take(&mut self.failures))
    }
}

impl<S: RowSink + ?Sized> RowSink for Adapting<'_, S> {
    fn begin_row(&mut self, table: usize) {
        self.table = table;
        self.column = 0;
        self.inner.begin_row(table);
    }

    fn value(&mut self, value: &dyn PgValue) {
        let column = self.column;
        self.column += 1;
        let Some((adapter, source)) = self.adapters.get(self.table, column) else {
            self.inner.value(value);
            return;
        };
        self.scratch.clear();
        value.encode(&mut self.scratch);
        self.adapted.clear();
        match adapter.apply(&self.scratch, &mut self.adapted) {
            Ok(()) => self.inner.encoded(&self.adapted, value),
            Err(error) => {
                self.failures.push(error.at_key(source.clone()));
                // The row still gets its field so the encoder's count stays right; the
                // document is dropped as a whole.
                self.inner.value(value);
            }
        }
    }

    fn encoded(&mut self, field: &[u8], value: &dyn PgValue) {
        self.column += 1;
        self.inner.encoded(field, value);
    }

    fn end_row(&mut self) {
        self.inner.end_row();
    }

    fn begin_document(&mut self) {
        self.failures.clear();
        self.inner.begin_document();
    }

    fn abandon_document(&mut self) {
        self.failures.clear();
        self.inner.abandon_document();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::PgValue;

    fn field(value: &dyn PgValue) -> Vec<u8> {
        let mut buf = Vec::new();
        value.encode(&mut buf);
        buf
    }

    fn apply(adapter: Adapter, value: &dyn PgValue) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        adapter
            .apply(&field(value), &mut out)
            .map(|()| out)
            .map_err(|e| e.to_string())
    }

    fn decimal(text: &str) -> bson::Decimal128 {
        text.parse().expect("a decimal")
    }

    #[test]
    fn uuids_become_their_canonical_text() {
        let id = uuid::Uuid::parse_str("0192F3A4-5B6C-7D8E-9FA0-B1C2D3E4F506").expect("uuid");
        let out = apply(Adapter::UuidText, &id).expect("adapted");
        assert_eq!(&out[..4], &36i32.to_be_bytes());
        assert_eq!(&out[4..], b"0192f3a4-5b6c-7d8e-9fa0-b1c2d3e4f506");
        assert_eq!(
            apply(Adapter::UuidText, &None::<uuid::Uuid>),
            Ok(field(&None::<uuid::Uuid>))
        );
    }

    #[test]
    fn integers_widen_with_their_sign() {
        let widen = |from, to| Adapter::Widen { from, to };
        assert_eq!(apply(widen(4, 8), &-2i32), Ok(field(&-2i64)));
        let smallint = |n: i16| {
            let mut f = 2i32.to_be_bytes().to_vec();
            f.extend_from_slice(&n.to_be_bytes());
            f
        };
        let mut out = Vec::new();
        widen(2, 4)
            .apply(&smallint(-300), &mut out)
            .expect("widened");
        assert_eq!(out, field(&-300i32));
        out.clear();
        widen(2, 8).apply(&smallint(7), &mut out).expect("widened");
        assert_eq!(out, field(&7i64));
    }

    #[test]
    fn timestamps_finer_than_the_column_are_refused() {
        let at = |ms| bson::DateTime::from_millis(ms);
        let ms3 = Adapter::Timestamp { precision: 3 };
        let s0 = Adapter::Timestamp { precision: 0 };
        assert_eq!(
            apply(ms3, &at(1_700_000_000_123)),
            Ok(field(&at(1_700_000_000_123)))
        );
        assert_eq!(
            apply(s0, &at(1_700_000_000_000)),
            Ok(field(&at(1_700_000_000_000)))
        );
        let refused = apply(s0, &at(1_700_000_000_123)).expect_err("rounded");
        assert!(
            refused.contains("2023-11-14T22:13:20.123Z") && refused.contains("timestamp(0)"),
            "{refused}"
        );
    }

    #[test]
    fn timestamps_at_midnight_utc_become_dates_others_are_refused() {
        let at = |ms| bson::DateTime::from_millis(ms);
        // 2024-02-29T00:00:00Z: 8825 days after 2000-01-01.
        let mut day = 4i32.to_be_bytes().to_vec();
        day.extend_from_slice(&8825i32.to_be_bytes());
        assert_eq!(apply(Adapter::Date, &at(1_709_164_800_000)), Ok(day));
        let mut before = 4i32.to_be_bytes().to_vec();
        before.extend_from_slice(&(-1i32).to_be_bytes());
        assert_eq!(apply(Adapter::Date, &at(946_598_400_000)), Ok(before));
        let refused = apply(Adapter::Date, &at(1_709_164_800_001)).expect_err("a time of day");
        assert!(
            refused.contains("2024-02-29T00:00:00.001Z") && refused.contains("keeps the day only"),
            "{refused}"
        );
        assert_eq!(
            apply(Adapter::Date, &None::<bson::DateTime>),
            Ok(field(&None::<bson::DateTime>))
        );
    }

    #[test]
    fn numerics_must_fit_without_rounding() {
        let money = Adapter::Numeric {
            precision: 10,
            scale: 2,
        };
        for ok in [
            "12.5",
            "12.50",
            "12.500",
            "-99999999.99",
            "0",
            "0.01",
            "100000",
            "NaN",
        ] {
            assert!(apply(money, &decimal(ok)).is_ok(), "{ok}");
        }
        for (bad, says) in [
            ("12.345", "value 12.345 is out of range: numeric(10, 2) keeps 2 decimal places; the value has 3"),
            ("0.001", "value 0.001 is out of range"),
            ("123456789", "holds 8 integer digits; the value has 9"),
            ("-100000000.5", "value -100000000.5 is out of range"),
            ("Infinity", "holds no infinity"),
        ] {
            let error = apply(money, &decimal(bad)).expect_err(bad);
            assert!(error.contains(says), "{bad}: {error}");
        }
        let prisma = Adapter::Numeric {
            precision: 65,
            scale: 30,
        };
        assert!(apply(prisma, &decimal("0.1234567890123456789012345678901")).is_err());
        assert!(apply(prisma, &decimal("1234.5678901234567890")).is_ok());
        assert!(apply(prisma, &decimal("1E+34")).is_ok());
    }

    #[test]
    fn numeric_text_places_the_point() {
        for (text, shown) in [
            ("10000.0001", "10000.0001"),
            ("0.00000123", "0.00000123"),
            ("-1E+8", "-100000000"),
            ("123456.7", "123456.7"),
        ] {
            let bytes = field(&decimal(text));
            let body = field_body(&bytes).expect("not null");
            let w = |i: usize| u16::from_be_bytes([body[2 * i], body[2 * i + 1]]);
            let digits: Vec<u16> = (0..w(0) as usize).map(|i| w(4 + i)).collect();
            assert_eq!(numeric_text(w(2) == 0x4000, w(1) as i16, &digits), shown);
        }
    }

    #[test]
    fn texts_longer_than_varchar_are_refused() {
        assert!(apply(Adapter::MaxChars(3), &"été".to_string()).is_ok());
        let error = apply(Adapter::MaxChars(3), &"abcd".to_string()).expect_err("long");
        assert!(
            error.contains("4 characters do not fit in varchar(3)"),
            "{error}"
        );
    }
}
