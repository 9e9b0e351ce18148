//! Foreign keys and indexes, added after the load, and the catalog queries that make adding
//! them idempotent.

use super::{column_list, Namespace};
use crate::naming::{constraint_name, quote_ident};

/// The name of the foreign-key constraint on `table.column`.
pub fn foreign_key_name(table: &str, column: &str) -> String {
    constraint_name(table, &[column], "fkey")
}

/// `ALTER TABLE .. ADD CONSTRAINT .. FOREIGN KEY`.
pub fn add_foreign_key(
    ns: Namespace<'_>,
    table: &str,
    column: &str,
    target_table: &str,
    target_column: &str,
) -> String {
    format!(
        "ALTER TABLE {} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({})",
        ns.qualify(table),
        quote_ident(&foreign_key_name(table, column)),
        quote_ident(column),
        ns.qualify(target_table),
        quote_ident(target_column)
    )
}

/// `CREATE INDEX` on some columns of a table.
pub fn create_index(ns: Namespace<'_>, table: &str, columns: &[String]) -> String {
    let cols: Vec<&str> = columns.iter().map(String::as_str).collect();
    format!(
        "CREATE INDEX {} ON {} ({})",
        quote_ident(&constraint_name(table, &cols, "idx")),
        ns.qualify(table),
        column_list(columns)
    )
}

/// Whether a constraint exists (foreign keys are added idempotently after a resume).
pub const CONSTRAINT_EXISTS: &str =
    "SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = $1 AND connamespace = to_regnamespace($2))";

/// The names of every constraint in a schema; `$1`: schema.
pub const CONSTRAINT_NAMES: &str =
    "SELECT conname::text FROM pg_constraint WHERE connamespace = to_regnamespace($1)";

/// Every table of a schema with its size in bytes but one; `$1`: schema, `$2`: the table left
/// out (reading a size waits for any lock that excludes readers, held by the table's builds).
pub const TABLE_SIZES: &str = "SELECT relname::text, pg_relation_size(oid) FROM pg_class \
     WHERE relnamespace = to_regnamespace($1) AND relkind = 'r' AND relname <> $2";

/// The table of a constraint, as (schema, table); `$1`: constraint name, `$2`: schema.
pub const CONSTRAINT_TABLE: &str = "SELECT n.nspname::text, c.relname::text FROM pg_constraint k \
     JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
     WHERE k.conname = $1 AND k.connamespace = to_regnamespace($2)";

/// `ALTER TABLE .. DROP CONSTRAINT IF EXISTS ..`.
pub fn drop_constraint(schema: &str, table: &str, name: &str) -> String {
    format!(
        "ALTER TABLE {} DROP CONSTRAINT IF EXISTS {}",
        crate::naming::quote_qualified(Some(schema), table),
        quote_ident(name)
    )
}

/// Whether an index exists.
pub const INDEX_EXISTS: &str =
    "SELECT EXISTS (SELECT 1 FROM pg_indexes WHERE indexname = $1 AND schemaname = $2)";

/// A [`create_index`] statement made idempotent (`IF NOT EXISTS`), for resumes.
pub fn if_missing(create_index_statement: &str) -> String {
    create_index_statement.replacen("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ", 1)
}

/// A GiST index on a geometry column (a geometry has no B-tree ordering worth indexing).
pub fn create_gist_index(ns: Namespace<'_>, table: &str, column: &str) -> String {
    format!(
        "CREATE INDEX {} ON {} USING gist ({})",
        quote_ident(&constraint_name(table, &[column], "idx")),
        ns.qualify(table),
        quote_ident(column)
    )
}
