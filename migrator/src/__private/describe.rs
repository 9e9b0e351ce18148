//! Model description: the tables, columns and references a model's `def()` builds.

use super::*;

/// The document path of `key` inside rows whose own path is `prefix` (`""` for a collection).
pub fn path(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

/// What a struct names without reading: its `skip` keys and `ignore` list below `prefix` (the
/// row's document path), and its rule for other keys.
pub fn unread_keys(
    prefix: &str,
    skipped: &[&str],
    ignored: &[&str],
    unknown: UnknownFields,
) -> UnreadKeys {
    UnreadKeys {
        skipped: skipped.iter().map(|k| path(prefix, k)).collect(),
        ignored: ignored.iter().map(|k| path(prefix, k)).collect(),
        unknown,
        unknown_below: Vec::new(),
    }
}

/// The document path of one row of `table`: `""` for a collection, `items[]` for a child table.
pub fn row_path(table: &TableDef) -> String {
    match &table.role {
        TableRole::Child { field } | TableRole::Junction { field } => format!("{field}[]"),
        TableRole::Collection => String::new(),
    }
}

/// Prisma's implicit many-to-many table, the last of `tables`: its primary key is (`A`, `B`)
/// whichever model owns the array, and `B` is indexed (as Prisma makes it).
pub fn implicit_junction(tables: &mut [TableDef]) {
    if let Some(table) = tables.last_mut() {
        table.primary_key = names(&["A", "B"]);
        table.indexes = vec![names(&["B"])];
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
        unread: UnreadKeys::default(),
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
        unread: UnreadKeys::default(),
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
        unread: UnreadKeys::default(),
    }
}
