//! [`CopyEncoder`]: rows to PostgreSQL's binary `COPY ... FROM STDIN (FORMAT binary)` payloads,
//! one per table of a model. This is the only place that writes the COPY stream.
//!
//! ```text
//! header   "PGCOPY\n\xff\r\n\0", i32 flags 0, i32 header-extension length 0
//! row      i16 field count, then each field (PgValue::encode: i32 length and bytes, or -1)
//! trailer  i16 -1
//! ```
//!
//! Values are encoded straight into the table's buffer as the derived code hands them over, so a
//! row costs no allocation beyond the buffer's own growth.

use super::pool::{self, BufferPool};
use crate::transform::RowSink;
use crate::value::PgValue;

/// The signature, flags and header extension length that open every binary COPY stream.
pub const COPY_HEADER: [u8; 19] = *b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";
/// The field count that ends a binary COPY stream.
pub const COPY_TRAILER: [u8; 2] = (-1i16).to_be_bytes();

/// Encodes the rows a model's documents produce into one binary COPY payload per table.
///
/// Feed it documents through [`RowSink`] (for example with
/// [`crate::schema::ModelHandle::transform`]), then [`take`](Self::take) each table's payload and
/// send it with `COPY table (columns in model order) FROM STDIN (FORMAT binary)`.
#[derive(Debug, Default)]
pub struct CopyEncoder {
    tables: Vec<TableBuffer>,
    open: Option<OpenRow>,
    /// Bytes and rows of each table when the current document began.
    document_start: Vec<(usize, u64)>,
    /// Where the next batch's buffers come from (see [`CopyEncoder::with_pool`]).
    pool: Option<BufferPool>,
    /// A table's buffer that could not be allocated: (table, bytes); see
    /// [`CopyEncoder::allocation_failure`].
    failed: Option<(usize, usize)>,
}

#[derive(Debug, Default)]
struct TableBuffer {
    /// Header and complete rows; empty until the first row.
    buf: Vec<u8>,
    rows: u64,
    /// Bytes of the last payload taken: the next one is likely as large.
    last_size: usize,
}

/// The row being written: its table and where its field count goes.
#[derive(Debug)]
struct OpenRow {
    table: usize,
    start: usize,
    fields: u16,
}

impl CopyEncoder {
    /// An encoder for a model with `table_count` tables (index = [`crate::model::ModelDef::tables`]
    /// index).
    pub fn new(table_count: usize) -> Self {
        CopyEncoder {
            tables: (0..table_count).map(|_| TableBuffer::default()).collect(),
            open: None,
            document_start: Vec::with_capacity(table_count),
            pool: None,
            failed: None,
        }
    }

    /// Starts each table's next payload in a buffer of `pool` (where the writers give the
    /// payloads they wrote back) rather than in a new one.
    pub fn with_pool(mut self, pool: BufferPool) -> Self {
        self.pool = Some(pool);
        self
    }

    /// The number of tables.
    pub fn table_count(&self) -> usize {
        self.tables.len()
    }

    /// Complete rows waiting in `table`.
    pub fn rows(&self, table: usize) -> u64 {
        self.tables.get(table).map_or(0, |t| t.rows)
    }

    /// Bytes waiting in `table` (header and rows), for sizing batches.
    pub fn bytes(&self, table: usize) -> usize {
        self.tables.get(table).map_or(0, |t| t.buf.len())
    }

    /// Bytes waiting in all tables.
    pub fn total_bytes(&self) -> usize {
        self.tables.iter().map(|t| t.buf.len()).sum()
    }

    /// Whether no table has a complete row.
    pub fn is_empty(&self) -> bool {
        self.tables.iter().all(|t| t.rows == 0)
    }

    /// The complete COPY payload of `table` (header, rows, trailer), or `None` if it has no rows.
    /// The table starts over empty. A row still being written in it is dropped.
    pub fn take(&mut self, table: usize) -> Option<Vec<u8>> {
        if self.open.as_ref().is_some_and(|row| row.table == table) {
            self.abandon_open_row();
        }
        let t = self.tables.get_mut(table)?;
        if t.rows == 0 {
            t.buf.clear();
            return None;
        }
        t.rows = 0;
        t.last_size = t.buf.len() + COPY_TRAILER.len();
        // The next buffer is taken at the next row: a partition's last batch leaves none unused.
        let mut payload = std::mem::take(&mut t.buf);
        payload.extend_from_slice(&COPY_TRAILER);
        Some(payload)
    }

    /// The table whose buffer could not be allocated since the last call, and how many bytes it
    /// asked for. The rows went on into a buffer that grows as they come, but memory is short:
    /// the caller stops here.
    pub fn allocation_failure(&mut self) -> Option<(usize, usize)> {
        self.failed.take()
    }

    /// Gives `table` a buffer if it has none: as large as the table's last payload rather than
    /// grown again by doubling (copies and page faults), from the pool if there is one. `Err`:
    /// the bytes that could not be allocated.
    fn ensure_buffer(&mut self, table: usize) -> Result<(), usize> {
        let Some(t) = self.tables.get_mut(table) else {
            return Ok(());
        };
        if t.buf.capacity() > 0 {
            return Ok(());
        }
        let size = t.last_size.max(COPY_HEADER.len());
        let buf = match &self.pool {
            Some(pool) => pool.take(size),
            None => pool::fresh(size),
        };
        t.buf = buf.map_err(|_| size)?;
        Ok(())
    }

    /// Drops every row of every table, keeping the buffers' memory.
    pub fn clear(&mut self) {
        self.open = None;
        for t in &mut self.tables {
            t.buf.clear();
            t.rows = 0;
        }
    }

    fn abandon_open_row(&mut self) {
        if let Some(row) = self.open.take() {
            if let Some(t) = self.tables.get_mut(row.table) {
                t.buf.truncate(row.start);
            }
        }
    }
}

impl RowSink for CopyEncoder {
    /// Starts a row of `table`. A row left unfinished (no `end_row`) is dropped, as
    /// [`crate::transform::RowSet`] does.
    fn begin_row(&mut self, table: usize) {
        self.abandon_open_row();
        debug_assert!(
            table < self.tables.len(),
            "table {table} is not in the model"
        );
        if table >= self.tables.len() {
            self.tables.resize_with(table + 1, TableBuffer::default);
        }
        if let Err(size) = self.ensure_buffer(table) {
            // The rows go on into a buffer that grows as they come; the caller stops here.
            self.failed = Some((table, size));
        }
        let t = &mut self.tables[table];
        if t.buf.is_empty() {
            t.buf.extend_from_slice(&COPY_HEADER);
        }
        let start = t.buf.len();
        t.buf.extend_from_slice(&[0, 0]);
        self.open = Some(OpenRow {
            table,
            start,
            fields: 0,
        });
    }

    fn value(&mut self, value: &dyn PgValue) {
        debug_assert!(self.open.is_some(), "value written outside a row");
        if let Some(row) = &mut self.open {
            if let Some(t) = self.tables.get_mut(row.table) {
                value.encode(&mut t.buf);
                row.fields = row.fields.saturating_add(1);
            }
        }
    }

    fn encoded(&mut self, field: &[u8], _value: &dyn PgValue) {
        if let Some(row) = &mut self.open {
            if let Some(t) = self.tables.get_mut(row.table) {
                t.buf.extend_from_slice(field);
                row.fields = row.fields.saturating_add(1);
            }
        }
    }

    fn end_row(&mut self) {
        let Some(row) = self.open.take() else {
            return;
        };
        if let Some(t) = self.tables.get_mut(row.table) {
            // PostgreSQL tables have at most 1600 columns.
            let count = i16::try_from(row.fields).unwrap_or(i16::MAX);
            t.buf[row.start..row.start + 2].copy_from_slice(&count.to_be_bytes());
            t.rows += 1;
        }
    }

    fn begin_document(&mut self) {
        self.abandon_open_row();
        self.document_start.clear();
        self.document_start
            .extend(self.tables.iter().map(|t| (t.buf.len(), t.rows)));
    }

    fn abandon_document(&mut self) {
        self.open = None;
        for (t, &(len, rows)) in self.tables.iter_mut().zip(&self.document_start) {
            t.buf.truncate(len);
            t.rows = rows;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(encoder: &mut CopyEncoder, table: usize, values: &[&dyn PgValue]) {
        encoder.begin_row(table);
        for v in values {
            encoder.value(*v);
        }
        encoder.end_row();
    }

    #[test]
    fn header_rows_and_trailer() {
        let mut encoder = CopyEncoder::new(2);
        row(&mut encoder, 0, &[&7i32, &"ab".to_string(), &None::<bool>]);
        row(&mut encoder, 0, &[&-1i32, &String::new(), &Some(true)]);
        assert_eq!(encoder.rows(0), 2);
        assert_eq!(encoder.rows(1), 0);
        let mut expected = b"PGCOPY\n\xff\r\n\x00".to_vec();
        expected.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]);
        expected.extend_from_slice(&[0, 3, 0, 0, 0, 4, 0, 0, 0, 7, 0, 0, 0, 2, b'a', b'b']);
        expected.extend_from_slice(&[0xff, 0xff, 0xff, 0xff]);
        expected.extend_from_slice(&[0, 3, 0, 0, 0, 4, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
        expected.extend_from_slice(&[0, 0, 0, 1, 1]);
        assert_eq!(encoder.bytes(0), expected.len());
        assert_eq!(encoder.total_bytes(), expected.len());
        expected.extend_from_slice(&[0xff, 0xff]);
        assert_eq!(encoder.take(0), Some(expected));
    }

    #[test]
    fn take_resets_the_table_and_needs_rows() {
        let mut encoder = CopyEncoder::new(3);
        assert_eq!(encoder.take(1), None);
        assert!(encoder.is_empty());
        row(&mut encoder, 2, &[&1i64]);
        row(&mut encoder, 1, &[]);
        assert!(!encoder.is_empty());
        let first = encoder.take(2).expect("rows in table 2");
        assert_eq!(first.len(), 19 + 2 + 12 + 2);
        assert_eq!(encoder.rows(2), 0);
        assert_eq!(encoder.bytes(2), 0);
        assert_eq!(encoder.take(2), None);
        row(&mut encoder, 2, &[&1i64]);
        assert_eq!(encoder.take(2), Some(first), "the header is written again");
        assert_eq!(encoder.take(1).map(|p| p.len()), Some(19 + 2 + 2));
        assert_eq!(encoder.take(9), None);
    }

    #[test]
    fn unfinished_rows_are_dropped() {
        let mut encoder = CopyEncoder::new(1);
        encoder.begin_row(0);
        encoder.value(&1i32);
        row(&mut encoder, 0, &[&2i32]);
        assert_eq!(encoder.rows(0), 1);
        encoder.begin_row(0);
        encoder.value(&3i32);
        let payload = encoder.take(0).expect("one complete row");
        assert_eq!(&payload[19..], &[0, 1, 0, 0, 0, 4, 0, 0, 0, 2, 0xff, 0xff]);
        encoder.end_row();
        assert_eq!(encoder.rows(0), 0, "end_row after take closes nothing");
    }

    #[test]
    fn payloads_given_back_to_the_pool_start_the_next_batches() {
        let pool = BufferPool::new(1 << 20);
        let mut encoder = CopyEncoder::new(2).with_pool(pool.clone());
        row(&mut encoder, 0, &[&1i64]);
        let first = encoder.take(0).expect("a row");
        let address = first.as_ptr();
        pool.give(first);
        // The next row of the table starts in the buffer given back.
        row(&mut encoder, 0, &[&2i64]);
        let second = encoder.take(0).expect("a row");
        assert_eq!(second.as_ptr(), address, "the pooled buffer");
        assert_eq!(
            &second[19..21],
            &[0, 1],
            "one field: nothing left of the old rows"
        );
        assert_eq!(pool.idle_bytes(), 0);
        // Nothing is taken until a row needs it.
        assert_eq!(encoder.take(0), None);
        assert_eq!(encoder.tables[0].buf.capacity(), 0);
    }

    #[test]
    fn clear_drops_everything() {
        let mut encoder = CopyEncoder::new(2);
        row(&mut encoder, 0, &[&true]);
        row(&mut encoder, 1, &[&false]);
        encoder.clear();
        assert_eq!(
            (encoder.rows(0), encoder.rows(1), encoder.total_bytes()),
            (0, 0, 0)
        );
        assert_eq!(encoder.take(0), None);
        assert_eq!(encoder.table_count(), 2);
    }
}
