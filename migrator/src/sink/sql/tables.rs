//! The target's tables: enum types, `CREATE TABLE` (with keys, or without them to load into),
//! the keys added after the load, dropping and emptying, and what the catalog says about
//! tables.

use super::{column_list, Namespace};
use crate::model::{ColumnDef, EnumDef, EnumRepr, PgType, TableDef};
use crate::naming::{constraint_name, quote_ident, quote_literal};

fn column_type_sql(ns: Namespace<'_>, ty: &PgType) -> String {
    match ty {
        PgType::Enum(e) if e.repr == EnumRepr::Native => ns.qualify(e.name),
        PgType::Array(inner) => format!("{}[]", column_type_sql(ns, inner)),
        other => other.sql(),
    }
}

/// `CREATE TYPE name AS ENUM (...)`.
pub fn create_enum(ns: Namespace<'_>, e: &EnumDef) -> String {
    let labels: Vec<String> = e.values.iter().map(|v| quote_literal(v)).collect();
    format!(
        "CREATE TYPE {} AS ENUM ({})",
        ns.qualify(e.name),
        labels.join(", ")
    )
}

fn check_for(col: &ColumnDef) -> Option<String> {
    let (e, array) = match &col.ty {
        PgType::Enum(e) => (e, false),
        PgType::Array(inner) => match inner.as_ref() {
            PgType::Enum(e) => (e, true),
            _ => return None,
        },
        _ => return None,
    };
    if e.repr != EnumRepr::TextCheck {
        return None;
    }
    let labels: Vec<String> = e.values.iter().map(|v| quote_literal(v)).collect();
    let name = quote_ident(&col.name);
    Some(if array {
        format!("{name} <@ ARRAY[{}]::text[]", labels.join(", "))
    } else {
        format!("{name} IN ({})", labels.join(", "))
    })
}

/// `CREATE TABLE` with columns, primary key, unique constraints and enum CHECKs; no foreign keys.
/// The table as it ends up (the generated DDL, a user's own tables).
pub fn create_table(ns: Namespace<'_>, table: &TableDef) -> String {
    let mut parts = column_clauses(table, ns, false);
    parts.extend(key_clauses(table));
    create_table_of(ns, table, &parts)
}

/// `CREATE TABLE` as a run creates it to load into: columns and enum CHECKs, the primary key's
/// columns `NOT NULL`, no keys yet. [`add_keys`] builds them after the load, by sorting rows
/// that are all there instead of inserting into the indexes row by row.
pub fn create_table_for_load(ns: Namespace<'_>, table: &TableDef) -> String {
    let parts = column_clauses(table, ns, true);
    create_table_of(ns, table, &parts)
}

fn create_table_of(ns: Namespace<'_>, table: &TableDef, parts: &[String]) -> String {
    format!(
        "CREATE TABLE {} (\n    {}\n)",
        ns.qualify(&table.name),
        parts.join(",\n    ")
    )
}

/// Each column with its type, `NOT NULL` and enum CHECK; `key_not_null`: the primary key's
/// columns `NOT NULL` too (the key would make them so).
fn column_clauses(table: &TableDef, ns: Namespace<'_>, key_not_null: bool) -> Vec<String> {
    table
        .columns
        .iter()
        .map(|c| {
            let mut s = format!("{} {}", quote_ident(&c.name), column_type_sql(ns, &c.ty));
            if !c.nullable || (key_not_null && table.primary_key.contains(&c.name)) {
                s.push_str(" NOT NULL");
            }
            if let Some(check) = check_for(c) {
                s.push_str(&format!(
                    " CONSTRAINT {} CHECK ({check})",
                    quote_ident(&constraint_name(&table.name, &[&c.name], "check"))
                ));
            }
            s
        })
        .collect()
}

/// The names of a table's primary key and unique constraints, in [`add_keys`]'s order.
pub fn key_names(table: &TableDef) -> Vec<String> {
    keys_of(table).into_iter().map(|(name, _)| name).collect()
}

/// `CONSTRAINT .. PRIMARY KEY (..)` and `CONSTRAINT .. UNIQUE (..)` of a table.
fn key_clauses(table: &TableDef) -> Vec<String> {
    keys_of(table)
        .into_iter()
        .map(|(name, clause)| format!("CONSTRAINT {} {clause}", quote_ident(&name)))
        .collect()
}

fn keys_of(table: &TableDef) -> Vec<(String, String)> {
    let mut keys = Vec::new();
    if !table.primary_key.is_empty() {
        keys.push((
            constraint_name(&table.name, &[], "pkey"),
            format!("PRIMARY KEY ({})", column_list(&table.primary_key)),
        ));
    }
    for unique in &table.uniques {
        let cols: Vec<&str> = unique.iter().map(String::as_str).collect();
        keys.push((
            constraint_name(&table.name, &cols, "key"),
            format!("UNIQUE ({})", column_list(unique)),
        ));
    }
    keys
}

/// `ALTER TABLE .. ADD CONSTRAINT .. PRIMARY KEY (..), ADD CONSTRAINT .. UNIQUE (..)`: every key
/// of a table in one statement (one lock, one commit); `None` for a table without keys.
pub fn add_keys(ns: Namespace<'_>, table: &TableDef) -> Option<String> {
    let clauses = key_clauses(table);
    (!clauses.is_empty()).then(|| {
        let adds: Vec<String> = clauses.iter().map(|c| format!("ADD {c}")).collect();
        format!(
            "ALTER TABLE {} {}",
            ns.qualify(&table.name),
            adds.join(", ")
        )
    })
}

/// The PostGIS extension, which geometry columns need; first among the DDL's types.
pub const CREATE_POSTGIS: &str = "CREATE EXTENSION IF NOT EXISTS postgis";

/// Whether the server can create an extension (`$1`: its name), installed or not yet created.
pub const EXTENSION_AVAILABLE: &str =
    "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = $1)";

/// `CREATE SCHEMA IF NOT EXISTS`.
pub fn create_schema(name: &str) -> String {
    format!("CREATE SCHEMA IF NOT EXISTS {}", quote_ident(name))
}

/// Which of the relations named in $2 (text[]) exist in schema $1.
pub const EXISTING_TABLES: &str = "SELECT c.relname::text FROM pg_class c \
     JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = ANY($2) \
     ORDER BY 1";

/// Whether a table exists in a schema.
pub const TABLE_EXISTS: &str =
    "SELECT EXISTS (SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2)";

/// The columns of table `$2` in schema `$1`, in order: name, type name (`udt_name`: `int4`,
/// `timestamp`, an enum's name, `_text` for arrays), type modifier (-1: none), the type as
/// PostgreSQL writes it (`timestamp(3) without time zone`), nullable, whether it has a default
/// (identity and generated columns count), and an enum type's labels (NULL otherwise).
pub const TABLE_COLUMNS: &str = "SELECT a.attname::text, t.typname::text, a.atttypmod, \
     format_type(a.atttypid, a.atttypmod), NOT a.attnotnull, \
     a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '', \
     CASE WHEN t.typtype = 'e' THEN ARRAY(SELECT e.enumlabel::text FROM pg_enum e \
       WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder) END \
     FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
     JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_type t ON t.oid = a.atttypid \
     WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped \
     ORDER BY a.attnum";

/// The type of column `$3` of table `$2` in schema `$1` as SQL text (`uuid`, `text`,
/// `character varying(36)`, a quoted enum type).
pub const COLUMN_TYPE: &str = "SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a \
     JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
     WHERE n.nspname = $1 AND c.relname = $2 AND a.attname = $3 AND a.attnum > 0 \
     AND NOT a.attisdropped";

/// `SELECT count(*) FROM table`.
pub fn count_rows(ns: Namespace<'_>, table: &str) -> String {
    format!("SELECT count(*) FROM {}", ns.qualify(table))
}

pub fn drop_table(ns: Namespace<'_>, table: &str) -> String {
    format!("DROP TABLE IF EXISTS {} CASCADE", ns.qualify(table))
}

pub fn truncate_table(ns: Namespace<'_>, table: &str) -> String {
    format!("TRUNCATE {} CASCADE", ns.qualify(table))
}

/// `TRUNCATE a, b, ..` without CASCADE: refused if a table outside the list references one.
pub fn truncate_tables(ns: Namespace<'_>, tables: &[&str]) -> String {
    let names: Vec<String> = tables.iter().map(|t| ns.qualify(t)).collect();
    format!("TRUNCATE {}", names.join(", "))
}

pub fn drop_type(ns: Namespace<'_>, name: &str) -> String {
    format!("DROP TYPE IF EXISTS {} CASCADE", ns.qualify(name))
}
