//! Reference resolution after the load (see `crate::references`). Tables are aliased `t` (the
//! table holding the reference) and `p1`, `p2`, ... (its parents up to the collection table).
//! The dangling references found are recorded in the state schema.

use super::Namespace;
use crate::naming::quote_ident;

/// Records the dangling references of one column in one statement; `$1`: collection, `$2`:
/// document keys, `$3`: table, `$4`: column, `$5`: values (one per key), `$6`: action.
pub fn insert_reference_issues(state: &str) -> String {
    format!(
        "INSERT INTO {}.reference_issues (collection, document_key, table_name, column_name, value, action) \
         SELECT $1, k, $3, $4, v, $6 FROM unnest($2::text[], $5::text[]) AS u(k, v)",
        quote_ident(state)
    )
}

/// Records the dangling (root document key, value) pairs of `table.column` (`table` already
/// qualified, joined up `links` like [`select_dangling`]), at most `limit` if given, server-side;
/// `$1`: collection, `$2`: table, `$3`: column, `$4`: action.
pub fn record_dangling(
    state: &str,
    table: &str,
    links: &[ParentLink],
    root_key: &str,
    column: &str,
    condition: &str,
    limit: Option<i64>,
) -> String {
    let (from, root) = root_of(table, links, root_key);
    let limit = limit.map_or_else(String::new, |n| format!(" LIMIT {n}"));
    format!(
        "INSERT INTO {}.reference_issues (collection, document_key, table_name, column_name, value, action) \
         SELECT $1, k, $2, $3, v, $4 FROM (SELECT DISTINCT {root}::text AS k, t.{}::text AS v \
         FROM {from} WHERE {condition}{limit}) AS d",
        quote_ident(state),
        quote_ident(column)
    )
}

/// The dangling references of `table.column` counted exactly: rows and distinct values
/// (`table` already qualified, `condition` from [`dangling`]).
pub fn count_dangling(table: &str, column: &str, condition: &str) -> String {
    format!(
        "SELECT count(*), count(DISTINCT t.{}) FROM {table} AS t WHERE {condition}",
        quote_ident(column)
    )
}

/// Adds one reference's counts (or replaces them when `$9`); `$1`..`$8`: collection, table,
/// column, target, action, rows, distinct values, documents removed.
pub fn add_reference_counts(state: &str) -> String {
    format!(
        "INSERT INTO {s}.reference_counts AS c (collection, table_name, column_name, target, action, \
         rows, distinct_values, documents_removed) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (table_name, column_name, action) DO UPDATE SET \
         rows = CASE WHEN $9 THEN 0 ELSE c.rows END + EXCLUDED.rows, \
         distinct_values = CASE WHEN $9 THEN 0 ELSE c.distinct_values END + EXCLUDED.distinct_values, \
         documents_removed = CASE WHEN $9 THEN 0 ELSE c.documents_removed END + EXCLUDED.documents_removed",
        s = quote_ident(state)
    )
}

/// Every reference's counts, in a stable order.
pub fn select_reference_counts(state: &str) -> String {
    format!(
        "SELECT collection, table_name, column_name, target, action, rows, distinct_values, \
         documents_removed FROM {}.reference_counts ORDER BY collection, table_name, column_name, action",
        quote_ident(state)
    )
}

/// Recorded dangling references, optionally of one collection and one action; `$1`:
/// collection, `$2`: action, `$3`: limit.
pub fn select_reference_issues_filtered(state: &str) -> String {
    format!(
        "SELECT collection, document_key, table_name, column_name, value, action \
         FROM {}.reference_issues WHERE ($1::text IS NULL OR collection = $1) \
         AND ($2::text IS NULL OR action = $2) ORDER BY id LIMIT $3",
        quote_ident(state)
    )
}

/// Forgets the recorded dangling references of one column and action; `$1`: collection,
/// `$2`: table, `$3`: column, `$4`: action.
pub fn delete_reference_issues(state: &str) -> String {
    format!(
        "DELETE FROM {}.reference_issues WHERE collection = $1 AND table_name = $2 \
         AND column_name = $3 AND action = $4",
        quote_ident(state)
    )
}

pub fn select_reference_issues(state: &str) -> String {
    format!(
        "SELECT collection, document_key, table_name, column_name, value, action \
         FROM {}.reference_issues ORDER BY id",
        quote_ident(state)
    )
}

/// Forgets the recorded dangling references of documents `$2` (keys) of collection `$1`.
pub fn delete_document_reference_issues(state: &str) -> String {
    format!(
        "DELETE FROM {}.reference_issues WHERE collection = $1 AND document_key = ANY($2)",
        quote_ident(state)
    )
}

/// A collection's recorded reference actions of some kinds; `$1`: collection, `$2`: text[].
pub fn select_reference_actions(state: &str) -> String {
    format!(
        "SELECT document_key, table_name, column_name, value, action FROM {}.reference_issues \
         WHERE collection = $1 AND action = ANY($2)",
        quote_ident(state)
    )
}

/// One step from a row to its parent row: the parent table (already qualified), the parent's
/// key column, and the column of the child that holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParentLink {
    pub parent: String,
    pub key: String,
    pub column: String,
}

/// [`from_up_to_root`], with the root key of a table that is the collection's own (no links).
fn root_of(table: &str, links: &[ParentLink], root_key: &str) -> (String, String) {
    let (from, root) = from_up_to_root(table, links);
    if links.is_empty() {
        (from, format!("t.{}", quote_ident(root_key)))
    } else {
        (from, root)
    }
}

/// `FROM table AS t JOIN parent AS p1 ON .. JOIN ..` along `links` (nearest parent first), and
/// the root row's key as text.
pub(super) fn from_up_to_root(table: &str, links: &[ParentLink]) -> (String, String) {
    let mut from = format!("{table} AS t");
    let mut alias = "t".to_string();
    let mut root = "NULL".to_string();
    for (n, link) in links.iter().enumerate() {
        let next = format!("p{}", n + 1);
        from.push_str(&format!(
            " JOIN {} AS {next} ON {next}.{} = {alias}.{}",
            link.parent,
            quote_ident(&link.key),
            quote_ident(&link.column)
        ));
        root = format!("{next}.{}", quote_ident(&link.key));
        alias = next;
    }
    (from, root)
}

/// `t.col IS NOT NULL AND NOT EXISTS (target row)`: the reference in `t.col` points at nothing.
pub fn dangling(
    ns: Namespace<'_>,
    column: &str,
    target_table: &str,
    target_column: &str,
) -> String {
    let col = quote_ident(column);
    format!(
        "t.{col} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {} AS x WHERE x.{} = t.{col})",
        ns.qualify(target_table),
        quote_ident(target_column)
    )
}

/// The distinct (root document key, dangling value) pairs of `table.column` (`table` already
/// qualified), joined up `links` to the collection table; at most `limit`.
pub fn select_dangling(
    table: &str,
    links: &[ParentLink],
    root_key: &str,
    column: &str,
    condition: &str,
    limit: i64,
) -> String {
    let (from, root) = root_of(table, links, root_key);
    format!(
        "SELECT DISTINCT {root}::text, t.{}::text FROM {from} WHERE {condition} LIMIT {limit}",
        quote_ident(column)
    )
}

/// `UPDATE table AS t SET column = NULL WHERE condition`.
pub fn set_null_where(ns: Namespace<'_>, table: &str, column: &str, condition: &str) -> String {
    format!(
        "UPDATE {} AS t SET {} = NULL WHERE {condition}",
        ns.qualify(table),
        quote_ident(column)
    )
}

/// `DELETE FROM table AS t WHERE condition [RETURNING t.returning::text]`.
pub fn delete_where(
    ns: Namespace<'_>,
    table: &str,
    condition: &str,
    returning: Option<&str>,
) -> String {
    format!(
        "DELETE FROM {} AS t WHERE {condition}{}",
        ns.qualify(table),
        returning_text(returning)
    )
}

/// `DELETE FROM table AS t WHERE t.column = ANY($1::text[]::type[]) [RETURNING ...]`: rows whose
/// `column` (of SQL type `column_type`) is one of the keys bound as text.
pub fn delete_by_keys(
    ns: Namespace<'_>,
    table: &str,
    column: &str,
    column_type: &str,
    returning: Option<&str>,
) -> String {
    format!(
        "DELETE FROM {} AS t WHERE t.{} = ANY($1::text[]::{column_type}[]){}",
        ns.qualify(table),
        quote_ident(column),
        returning_text(returning)
    )
}

fn returning_text(column: Option<&str>) -> String {
    column.map_or_else(String::new, |c| {
        format!(" RETURNING t.{}::text", quote_ident(c))
    })
}

/// The documents a reference's policy acted on (`null`, `skip`, `reject`) by the value they
/// missed, so a follow brings them back when a row with that value is written
/// (`crate::follow`'s restore); kept until the document is written again or deleted.
pub fn create_awaiting_targets(state: &str) -> [String; 2] {
    let s = quote_ident(state);
    [
        format!(
            "CREATE TABLE IF NOT EXISTS {s}.awaiting_targets (
    target_table text NOT NULL,
    target_column text NOT NULL,
    value text NOT NULL,
    collection text NOT NULL,
    document_key text NOT NULL,
    PRIMARY KEY (target_table, target_column, value, collection, document_key)
)"
        ),
        format!(
            "CREATE INDEX IF NOT EXISTS awaiting_targets_document_idx \
             ON {s}.awaiting_targets (collection, document_key)"
        ),
    ]
}

/// Remembers the (root document key, missing value) pairs of `table.column` (`table` already
/// qualified, joined up `links` like [`select_dangling`]) as awaiting their target; `$1`: target
/// table, `$2`: target column, `$3`: collection.
pub fn record_awaiting(
    state: &str,
    table: &str,
    links: &[ParentLink],
    root_key: &str,
    column: &str,
    condition: &str,
) -> String {
    let (from, root) = root_of(table, links, root_key);
    format!(
        "INSERT INTO {}.awaiting_targets (target_table, target_column, value, collection, document_key) \
         SELECT DISTINCT $1, $2, t.{}::text, $3, {root}::text FROM {from} WHERE {condition} \
         ON CONFLICT DO NOTHING",
        quote_ident(state),
        quote_ident(column)
    )
}

/// Forgets what documents `$2` (keys) of collection `$1` awaited: they are written anew.
pub fn delete_document_awaiting(state: &str) -> String {
    format!(
        "DELETE FROM {}.awaiting_targets WHERE collection = $1 AND document_key = ANY($2)",
        quote_ident(state)
    )
}

/// Takes the documents awaiting one of the values now written: (target table `$1`, column `$2`,
/// value `$3`) triples, parallel arrays. Returns their collection and key.
pub fn take_awaiting(state: &str) -> String {
    format!(
        "DELETE FROM {}.awaiting_targets AS a \
         USING unnest($1::text[], $2::text[], $3::text[]) AS u(target_table, target_column, value) \
         WHERE a.target_table = u.target_table AND a.target_column = u.target_column \
         AND a.value = u.value RETURNING a.collection, a.document_key",
        quote_ident(state)
    )
}
