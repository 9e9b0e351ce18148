//! What the run's reference actions did to the rows of one document after the load: `skip`
//! removed rows (and the rows hanging off them), `null` emptied columns. Validation replays them
//! on the document's freshly transformed rows.

use std::collections::HashSet;

use bson::RawDocument;

use crate::schema::ModelHandle;
use crate::transform::{RowSet, RowSink};
use crate::value::{Cell, PgValue};

/// A recorded action on the rows of one document: in table `table`, rows whose column `column`
/// holds `value` (as PostgreSQL prints it) were removed (`skip`) or had it set to NULL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RecordedAction {
    pub(super) table: usize,
    pub(super) column: usize,
    pub(super) value: String,
    pub(super) skip: bool,
}

/// What became of one row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct RowEdit {
    dropped: bool,
    /// Column indexes set to NULL.
    nulled: Vec<usize>,
}

/// Per table, per row (in the order the document produces them), what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RowEdits {
    tables: Vec<Vec<RowEdit>>,
}

impl RowEdits {
    /// Transforms `doc` and applies `actions` to its rows. A row is dropped when a `skip` action
    /// matches one of its columns or its parent row was dropped.
    pub(super) fn new(
        model: &ModelHandle,
        doc: &RawDocument,
        actions: &[RecordedAction],
    ) -> Result<RowEdits, String> {
        let def = model.def();
        let mut rows = RowSet::new(def);
        model
            .transform(doc, &mut rows)
            .map_err(|e| e.error.to_string())?;
        let mut dropped_keys: Vec<HashSet<String>> = vec![HashSet::new(); def.tables.len()];
        let mut tables = Vec::with_capacity(def.tables.len());
        for (index, table) in def.tables.iter().enumerate() {
            let parent = table.parent().and_then(|(parent, column)| {
                let column = table.columns.iter().position(|c| c.name == column)?;
                Some((parent, column))
            });
            let key_column = match table.primary_key.as_slice() {
                [key] => table.columns.iter().position(|c| &c.name == key),
                _ => None,
            };
            let mut edits = Vec::with_capacity(rows.rows(index).len());
            for row in rows.rows(index) {
                let holds = |column: usize, value: &str| {
                    row.get(column)
                        .and_then(cell_text)
                        .is_some_and(|v| v == value)
                };
                let matching = || {
                    actions
                        .iter()
                        .filter(|a| a.table == index && holds(a.column, &a.value))
                };
                let orphaned = parent.is_some_and(|(p, column)| {
                    let parent_key = row.get(column).and_then(cell_text);
                    parent_key.is_some_and(|k| dropped_keys.get(p).is_some_and(|d| d.contains(&k)))
                });
                let dropped = orphaned || matching().any(|a| a.skip);
                if dropped {
                    if let Some(key) = key_column.and_then(|c| row.get(c)).and_then(cell_text) {
                        dropped_keys[index].insert(key);
                    }
                }
                let nulled = matching().filter(|a| !a.skip).map(|a| a.column).collect();
                edits.push(RowEdit { dropped, nulled });
            }
            tables.push(edits);
        }
        Ok(RowEdits { tables })
    }

    /// The rows left per table.
    pub(super) fn counts(&self) -> Vec<u64> {
        self.tables
            .iter()
            .map(|rows| rows.iter().filter(|r| !r.dropped).count() as u64)
            .collect()
    }

    fn row(&self, table: usize, ordinal: usize) -> Option<&RowEdit> {
        self.tables.get(table)?.get(ordinal)
    }
}

/// A key-like value as PostgreSQL prints it (`::text`), as `reference_issues` records it.
fn cell_text(cell: &Cell) -> Option<String> {
    match cell {
        Cell::Bool(b) => Some(b.to_string()),
        Cell::Int(i) => Some(i.to_string()),
        Cell::BigInt(i) => Some(i.to_string()),
        Cell::Numeric(n) => Some(n.clone()),
        Cell::Text(s) | Cell::Enum(s) => Some(s.clone()),
        Cell::Uuid(u) => Some(u.hyphenated().to_string()),
        _ => None,
    }
}

/// NULL, whatever the column's type.
const NULL: Option<i32> = None;

/// Forwards a document's rows to `inner` as the target holds them after the reference actions:
/// dropped rows left out, emptied columns as NULL.
#[derive(Debug)]
pub(super) struct Edited<'a, S: RowSink> {
    inner: &'a mut S,
    edits: &'a RowEdits,
    seen: Vec<usize>,
    /// `seen` when the current document began.
    seen_before: Vec<usize>,
    current: Option<&'a RowEdit>,
    forwarding: bool,
    column: usize,
}

impl<'a, S: RowSink> Edited<'a, S> {
    pub(super) fn new(inner: &'a mut S, edits: &'a RowEdits) -> Self {
        Edited {
            inner,
            edits,
            seen: vec![0; edits.tables.len()],
            seen_before: Vec::new(),
            current: None,
            forwarding: false,
            column: 0,
        }
    }
}

impl<S: RowSink> RowSink for Edited<'_, S> {
    fn begin_row(&mut self, table: usize) {
        let ordinal = self.seen.get(table).copied().unwrap_or(0);
        if let Some(n) = self.seen.get_mut(table) {
            *n += 1;
        }
        self.current = self.edits.row(table, ordinal);
        self.forwarding = !self.current.is_some_and(|e| e.dropped);
        self.column = 0;
        if self.forwarding {
            self.inner.begin_row(table);
        }
    }

    fn value(&mut self, value: &dyn PgValue) {
        let column = self.column;
        self.column += 1;
        if !self.forwarding {
            return;
        }
        if self.current.is_some_and(|e| e.nulled.contains(&column)) {
            self.inner.value(&NULL);
        } else {
            self.inner.value(value);
        }
    }

    fn end_row(&mut self) {
        if std::mem::take(&mut self.forwarding) {
            self.inner.end_row();
        }
        self.current = None;
    }

    fn begin_document(&mut self) {
        self.seen_before.clone_from(&self.seen);
        self.inner.begin_document();
    }

    fn abandon_document(&mut self) {
        self.seen.clone_from(&self.seen_before);
        self.current = None;
        self.forwarding = false;
        self.inner.abandon_document();
    }
}

/// A [`RowSink`] that only counts complete rows per table.
#[derive(Debug)]
pub(super) struct RowCounter {
    rows: Vec<u64>,
    current: Option<usize>,
    rows_before: Vec<u64>,
}

impl RowCounter {
    pub(super) fn new(tables: usize) -> Self {
        RowCounter {
            rows: vec![0; tables],
            current: None,
            rows_before: Vec::new(),
        }
    }

    pub(super) fn into_counts(self) -> Vec<u64> {
        self.rows
    }
}

impl RowSink for RowCounter {
    fn begin_row(&mut self, table: usize) {
        self.current = Some(table);
    }

    fn value(&mut self, _value: &dyn PgValue) {}

    fn end_row(&mut self) {
        if let Some(n) = self.current.take().and_then(|t| self.rows.get_mut(t)) {
            *n += 1;
        }
    }

    fn begin_document(&mut self) {
        self.rows_before.clone_from(&self.rows);
    }

    fn abandon_document(&mut self) {
        self.current = None;
        self.rows.clone_from(&self.rows_before);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_cells_print_like_postgres() {
        let u = uuid::Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
        assert_eq!(
            cell_text(&Cell::Uuid(u)).as_deref(),
            Some("01234567-89ab-cdef-0123-456789abcdef")
        );
        assert_eq!(cell_text(&Cell::Int(-4)).as_deref(), Some("-4"));
        assert_eq!(
            cell_text(&Cell::BigInt(1 << 40)).as_deref(),
            Some("1099511627776")
        );
        assert_eq!(cell_text(&Cell::Bool(true)).as_deref(), Some("true"));
        assert_eq!(cell_text(&Cell::Null), None);
    }

    /// Records what reaches it: (table, values as cells) per complete row.
    #[derive(Default)]
    struct Recorder {
        rows: Vec<(usize, Vec<Cell>)>,
        open: Option<(usize, Vec<Cell>)>,
    }

    impl RowSink for Recorder {
        fn begin_row(&mut self, table: usize) {
            self.open = Some((table, Vec::new()));
        }
        fn value(&mut self, value: &dyn PgValue) {
            if let Some((_, row)) = &mut self.open {
                row.push(value.to_cell());
            }
        }
        fn end_row(&mut self) {
            self.rows.extend(self.open.take());
        }
        fn begin_document(&mut self) {}
        fn abandon_document(&mut self) {}
    }

    #[test]
    fn edited_rows_leave_out_dropped_rows_and_empty_columns() {
        let edit = |dropped: bool, nulled: Vec<usize>| RowEdit { dropped, nulled };
        let edits = RowEdits {
            tables: vec![
                vec![edit(false, vec![1])],
                vec![edit(true, vec![]), edit(false, vec![]), edit(true, vec![])],
            ],
        };
        assert_eq!(edits.counts(), vec![1, 1]);
        let mut recorder = Recorder::default();
        let mut sink = Edited::new(&mut recorder, &edits);
        for (table, values) in [(0, [1, 2]), (1, [3, 4]), (1, [5, 6]), (1, [7, 8])] {
            sink.begin_row(table);
            for v in values {
                sink.value(&v);
            }
            sink.end_row();
        }
        assert_eq!(
            recorder.rows,
            vec![
                (0, vec![Cell::Int(1), Cell::Null]),
                (1, vec![Cell::Int(5), Cell::Int(6)]),
            ]
        );
    }

    #[test]
    fn the_counter_counts_complete_rows() {
        let mut counter = RowCounter::new(2);
        counter.begin_row(1);
        counter.value(&1i32);
        counter.end_row();
        counter.end_row();
        counter.begin_row(0);
        assert_eq!(counter.into_counts(), vec![0, 1]);
    }
}
