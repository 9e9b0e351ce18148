//! `#[migrate(flatten)]`: an embedded struct's columns stored in its parent's own row.
//!
//! The parent's derive cannot see the embedded struct's fields, so the struct describes its
//! columns itself: at compile time as a tree of names ([`FlatColumn`], checked for clashes by
//! [`column_clash`] in a `const`), at run time through [`Embedded::flat`], and its values through
//! `Embedded::transcode_flat` / `emit_flat`. [`FlatField`] covers `T` and `Option<T>`.

use super::*;

/// A column name as the derive knows it at compile time.
#[derive(Debug)]
pub enum FlatColumn {
    /// A column of the struct itself.
    Column(&'static str),
    /// The columns of a flattened struct, each name after `prefix`.
    Flattened(&'static str, &'static [FlatColumn]),
}

/// How the columns of a flattened struct are named and whether they may be NULL.
#[derive(Debug, Clone, Default)]
pub struct Flat {
    prefix: String,
    nullable: bool,
}

impl Flat {
    /// The parent's own columns: names as they are.
    pub const ROOT: Flat = Flat {
        prefix: String::new(),
        nullable: false,
    };

    /// A struct flattened below this one with `prefix`; `nullable` for an `Option` struct.
    pub fn nest(&self, prefix: &str, nullable: bool) -> Flat {
        Flat {
            prefix: format!("{}{prefix}", self.prefix),
            nullable: self.nullable || nullable,
        }
    }

    /// The column name of a column named `column` in the struct.
    pub fn name(&self, column: &str) -> String {
        format!("{}{column}", self.prefix)
    }

    /// A column of the struct as a column of the parent's row.
    pub fn column(&self, mut column: ColumnDef) -> ColumnDef {
        column.name = self.name(&column.name);
        column.nullable |= self.nullable;
        column
    }
}

/// The keys a flattened struct names without reading (`skip`, `ignore`) and its rule for the
/// others, below its path (it reads its subdocument itself, by its own `unknown_fields`).
pub fn flat_unread(
    table: &mut TableDef,
    prefix: &str,
    skipped: &[&str],
    ignored: &[&str],
    unknown: UnknownFields,
) {
    let unread = &mut table.unread;
    unread.unknown_below.push((prefix.to_string(), unknown));
    unread
        .skipped
        .extend(skipped.iter().map(|k| path(prefix, k)));
    unread
        .ignored
        .extend(ignored.iter().map(|k| path(prefix, k)));
}

/// The type of a `flatten` field: an embedded struct, or an `Option` of one (all its columns
/// nullable, all NULL when the subdocument is absent or null).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be flattened: it is not an embedded struct",
    label = "not `#[derive(Migrate)]` with `#[migrate(embedded)]`",
    note = "`flatten` stores the columns of a struct with `#[derive(Migrate)]` and `#[migrate(embedded)]` (or an `Option` of one) in the parent's table; store other values with `jsonb`"
)]
pub trait FlatField: Sized {
    type Struct: Embedded;
    const NULLABLE: bool;

    /// Reads the field from the subdocument (absent and `null` read as an empty one for `T`).
    fn decode(value: Option<RawBsonRef<'_>>) -> Result<Self, FieldError>;
    /// Writes its columns' values.
    fn emit(&self, out: &mut dyn RowSink);

    /// Adds its columns to `table`, named by `parent` and `prefix`; `path` is the subdocument's.
    fn flat(table: &mut TableDef, path: &str, parent: &Flat, prefix: &str) {
        <Self::Struct as Embedded>::flat(table, path, &parent.nest(prefix, Self::NULLABLE));
    }
}

/// An empty document: what an absent subdocument reads as.
fn empty() -> &'static RawDocument {
    const EMPTY: &[u8] = &[5, 0, 0, 0, 0];
    RawDocument::from_bytes(EMPTY)
        .unwrap_or_else(|_| unreachable!("five bytes are an empty document"))
}

impl<T: Embedded> FlatField for T {
    type Struct = T;
    const NULLABLE: bool = false;

    fn decode(value: Option<RawBsonRef<'_>>) -> Result<Self, FieldError> {
        match value {
            None | Some(RawBsonRef::Null) => T::decode(empty()),
            Some(RawBsonRef::Document(doc)) => T::decode(doc),
            Some(other) => Err(wrong_type("object", &other)),
        }
    }

    fn emit(&self, out: &mut dyn RowSink) {
        self.emit_flat(out);
    }
}

impl<T: Embedded> FlatField for Option<T> {
    type Struct = T;
    const NULLABLE: bool = true;

    fn decode(value: Option<RawBsonRef<'_>>) -> Result<Self, FieldError> {
        match value {
            None | Some(RawBsonRef::Null) => Ok(None),
            Some(RawBsonRef::Document(doc)) => T::decode(doc).map(Some),
            Some(other) => Err(wrong_type("object", &other)),
        }
    }

    fn emit(&self, out: &mut dyn RowSink) {
        match self {
            Some(value) => value.emit_flat(out),
            None => emit_nulls(T::FLAT_COLUMNS, out),
        }
    }
}

/// Reads a `flatten` field.
pub fn read_flat<F: FlatField>(
    value: Option<RawBsonRef<'_>>,
    key: &'static str,
) -> Result<F, FieldError> {
    F::decode(value).map_err(|e| e.at_key(key))
}

/// Writes a `flatten` field's values straight from its subdocument.
pub fn transcode_flat<F: FlatField, S: RowSink>(
    value: Option<RawBsonRef<'_>>,
    key: &'static str,
    out: &mut S,
) -> Result<(), FieldError> {
    match value {
        None | Some(RawBsonRef::Null) if F::NULLABLE => {
            emit_nulls(F::Struct::FLAT_COLUMNS, out);
            Ok(())
        }
        None | Some(RawBsonRef::Null) => F::Struct::transcode_flat(empty(), out),
        Some(RawBsonRef::Document(doc)) => F::Struct::transcode_flat(doc, out),
        Some(other) => Err(wrong_type("object", &other)),
    }
    .map_err(|e| e.at_key(key))
}

/// A NULL in every column of `columns`.
pub fn emit_nulls<S: RowSink + ?Sized>(columns: &[FlatColumn], out: &mut S) {
    for _ in 0..column_count(columns) {
        out.value(&None::<bool>);
    }
}

/// How many columns the tree holds.
pub const fn column_count(columns: &[FlatColumn]) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < columns.len() {
        n += match &columns[i] {
            FlatColumn::Column(_) => 1,
            FlatColumn::Flattened(_, inner) => column_count(inner),
        };
        i += 1;
    }
    n
}

/// PostgreSQL's identifier limit (longer names are truncated, so distinct ones could clash).
const MAX_NAME: usize = 63;

/// A column name assembled at compile time.
#[derive(Debug, Clone, Copy)]
pub struct Name {
    bytes: [u8; MAX_NAME + 1],
    /// The whole name's length (it is kept up to `MAX_NAME + 1` bytes).
    len: usize,
}

impl Name {
    const EMPTY: Name = Name {
        bytes: [0; MAX_NAME + 1],
        len: 0,
    };

    const fn push(mut self, text: &str) -> Name {
        let text = text.as_bytes();
        let mut i = 0;
        while i < text.len() {
            if self.len + i < self.bytes.len() {
                self.bytes[self.len + i] = text[i];
            }
            i += 1;
        }
        self.len += text.len();
        self
    }

    const fn kept(&self) -> &[u8] {
        let end = if self.len < self.bytes.len() {
            self.len
        } else {
            self.bytes.len()
        };
        self.bytes.split_at(end).0
    }

    const fn same(&self, other: &Name) -> bool {
        let (a, b) = (self.kept(), other.kept());
        if self.len != other.len {
            return false;
        }
        let mut i = 0;
        while i < a.len() {
            if a[i] != b[i] {
                return false;
            }
            i += 1;
        }
        true
    }
}

/// The `n`th column name of the tree below `prefix`, or how many columns it holds (`Err`).
const fn nth(columns: &[FlatColumn], n: usize, prefix: Name) -> Result<Name, usize> {
    let mut seen = 0;
    let mut i = 0;
    while i < columns.len() {
        match &columns[i] {
            FlatColumn::Column(name) => {
                if seen == n {
                    return Ok(prefix.push(name));
                }
                seen += 1;
            }
            FlatColumn::Flattened(more, inner) => match nth(inner, n - seen, prefix.push(more)) {
                Ok(name) => return Ok(name),
                Err(count) => seen += count,
            },
        }
        i += 1;
    }
    Err(seen)
}

/// A message built at compile time.
#[derive(Debug, Clone, Copy)]
pub struct Clash {
    bytes: [u8; 200],
    len: usize,
}

impl Clash {
    const fn new(parts: &[&[u8]]) -> Clash {
        let mut out = Clash {
            bytes: [0; 200],
            len: 0,
        };
        let mut p = 0;
        while p < parts.len() {
            let mut i = 0;
            while i < parts[p].len() && out.len < out.bytes.len() {
                out.bytes[out.len] = parts[p][i];
                out.len += 1;
                i += 1;
            }
            p += 1;
        }
        out
    }

    pub const fn as_str(&self) -> &str {
        match core::str::from_utf8(self.bytes.split_at(self.len).0) {
            Ok(text) => text,
            Err(_) => "flattened column names clash",
        }
    }
}

/// The first problem with the column names of a row (its own columns and the flattened
/// structs'): a name written twice, or one longer than PostgreSQL keeps.
pub const fn column_clash(columns: &[FlatColumn]) -> Option<Clash> {
    let count = column_count(columns);
    let mut i = 0;
    while i < count {
        let Ok(a) = nth(columns, i, Name::EMPTY) else {
            return None;
        };
        if a.len > MAX_NAME {
            return Some(Clash::new(&[
                b"flattened column name `",
                a.kept(),
                b"...` is longer than the 63 bytes PostgreSQL keeps; choose a shorter `flatten = \"prefix\"`",
            ]));
        }
        let mut j = i + 1;
        while j < count {
            if let Ok(b) = nth(columns, j, Name::EMPTY) {
                if a.same(&b) {
                    return Some(Clash::new(&[
                        b"column `",
                        a.kept(),
                        b"` is written twice once the flattened structs' columns are prefixed; choose another `flatten = \"prefix\"` or `column`",
                    ]));
                }
            }
            j += 1;
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::FlatColumn::{Column, Flattened};
    use super::*;

    const GEO: &[FlatColumn] = &[Column("lat"), Column("lng")];
    const ADDRESS: &[FlatColumn] = &[Column("street"), Flattened("geo_", GEO)];

    #[test]
    fn names_are_prefixed_and_clashes_found_at_compile_time() {
        const FINE: Option<Clash> =
            column_clash(&[Column("id"), Flattened("address_", ADDRESS), Column("name")]);
        assert!(FINE.is_none());
        assert_eq!(column_count(&[Column("id"), Flattened("a_", ADDRESS)]), 4);
        const CLASH: Option<Clash> =
            column_clash(&[Column("address_geo_lat"), Flattened("address_", ADDRESS)]);
        let message = CLASH.map(|c| c.as_str().to_string()).unwrap_or_default();
        assert!(
            message.starts_with("column `address_geo_lat` is written twice"),
            "{message}"
        );
        let long = "x".repeat(60);
        let long: &'static str = Box::leak(long.into_boxed_str());
        let message = column_clash(&[Flattened(long, ADDRESS)])
            .map(|c| c.as_str().to_string())
            .unwrap_or_default();
        assert!(message.contains("longer than the 63 bytes"), "{message}");
    }

    #[test]
    fn nested_flats_prefix_and_null_outwards() {
        let flat = Flat::ROOT.nest("address_", false).nest("geo_", true);
        assert_eq!(flat.name("lat"), "address_geo_lat");
        let column = flat.column(ColumnDef {
            name: "lat".into(),
            ty: PgType::Double,
            nullable: false,
            source: "address.geo.lat".into(),
            read: ValueRead::default(),
        });
        assert!(column.nullable);
        assert_eq!(column.name, "address_geo_lat");
    }
}
