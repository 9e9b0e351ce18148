//! The text PostgreSQL prints for a [`Cell`] (`value::text` with `TimeZone = UTC`,
//! `DateStyle = ISO`, `extra_float_digits = 1`).

use migrator::value::Cell;

/// `Cell` as PostgreSQL prints it with `TimeZone = UTC` and `DateStyle = ISO`.
pub fn pg_text(cell: &Cell) -> Option<String> {
    Some(match cell {
        Cell::Null => return None,
        Cell::Bool(b) => if *b { "true" } else { "false" }.to_string(),
        Cell::Int(i) => i.to_string(),
        Cell::BigInt(i) => i.to_string(),
        Cell::Double(x) => pg_float(*x),
        Cell::Numeric(n) | Cell::Text(n) | Cell::Enum(n) => n.clone(),
        // Geometries print as hex EWKB; `shapes_roundtrip` reads them back with PostGIS.
        Cell::Geometry(ewkt) => ewkt.clone(),
        Cell::Bytes(b) => format!(
            "\\x{}",
            b.iter().map(|x| format!("{x:02x}")).collect::<String>()
        ),
        Cell::Uuid(u) => u.to_string(),
        Cell::Timestamp(micros) => pg_timestamp(*micros),
        Cell::Json(v) => pg_jsonb(v),
        Cell::Array(items) => {
            let items: Vec<String> = items.iter().map(pg_array_item).collect();
            format!("{{{}}}", items.join(","))
        }
    })
}

fn pg_array_item(cell: &Cell) -> String {
    let Some(text) = pg_text(cell) else {
        return "NULL".into();
    };
    let text = match cell {
        // Booleans print as t/f inside arrays.
        Cell::Bool(b) => return if *b { "t" } else { "f" }.into(),
        _ => text,
    };
    let plain = !text.is_empty()
        && !text.eq_ignore_ascii_case("NULL")
        && !text
            .chars()
            .any(|c| "{}\",\\".contains(c) || c.is_ascii_whitespace());
    if plain {
        text
    } else {
        format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

/// float8 output: shortest digits, exponent form below 1e-4 or from 1e15.
fn pg_float(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let sci = format!("{x:e}");
    let (mantissa, exp) = sci.split_once('e').expect("exponent");
    let exp: i32 = exp.parse().expect("exponent digits");
    if (-4..15).contains(&exp) {
        format!("{x}")
    } else {
        format!(
            "{mantissa}e{}{:02}",
            if exp < 0 { '-' } else { '+' },
            exp.abs()
        )
    }
}

fn pg_timestamp(micros: i64) -> String {
    let iso = Cell::format_timestamp(micros);
    let iso = iso.trim_end_matches('Z');
    let (date, time) = iso.split_once('T').expect("date and time");
    let (negative, date) = match date.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, date),
    };
    let (year, month_day) = date.split_once('-').expect("year");
    let year: i64 = year.parse().expect("year digits");
    let year = if negative { -year } else { year };
    if year <= 0 {
        format!("{:04}-{month_day} {time}+00 BC", 1 - year)
    } else {
        format!("{year:04}-{month_day} {time}+00")
    }
}

/// jsonb output: keys ordered by length then bytes, `", "` and `": "` separators.
fn pg_jsonb(value: &serde_json::Value) -> String {
    use serde_json::Value;
    match value {
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(pg_jsonb).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| (a.0.len(), a.0).cmp(&(b.0.len(), b.0)));
            let entries: Vec<String> = entries
                .into_iter()
                .map(|(k, v)| format!("{}: {}", Value::String(k.clone()), pg_jsonb(v)))
                .collect();
            format!("{{{}}}", entries.join(", "))
        }
        scalar => scalar.to_string(),
    }
}
