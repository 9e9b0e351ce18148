//! Writes batches to PostgreSQL: every table the batch touches, its dead letters and its
//! checkpoint in ONE transaction. A batch PostgreSQL refuses (a duplicate key, a check) is split
//! under savepoints until the refused documents are isolated ([`super::isolate`]); the rest
//! still lands. Connection
//! errors are retried with backoff after reconnecting, and a batch whose commit was in flight when
//! the connection dropped is recognised by its checkpoint, so it is never written twice.

use std::time::Duration;

use std::sync::Arc;

use bson::{RawDocument, RawDocumentBuf};
use sqlx::{Connection, PgConnection};

use super::isolate::isolate;
use super::sql::{self, Namespace};
use crate::dead_letter::DeadLetter;
use crate::pipeline::batch::{reread, Batch};
use crate::run_error::RunError;
use crate::schema::ModelHandle;
use crate::source::Source;
use crate::state::{connect_as, StateStore, WRITER_APPLICATION};

/// Bytes of COPY data per message.
const COPY_SLICE: usize = 1024 * 1024;

/// How a failed statement should be handled.
#[derive(Debug)]
pub(super) enum Failure {
    /// The partition's checkpoint is no longer where this batch started.
    Moved,
    /// Another run took the target over (its epoch is the target's now).
    TakenOver,
    /// The data was refused (constraint, value): isolate the documents.
    Document(Box<dyn sqlx::error::DatabaseError>),
    /// The connection or server had a passing problem: reconnect and retry the batch.
    Transient(sqlx::Error),
    /// Anything else stops the run.
    Fatal(sqlx::Error),
    /// The documents of a refused batch could not be read again.
    Reread(RunError),
}

pub(super) fn classify(e: sqlx::Error) -> Failure {
    match e {
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.to_string()).unwrap_or_default();
            if code.starts_with("23") || code.starts_with("22") || code == "54000" {
                Failure::Document(db)
            } else if code.starts_with("08")
                || code.starts_with("57P")
                || code == "40001"
                || code == "40P01"
                || code == "53300"
            {
                Failure::Transient(sqlx::Error::Database(db))
            } else {
                Failure::Fatal(sqlx::Error::Database(db))
            }
        }
        e @ (sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed) => Failure::Transient(e),
        e => Failure::Fatal(e),
    }
}

/// What a committed batch wrote.
#[derive(Debug, Clone, Default)]
pub struct Committed {
    pub documents: u64,
    pub rows: Vec<u64>,
    pub dead_letters: Vec<DeadLetter>,
    /// How many times the batch was retried after a connection problem.
    pub retries: u32,
}

/// Settings of a writer.
#[derive(Debug, Clone)]
pub struct WriterConfig {
    pub url: String,
    pub target_schema: String,
    pub state: StateStore,
    /// Disable foreign-key triggers during the load (loading into existing tables that have them).
    pub replica_role: bool,
    pub max_retries: u32,
    pub first_backoff: Duration,
}

/// A writer's session: a connection with the writers' settings, for [`BatchWriter::with_connection`].
pub async fn open_session(url: &str, replica_role: bool) -> Result<PgConnection, sqlx::Error> {
    let mut conn = connect_as(url, WRITER_APPLICATION)
        .await
        .map_err(|e| match e {
            RunError::Database { source, .. } => source,
            other => sqlx::Error::Protocol(other.to_string()),
        })?;
    // A batch and its checkpoint commit together, and a checkpoint only moves from where its
    // batch started: a commit the server loses in a crash loses both, the next batch finds the
    // checkpoint behind it and stops the run, and the resume loads the lost batch again. Exactly
    // once holds without waiting for each commit's WAL flush.
    sqlx::query(sql::ASYNC_COMMIT).execute(&mut conn).await?;
    if replica_role {
        sqlx::query(sql::SET_REPLICA_ROLE)
            .execute(&mut conn)
            .await?;
    }
    Ok(conn)
}

/// One connection writing batches of one model.
pub struct BatchWriter {
    config: WriterConfig,
    model: ModelHandle,
    copy_sql: Vec<String>,
    conn: Option<PgConnection>,
    /// Where the documents of a batch that kept none are read again, to split it.
    source: Option<Arc<dyn Source>>,
}

impl std::fmt::Debug for BatchWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchWriter")
            .field("collection", &self.model.collection())
            .field("connected", &self.conn.is_some())
            .finish_non_exhaustive()
    }
}

impl BatchWriter {
    pub fn new(config: WriterConfig, model: ModelHandle) -> Self {
        let ns = Namespace(Some(config.target_schema.as_str()));
        let copy_sql = model
            .def()
            .tables
            .iter()
            .map(|t| sql::copy_in(ns, t))
            .collect();
        BatchWriter {
            config,
            model,
            copy_sql,
            conn: None,
            source: None,
        }
    }

    /// Reads the documents of a batch that kept none ([`Batch::docs_kept`]) from `source`, should
    /// PostgreSQL refuse the batch.
    pub fn with_source(mut self, source: Arc<dyn Source>) -> Self {
        self.source = Some(source);
        self
    }

    /// Writes through `conn`, a connection another writer of this run gave back
    /// ([`BatchWriter::into_connection`]): it has the session settings already, and opening a
    /// connection costs the server a process.
    pub fn with_connection(mut self, conn: Option<PgConnection>) -> Self {
        self.conn = conn;
        self
    }

    /// The connection, for the next writer of the run (`None` after a failure dropped it).
    pub fn into_connection(self) -> Option<PgConnection> {
        self.conn
    }

    /// Opens the connection now (while the writer waits for its tables or its first batch)
    /// instead of at the first write. A failure is left to the write, which retries it.
    pub async fn connect(&mut self) {
        let _ = self.connection().await;
    }

    async fn connection(&mut self) -> Result<&mut PgConnection, sqlx::Error> {
        if self.conn.is_none() {
            self.conn = Some(open_session(&self.config.url, self.config.replica_role).await?);
        }
        match self.conn.as_mut() {
            Some(c) => Ok(c),
            None => Err(sqlx::Error::PoolClosed),
        }
    }

    /// Writes a batch exactly once, retrying connection problems.
    pub async fn write(&mut self, batch: &Batch) -> Result<Committed, RunError> {
        let mut retries = 0;
        let mut backoff = self.config.first_backoff;
        loop {
            let failure = match self.try_write(batch).await {
                Ok(mut committed) => {
                    committed.retries = retries;
                    return Ok(committed);
                }
                Err(f) => f,
            };
            match failure {
                Failure::Transient(e) if retries < self.config.max_retries => {
                    tracing::warn!(
                        collection = %batch.collection,
                        partition = batch.partition.index,
                        error = %e,
                        "connection problem; retrying the batch in {backoff:?}"
                    );
                    self.conn = None;
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                    retries += 1;
                    if let Ok(true) = self.already_committed(batch).await {
                        return Ok(Committed {
                            documents: batch.documents_read,
                            rows: batch.rows.clone(),
                            dead_letters: batch.dead_letters.clone(),
                            retries,
                        });
                    }
                }
                Failure::Transient(e) | Failure::Fatal(e) => {
                    self.conn = None;
                    return Err(RunError::Database {
                        context: format!(
                            "writing a batch of `{}` (partition {})",
                            batch.collection, batch.partition.index
                        ),
                        source: e,
                    });
                }
                Failure::Moved => {
                    self.conn = None;
                    return Err(RunError::CheckpointMoved {
                        collection: batch.collection.clone(),
                        partition: batch.partition.index,
                    });
                }
                Failure::TakenOver => {
                    self.conn = None;
                    return Err(RunError::TakenOver {
                        state: self.config.state.schema().to_string(),
                    });
                }
                Failure::Reread(e) => {
                    self.conn = None;
                    return Err(e);
                }
                Failure::Document(db) => {
                    // Only reachable if a refusal happened outside the isolated COPY (for
                    // example in the checkpoint itself): that is not the data's fault.
                    self.conn = None;
                    return Err(RunError::Database {
                        context: format!("recording a batch of `{}`", batch.collection),
                        source: sqlx::Error::Database(db),
                    });
                }
            }
        }
    }

    /// Whether the checkpoint already records this batch (its commit went through before the
    /// connection dropped).
    async fn already_committed(&mut self, batch: &Batch) -> Result<bool, sqlx::Error> {
        let state = self.config.state.clone();
        let conn = self.connection().await?;
        let checkpoints = state.checkpoints(conn).await.map_err(|e| match e {
            RunError::Database { source, .. } => source,
            other => sqlx::Error::Protocol(other.to_string()),
        })?;
        Ok(checkpoints.iter().any(|c| {
            c.collection == batch.collection
                && c.partition.index == batch.partition.index
                && c.position == batch.end
                // A partition's last batch can be empty and end where the one before it did.
                && c.done == batch.done
        }))
    }

    async fn try_write(&mut self, batch: &Batch) -> Result<Committed, Failure> {
        let model = self.model.clone();
        let copy_sql = self.copy_sql.clone();
        let state = self.config.state.schema().to_string();
        let epoch = self.config.state.epoch();
        let source = self.source.clone();
        let conn = self.connection().await.map_err(classify)?;
        let mut dead = batch.dead_letters.clone();
        let mut rows = vec![0u64; batch.rows.len()];

        // The usual case takes no savepoint: the payloads land whole. If PostgreSQL refuses one,
        // the transaction is gone, and the batch starts over, split under savepoints until the
        // refused documents are alone.
        let mut tx = conn.begin().await.map_err(classify)?;
        match copy_payloads(&mut tx, &copy_sql, &batch.payloads).await {
            Ok(()) => rows.clone_from(&batch.rows),
            Err(Failure::Document(first)) => {
                tx.rollback().await.map_err(classify)?;
                let reread = if batch.docs_kept {
                    Vec::new()
                } else {
                    read_again(source, &model, batch).await?
                };
                let docs: Vec<&RawDocument> = if batch.docs_kept {
                    batch.docs.iter().collect()
                } else {
                    reread.iter().map(|d| d.as_ref()).collect()
                };
                tx = conn.begin().await.map_err(classify)?;
                isolate(
                    &mut tx, &model, &copy_sql, &docs, first, &mut rows, &mut dead,
                )
                .await?;
            }
            Err(other) => return Err(other),
        }

        crate::dead_letter::insert(&mut tx, &state, &dead)
            .await
            .map_err(classify)?;
        let (names, counts): (Vec<&str>, Vec<i64>) = model
            .def()
            .tables
            .iter()
            .zip(&rows)
            .filter(|(_, n)| **n > 0)
            .map(|(table, n)| (table.name.as_str(), i64::try_from(*n).unwrap_or(i64::MAX)))
            .unzip();
        let bounds = serde_json::to_value(&batch.partition).unwrap_or_default();
        let position = serde_json::to_value(&batch.end).unwrap_or_default();
        let start = serde_json::to_value(&batch.start).unwrap_or_default();
        let (recorded, ours): (i64, bool) = sqlx::query_as(&sql::record_batch(&state))
            .bind(&batch.collection)
            .bind(i32::try_from(batch.partition.index).unwrap_or(i32::MAX))
            .bind(bounds)
            .bind(position)
            .bind(i64::try_from(batch.documents_read).unwrap_or(i64::MAX))
            .bind(i64::try_from(rows.iter().sum::<u64>()).unwrap_or(i64::MAX))
            .bind(i64::try_from(dead.len()).unwrap_or(i64::MAX))
            .bind(batch.done)
            .bind(batch.seconds)
            .bind(start)
            .bind(names)
            .bind(counts)
            .bind(epoch)
            .fetch_one(&mut *tx)
            .await
            .map_err(classify)?;
        if !ours {
            // Another run took the target over: this one writes nothing more.
            drop(tx);
            return Err(Failure::TakenOver);
        }
        if recorded != 1 {
            // The partition moved on without us: roll back rather than land rows twice.
            drop(tx);
            return Err(Failure::Moved);
        }
        crate::census::store::record(&mut tx, &state, &batch.collection, &batch.census)
            .await
            .map_err(classify)?;
        tx.commit().await.map_err(classify)?;
        Ok(Committed {
            documents: batch.documents_read,
            rows,
            dead_letters: dead,
            retries: 0,
        })
    }
}

/// The documents of a refused batch that kept none, read again from the source (on a blocking
/// thread).
async fn read_again(
    source: Option<Arc<dyn Source>>,
    model: &ModelHandle,
    batch: &Batch,
) -> Result<Vec<RawDocumentBuf>, Failure> {
    let Some(source) = source else {
        return Err(Failure::Reread(RunError::Internal(format!(
            "a refused batch of `{}` kept no documents and its writer has no source to read them again",
            batch.collection
        ))));
    };
    let model = model.clone();
    let span = batch.span();
    tokio::task::spawn_blocking(move || reread(source.as_ref(), &model, &span))
        .await
        .map_err(|e| Failure::Reread(RunError::Internal(format!("reading a batch again: {e}"))))?
        .map_err(Failure::Reread)
}

/// COPYs every payload in the current transaction.
pub(super) async fn copy_payloads(
    conn: &mut PgConnection,
    copy_sql: &[String],
    payloads: &[Option<Vec<u8>>],
) -> Result<(), Failure> {
    for (stmt, payload) in copy_sql.iter().zip(payloads) {
        let Some(payload) = payload else { continue };
        let mut copy = conn.copy_in_raw(stmt).await.map_err(classify)?;
        // In slices: the connection's buffer holds one slice, not a copy of the payload.
        for slice in payload.chunks(COPY_SLICE) {
            copy.send(slice).await.map_err(classify)?;
        }
        copy.finish().await.map_err(classify)?;
    }
    Ok(())
}
