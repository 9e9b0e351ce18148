//! Reads one partition on its own thread, transforms each document into COPY rows and cuts
//! batches. The thread starts a batch only once the channel has room for it: a partition holds
//! at most one batch waiting and one being filled, and memory is bounded whatever the data.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc::{Permit, Sender};

use super::batch::{take_all, Batch, Documents};
use super::malformed;
use crate::census::Tally;
use crate::dead_letter::DeadLetter;
use crate::run_error::RunError;
use crate::schema::ModelHandle;
use crate::sink::copy::CopyEncoder;
use crate::sink::pool::BufferPool;
use crate::source::{Partition, Position, RangeClaim, Source, SourceError};

/// A partition being read on a thread of its own.
#[derive(Debug)]
pub struct Reading {
    /// Its batches; the channel holds one, and the thread fills the next one only once that
    /// one is taken.
    pub batches: tokio::sync::mpsc::Receiver<Result<Batch, RunError>>,
    thread: std::thread::JoinHandle<()>,
    /// Through which the load may cut the rest of the range off while it is read (sources
    /// that can, and loads that may split).
    pub claim: Option<Arc<RangeClaim>>,
}

impl Reading {
    /// Starts reading `partition` of `model`'s collection from `from`, filling buffers of
    /// `pool` (where the writer gives back those of the batches it wrote); each `_id` claimed
    /// through `claim`, if given.
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        source: Arc<dyn Source>,
        model: ModelHandle,
        partition: Partition,
        from: Position,
        limits: BatchLimits,
        stop: Arc<AtomicBool>,
        pool: BufferPool,
        claim: Option<Arc<RangeClaim>>,
    ) -> Result<Reading, RunError> {
        let claimed = claim.clone();
        let (tx, batches) = tokio::sync::mpsc::channel(1);
        let collection = model.collection().to_string();
        let runtime = tokio::runtime::Handle::current();
        let thread = std::thread::Builder::new()
            .name(format!("read-{collection}-{}", partition.index))
            .spawn(move || {
                read_partition(
                    source.as_ref(),
                    &model,
                    &collection,
                    &partition,
                    from,
                    limits,
                    &stop,
                    &Batches { tx, runtime },
                    pool,
                    claimed,
                )
            })
            .map_err(|e| RunError::Internal(format!("starting a reader thread: {e}")))?;
        Ok(Reading {
            batches,
            thread,
            claim,
        })
    }

    /// Waits for the thread to end (it ends once its batches are taken, or dropped).
    pub async fn finish(self) {
        drop(self.batches);
        let thread = self.thread;
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    }
}

/// When a batch is cut.
#[derive(Debug, Clone, Copy)]
pub struct BatchLimits {
    pub documents: usize,
    /// The documents as read plus their encoded rows: what a batch holds in memory.
    pub bytes: usize,
}

/// Where a partition's batches go.
struct Batches {
    tx: Sender<Result<Batch, RunError>>,
    runtime: tokio::runtime::Handle,
}

impl Batches {
    /// Waits until the channel has room for one more batch; `None` if the run stopped listening.
    fn room(&self) -> Option<Permit<'_, Result<Batch, RunError>>> {
        self.runtime.block_on(self.tx.reserve()).ok()
    }
}

struct Cutter<'a> {
    model: &'a ModelHandle,
    collection: &'a str,
    partition: &'a Partition,
    encoder: CopyEncoder,
    /// Whether the batches keep their documents (the source cannot read them again).
    keep_documents: bool,
    docs: Documents,
    /// Bytes of the last batch's documents: the next batch's are likely as many.
    docs_size: usize,
    pool: BufferPool,
    dead: Vec<DeadLetter>,
    read: u64,
    start: Position,
    end: Position,
    started: Instant,
    census: Tally,
    /// Whether the census counts (see [`crate::census::counted_while_loading`]).
    count_census: bool,
}

impl Cutter<'_> {
    fn cut(&mut self, done: bool) -> Batch {
        if self.docs.has_buffer() {
            self.docs_size = self.docs.byte_len();
        }
        let tables = self.model.def().tables.len();
        let (payloads, rows) = take_all(&mut self.encoder, tables);
        let batch = Batch {
            collection: self.collection.to_string(),
            partition: self.partition.clone(),
            docs: std::mem::take(&mut self.docs),
            docs_kept: self.keep_documents,
            payloads,
            rows,
            dead_letters: std::mem::take(&mut self.dead),
            documents_read: self.read,
            start: std::mem::replace(&mut self.start, self.end.clone()),
            end: self.end.clone(),
            done,
            seconds: self.started.elapsed().as_secs_f64(),
            census: self.census.take(),
        };
        self.read = 0;
        self.started = Instant::now();
        batch
    }

    fn is_empty(&self) -> bool {
        self.read == 0
    }

    /// Keeps a document that transformed, in a buffer taken at the batch's first document (a
    /// partition's last batch leaves none unused), if batches keep their documents.
    fn keep(&mut self, doc: &bson::RawDocument) -> Result<(), RunError> {
        if !self.keep_documents {
            return Ok(());
        }
        if !self.docs.has_buffer() {
            let buffer = self.pool.take(self.docs_size).map_err(|_| {
                self.out_of_memory("the buffer of a batch's documents", self.docs_size)
            })?;
            self.docs = Documents::in_buffer(buffer);
        }
        let more = self.docs.byte_len() + doc.as_bytes().len();
        self.docs
            .push(doc)
            .map_err(|_| self.out_of_memory("the buffer of a batch's documents", more))
    }

    /// The error of a buffer for `what` of `bytes` that could not be allocated.
    fn out_of_memory(&self, what: &str, bytes: usize) -> RunError {
        RunError::OutOfMemory {
            collection: self.collection.to_string(),
            what: what.to_string(),
            bytes,
        }
    }

    /// Whether the rows of the last document found no memory for a table's buffer.
    fn encoder_failed(&mut self) -> Option<RunError> {
        let (table, bytes) = self.encoder.allocation_failure()?;
        let name = self
            .model
            .def()
            .tables
            .get(table)
            .map_or("?", |t| t.name.as_str());
        Some(self.out_of_memory(&format!("the COPY buffer of table `{name}`"), bytes))
    }
}

/// A source error as the run reports it: a buffer the source could not allocate is the run's
/// lack of memory, named after the collection.
fn source_error(error: SourceError, collection: &str) -> RunError {
    match error {
        SourceError::OutOfMemory {
            file,
            offset,
            bytes,
            what,
        } => RunError::OutOfMemory {
            collection: collection.to_string(),
            what: format!("{what} (byte {offset} of {})", file.display()),
            bytes,
        },
        other => other.into(),
    }
}

/// Reads `partition` from `from` and sends batches until the end, an error, or `stop`.
///
/// The last batch sent has `done = true` when the partition was read to its end. A source error
/// is sent after the batch of everything read before it, so nothing read is lost.
#[allow(clippy::too_many_arguments)]
fn read_partition(
    source: &dyn Source,
    model: &ModelHandle,
    collection: &str,
    partition: &Partition,
    from: Position,
    limits: BatchLimits,
    stop: &AtomicBool,
    out: &Batches,
    pool: BufferPool,
    claim: Option<Arc<RangeClaim>>,
) {
    crate::allocator::set_thread_label(&["reading and encoding `", collection, "`"]);
    let tables = model.def().tables.len();
    let mut cutter = Cutter {
        model,
        collection,
        partition,
        encoder: CopyEncoder::new(tables).with_pool(pool.clone()),
        keep_documents: !source.rereadable(),
        docs: Documents::default(),
        // About half a batch is documents (the rest their rows).
        docs_size: limits.bytes / 2,
        pool,
        dead: Vec::new(),
        read: 0,
        start: from.clone(),
        end: from.clone(),
        started: Instant::now(),
        census: Tally::new(),
        count_census: crate::census::counted_while_loading(),
    };
    let Some(mut room) = out.room() else {
        return;
    };
    let opened = match claim {
        Some(claim) => source.read_claimed(collection, partition, &from, claim),
        None => source.read(collection, partition, &from),
    };
    let mut stream = match opened {
        Ok(s) => s,
        Err(e) => {
            room.send(Err(source_error(e, collection)));
            return;
        }
    };
    while let Some(item) = stream.next_doc() {
        let (doc, next) = match item {
            Ok(d) => d,
            Err(e) => {
                // A compressed file's damage can pass for documents until the error: nothing
                // of this batch is sent unless the file checks out whole.
                if let Err(damaged) = stream.verify() {
                    room.send(Err(source_error(damaged, collection)));
                    return;
                }
                if !cutter.is_empty() {
                    room.send(Ok(cutter.cut(false)));
                    let Some(more) = out.room() else { return };
                    room = more;
                }
                room.send(Err(source_error(e, collection)));
                return;
            }
        };
        if cutter.count_census {
            cutter.census.observe(doc);
        }
        let kept = match model.encode(doc, &mut cutter.encoder) {
            Ok(()) => cutter.keep(doc),
            Err(e) => {
                let letters = malformed::dead_letters(&e, doc, &next);
                // Garbage decompressed from a damaged file is no dead letter: the file is
                // checked whole first, and if it is damaged, nothing of this batch is sent.
                if let Err(damaged) = stream.verify() {
                    room.send(Err(source_error(damaged, collection)));
                    return;
                }
                cutter.dead.extend(letters);
                Ok(())
            }
        };
        // Memory is short: the batch is dropped (nothing of it was committed) and the run
        // stops; the same command resumes at the last commit.
        if let Some(e) = kept.err().or_else(|| cutter.encoder_failed()) {
            room.send(Err(e));
            return;
        }
        cutter.read += 1;
        cutter.end = next;
        let transformed = cutter.read - cutter.dead.len() as u64;
        let full = transformed >= limits.documents as u64
            || cutter.docs.byte_len() + cutter.encoder.total_bytes() >= limits.bytes;
        let stopping = stop.load(Ordering::Relaxed);
        if full || stopping {
            room.send(Ok(cutter.cut(false)));
            if stopping {
                return;
            }
            let Some(more) = out.room() else { return };
            room = more;
        }
    }
    room.send(Ok(cutter.cut(true)));
}
