//! Values: reading BSON into Rust ([`FromBson`]) and writing Rust into PostgreSQL ([`PgValue`]).
//!
//! Every conversion is checked when the document is read, so encoding never fails: a value that
//! cannot be stored without loss (a date outside PostgreSQL's range, an enum label that is not
//! declared, an int64 in an int32 field) is a [`FieldError`] at decode time.
//!
//! | Rust type                             | column                | BSON accepted                     |
//! |---------------------------------------|-----------------------|-----------------------------------|
//! | `String`                              | `text`                | string, symbol (no NUL)           |
//! | `i32`                                 | `integer`             | int32; int64, double when exact   |
//! | `i64`                                 | `bigint`              | int32, int64; double when exact   |
//! | `f64`                                 | `double precision`    | double; int32, int64 when exact   |
//! | `bool`                                | `boolean`             | bool                              |
//! | `bson::DateTime`                      | `timestamptz`         | date within PostgreSQL's range    |
//! | `bson::Decimal128`                    | `numeric`             | decimal128, int32, int64, double  |
//! | `bson::Binary`                        | `bytea`               | binData of any subtype            |
//! | `uuid::Uuid`                          | `uuid`                | binData subtype 4 (or legacy 3)   |
//! | `bson::oid::ObjectId`                 | `uuid` (ordered)      | objectId                          |
//! | [`ObjectIdText`] of ObjectId(s)       | `text` / `text[]`     | objectId                          |
//! | `Document`, `BTreeMap<String, V>`, `HashMap<String, V>` | `jsonb` | object            |
//! | `Bson`                                | `jsonb`               | anything                          |
//! | `T: Serialize` via [`SerdeJson`]      | `jsonb`               | read with [`decode_serde`]        |
//! | `Option<T>`                           | `T`, nullable         | `null` or missing is `None`       |
//! | `Vec<T>`, `T:` [`ArrayElement`]       | `T[]`                 | array; `Vec<Option<T>>` has NULLs |
//!
//! The exact rules of each conversion are in its module (`number.rs`, `time.rs`, `decimal.rs`,
//! `json.rs`, ...).

mod array;
mod binary;
mod cell;
mod decimal;
mod excerpt;
#[cfg(test)]
pub(crate) mod fixtures;
mod json;
mod number;
mod numeric;
mod object_id;
mod raw_json;
mod scalar;
mod serialized;
mod shape;
mod time;
mod vector;
pub mod view;
pub(crate) mod wire;

pub use cell::Cell;
pub use excerpt::{excerpt, excerpt_str, EXCERPT_CHARS};
pub use json::ToJson;
pub use object_id::{ObjectIdText, ObjectIdTextColumn};
pub use serialized::{decode_serde, SerdeJson};
pub use shape::serde_shape;
pub use time::{adopt_load_time, load_time};
pub use vector::{check_dimensions, Dimensions, Vector, VectorElement, VECTOR_SUBTYPE};

use bson::RawBsonRef;

use crate::error::FieldError;
use crate::model::PgType;

/// Reads a Rust value from one BSON value.
pub trait FromBson: Sized {
    /// Converts a present value (which may be BSON `null`).
    fn from_bson(value: RawBsonRef<'_>) -> Result<Self, FieldError>;

    /// The value of an absent key. Required fields fail; `Option` gives `None`.
    fn from_missing() -> Result<Self, FieldError> {
        Err(FieldError::missing())
    }
}

/// Writes a Rust value as one PostgreSQL column value.
pub trait PgValue {
    /// The column type and whether it is nullable.
    fn column_type() -> (PgType, bool)
    where
        Self: Sized;

    /// Appends the value in PostgreSQL's binary COPY field format: a big-endian `i32` length
    /// followed by that many bytes, or `-1` and nothing for NULL.
    fn encode(&self, buf: &mut Vec<u8>);

    /// The value as a [`Cell`], for snapshots and validation.
    fn to_cell(&self) -> Cell;
}

/// A type that may be an element of a PostgreSQL array column (`Vec<T>`).
pub trait ArrayElement: PgValue {
    /// The OID of the element type, written in the binary array header.
    const ELEMENT_OID: u32;
}

/// The BSON type name of a value, as used in error messages (`string`, `int32`, `objectId`, ...).
pub fn bson_type_name(value: &RawBsonRef<'_>) -> &'static str {
    match value {
        RawBsonRef::Double(_) => "double",
        RawBsonRef::String(_) => "string",
        RawBsonRef::Array(_) => "array",
        RawBsonRef::Document(_) => "object",
        RawBsonRef::Boolean(_) => "bool",
        RawBsonRef::Null => "null",
        RawBsonRef::RegularExpression(_) => "regex",
        RawBsonRef::JavaScriptCode(_) => "javascript",
        RawBsonRef::JavaScriptCodeWithScope(_) => "javascriptWithScope",
        RawBsonRef::Int32(_) => "int32",
        RawBsonRef::Int64(_) => "int64",
        RawBsonRef::Timestamp(_) => "timestamp",
        RawBsonRef::Binary(_) => "binData",
        RawBsonRef::ObjectId(_) => "objectId",
        RawBsonRef::DateTime(_) => "date",
        RawBsonRef::Symbol(_) => "symbol",
        RawBsonRef::Decimal128(_) => "decimal128",
        RawBsonRef::Undefined => "undefined",
        RawBsonRef::MaxKey => "maxKey",
        RawBsonRef::MinKey => "minKey",
        RawBsonRef::DbPointer(_) => "dbPointer",
    }
}

/// The error for a value of the wrong BSON type (`null` gives the "required field is null" error),
/// showing the value: `expected int32, found string "abc"`.
pub fn wrong_type(expected: &'static str, found: &RawBsonRef<'_>) -> FieldError {
    match found {
        RawBsonRef::Null => FieldError::null(),
        other => FieldError::wrong_type(expected, bson_type_name(other), &excerpt(*other)),
    }
}
