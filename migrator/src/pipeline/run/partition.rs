//! One partition's load: its reader on a thread of its own, its batches written and committed
//! with their checkpoints by a writer of its own.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use sqlx::PgConnection;

use super::super::config::SchemaMode;
use super::super::reader::{BatchLimits, Reading};
use super::Shared;
use crate::progress::Event;
use crate::run_error::RunError;
use crate::schema::ModelHandle;
use crate::sink::postgres::{BatchWriter, WriterConfig};
use crate::source::{Partition, Position, RangeClaim};
use crate::state::StateStore;

pub(super) struct Task {
    pub(super) model: ModelHandle,
    pub(super) partition: Partition,
    pub(super) from: Position,
    /// Started before a job is free for it, so its first batches are ready when one is.
    pub(super) reading: Option<Reading>,
}

/// Loads one partition through `conn` (a connection a finished partition gave back, if any);
/// gives the connection back if the partition finished cleanly.
pub(super) async fn run_partition(
    shared: &Arc<Shared>,
    state: StateStore,
    task: Task,
    conn: Option<PgConnection>,
) -> (Result<(), RunError>, Option<PgConnection>) {
    let mut writer = BatchWriter::new(
        WriterConfig {
            url: shared.config.pg_url.clone(),
            target_schema: shared.config.target_schema.clone(),
            state,
            replica_role: shared.config.schema_mode == SchemaMode::Existing,
            max_retries: 8,
            first_backoff: Duration::from_millis(250),
        },
        task.model.clone(),
    )
    .with_connection(conn)
    .with_source(Arc::clone(&shared.source));
    let result = write_partition(shared, &mut writer, task).await;
    let conn = match result {
        Ok(()) => writer.into_connection(),
        Err(_) => None,
    };
    (result, conn)
}

async fn write_partition(
    shared: &Arc<Shared>,
    writer: &mut BatchWriter,
    task: Task,
) -> Result<(), RunError> {
    let collection = task.model.collection().to_string();
    // One batch waits while one is written and the reader fills the next: transforming overlaps
    // the COPY, and a job holds at most three batches whatever the data's size.
    let mut reading = match task.reading {
        Some(reading) => reading,
        None => {
            let claim = claim_for(shared, &task.partition, &task.from);
            start_reading(shared, &task.model, &task.partition, task.from, claim)?
        }
    };
    // The server starts the writer's process while the tables are being created.
    let (tables, ()) = tokio::join!(shared.tables.wait(&collection), writer.connect());
    tables?;
    while let Some(message) = reading.batches.recv().await {
        let batch = message?;
        let committed = writer.write(&batch).await?;
        if let Some(file) = &shared.dead_file {
            file.append(&committed.dead_letters)
                .map_err(|e| RunError::Io {
                    path: file.path().display().to_string(),
                    source: e,
                })?;
        }
        let partition = batch.partition.index;
        // The next batches read fill the same memory.
        batch.give_buffers(&shared.buffers);
        let dead = committed.dead_letters.len() as u64;
        let read =
            shared.read.fetch_add(committed.documents, Ordering::SeqCst) + committed.documents;
        let dead_total = shared.dead.fetch_add(dead, Ordering::SeqCst) + dead;
        shared.observer.event(&Event::BatchCommitted {
            collection: collection.clone(),
            partition,
            documents: committed.documents,
            rows: committed.rows.iter().sum(),
            dead_letters: dead,
            retries: committed.retries,
        });
        if let Some(limit) = shared.config.max_errors {
            if limit.exceeded(dead_total, read) {
                shared.too_many_errors.store(true, Ordering::SeqCst);
                shared.stop.store(true, Ordering::SeqCst);
            }
        }
    }
    reading.finish().await;
    Ok(())
}

/// The claim a partition's reader is made with, through which the load may cut its range
/// short or merge the ranges after it into it while it is read (sources that can); none when
/// one range per collection was asked for.
pub(super) fn claim_for(
    shared: &Shared,
    partition: &Partition,
    from: &Position,
) -> Option<Arc<RangeClaim>> {
    (shared.config.partitions > 1)
        .then(|| shared.source.claim_for(partition, from))
        .flatten()
        .map(Arc::new)
}

/// Starts reading a partition on a thread of its own, each `_id` claimed through `claim` if
/// given (see [`claim_for`]).
pub(super) fn start_reading(
    shared: &Arc<Shared>,
    model: &ModelHandle,
    partition: &Partition,
    from: Position,
    claim: Option<Arc<RangeClaim>>,
) -> Result<Reading, RunError> {
    let limits = BatchLimits {
        documents: shared.config.batch_documents.max(1),
        bytes: shared.config.batch_bytes.max(1),
    };
    Reading::start(
        Arc::clone(&shared.source),
        model.clone(),
        partition.clone(),
        from,
        limits,
        Arc::clone(&shared.stop),
        shared.buffers.clone(),
        claim,
    )
}
