//! `follow --recopy`: after a follow stopped at a collection dropped or renamed (or the database
//! dropped, the stream invalidated), the collections concerned are copied again from the live
//! source through the follow's own path, then the follow goes on.
//!
//! Every document the source holds now is written (its rows replaced, its earlier dead letters
//! judged again), then the rows of the documents it no longer holds are deleted, the references
//! other collections hold to them resolved with their `on_missing` policies. The follow then
//! resumes right after the change that stopped it: the changes made since to the collections
//! copied again are applied once more on top of the copy (each carries the whole document, so
//! applying one again converges), and no change of the other collections is missed. After an
//! invalidated stream (it cannot be resumed) every collection is copied again and the follow
//! starts from a point of the stream taken before the copy began.
//!
//! A collection is read as the run read it: cut into the ranges the run's `--partitions` allows,
//! `--jobs` of them read at once. Each chunk of documents commits on its own with the key
//! census of its documents (the collection's census is counted anew, so `coverage` speaks of
//! the documents copied again); the follow's position moves only with the last transaction. A
//! re-copy stopped anywhere is run again from its beginning: writing a document again changes
//! nothing, and the census is reset again first.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use bson::RawDocumentBuf;
use sqlx::{Connection, PgConnection};

use super::apply::{self, Context};
use super::restore::upsert;
use super::stream::{Change, What};
use super::{FollowError, FollowState};
use crate::census::{KeyCensus, Tally};
use crate::references::targeted::{self, Touched};
use crate::run_error::RunError;
use crate::schema::ModelHandle;
use crate::sink::sql;
use crate::source::{Partition, Position, Source, SourceError};

/// Documents written per transaction.
const CHUNK: usize = 1000;

/// The collections to copy again, as a follow's stop recorded them (`*`: all).
pub(super) const ALL: &str = "*";

/// What a re-copy did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Recopied {
    pub collections: Vec<String>,
    pub written: u64,
    pub deleted: u64,
    pub dead_letters: u64,
    /// Ranges read, in all, and how many at once at most.
    pub ranges: u64,
    pub jobs: usize,
}

/// How a re-copy reads: the live source (shared with its reading threads) and its readers.
pub(super) struct Reading {
    pub source: Arc<dyn Source>,
    /// Ranges read at the same time (`--jobs`).
    pub jobs: usize,
}

/// Copies the collections the recorded stop names again; returns the token to resume after.
pub(super) async fn recopy(
    conn: &mut PgConnection,
    cx: &Context<'_>,
    epoch: i64,
    recorded: &FollowState,
    reading: &Reading,
    fresh_start: impl std::future::Future<Output = Result<serde_json::Value, FollowError>>,
) -> Result<(serde_json::Value, Recopied), FollowError> {
    let (Some(stop_token), Some(names)) = (&recorded.stop_token, &recorded.recopy) else {
        return Err(FollowError::Unsupported {
            what: format!(
                "--recopy here: the follow in `{}` did not stop at a collection dropped or renamed \
                 (run `follow` without --recopy)",
                cx.state.schema()
            ),
        });
    };
    let all = names.iter().any(|n| n == ALL);
    // Taken before anything is read: the copy covers every change after it.
    let resume = if all {
        fresh_start.await?
    } else {
        stop_token.clone()
    };
    let models: Vec<&ModelHandle> = cx
        .schema
        .models()
        .iter()
        .filter(|m| all || names.iter().any(|n| n == m.collection()))
        .collect();
    // The ranges the run's `--partitions` allowed.
    let partitions = match cx.state.current(conn).await? {
        Some((fingerprint, _)) => fingerprint.partitions.max(1),
        None => 1,
    };
    let mut done = Recopied {
        jobs: reading.jobs.max(1),
        ..Recopied::default()
    };
    for model in models {
        copy_again(conn, cx, epoch, model, reading, partitions, &mut done).await?;
        done.collections.push(model.collection().to_string());
    }
    let mut tx = conn
        .begin()
        .await
        .map_err(RunError::db("finishing a re-copy"))?;
    let (moved, ours): (i64, bool) = sqlx::query_as(&sql::record_recopy(cx.state.schema()))
        .bind(&recorded.token)
        .bind(&resume)
        .bind(epoch)
        .fetch_one(&mut *tx)
        .await
        .map_err(RunError::db(
            "recording the follow's position after a re-copy",
        ))?;
    if !ours || moved != 1 {
        return Err(RunError::TakenOver {
            state: cx.state.schema().to_string(),
        }
        .into());
    }
    tx.commit()
        .await
        .map_err(RunError::db("finishing a re-copy"))?;
    Ok((resume, done))
}

/// One collection copied again: every document the source holds written, the rows of those it
/// no longer holds deleted.
async fn copy_again(
    conn: &mut PgConnection,
    cx: &Context<'_>,
    epoch: i64,
    model: &ModelHandle,
    reading: &Reading,
    partitions: usize,
    done: &mut Recopied,
) -> Result<(), FollowError> {
    let collection = model.collection();
    let source_error = |e: SourceError| FollowError::Source {
        source_name: cx.source.describe(),
        reason: format!("copying `{collection}` again: {e}"),
    };
    // Every document is judged and counted anew: the dead letters of those gone go too.
    let mut tx = begin(conn, cx, epoch).await?;
    for statement in [
        sql::delete_collection_dead_letters(cx.state.schema()),
        sql::delete_collection_census(cx.state.schema()),
    ] {
        sqlx::query(&statement)
            .bind(collection)
            .execute(&mut *tx)
            .await
            .map_err(RunError::db(format!(
                "forgetting the dead letters and the key census of `{collection}`"
            )))?;
    }
    tx.commit().await.map_err(RunError::db(format!(
        "forgetting the dead letters and the key census of `{collection}`"
    )))?;
    let mut seen: HashSet<String> = HashSet::new();
    let ranges = match reading.source.partitions(collection, partitions) {
        Ok(ranges) => ranges,
        // Dropped and not made again: every row goes.
        Err(SourceError::MissingCollection { .. }) => Vec::new(),
        Err(e) => return Err(source_error(e)),
    };
    done.ranges += ranges.len() as u64;
    let mut chunks = read_ranges(
        Arc::clone(&reading.source),
        collection,
        ranges,
        reading.jobs,
    );
    while let Some(chunk) = chunks.recv().await {
        let (docs, census) = chunk.map_err(source_error)?;
        let mut changes: Vec<Change> = Vec::with_capacity(docs.len());
        for doc in docs {
            changes.push(upsert(collection, doc)?);
        }
        write_chunk(conn, cx, epoch, &changes, &census, &mut seen, model, done).await?;
    }
    // The rows of the documents the source no longer holds.
    let table = model.def().table();
    let keys: Vec<String> =
        sqlx::query_scalar(&sql::select_keys(cx.ns, &table.name, table.key_column()))
            .fetch_all(&mut *conn)
            .await
            .map_err(RunError::db(format!("reading the keys of {}", table.name)))?;
    let gone: Vec<String> = keys.into_iter().filter(|k| !seen.contains(k)).collect();
    for part in gone.chunks(CHUNK) {
        let mut tx = begin(conn, cx, epoch).await?;
        let mut touched = Touched::default();
        for (target, values) in
            targeted::referenced_values(&mut tx, cx.schema, cx.ns, &cx.types, model, part, true)
                .await?
        {
            touched.removed.entry(target).or_default().extend(values);
        }
        done.deleted +=
            crate::references::delete_rows(&mut tx, cx.ns, &cx.types, model.def(), 0, None, part)
                .await?;
        super::restore::forget(&mut tx, cx, collection, part).await?;
        targeted::resolve_touched(
            &mut tx, cx.schema, cx.source, cx.state, cx.ns, &cx.types, touched,
        )
        .await?;
        tx.commit().await.map_err(RunError::db(format!(
            "deleting rows of `{collection}` again"
        )))?;
    }
    Ok(())
}

/// Documents read again, a chunk at a time, with the key census of the chunk.
type Chunk = Result<(Vec<RawDocumentBuf>, KeyCensus), SourceError>;

/// Reads `ranges` of `collection` on `jobs` threads, handing out chunks of [`CHUNK`] documents.
/// The threads stop when the receiver is dropped.
fn read_ranges(
    source: Arc<dyn Source>,
    collection: &str,
    ranges: Vec<Partition>,
    jobs: usize,
) -> tokio::sync::mpsc::Receiver<Chunk> {
    let readers = jobs.max(1).min(ranges.len().max(1));
    let (out, chunks) = tokio::sync::mpsc::channel::<Chunk>(readers * 2);
    let queue = Arc::new(Mutex::new(ranges.into_iter().collect::<VecDeque<_>>()));
    for _ in 0..readers {
        let (source, queue, out) = (Arc::clone(&source), Arc::clone(&queue), out.clone());
        let collection = collection.to_string();
        std::thread::spawn(move || loop {
            let next = queue
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop_front();
            let Some(range) = next else { return };
            if !read_range(source.as_ref(), &collection, &range, &out) {
                return;
            }
        });
    }
    chunks
}

/// Reads one range into `out`; `false` once nothing more should be read (an error sent, or
/// the receiver gone).
fn read_range(
    source: &dyn Source,
    collection: &str,
    range: &Partition,
    out: &tokio::sync::mpsc::Sender<Chunk>,
) -> bool {
    let docs = match source.read(collection, range, &Position::Start) {
        Ok(docs) => docs,
        // Dropped while it was read: the documents it had are not the source's any more.
        Err(SourceError::MissingCollection { .. }) => return true,
        Err(e) => {
            let _ = out.blocking_send(Err(e));
            return false;
        }
    };
    let mut tally = Tally::new();
    let count = crate::census::counted_while_loading();
    let mut chunk = Vec::with_capacity(CHUNK);
    for item in docs {
        match item {
            Ok(read) => {
                if count {
                    tally.observe(&read.doc);
                }
                chunk.push(read.doc);
                if chunk.len() >= CHUNK {
                    let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK));
                    if out.blocking_send(Ok((full, tally.take()))).is_err() {
                        return false;
                    }
                }
            }
            Err(e) => {
                let _ = out.blocking_send(Err(e));
                return false;
            }
        }
    }
    chunk.is_empty() || out.blocking_send(Ok((chunk, tally.take()))).is_ok()
}

/// A transaction of the re-copy: foreign-key triggers off, fenced by the run's epoch.
async fn begin<'c>(
    conn: &'c mut PgConnection,
    cx: &Context<'_>,
    epoch: i64,
) -> Result<sqlx::Transaction<'c, sqlx::Postgres>, FollowError> {
    let mut tx = conn
        .begin()
        .await
        .map_err(RunError::db("starting a re-copy transaction"))?;
    sqlx::query(sql::FOLLOW_REPLICA_ROLE)
        .execute(&mut *tx)
        .await
        .map_err(RunError::db("preparing a re-copy transaction"))?;
    let held: Option<i64> = sqlx::query_scalar(&sql::hold_fence(cx.state.schema()))
        .bind(epoch)
        .fetch_optional(&mut *tx)
        .await
        .map_err(RunError::db("holding the run's fence"))?;
    if held.is_none() {
        return Err(RunError::TakenOver {
            state: cx.state.schema().to_string(),
        }
        .into());
    }
    Ok(tx)
}

/// Writes a chunk of documents read again and adds its census, in one transaction.
#[allow(clippy::too_many_arguments)]
async fn write_chunk(
    conn: &mut PgConnection,
    cx: &Context<'_>,
    epoch: i64,
    chunk: &[Change],
    census: &KeyCensus,
    seen: &mut HashSet<String>,
    model: &ModelHandle,
    done: &mut Recopied,
) -> Result<(), FollowError> {
    if chunk.is_empty() {
        return Ok(());
    }
    for change in chunk {
        if let What::Upsert { doc, .. } = &change.what {
            if let Some(key) = model.key_text(doc) {
                seen.insert(key);
            }
        }
    }
    let refs: Vec<&Change> = chunk.iter().collect();
    let mut tx = begin(conn, cx, epoch).await?;
    let applied = match apply::apply(&mut tx, cx, &refs).await {
        Ok(applied) => applied,
        Err(RunError::Database { source, .. }) if super::is_data_error(&source) => {
            drop(tx);
            tx = begin(conn, cx, epoch).await?;
            super::one_by_one(&mut tx, cx, &refs).await?
        }
        Err(e) => return Err(e.into()),
    };
    let collection = model.collection();
    crate::census::store::record(&mut tx, cx.state.schema(), collection, census)
        .await
        .map_err(RunError::db(format!(
            "counting the key census of `{collection}` again"
        )))?;
    tx.commit().await.map_err(RunError::db(format!(
        "writing documents of `{collection}` again"
    )))?;
    done.written += applied.upserted;
    done.dead_letters += applied.dead_letters.len() as u64;
    Ok(())
}
