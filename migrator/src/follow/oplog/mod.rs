//! Replaying the `oplog.bson` that `mongodump --oplog` writes beside the database directories,
//! after the load: the dump's collection files are read while the application writes, each at
//! its own moment; the oplog holds every write made while they were read, so applying it brings
//! every document to its state at the end of the dump (what `mongorestore --oplogReplay` does
//! on a server).
//!
//! A target holds rows, not the documents, so an update cannot be applied to it as it is. The
//! replay works on the documents instead: before the first entry, it reads the whole oplog for
//! the `_id`s its entries touch and keeps those documents as the dump's files hold them
//! (`<state>.oplog_documents`). Then, a window of entries at a time, it applies each entry to
//! its document (an insert or a replacement is the whole document, an update is applied to it,
//! a delete removes it) and the documents changed go through the follow's own path
//! ([`super::apply`]): their rows (collection, child and junction rows) replaced or deleted,
//! dead letters for those their model refuses (their rows deleted: the target is the database
//! as a fresh migration of it would be), the references they may leave dangling resolved. The
//! window's documents, rows and the offset of the next entry commit in one transaction, fenced
//! by the run's epoch: a replay stopped anywhere resumes at the first entry it did not commit.
//! The documents stay kept once it is done, as the replay left them: `validate` reads them over
//! the dump's files (the source's final state).

mod entry;
mod input;
mod update;

pub use self::input::OplogInput;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use bson::{Bson, Document, RawDocumentBuf};
use sqlx::{Connection, PgConnection, Row};

use self::entry::{DocOp, EntryReader, Op};
use super::apply::{self, Applied, Context};
use super::stream::{Change, What};
use super::{FollowError, OnInvalid};
use crate::run_error::RunError;
use crate::schema::Schema;
use crate::sink::sql::{self, Namespace};
use crate::source::{ClusterTime, Source};
use crate::state::{connect, connect_as, StateStore};

/// The `application_name` of the session that applies the oplog.
pub const REPLAY_APPLICATION: &str = "migrator-oplog-replay";

/// Touched documents read from the dump's files per scan.
const FETCH_CHUNK: usize = 20_000;

/// How to replay.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    pub pg_url: String,
    pub target_schema: String,
    pub state_schema: String,
    /// The `oplog.bson` (or `oplog.bson.gz`), or the archive that carries the oplog.
    pub input: OplogInput,
    /// The database the dump directory holds (the oplog has every database's entries).
    pub database: String,
    /// The most oplog entries per PostgreSQL transaction (a transaction's entries are never
    /// cut apart).
    pub max_batch: usize,
}

/// What a replay did (in all, over every run that worked on it).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReplayReport {
    /// Entries read (of every database).
    pub entries: u64,
    /// Documents of the models' collections that the entries touch.
    pub documents: u64,
    pub upserted: u64,
    pub deleted: u64,
    pub dead_letters: u64,
    pub references_acted: u64,
    /// The time of the last entry: the target is the database as it was then.
    pub last_ts: Option<ClusterTime>,
    /// An earlier run had replayed it already.
    pub earlier: bool,
}

/// Replays `options.input` into a finished run's target (see the module's comment).
pub async fn replay(
    schema: &Schema,
    source: Arc<dyn Source>,
    options: &ReplayOptions,
) -> Result<ReplayReport, FollowError> {
    let state = StateStore::new(options.state_schema.clone());
    let mut control = connect(&options.pg_url).await?;
    state.lock(&mut control).await?;
    let result = match super::begin(&state, &mut control).await {
        Ok(epoch) => replay_locked(schema, source, options, &state, epoch).await,
        Err(e) => Err(e),
    };
    let _ = state.unlock(&mut control).await;
    result
}

/// Where a replay stands, for `status`: `None` before one began.
pub async fn replay_status(
    conn: &mut PgConnection,
    state: &StateStore,
) -> Result<Option<ReplayStatus>, RunError> {
    let exists: bool = sqlx::query_scalar(sql::TABLE_EXISTS)
        .bind(state.schema())
        .bind("oplog_replay")
        .fetch_one(&mut *conn)
        .await
        .map_err(RunError::db("reading the oplog replay's position"))?;
    if !exists {
        return Ok(None);
    }
    Ok(read_recorded(conn, state).await?.map(|r| ReplayStatus {
        file: r.file,
        file_bytes: u64::try_from(r.file_bytes).unwrap_or(0),
        next_offset: u64::try_from(r.next_offset).unwrap_or(0),
        report: r.report,
        done: r.done,
    }))
}

/// A replay's recorded position and what it applied so far.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayStatus {
    pub file: String,
    pub file_bytes: u64,
    /// The byte offset of the first entry not applied yet.
    pub next_offset: u64,
    pub report: ReplayReport,
    pub done: bool,
}

/// The replay's recorded row.
struct Recorded {
    file: String,
    file_bytes: i64,
    documents: i64,
    next_offset: i64,
    report: ReplayReport,
    done: bool,
}

async fn read_recorded(
    conn: &mut PgConnection,
    state: &StateStore,
) -> Result<Option<Recorded>, RunError> {
    let row = sqlx::query(&sql::select_oplog_replay(state.schema()))
        .fetch_optional(&mut *conn)
        .await
        .map_err(RunError::db("reading the oplog replay's position"))?;
    let n = |v: i64| u64::try_from(v).unwrap_or(0);
    Ok(row.map(|row| Recorded {
        file: row.get(0),
        file_bytes: row.get(1),
        documents: row.get(2),
        next_offset: row.get(3),
        report: ReplayReport {
            entries: n(row.get(5)),
            documents: n(row.get(2)),
            upserted: n(row.get(6)),
            deleted: n(row.get(7)),
            dead_letters: n(row.get(8)),
            references_acted: n(row.get(9)),
            last_ts: row.get::<Option<i64>, _>(4).map(ClusterTime::unpacked),
            earlier: false,
        },
        done: row.get(10),
    }))
}

async fn replay_locked(
    schema: &Schema,
    source: Arc<dyn Source>,
    options: &ReplayOptions,
    state: &StateStore,
    epoch: i64,
) -> Result<ReplayReport, FollowError> {
    let file = options.input.path().to_path_buf();
    let oplog_error = |reason: String| FollowError::Oplog {
        file: file.display().to_string(),
        reason,
    };
    let mut conn = connect_as(&options.pg_url, REPLAY_APPLICATION).await?;
    for statement in sql::create_oplog_replay(state.schema()) {
        sqlx::query(&statement)
            .execute(&mut conn)
            .await
            .map_err(RunError::db("creating the oplog replay's tables"))?;
    }
    sqlx::query(sql::CREATE_FOLLOW_SETS)
        .execute(&mut conn)
        .await
        .map_err(RunError::db("creating the replay's session table"))?;
    let file_bytes = std::fs::metadata(&file)
        .map_err(|e| oplog_error(e.to_string()))?
        .len();
    let file_bytes = i64::try_from(file_bytes).unwrap_or(i64::MAX);
    let collections: BTreeSet<String> = schema
        .models()
        .iter()
        .map(|m| m.collection().to_string())
        .collect();
    let recorded = match read_recorded(&mut conn, state).await? {
        Some(recorded) => recorded,
        None => {
            prepare(&mut conn, state, source.as_ref(), options, &collections).await?;
            read_recorded(&mut conn, state).await?.ok_or_else(|| {
                RunError::Internal("the oplog replay's row vanished after it was written".into())
            })?
        }
    };
    if recorded.file_bytes != file_bytes {
        return Err(oplog_error(format!(
            "the file has {file_bytes} bytes, the replay begun into this target read one of {}: \
             it is not the same oplog; migrate again with --restart",
            recorded.file_bytes
        )));
    }
    if recorded.done {
        return Ok(ReplayReport {
            earlier: true,
            ..recorded.report
        });
    }
    let cx = Context {
        schema,
        ns: Namespace(Some(options.target_schema.as_str())),
        state,
        source: source.as_ref(),
        on_invalid: OnInvalid::Delete,
        types: Default::default(),
        kept_documents: true,
    };
    let mut report = recorded.report;
    report.documents = u64::try_from(recorded.documents).unwrap_or(0);
    let mut offset = u64::try_from(recorded.next_offset).unwrap_or(0);
    let mut docs = options
        .input
        .entries(offset)
        .map_err(|e| oplog_error(e.to_string()))?;
    let mut entries = EntryReader::new(&options.database, collections);
    // With `--limit`: the entries of the documents kept (those of the sample) only.
    let kept = match source.kind() {
        "sample" => Some(kept_documents(&mut conn, state).await?),
        _ => None,
    };
    loop {
        let mut window = Window {
            from: offset,
            to: offset,
            ..Window::default()
        };
        loop {
            let Some(next) = docs.next() else {
                window.end = true;
                break;
            };
            let (doc, next_position) = next.map_err(|e| oplog_error(e.to_string()))?;
            let ops = entries.read(&doc).map_err(|e| oplog_error(e.to_string()))?;
            if let Ok(Some(bson::RawBsonRef::Timestamp(t))) = doc.get("ts") {
                window.last_ts = Some(ClusterTime {
                    seconds: t.time,
                    increment: t.increment,
                });
            }
            window.ops.extend(ops.into_iter().filter(|op| {
                kept.as_ref()
                    .is_none_or(|k| k.contains(&(op.collection.clone(), id_key(&op.id))))
            }));
            window.entries += 1;
            window.to = next_position;
            if window.entries >= options.max_batch as u64 && !entries.inside_transaction() {
                break;
            }
        }
        // A transaction whose commit the dump did not capture is not applied.
        let applied = commit_window(&mut conn, &cx, epoch, &window, &file).await?;
        report.entries += window.entries;
        report.upserted += applied.upserted;
        report.deleted += applied.deleted;
        report.dead_letters += applied.dead_letters.len() as u64;
        report.references_acted += applied.references.rows;
        report.last_ts = window.last_ts.or(report.last_ts);
        offset = window.to;
        if window.end {
            return Ok(report);
        }
    }
}

/// The entries one transaction applies.
#[derive(Debug, Default)]
struct Window {
    /// The byte offsets of its first entry and of the entry after its last.
    from: u64,
    to: u64,
    entries: u64,
    ops: Vec<DocOp>,
    last_ts: Option<ClusterTime>,
    /// The file ends after it.
    end: bool,
}

/// The stored key of a document's `_id` (see [`sql::oplog_document_key`]).
pub(super) fn id_key(id: &Bson) -> String {
    sql::oplog_document_key(id)
}

/// Reads the whole oplog once for the documents it touches (refusing what the replay cannot
/// apply before anything is written), then keeps them as the dump's files hold them, and
/// records the replay's start, in one transaction.
async fn prepare(
    conn: &mut PgConnection,
    state: &StateStore,
    source: &dyn Source,
    options: &ReplayOptions,
    collections: &BTreeSet<String>,
) -> Result<(), FollowError> {
    let input = options.input.clone();
    let database = options.database.clone();
    let models = collections.clone();
    let mut touched =
        tokio::task::spawn_blocking(move || input::touched_ids(&input, &database, models))
            .await
            .map_err(|e| RunError::Internal(format!("the oplog's first reading stopped: {e}")))??;
    input::keep_to_sample(source, &mut touched).map_err(|e| FollowError::Oplog {
        file: options.input.path().display().to_string(),
        reason: format!("reading the sample (--limit) the replay keeps to: {e}"),
    })?;
    let failed = RunError::db("keeping the documents the oplog touches");
    let mut tx = conn.begin().await.map_err(failed)?;
    let mut documents = 0i64;
    for (collection, ids) in &touched {
        for chunk in ids.chunks(FETCH_CHUNK) {
            let found = source
                .fetch(collection, chunk)
                .map_err(|e| FollowError::Oplog {
                    file: options.input.path().display().to_string(),
                    reason: format!(
                    "reading the documents of `{collection}` its entries touch from the dump: {e}"
                ),
                })?;
            let mut by_key: HashMap<String, Vec<u8>> = HashMap::new();
            for doc in found {
                if let Ok(Some(id)) = doc.get("_id") {
                    if let Ok(id) = Bson::try_from(id) {
                        by_key.insert(id_key(&id), doc.into_bytes());
                    }
                }
            }
            let keys: Vec<String> = chunk.iter().map(id_key).collect();
            let bytes: Vec<Option<Vec<u8>>> = keys.iter().map(|k| by_key.remove(k)).collect();
            documents += keys.len() as i64;
            sqlx::query(&sql::insert_oplog_documents(state.schema()))
                .bind(collection)
                .bind(&keys)
                .bind(&bytes)
                .execute(&mut *tx)
                .await
                .map_err(RunError::db(format!(
                    "keeping the documents of `{collection}` the oplog touches"
                )))?;
        }
    }
    let file_bytes = std::fs::metadata(options.input.path())
        .map(|m| i64::try_from(m.len()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    sqlx::query(&sql::insert_oplog_replay(state.schema()))
        .bind(options.input.path().display().to_string())
        .bind(file_bytes)
        .bind(documents)
        .execute(&mut *tx)
        .await
        .map_err(RunError::db("recording the oplog replay's start"))?;
    tx.commit()
        .await
        .map_err(RunError::db("recording the oplog replay's start"))?;
    Ok(())
}

/// The documents a replay keeps, as (collection, stored `_id`).
async fn kept_documents(
    conn: &mut PgConnection,
    state: &StateStore,
) -> Result<HashSet<(String, String)>, RunError> {
    let rows: Vec<(String, String)> =
        sqlx::query_as(&sql::select_oplog_document_ids(state.schema()))
            .fetch_all(&mut *conn)
            .await
            .map_err(RunError::db("reading the documents the replay keeps"))?;
    Ok(rows.into_iter().collect())
}

/// Applies a window's entries to their documents and the documents to the target, and moves
/// the recorded offset, in one transaction.
async fn commit_window(
    conn: &mut PgConnection,
    cx: &Context<'_>,
    epoch: i64,
    window: &Window,
    file: &Path,
) -> Result<Applied, FollowError> {
    let failed = |what: &'static str| RunError::db(what);
    let mut tx = conn
        .begin()
        .await
        .map_err(failed("starting an oplog replay transaction"))?;
    super::prepare_transaction(&mut tx).await?;
    let changes = advance_documents(&mut tx, cx.state, window, file).await?;
    let refs: Vec<&Change> = changes.iter().collect();
    let applied = match apply::apply(&mut tx, cx, &refs).await {
        Ok(applied) => applied,
        Err(RunError::Database { source, context }) if super::is_data_error(&source) => {
            drop(tx);
            tracing::warn!(%context, error = %source, "an oplog replay transaction was refused; applying its documents one by one");
            tx = conn
                .begin()
                .await
                .map_err(failed("starting an oplog replay transaction"))?;
            super::prepare_transaction(&mut tx).await?;
            advance_documents(&mut tx, cx.state, window, file).await?;
            super::one_by_one(&mut tx, cx, &refs).await?
        }
        Err(e) => return Err(e.into()),
    };
    let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    let (moved, ours): (i64, bool) = sqlx::query_as(&sql::record_oplog_replay(cx.state.schema()))
        .bind(n(window.from))
        .bind(n(window.to))
        .bind(window.last_ts.map(ClusterTime::packed))
        .bind(n(window.entries))
        .bind(n(applied.upserted))
        .bind(n(applied.deleted))
        .bind(n(applied.dead_letters.len() as u64))
        .bind(n(applied.references.rows))
        .bind(window.end)
        .bind(epoch)
        .fetch_one(&mut *tx)
        .await
        .map_err(failed("recording the oplog replay's position"))?;
    if !ours {
        return Err(RunError::TakenOver {
            state: cx.state.schema().to_string(),
        }
        .into());
    }
    if moved != 1 {
        return Err(RunError::Internal(format!(
            "the oplog replay's recorded position in `{}` moved without this process; nothing of \
             this transaction was written: run the same command again",
            cx.state.schema()
        ))
        .into());
    }
    tx.commit()
        .await
        .map_err(failed("committing an oplog replay transaction"))?;
    Ok(applied)
}

/// Applies the window's operations to the kept documents and stores them again: returns one
/// change per document touched, the document as it is now or gone.
async fn advance_documents(
    tx: &mut PgConnection,
    state: &StateStore,
    window: &Window,
    file: &Path,
) -> Result<Vec<Change>, FollowError> {
    let mut by_collection: BTreeMap<&str, Vec<&DocOp>> = BTreeMap::new();
    for op in &window.ops {
        by_collection.entry(&op.collection).or_default().push(op);
    }
    let mut changes = Vec::new();
    for (collection, ops) in by_collection {
        let mut order: Vec<String> = Vec::new();
        let mut ids: HashMap<String, (Bson, Option<ClusterTime>)> = HashMap::new();
        for op in &ops {
            let key = id_key(&op.id);
            if ids.insert(key.clone(), (op.id.clone(), op.ts)).is_none() {
                order.push(key);
            }
        }
        let rows: Vec<(String, Option<Vec<u8>>)> =
            sqlx::query_as(&sql::select_oplog_documents(state.schema()))
                .bind(collection)
                .bind(&order)
                .fetch_all(&mut *tx)
                .await
                .map_err(RunError::db(format!(
                    "reading the kept documents of `{collection}`"
                )))?;
        let mut docs: HashMap<String, Option<Document>> = HashMap::new();
        for (key, bytes) in rows {
            let doc = match bytes {
                Some(bytes) => Some(Document::from_reader(bytes.as_slice()).map_err(|e| {
                    RunError::Internal(format!(
                        "a kept document of `{collection}` (`_id` {key}) is unreadable: {e}"
                    ))
                })?),
                None => None,
            };
            docs.insert(key, doc);
        }
        for op in ops {
            let key = id_key(&op.id);
            let Some(doc) = docs.get_mut(&key) else {
                return Err(RunError::Internal(format!(
                    "the oplog replay kept no document of `{collection}` with `_id` {key}"
                ))
                .into());
            };
            if let Some(entry) = ids.get_mut(&key) {
                entry.1 = op.ts.or(entry.1);
            }
            match &op.op {
                Op::Put(whole) => *doc = Some(whole.clone()),
                Op::Delete => *doc = None,
                // An update of a document that is not there: a later entry deletes it or puts
                // it whole (the dump read it after it was deleted).
                Op::Update(update) => {
                    if let Some(doc) = doc.as_mut() {
                        update.apply(doc).map_err(|reason| FollowError::Oplog {
                            file: file.display().to_string(),
                            reason: format!(
                                "the oplog entry at {} on `{collection}` (`_id` {}): {reason}",
                                op.ts.map_or_else(|| "no `ts`".into(), |t| t.to_string()),
                                op.id.clone().into_relaxed_extjson()
                            ),
                        })?;
                    }
                }
            }
        }
        let mut bytes: Vec<Option<Vec<u8>>> = Vec::with_capacity(order.len());
        for key in &order {
            let doc = docs.get(key).cloned().flatten();
            let (id, ts) = ids.get(key).cloned().unwrap_or((Bson::Null, None));
            let raw = match &doc {
                Some(doc) => Some(RawDocumentBuf::try_from(doc).map_err(|e| {
                    RunError::Internal(format!(
                        "a replayed document of `{collection}` (`_id` {key}) cannot be encoded: {e}"
                    ))
                })?),
                None => None,
            };
            bytes.push(raw.as_ref().map(|r| r.as_bytes().to_vec()));
            let what = match raw {
                Some(doc) => What::Upsert {
                    collection: collection.to_string(),
                    id,
                    doc,
                },
                None => What::Delete {
                    collection: collection.to_string(),
                    id,
                },
            };
            changes.push(Change {
                token: serde_json::Value::Null,
                cluster_time: ts,
                wall_ms: None,
                transaction: None,
                what,
            });
        }
        sqlx::query(&sql::update_oplog_documents(state.schema()))
            .bind(collection)
            .bind(&order)
            .bind(&bytes)
            .execute(&mut *tx)
            .await
            .map_err(RunError::db(format!(
                "storing the replayed documents of `{collection}`"
            )))?;
    }
    Ok(changes)
}
