//! `COPY .. FROM STDIN (FORMAT binary)`: into a target table (with the savepoints that isolate
//! the documents of a refused batch), and into validation's temp tables.

use super::validate::TEMP;
use super::{column_list, Namespace};
use crate::model::TableDef;

/// Savepoints of a refused batch's isolation ([`crate::sink::isolate`]): one around all of it,
/// one around each piece tried. Fixed names, never nested deeper than these two.
pub const SAVEPOINT_ISOLATION: &str = "SAVEPOINT migrator_isolation";
pub const ROLLBACK_ISOLATION: &str = "ROLLBACK TO SAVEPOINT migrator_isolation";
pub const RELEASE_ISOLATION: &str = "RELEASE SAVEPOINT migrator_isolation";
pub const SAVEPOINT_PIECE: &str = "SAVEPOINT migrator_piece";
pub const ROLLBACK_PIECE: &str = "ROLLBACK TO SAVEPOINT migrator_piece";
pub const RELEASE_PIECE: &str = "RELEASE SAVEPOINT migrator_piece";

/// `COPY table (columns) FROM STDIN (FORMAT binary)`.
pub fn copy_in(ns: Namespace<'_>, table: &TableDef) -> String {
    let cols: Vec<String> = table.columns.iter().map(|c| c.name.clone()).collect();
    format!(
        "COPY {} ({}) FROM STDIN (FORMAT binary)",
        ns.qualify(&table.name),
        column_list(&cols)
    )
}

/// `COPY temp (the model's columns of table) FROM STDIN (FORMAT binary)`.
pub fn copy_in_temp(temp: &str, table: &TableDef) -> String {
    let cols: Vec<String> = table.columns.iter().map(|c| c.name.clone()).collect();
    format!(
        "COPY {} ({}) FROM STDIN (FORMAT binary)",
        TEMP.qualify(temp),
        column_list(&cols)
    )
}
