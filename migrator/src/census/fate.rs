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
    /// A subdocument (or array) that nested paths read below (`author` for `author.handle`):
    /// its keys have fates of their own.
    Traversed,
    /// The key of a `skip` field (or a path below it).
    Skipped,
    /// Named by the struct's `ignore = [..]` list, or under `unknown_fields = "ignore"`.
    Ignored { by: String },
    /// A document (or array) an `ignore = [..]` entry reaches into (`meta` for `meta.legacy`):
    /// each key inside has its own fate, so keys the list does not name are dropped one by one.
    Container { ignored: Vec<String> },
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
            Fate::Traversed => "read below (nested paths)".into(),
            Fate::Skipped => "skipped (`skip` field)".into(),
            Fate::Ignored { by } => format!("ignored ({by})"),
            Fate::Container { ignored } => format!(
                "holds ignored keys ({}); its other keys are listed on their own",
                ignored.join(", ")
            ),
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

/// The steps of a path: keys, and `[]` for the elements of an array (`a[].b` -> `a`, `[]`, `b`).
fn steps(path: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let mut base = part;
        let mut arrays = 0;
        while let Some(rest) = base.strip_suffix("[]") {
            base = rest;
            arrays += 1;
        }
        if !base.is_empty() {
            out.push(base);
        }
        out.extend(std::iter::repeat_n("[]", arrays));
    }
    out
}

/// Whether the census step `seen` is the model's step `read`: the same key, or an array
/// position (`loc.0`) and the elements of an array (`loc[]`) or a key that is data (`loc.*`).
fn same_step(read: &str, seen: &str) -> bool {
    read == seen
        || (!read.is_empty()
            && read.bytes().all(|b| b.is_ascii_digit())
            && (seen == "[]" || seen == "*"))
}

/// How a census path stands to a path the model reads (a column's source, a table's array).
#[derive(Debug, PartialEq, Eq)]
enum Relation {
    Same,
    /// The census path is above the one read (the model reads inside it).
    Above,
    Other,
}

fn relation(read: &str, seen: &str) -> Relation {
    let (read, seen) = (steps(read), steps(seen));
    if seen.is_empty()
        || seen.len() > read.len()
        || !seen.iter().zip(&read).all(|(s, r)| same_step(r, s))
    {
        return Relation::Other;
    }
    if seen.len() == read.len() {
        Relation::Same
    } else {
        Relation::Above
    }
}

/// Whether the census path `seen` is what the model reads at `read` (see [`same_step`]).
pub fn is_read_at(read: &str, seen: &str) -> bool {
    relation(read, seen) == Relation::Same
}

/// The paths the model reads: column sources and the arrays of child and junction tables.
fn read_paths(model: &ModelDef) -> impl Iterator<Item = &str> {
    model.tables.iter().flat_map(|t| {
        let field = match &t.role {
            TableRole::Child { field } | TableRole::Junction { field } => Some(field.as_str()),
            TableRole::Collection => None,
        };
        t.columns
            .iter()
            .map(|c| c.source.as_str())
            .filter(|s| !s.starts_with('<'))
            .chain(field)
    })
}

/// Whether nested paths read below `path`.
fn traversed(model: &ModelDef, path: &str) -> bool {
    read_paths(model).any(|read| relation(read, path) == Relation::Above)
}

/// The fate of `path` under `model`.
pub fn fate(model: &ModelDef, path: &str) -> Fate {
    // Stored where it is.
    for table in &model.tables {
        if let Some(c) = table.columns.iter().find(|c| is_read_at(&c.source, path)) {
            return Fate::Column {
                table: table.name.clone(),
                column: c.name.clone(),
            };
        }
        let field = match &table.role {
            TableRole::Child { field } | TableRole::Junction { field } => field,
            TableRole::Collection => continue,
        };
        if is_read_at(field, path) || is_read_at(&format!("{field}[]"), path) {
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
            if let Some(c) = table.columns.iter().find(|c| is_read_at(&c.source, above)) {
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
    if traversed(model, path) {
        return Fate::Traversed;
    }
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
    // The documents the `ignore` entries reach into, below the row.
    let containers: Vec<&str> = unread
        .ignored
        .iter()
        .flat_map(|entry| ancestors(entry))
        .filter(|a| a.len() > row.len())
        .collect();
    if unread.unknown == UnknownFields::Report && containers.contains(&path) {
        let mut ignored: Vec<String> = unread
            .ignored
            .iter()
            .filter(|entry| within(entry, path))
            .cloned()
            .collect();
        ignored.dedup();
        return Fate::Container { ignored };
    }
    // The key that is not read: the first below the row, or below the deepest document that
    // nested paths read into or `ignore` entries reach into.
    let opened = ancestors(path)
        .filter(|a| a.len() > row.len() && (containers.contains(a) || traversed(model, a)))
        .last()
        .map_or(row.len(), |a| a.len());
    let relative = &path[opened..];
    let top_len = match relative.strip_prefix("[]") {
        Some(_) => 2,
        None => {
            let name = relative.strip_prefix('.').unwrap_or(relative);
            relative.len() - name.len() + name.find(['.', '[']).unwrap_or(name.len())
        }
    };
    let top = &path[..path.len() - relative.len() + top_len];
    // A flattened struct reads its subdocument by its own rule.
    let unknown = unread
        .unknown_below
        .iter()
        .filter(|(below, _)| path.len() > below.len() && within(path, below))
        .max_by_key(|(below, _)| below.len())
        .map_or(unread.unknown, |(_, rule)| *rule);
    match unknown {
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
