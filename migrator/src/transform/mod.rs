//! Document -> rows: the traits the derive implements and the sinks rows are written to.

mod elements;
mod rows;
pub mod transcode;

pub use elements::{malformed, Elements};
pub use rows::{Row, RowCounter, RowSet, TableRows};

use bson::RawDocument;

use crate::error::{DocumentError, FieldError};
use crate::id::{IdKey, Key};
use crate::model::{IdStrategy, ModelDef, TableDef};

/// Receives the rows a document produces, table by table.
///
/// `table` is an index into [`ModelDef::tables`]. Values arrive in column order.
pub trait RowSink {
    fn begin_row(&mut self, table: usize);
    fn value(&mut self, value: &dyn crate::value::PgValue);
    /// A value already encoded as its binary field (length word included) for the column,
    /// which differs from `value`'s own encoding (see [`crate::sink::adapt`]). Sinks that do
    /// not write bytes take `value`.
    fn encoded(&mut self, field: &[u8], value: &dyn crate::value::PgValue) {
        let _ = field;
        self.value(value);
    }
    fn end_row(&mut self);
    /// Marks the start of a document's rows, which [`RowSink::abandon_document`] drops.
    fn begin_document(&mut self);
    /// Drops every row written since the last [`RowSink::begin_document`].
    fn abandon_document(&mut self);
}

/// A sink borrowed (`&mut dyn RowSink` included) is a sink.
impl<S: RowSink + ?Sized> RowSink for &mut S {
    fn begin_row(&mut self, table: usize) {
        (**self).begin_row(table);
    }

    fn value(&mut self, value: &dyn crate::value::PgValue) {
        (**self).value(value);
    }

    fn encoded(&mut self, field: &[u8], value: &dyn crate::value::PgValue) {
        (**self).encoded(field, value);
    }

    fn end_row(&mut self) {
        (**self).end_row();
    }

    fn begin_document(&mut self) {
        (**self).begin_document();
    }

    fn abandon_document(&mut self) {
        (**self).abandon_document();
    }
}

/// A struct that maps one MongoDB collection to PostgreSQL tables. Implemented by
/// `#[derive(Migrate)]`.
pub trait Migrate: Sized + 'static {
    /// The Rust type of `_id`.
    type Id: IdKey;
    /// How `_id` becomes the primary key.
    const ID_STRATEGY: IdStrategy;

    /// What this collection becomes: tables, columns, keys and references.
    fn model() -> ModelDef;

    /// Reads one document. Errors carry the field path but not the collection or `_id`
    /// ([`transform`] adds them).
    fn decode(doc: &RawDocument) -> Result<Self, FieldError>;

    /// The document's `_id`.
    fn id(&self) -> &Self::Id;

    /// Writes every row of every table this document produces.
    fn emit(&self, out: &mut dyn RowSink);

    /// Reads a document and writes its rows in one pass, without building `Self`: strings,
    /// string arrays, documents and the arrays of junctions and children go from the document's
    /// bytes to the rows. The rows are those `decode` then `emit` write. On an error some rows
    /// may be written already and the error may name another field than `decode` would:
    /// [`transform`] drops those rows and asks `decode`. Generic over the sink, so that writing
    /// to the COPY encoder compiles to direct calls.
    fn transcode<S: RowSink>(doc: &RawDocument, out: &mut S) -> Result<(), FieldError> {
        Self::decode(doc)?.emit(out);
        Ok(())
    }

    /// The stored primary key of this document.
    fn key(&self) -> Key {
        self.id().key(Self::ID_STRATEGY)
    }
}

/// A struct stored as rows of a child table, one per element of an array of subdocuments.
/// Implemented by `#[derive(Migrate)]` with `#[migrate(embedded)]`.
pub trait Embedded: Sized + 'static {
    /// How many tables this struct writes: its own plus its children's and junctions'.
    const TABLE_COUNT: usize;

    /// The tables this struct writes when it is the array `field` of a row of `parent`,
    /// which is at index `parent_index` of the model's tables. The returned tables go at
    /// `index` and after (nested tables reference their parent by index); `table_name` and
    /// `parent_column` are the names the parent's attributes chose for the child table and for
    /// its column holding the parent's key.
    fn tables(
        parent: &TableDef,
        parent_index: usize,
        index: usize,
        field: &str,
        table_name: &str,
        parent_column: &str,
    ) -> Vec<TableDef>;

    /// Reads one subdocument.
    fn decode(doc: &RawDocument) -> Result<Self, FieldError>;

    /// Writes the child row (and its own children) at table index `base`.
    fn emit_child(
        &self,
        parent: &Key,
        field: &'static str,
        position: i32,
        base: usize,
        out: &mut dyn RowSink,
    );

    /// The names of the columns this struct stores when a parent flattens it (`flatten`).
    #[doc(hidden)]
    const FLAT_COLUMNS: &'static [crate::__private::FlatColumn];

    /// Adds the columns this struct stores when flattened into `table`: `path` is the
    /// subdocument's path, `flat` names the columns and says whether they may be NULL.
    #[doc(hidden)]
    fn flat(table: &mut TableDef, path: &str, flat: &crate::__private::Flat);

    /// Writes this struct's values as flattened columns of the parent's current row.
    #[doc(hidden)]
    fn emit_flat(&self, out: &mut dyn RowSink);

    /// `decode` then `emit_flat` in one pass over the subdocument.
    #[doc(hidden)]
    fn transcode_flat<S: RowSink>(doc: &RawDocument, out: &mut S) -> Result<(), FieldError> {
        Self::decode(doc)?.emit_flat(out);
        Ok(())
    }

    /// `decode` then `emit_child` in one pass over the subdocument (see [`Migrate::transcode`]).
    fn transcode_child<S: RowSink>(
        doc: &RawDocument,
        parent: &Key,
        field: &'static str,
        position: i32,
        base: usize,
        out: &mut S,
    ) -> Result<(), FieldError> {
        Self::decode(doc)?.emit_child(parent, field, position, base, out);
        Ok(())
    }
}

/// The `_id` of a raw document as relaxed Extended JSON, for error messages.
pub fn describe_id(doc: &RawDocument) -> String {
    match doc.get("_id") {
        Ok(Some(value)) => match bson::Bson::try_from(value) {
            Ok(b) => b.into_relaxed_extjson().to_string(),
            Err(_) => "<unreadable>".to_string(),
        },
        Ok(None) => "<none>".to_string(),
        Err(_) => "<unreadable>".to_string(),
    }
}

/// Writes a document's rows as `T` ([`Migrate::transcode`]), naming the collection and `_id` on
/// failure.
///
/// Nothing is written to `out` when the document is rejected. A rejection is confirmed by
/// [`Migrate::decode`], which reads the fields in declaration order, so the error names the first
/// bad field; if `decode` accepts the document after all, its rows are written from it.
pub fn transform<T: Migrate, S: RowSink>(
    collection: &str,
    doc: &RawDocument,
    out: &mut S,
) -> Result<(), DocumentError> {
    out.begin_document();
    if T::transcode(doc, out).is_ok() {
        return Ok(());
    }
    out.abandon_document();
    match T::decode(doc) {
        Ok(value) => {
            value.emit(out);
            Ok(())
        }
        Err(error) => Err(DocumentError {
            collection: collection.to_string(),
            id: describe_id(doc),
            error,
        }),
    }
}
