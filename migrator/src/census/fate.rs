//! [`Fate`]: what a model does with one key path of its collection's documents.

use serde::Serialize;

use super::ancestors;
use crate::model::{ModelDef, PgType, TableRole, UnknownFields};

/// What becomes of the values under one key path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "fate", rename_all = "snake_case")]
pub enum Fate {
    /// Stored in a column.
    Column { table: String, column: String },
    /// Below a column's path: stored inside its value (a jsonb document, an array's elements).
    InsideColumn {
        table: String,
        column: String,
        jsonb: bool,
    },
    /// An array whose elements are the rows of a child table (the array and its elements).
    ChildTable { table: String },
    /// An array of references whose elements are the rows of a junction table.
    JunctionTable { table: String },
    /// The key of a `skip` field (or a path below it).
    Skipped,
    /// Named by the struct's `ignore = [..]` list, or under `unknown_fields = "ignore"`.
    Ignored { by: String },
    /// Under `unknown_fields = "reject"`: a document with the key is rejected.
    Rejected,
    /// Read by nothing: its values are not in the target.
    Dropped,
    /// Below a dropped key (`key`), dropped with it.
    InsideDropped { key: String },
}

impl Fate {
    /// Where the values go, in a few words.
    pub fn describe(&self) -> String {
        match self {
            Fate::Column { table, column } => format!("column {table}.{column}"),
            Fate::InsideColumn {
                table,
                column,
                jsonb: true,
            } => format!("inside jsonb {table}.{column}"),
            Fate::InsideColumn { table, column, .. } => format!("inside {table}.{column}"),
            Fate::ChildTable { table } => format!("child table {table}"),
            Fate::JunctionTable { table } => format!("junction table {table}"),
            Fate::Skipped => "skipped (`skip` field)".into(),
            Fate::Ignored { by } => format!("ignored ({by})"),
            Fate::Rejected => "rejects the document (unknown_fields = \"reject\")".into(),
            Fate::Dropped => "DROPPED".into(),
            Fate::InsideDropped { key } => format!("DROPPED (inside `{key}`)"),
        }
    }

    pub fn is_dropped(&self) -> bool {
        matches!(self, Fate::Dropped | Fate::InsideDropped { .. })
    }
}

/// Whether a column's values are jsonb (or arrays of it).
fn is_jsonb(ty: &PgType) -> bool {
    match ty {
        PgType::Jsonb => true,
        PgType::Array(inner) => is_jsonb(inner),
        _ => false,
    }
}

/// The document path one row of a table is read from: `""` for the collection, `items[]`.
fn row_path(role: &TableRole) -> Option<String> {
    match role {
        TableRole::Collection => Some(String::new()),
        TableRole::Child { field } => Some(format!("{field}[]")),
        TableRole::Junction { .. } => None,
    }
}

/// `path` relative to the row at `row`, if it is below it.
fn below<'a>(path: &'a str, row: &str) -> Option<&'a str> {
    if row.is_empty() {
        return Some(path);
    }
    path.strip_prefix(row)?.strip_prefix('.')
}

/// Whether `path` is `entry` or below it.
fn within(path: &str, entry: &str) -> bool {
    path == entry || ancestors(path).any(|a| a == entry)
}

/// The fate of `path` under `model`.
pub fn fate(model: &ModelDef, path: &str) -> Fate {
    // Stored where it is.
    for table in &model.tables {
        if let Some(c) = table.columns.iter().find(|c| c.source == path) {
            return Fate::Column {
                table: table.name.clone(),
                column: c.name.clone(),
            };
        }
        let field = match &table.role {
            TableRole::Child { field } | TableRole::Junction { field } => field,
            TableRole::Collection => continue,
        };
        if path == field || path.strip_suffix("[]") == Some(field) {
            return match table.role {
                TableRole::Child { .. } => Fate::ChildTable {
                    table: table.name.clone(),
                },
                _ => Fate::JunctionTable {
                    table: table.name.clone(),
                },
            };
        }
    }
    // Inside what a column stores (outermost first).
    for above in ancestors(path) {
        for table in &model.tables {
            if let Some(c) = table.columns.iter().find(|c| c.source == above) {
                return Fate::InsideColumn {
                    table: table.name.clone(),
                    column: c.name.clone(),
                    jsonb: is_jsonb(&c.ty),
                };
            }
        }
    }
    // Not read: the rules of the row it belongs to (the deepest row path above it).
    let row = model
        .tables
        .iter()
        .filter_map(|t| row_path(&t.role).map(|r| (t, r)))
        .filter(|(_, r)| below(path, r).is_some())
        .max_by_key(|(_, r)| r.len());
    let Some((table, row)) = row else {
        return Fate::Dropped;
    };
    let unread = &table.unread;
    if unread.skipped.iter().any(|k| within(path, k)) {
        return Fate::Skipped;
    }
    if let Some(entry) = unread.ignored.iter().find(|k| within(path, k)) {
        return Fate::Ignored {
            by: format!("ignore = [\"{}\"]", below(entry, &row).unwrap_or(entry)),
        };
    }
    let relative = below(path, &row).unwrap_or(path);
    let top_len = relative.find(['.', '[']).unwrap_or(relative.len());
    let top = &path[..path.len() - relative.len() + top_len];
    match unread.unknown {
        UnknownFields::Ignore => Fate::Ignored {
            by: "unknown_fields = \"ignore\"".into(),
        },
        UnknownFields::Reject => Fate::Rejected,
        UnknownFields::Report if top == path => Fate::Dropped,
        UnknownFields::Report => Fate::InsideDropped {
            key: top.to_string(),
        },
    }
}
