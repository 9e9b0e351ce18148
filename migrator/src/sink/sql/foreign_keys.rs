//! The foreign keys of a user's own tables (`--schema-mode existing`, see
//! `crate::sink::foreign_keys`): read from the catalog, and checked row by row.

use crate::naming::{quote_ident, quote_qualified};

/// The foreign keys from or to the tables `$2` of schema `$1`: name, schema and table, its
/// columns, the referenced schema and table, their columns (in key order).
pub const FOREIGN_KEYS: &str = "SELECT c.conname::text, sn.nspname::text, s.relname::text, \
     ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY AS k(n, i) \
       JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.i), \
     dn.nspname::text, d.relname::text, \
     ARRAY(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY AS k(n, i) \
       JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.i) \
     FROM pg_constraint c \
     JOIN pg_class s ON s.oid = c.conrelid JOIN pg_namespace sn ON sn.oid = s.relnamespace \
     JOIN pg_class d ON d.oid = c.confrelid JOIN pg_namespace dn ON dn.oid = d.relnamespace \
     WHERE c.contype = 'f' AND ((sn.nspname = $1 AND s.relname = ANY($2)) \
       OR (dn.nspname = $1 AND d.relname = ANY($2))) \
     ORDER BY 2, 3, 1";

/// The rows of `schema.table` whose `columns` (none NULL: MATCH SIMPLE) have no row of
/// `target_schema.target` with the same `target_columns`.
pub fn count_foreign_key_violations(
    (schema, table, columns): (&str, &str, &[String]),
    (target_schema, target, target_columns): (&str, &str, &[String]),
) -> String {
    let not_null: Vec<String> = columns
        .iter()
        .map(|c| format!("t.{} IS NOT NULL", quote_ident(c)))
        .collect();
    let same: Vec<String> = columns
        .iter()
        .zip(target_columns)
        .map(|(c, k)| format!("x.{} = t.{}", quote_ident(k), quote_ident(c)))
        .collect();
    format!(
        "SELECT count(*) FROM {} AS t WHERE {} AND NOT EXISTS (SELECT 1 FROM {} AS x WHERE {})",
        quote_qualified(Some(schema), table),
        not_null.join(" AND "),
        quote_qualified(Some(target_schema), target),
        same.join(" AND ")
    )
}
