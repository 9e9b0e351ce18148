//! Per-document errors: what went wrong, at which field path, in which document.

use std::borrow::Cow;
use std::fmt;

/// One step of a field path: a document key or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSegment {
    Key(Cow<'static, str>),
    Index(usize),
}

/// What was wrong with a value.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum FieldErrorKind {
    /// A required field is absent.
    Missing,
    /// A required field is `null`.
    Null,
    /// The BSON type is not one the Rust type accepts.
    WrongType {
        expected: &'static str,
        /// The BSON type found and the value, as cut relaxed Extended JSON
        /// (`string "abc"`, see [`crate::value::excerpt`]); one box keeps errors (and the
        /// `Result`s of the happy path) as small as they were.
        found: Box<str>,
    },
    /// The value has the right type but cannot be represented without loss.
    OutOfRange { value: String, reason: String },
    /// A string that is not one of the enum's values.
    NotInEnum {
        value: String,
        expected: &'static [&'static str],
    },
    /// A key the model does not declare, under the `reject` policy for unknown fields.
    UnknownField {
        /// The BSON type of its value and the value, as [`FieldErrorKind::WrongType`] shows them.
        found: &'static str,
        value: String,
    },
    /// A value that is malformed for its type (for example an ObjectId hex string of the wrong length).
    Invalid(String),
    /// An error returned by a user's `with = path` conversion.
    Custom(String),
}

impl FieldErrorKind {
    /// A short stable name used to group errors in reports (`wrong_type`, `missing`, ...).
    pub fn class(&self) -> &'static str {
        match self {
            FieldErrorKind::Missing => "missing",
            FieldErrorKind::Null => "null",
            FieldErrorKind::WrongType { .. } => "wrong_type",
            FieldErrorKind::OutOfRange { .. } => "out_of_range",
            FieldErrorKind::NotInEnum { .. } => "not_in_enum",
            FieldErrorKind::UnknownField { .. } => "unknown_field",
            FieldErrorKind::Invalid(_) => "invalid",
            FieldErrorKind::Custom(_) => "custom",
        }
    }
}

impl fmt::Display for FieldErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldErrorKind::Missing => f.write_str("required field is missing"),
            FieldErrorKind::Null => f.write_str("required field is null"),
            FieldErrorKind::WrongType { expected, found } => {
                write!(f, "expected {expected}, found {found}")
            }
            FieldErrorKind::OutOfRange { value, reason } => {
                write!(f, "value {value} is out of range: {reason}")
            }
            FieldErrorKind::NotInEnum { value, expected } => {
                write!(f, "`{value}` is not one of ")?;
                for (i, e) in expected.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "`{e}`")?;
                }
                Ok(())
            }
            FieldErrorKind::UnknownField { found, value } => {
                write!(
                    f,
                    "field is not declared by the model (found {found} {value})"
                )
            }
            FieldErrorKind::Invalid(msg) => f.write_str(msg),
            FieldErrorKind::Custom(msg) => f.write_str(msg),
        }
    }
}

/// An error about one value, with the path from the document root to it.
///
/// The path is built while the error travels outwards (innermost segment pushed first), so
/// the happy path pays nothing for it.
///
/// A document's `decode` reports every bad field: the first is this error, the others (at most
/// [`MAX_FIELD_ERRORS`] in all) travel with it ([`FieldError::all`]).
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    kind: FieldErrorKind,
    /// The path and the document's other errors, allocated once the error travels (boxed so
    /// that every `Result` carrying a field error stays small).
    context: Option<Box<Context>>,
}

#[derive(Debug, Clone, Default, PartialEq)]
struct Context {
    reversed_path: Vec<PathSegment>,
    /// The other errors of the same document, after this one.
    others: Vec<FieldError>,
}

/// The most field errors one document reports.
pub const MAX_FIELD_ERRORS: usize = 20;

impl FieldError {
    pub fn new(kind: FieldErrorKind) -> Self {
        FieldError {
            kind,
            context: None,
        }
    }

    /// One error carrying all of `errors` (the first one leads), at most [`MAX_FIELD_ERRORS`];
    /// `None` if there are none.
    pub fn gather(errors: Vec<FieldError>) -> Option<FieldError> {
        let mut flat = errors.into_iter().flat_map(FieldError::into_all);
        let mut first = flat.next()?;
        let others: Vec<FieldError> = flat.take(MAX_FIELD_ERRORS - 1).collect();
        if !others.is_empty() {
            first.context.get_or_insert_with(Box::default).others = others;
        }
        Some(first)
    }

    /// This error and the others of the same document, each without the others.
    pub fn all(&self) -> impl Iterator<Item = &FieldError> {
        std::iter::once(self).chain(self.context.iter().flat_map(|c| c.others.iter()))
    }

    fn into_all(mut self) -> impl Iterator<Item = FieldError> {
        let others = self
            .context
            .as_mut()
            .map(|c| std::mem::take(&mut c.others))
            .unwrap_or_default();
        std::iter::once(self).chain(others)
    }

    fn reversed_path(&self) -> &[PathSegment] {
        self.context.as_ref().map_or(&[], |c| &c.reversed_path)
    }

    pub fn missing() -> Self {
        Self::new(FieldErrorKind::Missing)
    }

    pub fn null() -> Self {
        Self::new(FieldErrorKind::Null)
    }

    /// A value of the wrong BSON type: `found` is its type name, `value` the value as the
    /// error shows it (empty: the type alone).
    pub fn wrong_type(expected: &'static str, found: &str, value: &str) -> Self {
        let found = if value.is_empty() {
            found.into()
        } else {
            format!("{found} {value}").into_boxed_str()
        };
        Self::new(FieldErrorKind::WrongType { expected, found })
    }

    pub fn out_of_range(value: impl fmt::Display, reason: impl Into<String>) -> Self {
        Self::new(FieldErrorKind::OutOfRange {
            value: value.to_string(),
            reason: reason.into(),
        })
    }

    pub fn invalid(msg: impl Into<String>) -> Self {
        Self::new(FieldErrorKind::Invalid(msg.into()))
    }

    pub fn custom(msg: impl fmt::Display) -> Self {
        Self::new(FieldErrorKind::Custom(msg.to_string()))
    }

    /// Prefixes the path with a document key (call while unwinding outwards).
    pub fn at_key(self, key: impl Into<Cow<'static, str>>) -> Self {
        self.prefixed(PathSegment::Key(key.into()))
    }

    /// Prefixes the path with an array index (call while unwinding outwards).
    pub fn at_index(self, index: usize) -> Self {
        self.prefixed(PathSegment::Index(index))
    }

    fn prefixed(mut self, segment: PathSegment) -> Self {
        let context = self.context.get_or_insert_with(Box::default);
        for other in &mut context.others {
            other
                .context
                .get_or_insert_with(Box::default)
                .reversed_path
                .push(segment.clone());
        }
        context.reversed_path.push(segment);
        self
    }

    pub fn kind(&self) -> &FieldErrorKind {
        &self.kind
    }

    /// The field path from the document root, for example `items[3].price`.
    pub fn path(&self) -> String {
        let mut out = String::new();
        for seg in self.reversed_path().iter().rev() {
            match seg {
                PathSegment::Key(k) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(k);
                }
                PathSegment::Index(i) => {
                    out.push('[');
                    out.push_str(&i.to_string());
                    out.push(']');
                }
            }
        }
        out
    }

    /// The path with array indexes replaced by `[]`, for grouping errors (`items[].price`).
    pub fn path_pattern(&self) -> String {
        let mut out = String::new();
        for seg in self.reversed_path().iter().rev() {
            match seg {
                PathSegment::Key(k) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(k);
                }
                PathSegment::Index(_) => out.push_str("[]"),
            }
        }
        out
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path();
        if path.is_empty() {
            write!(f, "{}", self.kind)
        } else {
            write!(f, "field `{path}`: {}", self.kind)
        }
    }
}

impl std::error::Error for FieldError {}

/// A document that could not be transformed: which collection, which `_id`, which field, why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("collection `{collection}`, _id {id}: {error}")]
pub struct DocumentError {
    pub collection: String,
    /// The document's `_id` as relaxed Extended JSON, or `<none>` when the document has none.
    pub id: String,
    #[source]
    pub error: FieldError,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_is_built_outwards() {
        let err = FieldError::wrong_type("double", "string", "\"12.5\"")
            .at_key("price")
            .at_index(3)
            .at_key("items");
        assert_eq!(err.path(), "items[3].price");
        assert_eq!(err.path_pattern(), "items[].price");
        assert_eq!(
            err.to_string(),
            "field `items[3].price`: expected double, found string \"12.5\""
        );
    }

    #[test]
    fn gathered_errors_keep_their_order_and_share_the_outer_path() {
        let errors = vec![
            FieldError::missing().at_key("a"),
            FieldError::wrong_type("int32", "string", "\"x\"").at_key("b"),
            FieldError::null().at_key("c"),
        ];
        let err = FieldError::gather(errors)
            .expect("three errors")
            .at_index(2)
            .at_key("lines");
        let all: Vec<(String, &str)> = err.all().map(|e| (e.path(), e.kind().class())).collect();
        assert_eq!(
            all,
            [
                ("lines[2].a".to_string(), "missing"),
                ("lines[2].b".to_string(), "wrong_type"),
                ("lines[2].c".to_string(), "null"),
            ]
        );
        assert!(FieldError::gather(Vec::new()).is_none());
        let many = (0..50).map(|i| FieldError::missing().at_index(i)).collect();
        assert_eq!(
            FieldError::gather(many).expect("errors").all().count(),
            MAX_FIELD_ERRORS
        );
    }

    #[test]
    fn enum_message_lists_accepted_values() {
        let err = FieldError::new(FieldErrorKind::NotInEnum {
            value: "owner".into(),
            expected: &["admin", "member"],
        })
        .at_key("role");
        assert_eq!(
            err.to_string(),
            "field `role`: `owner` is not one of `admin`, `member`"
        );
        assert_eq!(err.kind().class(), "not_in_enum");
    }

    #[test]
    fn document_error_names_collection_id_and_field() {
        let err = DocumentError {
            collection: "comments".into(),
            id: "{\"$oid\":\"5a9427648b0beebeb69579e7\"}".into(),
            error: FieldError::missing().at_key("email"),
        };
        assert_eq!(
            err.to_string(),
            "collection `comments`, _id {\"$oid\":\"5a9427648b0beebeb69579e7\"}: field `email`: required field is missing"
        );
    }
}
