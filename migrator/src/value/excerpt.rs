//! The offending value of a per-document error, as short text: `"abc"`, `12`, `{"a":1}`.
//!
//! Every error about a value shows the value (`expected int32, found string "abc"`), as relaxed
//! Extended JSON cut to [`EXCERPT_CHARS`] characters, so a dead letter says what was there
//! without repeating a large subdocument.

use bson::{Bson, RawBsonRef};

/// How many characters of a value an error shows; a longer value ends with `…`.
pub const EXCERPT_CHARS: usize = 60;

/// The value as relaxed Extended JSON, at most [`EXCERPT_CHARS`] characters (then `…`).
pub fn excerpt(value: RawBsonRef<'_>) -> String {
    let text = match value {
        // A long string is cut before it is escaped, so a 16 MB string costs nothing.
        RawBsonRef::String(s) | RawBsonRef::Symbol(s) => json_string(prefix(s, EXCERPT_CHARS)),
        other => {
            let mut out = Vec::new();
            match super::raw_json::write_value(other, &mut out) {
                Ok(()) => String::from_utf8_lossy(&out).into_owned(),
                // What jsonb refuses (a NUL in a string) is still shown: `bson`'s JSON escapes it.
                Err(_) => match Bson::try_from(other) {
                    Ok(bson) => bson.into_relaxed_extjson().to_string(),
                    Err(_) => "<malformed>".to_owned(),
                },
            }
        }
    };
    cut(text)
}

/// A string as the error shows it: quoted and escaped as JSON, cut like any value.
pub fn excerpt_str(s: &str) -> String {
    cut(json_string(prefix(s, EXCERPT_CHARS)))
}

fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

/// The first `chars` characters of `s` (one more than shown, so the cut is visible).
fn prefix(s: &str, chars: usize) -> &str {
    match s.char_indices().nth(chars + 1) {
        Some((end, _)) => &s[..end],
        None => s,
    }
}

fn cut(text: String) -> String {
    match text.char_indices().nth(EXCERPT_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use bson::{doc, oid::ObjectId, RawBson};

    use super::*;

    fn shown(value: Bson) -> String {
        let raw = RawBson::try_from(value).expect("raw");
        excerpt(raw.as_raw_bson_ref())
    }

    #[test]
    fn values_are_shown_as_relaxed_extended_json() {
        for (value, text) in [
            (Bson::String("abc".into()), "\"abc\""),
            (Bson::Int32(12), "12"),
            (Bson::Double(1.5), "1.5"),
            (Bson::Boolean(true), "true"),
            (
                Bson::Document(doc! { "a": 1, "b": "x" }),
                "{\"a\":1,\"b\":\"x\"}",
            ),
            (
                Bson::ObjectId(ObjectId::parse_str("5a9427648b0beebeb69579e7").expect("oid")),
                "{\"$oid\":\"5a9427648b0beebeb69579e7\"}",
            ),
            (Bson::String("a\0b".into()), "\"a\\u0000b\""),
        ] {
            assert_eq!(shown(value), text);
        }
    }

    #[test]
    fn long_values_are_cut_with_an_ellipsis() {
        let long = "é".repeat(500);
        let text = shown(Bson::String(long));
        assert_eq!(text.chars().count(), EXCERPT_CHARS + 1);
        assert!(text.starts_with("\"éé"), "{text}");
        assert!(text.ends_with('…'), "{text}");
        let array = shown(Bson::Array((0..100).map(Bson::Int32).collect()));
        assert_eq!(
            array,
            "[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,…"
        );
        assert_eq!(excerpt_str("short"), "\"short\"");
    }
}
