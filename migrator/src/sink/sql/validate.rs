//! Validation (see `crate::validate`): counts, orphaned references, sampled round trips.

use super::references::{from_up_to_root, ParentLink};
use super::Namespace;
use crate::model::TableDef;
use crate::naming::quote_ident;

/// Where validation puts the expected rows of sampled documents: the session's temporary schema.
pub const TEMP: Namespace<'static> = Namespace(Some("pg_temp"));

/// `ANALYZE` a temp table, so comparisons joining it get sensible plans.
pub fn analyze_temp(temp: &str) -> String {
    format!("ANALYZE {}", TEMP.qualify(temp))
}

/// Rows of `table` whose `column` holds a value (for an array column: an element) that
/// `target_table.target_column` does not have.
pub fn count_orphans(
    ns: Namespace<'_>,
    table: &str,
    column: &str,
    array: bool,
    target_table: &str,
    target_column: &str,
) -> String {
    let col = quote_ident(column);
    let missing = |value: &str| {
        format!(
            "{value} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {} AS x WHERE x.{} = {value})",
            ns.qualify(target_table),
            quote_ident(target_column)
        )
    };
    let condition = if array {
        format!(
            "EXISTS (SELECT 1 FROM unnest(t.{col}) AS v(value) WHERE {})",
            missing("v.value")
        )
    } else {
        missing(&format!("t.{col}"))
    };
    format!(
        "SELECT count(*) FROM {} AS t WHERE {condition}",
        ns.qualify(table)
    )
}

/// `CREATE TEMP TABLE` shaped like a target table (columns, types, NOT NULL).
pub fn create_temp_like(temp: &str, ns: Namespace<'_>, table: &str) -> String {
    format!(
        "CREATE TEMP TABLE {} (LIKE {})",
        TEMP.qualify(temp),
        ns.qualify(table)
    )
}

/// `DROP TABLE` of temporary tables.
pub fn drop_temp(temps: &[String]) -> String {
    let names: Vec<String> = temps.iter().map(|t| TEMP.qualify(t)).collect();
    format!("DROP TABLE IF EXISTS {}", names.join(", "))
}

/// Every column of every expected row of a collection table that differs from the target row
/// with the same primary key: `(key text, column index, expected text, actual text)`. A target
/// row that is missing gives one line with column index -1.
pub fn compare_columns(temp: &str, ns: Namespace<'_>, table: &TableDef) -> String {
    let pk: Vec<String> = table.primary_key.iter().map(|c| quote_ident(c)).collect();
    let first = pk.first().cloned().unwrap_or_else(|| quote_ident("id"));
    let join: Vec<String> = pk.iter().map(|c| format!("a.{c} = e.{c}")).collect();
    let values: Vec<String> = table
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let c = quote_ident(&c.name);
            format!("({i}, e.{c}::text, a.{c}::text, e.{c} IS DISTINCT FROM a.{c})")
        })
        .collect();
    format!(
        "SELECT e.{first}::text, CASE WHEN a.{first} IS NULL THEN -1 ELSE d.i END, d.expected, d.actual \
         FROM {} AS e LEFT JOIN {} AS a ON {} \
         CROSS JOIN LATERAL (VALUES {}) AS d(i, expected, actual, differs) \
         WHERE (a.{first} IS NULL AND d.i = 0) OR (a.{first} IS NOT NULL AND d.differs) \
         ORDER BY 1, 2",
        TEMP.qualify(temp),
        ns.qualify(&table.name),
        join.join(" AND "),
        values.join(", ")
    )
}

/// A junction or child table of sampled documents, seen from both sides.
#[derive(Debug, Clone, Copy)]
pub struct SampledRows<'a> {
    pub table: &'a TableDef,
    /// Where the target table lives.
    pub ns: Namespace<'a>,
    /// The temp table holding the expected rows, and its parents up to the root (temp tables).
    pub expected: &'a str,
    pub expected_links: &'a [ParentLink],
    /// The target table's parents up to the root.
    pub actual_links: &'a [ParentLink],
    /// The temp table holding the sampled documents' collection rows, and its key column.
    pub roots: &'a str,
    pub root_key: &'a str,
}

/// The rows one side has and the other has not, among rows that belong to the sampled documents:
/// the root key as text, then every column of the table as text. `missing = true`: expected rows
/// the target lacks; `false`: target rows nobody expects.
pub fn except_rows(rows: &SampledRows<'_>, missing: bool) -> String {
    let cols: Vec<String> = rows
        .table
        .columns
        .iter()
        .map(|c| quote_ident(&c.name))
        .collect();
    let select = |qualified: &str, links: &[ParentLink]| {
        let (from, root) = from_up_to_root(qualified, links);
        let values: Vec<String> = cols.iter().map(|c| format!("t.{c}")).collect();
        (
            format!("SELECT {root}::text, {} FROM {from}", values.join(", ")),
            root,
        )
    };
    let (expected, _) = select(&TEMP.qualify(rows.expected), rows.expected_links);
    let (actual, actual_root) = select(&rows.ns.qualify(&rows.table.name), rows.actual_links);
    let actual = format!(
        "{actual} WHERE {actual_root} IN (SELECT {} FROM {})",
        quote_ident(rows.root_key),
        TEMP.qualify(rows.roots)
    );
    let (first, second) = if missing {
        (expected, actual)
    } else {
        (actual, expected)
    };
    let names: Vec<String> = (0..=cols.len()).map(|i| format!("c{i}")).collect();
    let texts: Vec<String> = names.iter().map(|n| format!("d.{n}::text")).collect();
    format!(
        "SELECT {} FROM ({first} EXCEPT ALL {second}) AS d({}) ORDER BY 1",
        texts.join(", "),
        names.join(", ")
    )
}
