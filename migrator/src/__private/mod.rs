//! What `#[derive(Migrate)]` expands to calls: re-exports and small helpers. Not a public API.
//!
//! Generated code names nothing outside this module, so the derive works whatever the user
//! imports, and the helpers keep the expansion short and readable.

mod decode;
mod describe;
mod emit;
mod flat;
mod nested;

pub use self::decode::*;
pub use self::describe::*;
pub use self::emit::*;
pub use self::flat::*;
pub use self::nested::*;

pub use std::any::TypeId;
pub use std::default::Default;
pub use std::option::Option::{self, None, Some};
pub use std::result::Result::{self, Err, Ok};
pub use std::string::String;
pub use std::vec::Vec;

pub use bson::{RawBsonRef, RawDocument};

pub use crate::error::{FieldError, FieldErrorKind};
pub use crate::id::{child_row_id, IdKey, Key};
pub use crate::model::{
    ColumnDef, EnumDef, EnumRepr, IdStrategy, MissingPolicy, ModelDef, PgType, RefTarget,
    ReferenceDef, TableDef, TableRole, UnknownFields, UnreadKeys, ValueRead,
};
pub use crate::transform::transcode::{transcode_children, transcode_junction, ViewOf};
pub use crate::transform::{malformed, Elements, Embedded, Migrate, RowSink};

/// The traits [`ViewOf`] reads fields through; the derived `transcode` imports them all.
pub mod views {
    pub use crate::transform::transcode::{
        ViewBson, ViewDocument, ViewOptionBson, ViewOptionDocument, ViewOptionString,
        ViewOptionStrings, ViewOwned, ViewString, ViewStrings,
    };
}
pub use crate::value::{
    decode_serde, wrong_type, ArrayElement, Cell, FromBson, ObjectIdText, ObjectIdTextColumn,
    PgValue, SerdeJson,
};
pub use serde::de::DeserializeOwned;
pub use serde::Serialize;

// ---------------------------------------------------------------------------------------------
// Compile-time checks.

/// Implemented only for `T` itself: `A: SameType<B>` holds exactly when `A` is `B`.
///
/// The derive bounds a reference field's type with `SameType<<Target as Migrate>::Id>`, so a
/// reference of the wrong type is reported at the field.
#[diagnostic::on_unimplemented(
    message = "this reference holds `{Self}`, but the referenced model's id is `{T}`",
    label = "expected the referenced model's id type `{T}`",
    note = "a reference field has the type of the target's `#[migrate(id)]` field (or `Option`/`Vec` of it); to reference another column, add `key = \"column\"`"
)]
pub trait SameType<T> {}

impl<T> SameType<T> for T {}

/// One function per requirement on a field's type. The derive calls them from a closure spanned
/// at each field's type, so an unmet requirement is reported at the field.
pub mod assert {
    use super::*;

    /// The type of `#[migrate(id)]`.
    pub fn id<T: IdKey>() {}
    /// The type of a field read with `FromBson`.
    pub fn reads<T: FromBson>() {}
    /// The type of a field stored with `PgValue`.
    pub fn stores<T: PgValue>() {}
    /// The type of a `jsonb` field.
    pub fn reads_json<T: DeserializeOwned>() {}
    pub fn stores_json<T: Serialize>() {}
    /// The type of an `as_text` field.
    pub fn stores_hex<T: ObjectIdTextColumn>() {}
    /// A reference to another model's primary key: the bound names the target's id type.
    pub fn same_type<T: SameType<U>, U>() {}
    /// The target of a natural-key reference.
    pub fn model<T: Migrate>() {}
    /// The element type of a `child` field.
    pub fn embedded<T: Embedded>() {}
    /// The type of a `skip` field.
    pub fn default<T: Default>() {}
    /// The type of a `flatten` field.
    pub fn flattens<T: FlatField>() {}
}
