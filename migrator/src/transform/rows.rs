//! [`RowSet`]: a [`RowSink`] that keeps rows as [`Cell`]s, for tests, snapshots and validation.

use std::collections::BTreeMap;

use indexmap::IndexMap;
use serde::Serialize;

use super::RowSink;
use crate::model::ModelDef;
use crate::value::{Cell, PgValue};

/// One row: column name -> value, in column order.
pub type Row = IndexMap<String, Cell>;

/// The rows of one table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TableRows {
    pub table: String,
    pub rows: Vec<Row>,
}

/// Rows collected per table, in the model's table order.
#[derive(Debug, Clone, PartialEq)]
pub struct RowSet {
    names: Vec<String>,
    columns: Vec<Vec<String>>,
    tables: Vec<Vec<Vec<Cell>>>,
    current: Option<(usize, Vec<Cell>)>,
    /// Rows per table when the current document began.
    document_start: Vec<usize>,
}

impl RowSet {
    pub fn new(model: &ModelDef) -> Self {
        RowSet {
            names: model.tables.iter().map(|t| t.name.clone()).collect(),
            columns: model
                .tables
                .iter()
                .map(|t| t.columns.iter().map(|c| c.name.clone()).collect())
                .collect(),
            tables: vec![Vec::new(); model.tables.len()],
            current: None,
            document_start: Vec::new(),
        }
    }

    /// The raw rows of table `index`.
    pub fn rows(&self, index: usize) -> &[Vec<Cell>] {
        &self.tables[index]
    }

    /// The rows of the table named `name`, if the model has it.
    pub fn table(&self, name: &str) -> Option<&[Vec<Cell>]> {
        let i = self.names.iter().position(|n| n == name)?;
        Some(&self.tables[i])
    }

    /// Row counts per table name.
    pub fn counts(&self) -> BTreeMap<String, usize> {
        self.names
            .iter()
            .zip(&self.tables)
            .map(|(n, rows)| (n.clone(), rows.len()))
            .collect()
    }

    /// Every non-empty table with its rows as column -> value maps, for snapshots.
    pub fn to_tables(&self) -> Vec<TableRows> {
        self.names
            .iter()
            .zip(&self.columns)
            .zip(&self.tables)
            .filter(|(_, rows)| !rows.is_empty())
            .map(|((name, cols), rows)| TableRows {
                table: name.clone(),
                rows: rows
                    .iter()
                    .map(|r| cols.iter().cloned().zip(r.iter().cloned()).collect())
                    .collect(),
            })
            .collect()
    }

    /// Appends all rows of `other` (same model) to this set.
    pub fn extend(&mut self, other: RowSet) {
        for (mine, theirs) in self.tables.iter_mut().zip(other.tables) {
            mine.extend(theirs);
        }
    }
}

impl RowSink for RowSet {
    fn begin_row(&mut self, table: usize) {
        let width = self.columns.get(table).map_or(0, Vec::len);
        self.current = Some((table, Vec::with_capacity(width)));
    }

    fn value(&mut self, value: &dyn PgValue) {
        if let Some((_, row)) = &mut self.current {
            row.push(value.to_cell());
        }
    }

    fn end_row(&mut self) {
        if let Some((table, row)) = self.current.take() {
            if let Some(rows) = self.tables.get_mut(table) {
                rows.push(row);
            }
        }
    }

    fn begin_document(&mut self) {
        self.current = None;
        self.document_start = self.tables.iter().map(Vec::len).collect();
    }

    fn abandon_document(&mut self) {
        self.current = None;
        for (rows, &len) in self.tables.iter_mut().zip(&self.document_start) {
            rows.truncate(len);
        }
    }
}

/// A [`RowSink`] that only counts rows per table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RowCounter {
    counts: Vec<u64>,
    document_start: Vec<u64>,
}

impl RowCounter {
    pub fn new(tables: usize) -> Self {
        RowCounter {
            counts: vec![0; tables],
            document_start: Vec::new(),
        }
    }

    pub fn counts(&self) -> &[u64] {
        &self.counts
    }
}

impl RowSink for RowCounter {
    fn begin_row(&mut self, table: usize) {
        if let Some(c) = self.counts.get_mut(table) {
            *c += 1;
        }
    }

    fn value(&mut self, _value: &dyn PgValue) {}

    fn end_row(&mut self) {}

    fn begin_document(&mut self) {
        self.document_start.clone_from(&self.counts);
    }

    fn abandon_document(&mut self) {
        self.counts.clone_from(&self.document_start);
    }
}
