//! What `#[derive(Migrate)]` expands to calls: re-exports and small helpers. Not a public API.
//!
//! Generated code names nothing outside this module, so the derive works whatever the user
//! imports, and the helpers keep the expansion short and readable.

use std::fmt::Display;

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
    ReferenceDef, TableDef, TableRole, UnknownFields, ValueRead,
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
}

// ---------------------------------------------------------------------------------------------
// Decoding.

/// The values of a document's declared keys, in the order of `keys`: one pass over the
/// elements, each key compared with the declared ones (first with those after the last one
/// found, since documents mostly keep their fields in one order). A key repeated in a document
/// keeps its first value. `skipped` keys are declared but not read; any other key is an error
/// under `UnknownFields::Reject`.
pub fn fields<'a, const N: usize>(
    doc: &'a RawDocument,
    keys: &[&[u8]; N],
    skipped: &[&[u8]],
    unknown: UnknownFields,
) -> Result<[Option<RawBsonRef<'a>>; N], FieldError> {
    let mut slots: [Option<RawBsonRef<'a>>; N] = [None; N];
    let mut next = 0;
    for element in Elements::of(doc) {
        let (key, value) = element?;
        // Forward from the slot after the last one found, then from the start: a document that
        // keeps the declared order but lacks some optional keys finds each key in a few steps.
        let slot = (next..N)
            .chain(0..next.min(N))
            .find(|&i| same_key(keys[i], key));
        match slot {
            Some(i) => {
                if slots[i].is_none() {
                    slots[i] = Some(value);
                }
                next = i + 1;
            }
            None if unknown == UnknownFields::Reject && !skipped.contains(&key) => {
                return Err(unknown_field(key, value));
            }
            None => {}
        }
    }
    Ok(slots)
}

/// Whether two keys are equal: short keys are compared as two (overlapping) machine words each,
/// which costs less than a call to `memcmp` per declared key.
#[inline]
fn same_key(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    fn word<const W: usize>(s: &[u8], at: usize) -> [u8; W] {
        s.get(at..at + W)
            .and_then(|w| w.try_into().ok())
            .unwrap_or([0; W])
    }
    match n {
        0 => true,
        1..=3 => a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1],
        4..=7 => word::<4>(a, 0) == word::<4>(b, 0) && word::<4>(a, n - 4) == word::<4>(b, n - 4),
        8..=16 => word::<8>(a, 0) == word::<8>(b, 0) && word::<8>(a, n - 8) == word::<8>(b, n - 8),
        _ => a == b,
    }
}

/// The error for a key the model does not declare, under `unknown_fields = "reject"`.
pub fn unknown_field(key: &[u8], value: RawBsonRef<'_>) -> FieldError {
    FieldError::new(FieldErrorKind::UnknownField {
        found: crate::value::bson_type_name(&value),
        value: crate::value::excerpt(value),
    })
    .at_key(String::from_utf8_lossy(key).into_owned())
}

/// Reads a field: present values through [`FromBson::from_bson`], absent ones through
/// [`FromBson::from_missing`].
pub fn read<T: FromBson>(
    value: Option<RawBsonRef<'_>>,
    key: &'static str,
) -> Result<T, FieldError> {
    match value {
        Some(v) => T::from_bson(v),
        None => T::from_missing(),
    }
    .map_err(|e| e.at_key(key))
}

/// Reads a field with a user's `with = path` conversion; `missing` decides what an absent key gives.
pub fn read_with<'a, T, E: Display>(
    value: Option<RawBsonRef<'a>>,
    key: &'static str,
    convert: impl FnOnce(RawBsonRef<'a>) -> Result<T, E>,
    missing: impl FnOnce() -> Result<T, FieldError>,
) -> Result<T, FieldError> {
    match value {
        Some(v) => convert(v).map_err(|e| with_value(e, v)),
        None => missing(),
    }
    .map_err(|e| e.at_key(key))
}

/// A `with` conversion's error, followed by the value it was given: `bad date (found string "x")`.
fn with_value(error: impl Display, value: RawBsonRef<'_>) -> FieldError {
    FieldError::custom(format!(
        "{error} (found {} {})",
        crate::value::bson_type_name(&value),
        crate::value::excerpt(value)
    ))
}

/// An absent key with no default: the missing-field error.
pub fn missing<T>() -> Result<T, FieldError> {
    Err(FieldError::missing())
}

/// Reads a `jsonb` field with its serde `Deserialize` impl; `missing` decides what an absent key gives.
pub fn read_json<T: DeserializeOwned>(
    value: Option<RawBsonRef<'_>>,
    key: &'static str,
    missing: impl FnOnce() -> Result<T, FieldError>,
) -> Result<T, FieldError> {
    match value {
        Some(v) => decode_serde(v),
        None => missing(),
    }
    .map_err(|e| e.at_key(key))
}

/// An absent key of an `Option` field: `None`.
pub fn none<T>() -> Result<Option<T>, FieldError> {
    Ok(None)
}

/// Reads a field with `read`, or gives `default()` when the key is absent.
pub fn or_default<'a, T>(
    value: Option<RawBsonRef<'a>>,
    read: impl FnOnce(Option<RawBsonRef<'a>>) -> Result<T, FieldError>,
    default: impl FnOnce() -> T,
) -> Result<T, FieldError> {
    match value {
        Some(_) => read(value),
        None => Ok(default()),
    }
}

/// `Vec<T>` or `Option<Vec<T>>`: the field types of `child` and `junction` arrays.
pub trait ArrayField: Sized {
    type Item;
    /// The value when the key is absent or `null` (`error` says which).
    fn absent(error: FieldError) -> Result<Self, FieldError>;
    fn from_items(items: Vec<Self::Item>) -> Self;
    fn items(&self) -> &[Self::Item];
}

impl<T> ArrayField for Vec<T> {
    type Item = T;

    fn absent(error: FieldError) -> Result<Self, FieldError> {
        Err(error)
    }

    fn from_items(items: Vec<T>) -> Self {
        items
    }

    fn items(&self) -> &[T] {
        self
    }
}

impl<T> ArrayField for Option<Vec<T>> {
    type Item = T;

    fn absent(_error: FieldError) -> Result<Self, FieldError> {
        Ok(None)
    }

    fn from_items(items: Vec<T>) -> Self {
        Some(items)
    }

    fn items(&self) -> &[T] {
        self.as_deref().unwrap_or_default()
    }
}

fn read_items<A: ArrayField>(
    value: Option<RawBsonRef<'_>>,
    item: impl Fn(RawBsonRef<'_>) -> Result<A::Item, FieldError>,
) -> Result<A, FieldError> {
    match value {
        None => A::absent(FieldError::missing()),
        Some(RawBsonRef::Null) => A::absent(FieldError::null()),
        Some(RawBsonRef::Array(array)) => {
            let mut items = Vec::new();
            for (index, element) in Elements::of_array(array).enumerate() {
                // The key of an array element is its index, which the path has.
                let (_, element) = element.map_err(|e| e.at_index(index))?;
                items.push(item(element).map_err(|e| e.at_index(index))?);
            }
            Ok(A::from_items(items))
        }
        Some(other) => Err(wrong_type("array", &other)),
    }
}

/// Reads the array of a `junction` field.
pub fn read_array<A>(value: Option<RawBsonRef<'_>>, key: &'static str) -> Result<A, FieldError>
where
    A: ArrayField,
    A::Item: FromBson,
{
    read_items(value, <A::Item as FromBson>::from_bson).map_err(|e| e.at_key(key))
}

/// Reads the array of subdocuments of a `child` field.
pub fn read_children<A>(value: Option<RawBsonRef<'_>>, key: &'static str) -> Result<A, FieldError>
where
    A: ArrayField,
    A::Item: Embedded,
{
    read_items(value, embedded::<A::Item>).map_err(|e| e.at_key(key))
}

/// Reads an embedded struct from a subdocument.
pub fn embedded<T: Embedded>(value: RawBsonRef<'_>) -> Result<T, FieldError> {
    match value {
        RawBsonRef::Document(doc) => T::decode(doc),
        other => Err(wrong_type("object", &other)),
    }
}

/// The label of an enum value.
pub fn enum_label<'a>(value: RawBsonRef<'a>) -> Result<&'a str, FieldError> {
    match value {
        RawBsonRef::String(s) => Ok(s),
        other => Err(wrong_type("string", &other)),
    }
}

/// The error for a string that is not one of an enum's labels.
pub fn not_in_enum(value: &str, expected: &'static [&'static str]) -> FieldError {
    FieldError::new(FieldErrorKind::NotInEnum {
        value: value.to_string(),
        expected,
    })
}

// ---------------------------------------------------------------------------------------------
// Model description.

/// The document path of `key` inside rows whose own path is `prefix` (`""` for a collection).
pub fn path(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

/// The document path of one row of `table`: `""` for a collection, `items[]` for a child table.
pub fn row_path(table: &TableDef) -> String {
    match &table.role {
        TableRole::Child { field } | TableRole::Junction { field } => format!("{field}[]"),
        TableRole::Collection => String::new(),
    }
}

/// The default name of a junction or child table: `{owner table}_{column}`.
pub fn nested_name(owner: &TableDef, column: &str) -> String {
    format!("{}_{column}", owner.name)
}

pub fn names(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| n.to_string()).collect()
}

/// A column stored with the value's own [`PgValue`] mapping.
pub fn column<T: PgValue>(name: &str, source: String) -> ColumnDef {
    let (ty, nullable) = T::column_type();
    ColumnDef {
        name: name.to_string(),
        ty,
        nullable,
        source,
        read: ValueRead::default(),
    }
}

/// `with = path` on a column: the conversion its value goes through, as written.
pub fn read_with_fn(mut column: ColumnDef, path: &str) -> ColumnDef {
    column.read.with = Some(path.to_string());
    column
}

/// `default` on a column: what it holds when the key is absent.
pub fn read_default(mut column: ColumnDef, default: Cell) -> ColumnDef {
    column.read.default = Some(default);
    column
}

/// `jsonb` on a column: serde writes `T`'s own JSON.
pub fn read_serde<T: DeserializeOwned>(mut column: ColumnDef, rust_type: &str) -> ColumnDef {
    column.read.serde = Some(crate::value::serde_shape::<T>(rust_type));
    column
}

/// `as_text` on a column: ObjectIds as hex text.
pub fn read_as_text(mut column: ColumnDef) -> ColumnDef {
    column.read.object_id_text = true;
    column
}

/// The cell of a field's default value: `cell` stores it the way the field stores its values.
pub fn default_cell<T>(default: impl FnOnce() -> T, cell: impl FnOnce(&T) -> Cell) -> Cell {
    cell(&default())
}

/// The primary key column made from `_id`.
pub fn id_column<T: IdKey>(name: &str, strategy: IdStrategy) -> ColumnDef {
    ColumnDef {
        name: name.to_string(),
        ty: T::pg_type(strategy),
        nullable: false,
        source: "_id".to_string(),
        read: ValueRead::default(),
    }
}

/// The type of a column holding `T`'s primary key.
pub fn key_type<T: Migrate>() -> PgType {
    <T::Id as IdKey>::pg_type(T::ID_STRATEGY)
}

/// A column holding `T`'s primary key.
pub fn reference_column<T: Migrate>(name: &str, nullable: bool, source: String) -> ColumnDef {
    ColumnDef {
        name: name.to_string(),
        ty: key_type::<T>(),
        nullable,
        source,
        read: ValueRead::default(),
    }
}

/// What a reference to model `T` points at: its primary key, or its column `key`.
pub fn target<T: 'static>(rust_name: &'static str, key: Option<&str>) -> RefTarget {
    RefTarget::Model {
        rust_name,
        type_id: TypeId::of::<T>(),
        key: key.map(str::to_string),
    }
}

pub fn reference_def(column: &str, target: RefTarget, on_missing: MissingPolicy) -> ReferenceDef {
    ReferenceDef {
        column: column.to_string(),
        target,
        on_missing,
    }
}

/// The table of a collection, with its primary key column.
pub fn collection_table(name: &str, collection: &str, id: ColumnDef) -> TableDef {
    TableDef {
        name: name.to_string(),
        role: TableRole::Collection,
        source: collection.to_string(),
        primary_key: vec![id.name.clone()],
        columns: vec![id],
        uniques: Vec::new(),
        indexes: Vec::new(),
        references: Vec::new(),
    }
}

/// The document path of the array `field` of rows of `parent` (`reviews`, `items[].reviews`).
fn array_path(parent: &TableDef, field: &str) -> String {
    path(&row_path(parent), field)
}

/// The primary key column type of `table`.
fn key_column_type(table: &TableDef) -> PgType {
    table
        .primary_key
        .first()
        .and_then(|k| table.column(k))
        .map_or(PgType::Uuid, |c| c.ty.clone())
}

/// The generated columns of a child table (`id`, the parent's key, `position`), its keys and the
/// reference to its parent; the embedded struct's own columns are appended after.
pub fn child_table(
    parent: &TableDef,
    parent_index: usize,
    field: &str,
    table_name: &str,
    parent_column: &str,
) -> TableDef {
    let field_path = array_path(parent, field);
    TableDef {
        name: table_name.to_string(),
        role: TableRole::Child {
            field: field_path.clone(),
        },
        source: format!("{}.{field}[]", parent.source),
        columns: vec![
            ColumnDef {
                name: "id".to_string(),
                ty: PgType::Uuid,
                nullable: false,
                source: "<row id>".to_string(),
                read: ValueRead::default(),
            },
            ColumnDef {
                name: parent_column.to_string(),
                ty: key_column_type(parent),
                nullable: false,
                source: "<parent key>".to_string(),
                read: ValueRead::default(),
            },
            ColumnDef {
                name: "position".to_string(),
                ty: PgType::Integer,
                nullable: false,
                source: "<array position>".to_string(),
                read: ValueRead::default(),
            },
        ],
        primary_key: vec!["id".to_string()],
        uniques: vec![names(&[parent_column, "position"])],
        indexes: Vec::new(),
        references: vec![reference_def(
            parent_column,
            RefTarget::Table(parent_index),
            MissingPolicy::Reject,
        )],
    }
}

/// A junction table: one row per distinct element of the array `field` of rows of `owner`.
#[derive(Debug)]
pub struct Junction<'a> {
    pub table: &'a str,
    pub field: &'a str,
    pub owner_column: &'a str,
    pub target_column: &'a str,
    pub target_type: PgType,
    pub target: RefTarget,
    pub on_missing: MissingPolicy,
    pub position: bool,
}

pub fn junction_table(owner: &TableDef, owner_index: usize, junction: Junction<'_>) -> TableDef {
    let field_path = array_path(owner, junction.field);
    let mut columns = vec![
        ColumnDef {
            name: junction.owner_column.to_string(),
            ty: key_column_type(owner),
            nullable: false,
            source: "<parent key>".to_string(),
            read: ValueRead::default(),
        },
        ColumnDef {
            name: junction.target_column.to_string(),
            ty: junction.target_type,
            nullable: false,
            source: format!("{field_path}[]"),
            read: ValueRead::default(),
        },
    ];
    if junction.position {
        columns.push(ColumnDef {
            name: "position".to_string(),
            ty: PgType::Integer,
            nullable: false,
            source: "<array position>".to_string(),
            read: ValueRead::default(),
        });
    }
    TableDef {
        name: junction.table.to_string(),
        role: TableRole::Junction { field: field_path },
        source: format!("{}.{}[]", owner.source, junction.field),
        columns,
        primary_key: names(&[junction.owner_column, junction.target_column]),
        uniques: Vec::new(),
        indexes: vec![names(&[junction.target_column])],
        references: vec![
            reference_def(
                junction.owner_column,
                RefTarget::Table(owner_index),
                MissingPolicy::Reject,
            ),
            reference_def(junction.target_column, junction.target, junction.on_missing),
        ],
    }
}

// ---------------------------------------------------------------------------------------------
// Emitting rows.

/// The stored key of a reference to model `T`: the referencing value's key under `T`'s strategy.
///
/// `I` is `T::Id` (the derive asserts it at the field); it is not a bound here, so a wrong type
/// is reported once, at the field.
pub fn reference<T: Migrate, I: IdKey>(id: &I) -> Key {
    id.key(T::ID_STRATEGY)
}

/// The stored key of an optional reference to model `T`.
pub fn optional_reference<T: Migrate, I: IdKey>(id: Option<&I>) -> Option<Key> {
    id.map(reference::<T, I>)
}

/// An array position as stored in a `position` column.
pub fn position(index: usize) -> i32 {
    i32::try_from(index).unwrap_or(i32::MAX)
}

/// Writes the rows of a junction table: one per distinct target, the first occurrence kept.
pub fn emit_junction<V: PgValue>(
    out: &mut dyn RowSink,
    table: usize,
    owner: &Key,
    targets: impl IntoIterator<Item = V>,
    with_position: bool,
) {
    crate::transform::transcode::Distinct::with(|seen| {
        for (index, target) in targets.into_iter().enumerate() {
            if seen.first(&target) {
                junction_row(out, table, owner, &target, with_position.then_some(index));
            }
        }
    });
}

/// One junction row: the owner's key, the target, and the array position if the table keeps it.
pub fn junction_row<S: RowSink + ?Sized, V: PgValue>(
    out: &mut S,
    table: usize,
    owner: &Key,
    target: &V,
    index: Option<usize>,
) {
    out.begin_row(table);
    out.value(owner);
    out.value(target);
    if let Some(index) = index {
        out.value(&position(index));
    }
    out.end_row();
}

/// The child rows of the `child` field `field`, at table index `table`.
pub fn emit_children<T: Embedded>(
    out: &mut dyn RowSink,
    table: usize,
    parent: &Key,
    field: &'static str,
    children: &[T],
) {
    for (index, child) in children.iter().enumerate() {
        child.emit_child(parent, field, position(index), table, out);
    }
}

/// A borrowed value, written as the value itself.
#[derive(Debug)]
pub struct ByRef<'a, T>(pub &'a T);

impl<T: PgValue> PgValue for ByRef<'_, T> {
    fn column_type() -> (PgType, bool) {
        T::column_type()
    }

    fn encode(&self, buf: &mut Vec<u8>) {
        self.0.encode(buf)
    }

    fn to_cell(&self) -> Cell {
        self.0.to_cell()
    }
}

/// Appends text in the binary COPY field format (enum labels).
pub fn encode_text(text: &str, buf: &mut Vec<u8>) {
    let len = i32::try_from(text.len()).unwrap_or(i32::MAX);
    buf.extend_from_slice(&len.to_be_bytes());
    buf.extend_from_slice(text.as_bytes());
}
