//! Nested paths (`path = "author.handle"`, `loc.0`): the document is read as a tree, each
//! subdocument (or array) a field reads into walked once for every field below it.
//!
//! The root's keys come from [`fields`]; below them, [`nested`] reads the keys of one
//! intermediate value. An absent or `null` intermediate makes everything below it absent (so
//! `Option` and `default` apply); an intermediate of another type blocks the fields below it,
//! each of which then fails naming its own path and the intermediate ([`found`]).

use super::*;

/// A value found below an intermediate: `Ok(None)` when absent, `Err` when an intermediate on the
/// way is not a document (nor an array, for positions).
pub type Found<'a> = Result<Option<RawBsonRef<'a>>, Blocked<'a>>;

/// An intermediate of the wrong type, and where it is (dotted, relative to the row).
#[derive(Debug, Clone, Copy)]
pub struct Blocked<'a> {
    pub at: &'static str,
    pub expected: &'static str,
    pub value: RawBsonRef<'a>,
}

impl Blocked<'_> {
    /// The error of a field below it: the field's path is added by the caller.
    pub fn error(&self) -> FieldError {
        FieldError::wrong_type(
            self.expected,
            crate::value::bson_type_name(&self.value),
            &format!("{} at `{}`", crate::value::excerpt(self.value), self.at),
        )
    }
}

/// The values of `keys` inside `parent` (the value at the dotted path `at`), in one pass.
///
/// A document's keys are compared as [`fields`] compares them (`skipped` and `unknown` apply
/// the same way); an array's elements are read by position when every key is a number (its
/// other elements are never an unknown key).
pub fn nested<'a, const N: usize>(
    parent: Found<'a>,
    at: &'static str,
    keys: &[&[u8]; N],
    skipped: &[&[u8]],
    unknown: UnknownFields,
) -> Result<[Found<'a>; N], FieldError> {
    let numeric = keys
        .iter()
        .all(|k| !k.is_empty() && k.iter().all(u8::is_ascii_digit));
    let expected = if numeric { "array or object" } else { "object" };
    let value = match parent {
        Err(blocked) => return Ok([Err(blocked); N]),
        Ok(None | Some(RawBsonRef::Null | RawBsonRef::Undefined)) => return Ok([Ok(None); N]),
        Ok(Some(value)) => value,
    };
    let found = match value {
        RawBsonRef::Document(doc) => fields(doc, keys, skipped, unknown),
        RawBsonRef::Array(array) if numeric => match RawDocument::from_bytes(array.as_bytes()) {
            Ok(doc) => fields(doc, keys, &[], UnknownFields::Ignore),
            Err(e) => Err(malformed(e)),
        },
        other => {
            return Ok([Err(Blocked {
                at,
                expected,
                value: other,
            }); N])
        }
    };
    Ok(found.map_err(|e| e.at_key(at))?.map(Ok))
}

/// A nested field's value, or the error naming the blocking intermediate, at `key`.
pub fn found<'a>(
    value: Found<'a>,
    key: &'static str,
) -> Result<Option<RawBsonRef<'a>>, FieldError> {
    value.map_err(|blocked| blocked.error().at_key(key))
}

/// Reads a nested field with `read` (given its value), or fails naming the blocking intermediate.
pub fn through<'a, T>(
    value: Found<'a>,
    key: &'static str,
    read: impl FnOnce(Option<RawBsonRef<'a>>) -> Result<T, FieldError>,
) -> Result<T, FieldError> {
    read(found(value, key)?)
}

#[cfg(test)]
mod tests {
    use bson::{doc, RawDocumentBuf};

    use super::*;

    fn raw(d: bson::Document) -> RawDocumentBuf {
        RawDocumentBuf::try_from(&d).expect("test documents encode")
    }

    #[test]
    fn intermediates_absent_null_wrong_and_arrays() {
        let d = raw(doc! {
            "rival": { "slug": "acme", "name": "Acme" },
            "gone": null,
            "loc": [2.5, 48.1],
            "text": "plain",
        });
        let [rival, gone, loc, text, absent] = fields(
            &d,
            &[b"rival", b"gone", b"loc", b"text", b"absent"],
            &[],
            UnknownFields::Ignore,
        )
        .expect("read");
        let [slug, name] = nested(
            Ok(rival),
            "rival",
            &[b"slug", b"name"],
            &[],
            UnknownFields::Report,
        )
        .expect("read");
        assert_eq!(
            found(slug, "rival.slug").expect("read"),
            Some(RawBsonRef::String("acme"))
        );
        assert_eq!(
            found(name, "rival.name").expect("read"),
            Some(RawBsonRef::String("Acme"))
        );
        let [lng, lat, third] = nested(
            Ok(loc),
            "loc",
            &[b"0", b"1", b"2"],
            &[],
            UnknownFields::Reject,
        )
        .expect("read");
        assert_eq!(
            found(lng, "loc.0").expect("read"),
            Some(RawBsonRef::Double(2.5))
        );
        assert_eq!(
            found(lat, "loc.1").expect("read"),
            Some(RawBsonRef::Double(48.1))
        );
        assert_eq!(found(third, "loc.2").expect("read"), None);
        for parent in [gone, absent] {
            let [x] = nested(Ok(parent), "p", &[b"x"], &[], UnknownFields::Reject).expect("read");
            assert_eq!(found(x, "p.x").expect("read"), None);
        }
        let [below] = nested(Ok(text), "text", &[b"x"], &[], UnknownFields::Report).expect("read");
        let [deeper] = nested(below, "text.x", &[b"y"], &[], UnknownFields::Report).expect("read");
        let error = found(deeper, "text.x.y").expect_err("an error");
        assert_eq!(error.path(), "text.x.y");
        assert_eq!(
            error.to_string(),
            "field `text.x.y`: expected object, found string \"plain\" at `text`"
        );
        // An array read by key is not a document.
        let [k] = nested(Ok(loc), "loc", &[b"k"], &[], UnknownFields::Report).expect("read");
        assert_eq!(
            found(k, "loc.k").expect_err("an error").kind().class(),
            "wrong_type"
        );
    }

    #[test]
    fn unknown_keys_below_are_rejected_under_reject() {
        let d = raw(doc! { "rival": { "slug": "acme", "extra": 1 } });
        let [rival] = fields(&d, &[b"rival"], &[], UnknownFields::Reject).expect("read");
        let error = nested(Ok(rival), "rival", &[b"slug"], &[], UnknownFields::Reject)
            .expect_err("an error");
        assert_eq!(error.path(), "rival.extra");
        assert!(nested(
            Ok(rival),
            "rival",
            &[b"slug"],
            &[b"extra"],
            UnknownFields::Reject
        )
        .is_ok());
    }
}
