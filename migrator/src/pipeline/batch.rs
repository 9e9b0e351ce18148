//! [`Batch`]: the unit of work that lands whole or not at all, with the checkpoint that records it.

use bson::{RawDocument, RawDocumentBuf};

use crate::dead_letter::DeadLetter;
use crate::run_error::RunError;
use crate::schema::ModelHandle;
use crate::sink::copy::CopyEncoder;
use crate::sink::pool::BufferPool;
use crate::source::{Partition, Position, Source};
use crate::transform::RowCounter;

/// Per table of a model: its rows of a batch in COPY binary form (`None`: no rows).
pub type Payloads = Vec<Option<Vec<u8>>>;

/// Consecutive documents of one partition, transformed and encoded.
#[derive(Debug)]
pub struct Batch {
    pub collection: String,
    pub partition: Partition,
    /// The documents that transformed, kept so a batch PostgreSQL refuses can be split, unless
    /// the source can read them again ([`crate::source::Source::rereadable`]): then it is empty.
    pub docs: Documents,
    /// Whether `docs` holds the batch's documents (else they are read again, see [`reread`]).
    pub docs_kept: bool,
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
    /// The key census of the batch's documents (all read, dead letters included), committed
    /// with it.
    pub census: crate::census::KeyCensus,
}

impl Batch {
    pub fn total_rows(&self) -> u64 {
        self.rows.iter().sum()
    }

    pub fn encoded_bytes(&self) -> usize {
        self.payloads.iter().flatten().map(Vec::len).sum()
    }

    /// Gives the batch's buffers to `pool`, for the batches read next.
    pub fn give_buffers(self, pool: &BufferPool) {
        for payload in self.payloads.into_iter().flatten() {
            pool.give(payload);
        }
        pool.give(self.docs.bytes);
    }
}

/// A batch's documents one after another in one buffer (from a [`BufferPool`]), where a buffer
/// per document cost an allocation on the reading thread and a free on the writing one for
/// every document.
#[derive(Debug, Default)]
pub struct Documents {
    bytes: Vec<u8>,
    /// Where each document ends in `bytes`.
    ends: Vec<usize>,
}

impl Documents {
    /// Documents to be pushed into `bytes` (emptied first).
    pub fn in_buffer(mut bytes: Vec<u8>) -> Self {
        bytes.clear();
        Documents {
            bytes,
            ends: Vec::new(),
        }
    }

    /// Appends `doc`; fails, keeping what it held, if its bytes cannot be allocated.
    pub fn push(&mut self, doc: &RawDocument) -> Result<(), std::collections::TryReserveError> {
        crate::allocator::try_reserve(&mut self.bytes, doc.as_bytes().len())?;
        self.bytes.extend_from_slice(doc.as_bytes());
        self.ends.push(self.bytes.len());
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Bytes of all the documents.
    pub fn byte_len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether it has a buffer to push into yet ([`Documents::default`] has none).
    pub fn has_buffer(&self) -> bool {
        self.bytes.capacity() > 0
    }

    /// The documents in the order they were pushed.
    pub fn iter(&self) -> impl Iterator<Item = &RawDocument> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts.zip(&self.ends).filter_map(|(start, end)| {
            // Every slice is a document `push` copied whole, so this cannot fail.
            RawDocument::from_bytes(self.bytes.get(start..*end)?).ok()
        })
    }
}

/// Where a batch's documents are in its partition: what reading them again needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    pub collection: String,
    pub partition: Partition,
    pub start: Position,
    pub end: Position,
    /// Documents read from `start` to `end`, dead letters included.
    pub documents: u64,
}

impl Batch {
    /// Where its documents are (see [`reread`]).
    pub fn span(&self) -> Span {
        Span {
            collection: self.collection.clone(),
            partition: self.partition.clone(),
            start: self.start.clone(),
            end: self.end.clone(),
            documents: self.documents_read,
        }
    }
}

/// The documents of a batch that kept none, read again from the source: those that transform
/// (the others are its dead letters already). The source must give exactly the batch's
/// documents again, from its start to its end.
pub fn reread(
    source: &dyn Source,
    model: &ModelHandle,
    span: &Span,
) -> Result<Vec<RawDocumentBuf>, RunError> {
    let stream = source.read(&span.collection, &span.partition, &span.start)?;
    let limit = usize::try_from(span.documents).unwrap_or(usize::MAX);
    let mut counter = RowCounter::new(model.def().tables.len());
    let mut docs = Vec::new();
    let mut read = 0u64;
    let mut end = span.start.clone();
    for item in stream.take(limit) {
        let positioned = item?;
        read += 1;
        end = positioned.next;
        if model.transform(&positioned.doc, &mut counter).is_ok() {
            docs.push(positioned.doc);
        }
    }
    if read != span.documents || end != span.end {
        return Err(RunError::Internal(format!(
            "partition {} of `{}` read again from {:?} gave {read} documents up to {end:?}, not \
             the batch's {} up to {:?}: the source changed during the run",
            span.partition.index, span.collection, span.start, span.documents, span.end
        )));
    }
    Ok(docs)
}

/// Encodes `docs` (which already transformed once) into fresh payloads, for split retries.
pub fn encode(model: &ModelHandle, docs: &[&RawDocument]) -> (Payloads, Vec<u64>) {
    let tables = model.def().tables.len();
    let mut encoder = CopyEncoder::new(tables);
    for doc in docs {
        // These documents transformed before; a failure now would be a bug, and it is skipped
        // here only because the rows would be missing from the payload, which the row counts show.
        let _ = model.encode(doc, &mut encoder);
    }
    take_all(&mut encoder, tables)
}

/// Takes every table's payload and row count out of an encoder.
pub fn take_all(encoder: &mut CopyEncoder, tables: usize) -> (Payloads, Vec<u64>) {
    let rows: Vec<u64> = (0..tables).map(|t| encoder.rows(t)).collect();
    let payloads = (0..tables).map(|t| encoder.take(t)).collect();
    (payloads, rows)
}

#[cfg(test)]
mod tests {
    use super::Documents;

    #[test]
    fn documents_come_back_whole_in_order_from_an_emptied_buffer() {
        let docs: Vec<bson::RawDocumentBuf> = (0..5)
            .map(|i| bson::rawdoc! { "_id": i, "name": "x".repeat(i as usize * 7) })
            .collect();
        let mut kept = Documents::default();
        for doc in &docs {
            kept.push(doc).expect("room");
        }
        assert_eq!(kept.len(), 5);
        let total: usize = docs.iter().map(|d| d.as_bytes().len()).sum();
        assert_eq!(kept.byte_len(), total);
        let back: Vec<&[u8]> = kept.iter().map(|d| d.as_bytes()).collect();
        let expected: Vec<&[u8]> = docs.iter().map(|d| d.as_bytes()).collect();
        assert_eq!(back, expected);

        // A buffer given back is emptied before it is filled again.
        let mut again = Documents::in_buffer(b"stale bytes".to_vec());
        assert!(again.is_empty() && again.has_buffer() && again.iter().next().is_none());
        again.push(&docs[3]).expect("room");
        assert_eq!(
            again.iter().map(|d| d.as_bytes()).collect::<Vec<_>>(),
            [docs[3].as_bytes()]
        );
    }
}
