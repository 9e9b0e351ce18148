//! [`Batch`]: the unit of work that lands whole or not at all, with the checkpoint that records it.

use bson::RawDocumentBuf;

use crate::dead_letter::DeadLetter;
use crate::schema::ModelHandle;
use crate::sink::copy::CopyEncoder;
use crate::source::{Partition, Position};

/// Per table of a model: its rows of a batch in COPY binary form (`None`: no rows).
pub type Payloads = Vec<Option<Vec<u8>>>;

/// Consecutive documents of one partition, transformed and encoded.
#[derive(Debug)]
pub struct Batch {
    pub collection: String,
    pub partition: Partition,
    /// The documents that transformed, kept so a batch PostgreSQL refuses can be split.
    pub docs: Vec<RawDocumentBuf>,
    /// One COPY payload per table of the model (`None` for tables without rows).
    pub payloads: Payloads,
    /// Rows per table in `payloads`.
    pub rows: Vec<u64>,
    /// Documents that failed their transformation.
    pub dead_letters: Vec<DeadLetter>,
    /// Every document consumed from the source for this batch (transformed or not).
    pub documents_read: u64,
    /// Where the partition stood when this batch started.
    pub start: Position,
    /// Where the partition resumes after this batch.
    pub end: Position,
    /// Whether this is the partition's last batch.
    pub done: bool,
    /// Seconds spent reading and transforming.
    pub seconds: f64,
}

impl Batch {
    pub fn total_rows(&self) -> u64 {
        self.rows.iter().sum()
    }

    pub fn encoded_bytes(&self) -> usize {
        self.payloads.iter().flatten().map(Vec::len).sum()
    }
}

/// Encodes `docs` (which already transformed once) into fresh payloads, for split retries.
pub fn encode(model: &ModelHandle, docs: &[RawDocumentBuf]) -> (Payloads, Vec<u64>) {
    let tables = model.def().tables.len();
    let mut encoder = CopyEncoder::new(tables);
    for doc in docs {
        // These documents transformed before; a failure now would be a bug, and it is skipped
        // here only because the rows would be missing from the payload, which the row counts show.
        let _ = model.transform(doc, &mut encoder);
    }
    take_all(&mut encoder, tables)
}

/// Takes every table's payload and row count out of an encoder.
pub fn take_all(encoder: &mut CopyEncoder, tables: usize) -> (Payloads, Vec<u64>) {
    let rows: Vec<u64> = (0..tables).map(|t| encoder.rows(t)).collect();
    let payloads = (0..tables).map(|t| encoder.take(t)).collect();
    (payloads, rows)
}
