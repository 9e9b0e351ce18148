//! Static description of what a model becomes in PostgreSQL: tables, columns, keys, references.
//!
//! The derive generates a [`ModelDef`] per collection; the DDL, the load plan, the sink and
//! `validate` all read it. Nothing here knows about other models: references name their target
//! by Rust type and are resolved by [`crate::schema::Schema`].

use std::any::TypeId;

/// A PostgreSQL column type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PgType {
    Text,
    SmallInt,
    Integer,
    BigInt,
    Real,
    Double,
    Numeric,
    Boolean,
    Timestamptz,
    Bytea,
    Uuid,
    Jsonb,
    Array(Box<PgType>),
    Enum(EnumDef),
    /// PostGIS `geometry(<Kind>, 4326)` (see [`crate::geo`]).
    Geometry(crate::geo::GeometryKind),
}

impl PgType {
    /// Whether the type needs the PostGIS extension.
    pub fn is_geometry(&self) -> bool {
        match self {
            PgType::Geometry(_) => true,
            PgType::Array(inner) => inner.is_geometry(),
            _ => false,
        }
    }

    /// The type as written in DDL (`text`, `uuid`, `integer[]`, the enum's quoted name).
    pub fn sql(&self) -> String {
        match self {
            PgType::Text => "text".into(),
            PgType::SmallInt => "smallint".into(),
            PgType::Integer => "integer".into(),
            PgType::BigInt => "bigint".into(),
            PgType::Real => "real".into(),
            PgType::Double => "double precision".into(),
            PgType::Numeric => "numeric".into(),
            PgType::Boolean => "boolean".into(),
            PgType::Timestamptz => "timestamptz".into(),
            PgType::Bytea => "bytea".into(),
            PgType::Uuid => "uuid".into(),
            PgType::Jsonb => "jsonb".into(),
            PgType::Array(inner) => format!("{}[]", inner.sql()),
            PgType::Enum(e) => match e.repr {
                EnumRepr::Native => crate::naming::quote_ident(e.name),
                EnumRepr::TextCheck => "text".into(),
            },
            PgType::Geometry(kind) => format!("geometry({}, {})", kind.name(), crate::geo::SRID),
        }
    }

    /// The name PostgreSQL reports in `information_schema.columns.udt_name` for this type.
    pub fn udt_name(&self) -> String {
        match self {
            PgType::Text => "text".into(),
            PgType::SmallInt => "int2".into(),
            PgType::Integer => "int4".into(),
            PgType::BigInt => "int8".into(),
            PgType::Real => "float4".into(),
            PgType::Double => "float8".into(),
            PgType::Numeric => "numeric".into(),
            PgType::Boolean => "bool".into(),
            PgType::Timestamptz => "timestamptz".into(),
            PgType::Bytea => "bytea".into(),
            PgType::Uuid => "uuid".into(),
            PgType::Jsonb => "jsonb".into(),
            PgType::Array(inner) => format!("_{}", inner.udt_name()),
            PgType::Enum(e) => match e.repr {
                EnumRepr::Native => e.name.to_string(),
                EnumRepr::TextCheck => "text".into(),
            },
            PgType::Geometry(_) => "geometry".into(),
        }
    }
}

/// How a Rust enum is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EnumRepr {
    /// `CREATE TYPE name AS ENUM (...)`.
    Native,
    /// A `text` column with `CHECK (col IN (...))`.
    TextCheck,
}

/// A Rust enum mapped to PostgreSQL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EnumDef {
    pub name: &'static str,
    pub values: &'static [&'static str],
    pub repr: EnumRepr,
}

/// A column of a table.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnDef {
    pub name: String,
    pub ty: PgType,
    pub nullable: bool,
    /// Where the value comes from in the document (`_id`, `address.city`, `reviews[].rating`),
    /// or a description for generated columns (`<parent key>`, `<array position>`).
    pub source: String,
    /// How the value is read when that is more than its type's own conversion.
    pub read: ValueRead,
}

/// What a field's attributes add to reading its value: a conversion, a default, serde, hex text.
///
/// The runtime does not need it (the derived code does the work); it describes the model to tools
/// that reproduce it elsewhere, through [`crate::artifacts::mapping`]. Empty for generated columns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ValueRead {
    /// `with = path`: the function the BSON value goes through, as written in the attribute.
    pub with: Option<String>,
    /// `default`: what the column holds when the key is absent.
    pub default: Option<crate::value::Cell>,
    /// `jsonb`: the value is the Rust type's own JSON through serde, not Extended JSON.
    pub serde: Option<SerdeShape>,
    /// `as_text`: ObjectIds are stored as 24-digit lowercase hex text.
    pub object_id_text: bool,
}

/// The shape serde reads a `jsonb` field with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SerdeShape {
    /// The Rust type as written (`OrgSettings`).
    pub rust_type: String,
    /// For a struct, the keys its `Deserialize` reads, renames applied: every one is written,
    /// `null` when absent. `None` for other types (maps, sequences, enums).
    pub fields: Option<Vec<String>>,
}

/// What a table holds.
#[derive(Debug, Clone, PartialEq)]
pub enum TableRole {
    /// One row per document of the collection.
    Collection,
    /// One row per distinct element of an array of references.
    Junction { field: String },
    /// One row per element of an array of subdocuments.
    Child { field: String },
}

/// What to do when a reference points at nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MissingPolicy {
    /// Send the whole document to the dead letters.
    Reject,
    /// Store NULL in the column (nullable columns only) and report it.
    SetNull,
    /// Drop the row that holds the reference (a junction row, a child row, or the document's row) and report it.
    Skip,
    /// Keep the dangling value; no foreign-key constraint is created for it.
    Keep,
}

impl MissingPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            MissingPolicy::Reject => "reject",
            MissingPolicy::SetNull => "null",
            MissingPolicy::Skip => "skip",
            MissingPolicy::Keep => "keep",
        }
    }
}

/// What a reference points at.
#[derive(Debug, Clone, PartialEq)]
pub enum RefTarget {
    /// Another model's table: its primary key, or a natural key column.
    Model {
        rust_name: &'static str,
        type_id: TypeId,
        /// `None`: the target's primary key; `Some(column)`: a natural key column.
        key: Option<String>,
    },
    /// A table of the same model, by index in [`ModelDef::tables`] (child and junction parents).
    Table(usize),
}

/// A foreign key of a table.
#[derive(Debug, Clone, PartialEq)]
pub struct ReferenceDef {
    pub column: String,
    pub target: RefTarget,
    pub on_missing: MissingPolicy,
}

/// One PostgreSQL table that a model writes.
#[derive(Debug, Clone, PartialEq)]
pub struct TableDef {
    pub name: String,
    pub role: TableRole,
    /// Where the rows come from (`comments`, `items.reviews[]`, `customers.accounts[]`).
    pub source: String,
    pub columns: Vec<ColumnDef>,
    pub primary_key: Vec<String>,
    pub uniques: Vec<Vec<String>>,
    pub indexes: Vec<Vec<String>>,
    pub references: Vec<ReferenceDef>,
    /// For collection and child tables: the keys of each row's document the model names without
    /// reading them, and what happens to keys it does not name (read by the key census).
    pub unread: UnreadKeys,
}

/// The keys of a row's document that its struct names without reading them, as document paths
/// (`notes`, `items[].internal`, `meta.legacy`), and its rule for keys it does not name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UnreadKeys {
    /// Keys of `skip` fields.
    pub skipped: Vec<String>,
    /// The struct's `ignore = [..]` list: keys, or paths below a key, dropped on purpose.
    pub ignored: Vec<String>,
    pub unknown: UnknownFields,
    /// The rules of the structs flattened into the row, for the keys below their paths.
    pub unknown_below: Vec<(String, UnknownFields)>,
}

impl TableDef {
    pub fn column(&self, name: &str) -> Option<&ColumnDef> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// For a junction or child table: its parent's index in [`ModelDef::tables`] and the column
    /// holding the parent's key.
    pub fn parent(&self) -> Option<(usize, &str)> {
        self.references.iter().find_map(|r| match r.target {
            RefTarget::Table(parent) => Some((parent, r.column.as_str())),
            RefTarget::Model { .. } => None,
        })
    }

    /// The first primary-key column (the row key of collection and child tables).
    pub fn key_column(&self) -> &str {
        self.primary_key.first().map_or("id", String::as_str)
    }

    /// True if `columns` alone are the primary key or a unique constraint.
    pub fn is_unique_key(&self, columns: &[&str]) -> bool {
        let same = |key: &Vec<String>| {
            key.len() == columns.len() && key.iter().zip(columns).all(|(a, b)| a == b)
        };
        same(&self.primary_key) || self.uniques.iter().any(same)
    }
}

/// How `_id` becomes the primary key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdStrategy {
    /// ObjectId -> UUID ordered by the ObjectId (its timestamp first) and reversible (see [`crate::id`]).
    Ordered,
    /// ObjectId -> name-based version 5 UUID (not reversible).
    V5,
    /// The key as it is: ObjectId as its 24-digit hex text, integers and strings unchanged.
    Keep,
}

impl IdStrategy {
    pub fn as_str(self) -> &'static str {
        match self {
            IdStrategy::Ordered => "ordered",
            IdStrategy::V5 => "v5",
            IdStrategy::Keep => "keep",
        }
    }
}

/// What to do with document keys the model does not declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum UnknownFields {
    /// The default: not stored, and reported as dropped by the run summary, `validate` (which
    /// fails when such a key holds a value) and `coverage`.
    #[default]
    Report,
    /// `unknown_fields = "ignore"`: not stored, on purpose.
    Ignore,
    /// `unknown_fields = "reject"`: the document is rejected, naming the key.
    Reject,
}

impl UnknownFields {
    pub fn as_str(self) -> &'static str {
        match self {
            UnknownFields::Report => "report",
            UnknownFields::Ignore => "ignore",
            UnknownFields::Reject => "reject",
        }
    }
}

/// Everything a collection becomes.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelDef {
    pub rust_name: &'static str,
    pub type_id: TypeId,
    pub collection: String,
    pub id_strategy: IdStrategy,
    pub unknown_fields: UnknownFields,
    /// `#[migrate(optional)]`: the source may lack the collection; a run then reports it absent
    /// and loads it as empty (references to it dangle by their policy).
    pub may_be_absent: bool,
    /// `tables[0]` is the collection's own table; junction and child tables follow in field order,
    /// a child's own junctions and children right after it.
    pub tables: Vec<TableDef>,
}

impl ModelDef {
    pub fn table(&self) -> &TableDef {
        &self.tables[0]
    }

    /// The steps from table `index` up to the collection table, nearest parent first: for each,
    /// the parent's index and the column of the child that holds the parent's key.
    pub fn parent_chain(&self, index: usize) -> Vec<(usize, &str)> {
        let mut chain = Vec::new();
        let mut current = index;
        while current != 0 {
            let Some((parent, column)) = self.tables.get(current).and_then(TableDef::parent) else {
                break;
            };
            if parent >= current {
                break;
            }
            chain.push((parent, column));
            current = parent;
        }
        chain
    }
}
