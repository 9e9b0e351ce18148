//! Following a live source after its copy: every change of its change stream from the point
//! recorded before the copy ([`crate::source::Source::change_start`]), applied through the
//! models in the stream's order, so the target stays in step until the application switches.
//!
//! A transaction applies many changes: per document the last one counts (the server looks the
//! whole document up), its rows are replaced (the collection's row, its child and junction
//! rows), a document gone loses them, and the references the transaction may have left
//! dangling are resolved with their `on_missing` policies ([`crate::references::targeted`]).
//! The resume token of its last change commits with its rows, fenced by the run's epoch like a
//! batch: a follow stopped anywhere (kill, Ctrl+C, a lost connection) resumes after the last
//! change it committed, nothing lost or applied twice. While the source writes nothing the
//! stream's token still moves on and is recorded.
//!
//! The stream's `drop`, `rename`, `dropDatabase` and `invalidate`, and a recorded point the
//! server no longer has, stop the follow with what to run.

mod apply;
mod error;
pub mod oplog;
mod position;
mod recopy;
mod restore;
mod stream;

pub use error::{FollowError, StopAt};
pub use position::FollowState;
pub use recopy::Recopied;
pub(crate) use stream::start_point;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::{Connection, PgConnection};

use crate::dead_letter::DeadLetter;
use crate::run_error::RunError;
use crate::schema::Schema;
use crate::sink::sql::{self, Namespace};
use crate::source::Source;
use crate::state::{connect, connect_as, RunStage, StateStore};

/// The `application_name` of the session that applies the changes.
pub const FOLLOW_APPLICATION: &str = "migrator-follow";
use apply::{Applied, Context};
use stream::{Change, ChangeReader, What};

/// What happens to the rows of a document changed into one its model refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnInvalid {
    /// Its rows keep the last version that fitted (the dead letter says what changed).
    #[default]
    Keep,
    /// Its rows are deleted, as a fresh migration of the source would leave it.
    Delete,
}

/// How to follow.
#[derive(Debug, Clone)]
pub struct FollowOptions {
    pub pg_url: String,
    pub target_schema: String,
    pub state_schema: String,
    /// The live source (a `mongodb://` URI) and its database.
    pub uri: String,
    pub database: String,
    /// The most changes per PostgreSQL transaction.
    pub max_batch: usize,
    /// How long a transaction waits for more changes.
    pub max_wait: Duration,
    pub on_invalid: OnInvalid,
    /// Stop once the follow is at the head of the stream with a lag under this bound.
    pub until_caught_up: Option<Duration>,
    /// How often progress is reported.
    pub progress_every: Duration,
    /// First copy again the collections whose drop or rename stopped the follow.
    pub recopy: bool,
    /// Ranges of a collection the re-copy reads at the same time.
    pub jobs: usize,
}

/// Where a follow stands, for progress lines and the end report.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FollowProgress {
    /// Changes applied by this invocation.
    pub applied: u64,
    pub upserted: u64,
    pub deleted: u64,
    pub dead_letters: u64,
    pub references_acted: u64,
    /// Changes per second over the last period.
    pub rate: f64,
    /// Milliseconds between the last change applied and now (0 at the head of the stream).
    pub lag_ms: i64,
    /// The resume token after the last change applied.
    pub token: serde_json::Value,
    pub caught_up: bool,
    /// What `--recopy` copied again before following.
    pub recopied: Option<Recopied>,
}

/// Follows the source until `stop` is set, the caught-up bound is met, or a change stops it.
/// Takes the run's lock and its epoch like a run. A lost connection to either server is retried
/// (with backoff) from the position recorded in the target: nothing is lost or applied twice.
pub async fn follow(
    schema: &Schema,
    source: Arc<dyn Source>,
    options: &FollowOptions,
    stop: Arc<AtomicBool>,
    on_progress: &(dyn Fn(&FollowProgress) + Send + Sync),
) -> Result<FollowProgress, FollowError> {
    let mut retries = 0u32;
    let mut backoff = Duration::from_millis(200);
    loop {
        let attempt = follow_once(schema, Arc::clone(&source), options, &stop, on_progress).await;
        match attempt {
            Err(e) if retries < MAX_RETRIES && passing(&e) && !stop.load(Ordering::SeqCst) => {
                tracing::warn!(error = %e, "the follow lost a connection; resuming from the recorded position in {backoff:?}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
                retries += 1;
            }
            other => return other,
        }
    }
}

/// Connection problems a follow retries.
const MAX_RETRIES: u32 = 8;

/// Whether `e` is a passing connection problem (the follow resumes from its recorded position).
fn passing(e: &FollowError) -> bool {
    match e {
        FollowError::Source { .. } => true,
        FollowError::Run(RunError::Database { source, .. }) => match source {
            sqlx::Error::Database(db) => {
                let code = db.code().map(|c| c.to_string()).unwrap_or_default();
                code.starts_with("08")
                    || code.starts_with("57P")
                    || code == "40001"
                    || code == "40P01"
            }
            sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::Protocol(_) => true,
            _ => false,
        },
        _ => false,
    }
}

async fn follow_once(
    schema: &Schema,
    source: Arc<dyn Source>,
    options: &FollowOptions,
    stop: &AtomicBool,
    on_progress: &(dyn Fn(&FollowProgress) + Send + Sync),
) -> Result<FollowProgress, FollowError> {
    let state = StateStore::new(options.state_schema.clone());
    let mut control = connect(&options.pg_url).await?;
    state.lock(&mut control).await?;
    let result = match begin(&state, &mut control).await {
        // On the session that holds the lock: a follow killed while taking the target over
        // keeps the lock until its statement is done.
        Ok(epoch) => follow_locked(schema, source, options, &state, epoch, stop, on_progress).await,
        Err(e) => Err(e),
    };
    let _ = state.unlock(&mut control).await;
    let all = vec![recopy::ALL.to_string()];
    let stopped = match &result {
        Err(FollowError::Stopped { reason, stop, .. }) => {
            Some((reason, Some(&stop.token), &stop.recopy))
        }
        // Every collection copied again: the follow starts from a new point.
        Err(FollowError::HistoryLost { reason, .. }) => Some((reason, None, &all)),
        _ => None,
    };
    if let Some((reason, stop_token, recopy)) = stopped {
        let _ = sqlx::query(&sql::record_follow_stop(state.schema()))
            .bind(reason)
            .bind(stop_token.unwrap_or(&serde_json::Value::Bool(true)))
            .bind(recopy)
            .execute(&mut control)
            .await;
    }
    result
}

/// Checks the run is finished and takes the target over: returns the epoch.
async fn begin(state: &StateStore, control: &mut PgConnection) -> Result<i64, FollowError> {
    match state.current(control).await? {
        Some((fingerprint, RunStage::Done)) if fingerprint.schema_mode != "create" => {
            return Err(FollowError::Unsupported {
                what: format!(
                    "a run with --schema-mode {} (the follow writes the models' own tables)",
                    fingerprint.schema_mode
                ),
            })
        }
        Some((_, RunStage::Done)) => {}
        Some((_, stage)) => {
            return Err(FollowError::NotFinished {
                state: state.schema().to_string(),
                stage: stage.as_str().to_string(),
            })
        }
        None => {
            return Err(FollowError::NotFinished {
                state: state.schema().to_string(),
                stage: RunStage::New.as_str().to_string(),
            })
        }
    }
    Ok(state.take_over(control).await?)
}

async fn follow_locked(
    schema: &Schema,
    source: Arc<dyn Source>,
    options: &FollowOptions,
    state: &StateStore,
    epoch: i64,
    stop: &AtomicBool,
    on_progress: &(dyn Fn(&FollowProgress) + Send + Sync),
) -> Result<FollowProgress, FollowError> {
    let mut conn = connect_as(&options.pg_url, FOLLOW_APPLICATION).await?;
    let Some(recorded) = FollowState::read(&mut conn, state).await? else {
        return Err(FollowError::NoStartPoint {
            state: state.schema().to_string(),
        });
    };
    let [awaiting, awaiting_index] = sql::create_awaiting_targets(state.schema());
    for statement in [
        sql::add_follow_recopy(state.schema()),
        sql::CREATE_FOLLOW_SETS.into(),
        // A state made before referrers were remembered by what they miss.
        awaiting,
        awaiting_index,
    ] {
        sqlx::query(&statement)
            .execute(&mut conn)
            .await
            .map_err(RunError::db("preparing the follow's tables"))?;
    }
    let cx = Context {
        schema,
        ns: Namespace(Some(options.target_schema.as_str())),
        state,
        source: source.as_ref(),
        on_invalid: options.on_invalid,
        types: Default::default(),
        kept_documents: false,
    };
    let mut token = recorded.token.clone();
    let mut progress = FollowProgress::default();
    if options.recopy {
        let fresh = async {
            let client = mongodb::Client::with_uri_str(&options.uri).await;
            let point = match client {
                Ok(client) => stream::start_point(&client.database(&options.database)).await,
                Err(e) => Err(e),
            };
            point.map(|p| p.token).map_err(|e| FollowError::Source {
                source_name: format!("MongoDB database `{}`", options.database),
                reason: e.to_string(),
            })
        };
        let reading = recopy::Reading {
            source: Arc::clone(&source),
            jobs: options.jobs,
        };
        let (resume, recopied) =
            recopy::recopy(&mut conn, &cx, epoch, &recorded, &reading, fresh).await?;
        token = resume;
        progress.recopied = Some(recopied);
    } else if let (Some(reason), Some(stop_token), Some(recopy)) =
        (&recorded.stopped, &recorded.stop_token, &recorded.recopy)
    {
        return Err(FollowError::Stopped {
            reason: reason.clone(),
            token,
            stop: Box::new(StopAt {
                token: stop_token.clone(),
                recopy: recopy.clone(),
            }),
        });
    }
    progress.token = token.clone();
    let mut reader = ChangeReader::open(&options.uri, &options.database, &token).await?;
    let mut period = (Instant::now(), 0u64);
    let mut last_wall_ms: Option<i64> = None;
    while !stop.load(Ordering::SeqCst) {
        let mut read = reader.read(options.max_batch, options.max_wait).await?;
        for change in &mut read.changes {
            // A collection no model reads was dropped or renamed: nothing to copy again.
            if let What::Stop { recopy, .. } = &change.what {
                let read_by_models = |c: &String| {
                    c == recopy::ALL || schema.models().iter().any(|m| m.collection() == c)
                };
                if !recopy.iter().any(read_by_models) {
                    change.what = What::Nothing;
                }
            }
        }
        let stopping = read.changes.iter().find_map(|c| match &c.what {
            What::Stop { reason, recopy } => {
                Some((reason.clone(), c.token.clone(), recopy.clone()))
            }
            _ => None,
        });
        let applying: Vec<&Change> = read
            .changes
            .iter()
            .take_while(|c| !matches!(c.what, What::Stop { .. }))
            .collect();
        if let Some(last) = applying.last() {
            last_wall_ms = last.wall_ms.or(last_wall_ms);
        }
        let lag_ms = match (read.at_head, last_wall_ms) {
            (true, _) | (_, None) => 0,
            (false, Some(wall)) => (now_ms() - wall).max(0),
        };
        let next_token = match (applying.last(), &read.idle_token) {
            (Some(last), _) => Some(last.token.clone()),
            (None, Some(idle)) => Some(idle.clone()),
            (None, None) => None,
        };
        if let Some(next_token) = next_token {
            let elapsed = period.0.elapsed().as_secs_f64().max(0.001);
            let rate = (period.1 + applying.len() as u64) as f64 / elapsed;
            let applied = commit(
                &mut conn,
                &cx,
                epoch,
                &token,
                &next_token,
                &applying,
                lag_ms,
                rate,
            )
            .await?;
            token = next_token;
            progress.applied += applying.len() as u64;
            progress.upserted += applied.upserted;
            progress.deleted += applied.deleted;
            progress.dead_letters += applied.dead_letters.len() as u64;
            progress.references_acted += applied.references.rows;
            period.1 += applying.len() as u64;
        }
        progress.token = token.clone();
        progress.lag_ms = lag_ms;
        progress.caught_up = read.at_head && stopping.is_none();
        if let Some((reason, stop_token, recopy)) = stopping {
            on_progress(&progress);
            return Err(FollowError::Stopped {
                reason,
                token,
                stop: Box::new(StopAt {
                    token: stop_token,
                    recopy,
                }),
            });
        }
        if period.0.elapsed() >= options.progress_every {
            progress.rate = period.1 as f64 / period.0.elapsed().as_secs_f64().max(0.001);
            on_progress(&progress);
            period = (Instant::now(), 0);
        }
        if let Some(bound) = options.until_caught_up {
            if progress.caught_up && Duration::from_millis(lag_ms as u64) <= bound {
                break;
            }
        }
    }
    if period.1 > 0 {
        progress.rate = period.1 as f64 / period.0.elapsed().as_secs_f64().max(0.001);
    }
    on_progress(&progress);
    Ok(progress)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Applies `changes` and moves the recorded token from `from` to `to` in one transaction. A
/// batch PostgreSQL refuses (a unique key two documents now share) is applied again one
/// document at a time under savepoints: the refused ones become dead letters, their rows keep
/// their last version.
#[allow(clippy::too_many_arguments)]
async fn commit(
    conn: &mut PgConnection,
    cx: &Context<'_>,
    epoch: i64,
    from: &serde_json::Value,
    to: &serde_json::Value,
    changes: &[&Change],
    lag_ms: i64,
    rate: f64,
) -> Result<Applied, FollowError> {
    let failed = |what: &'static str| RunError::db(what);
    let mut tx = conn
        .begin()
        .await
        .map_err(failed("starting a follow transaction"))?;
    prepare_transaction(&mut tx).await?;
    let applied = match apply::apply(&mut tx, cx, changes).await {
        Ok(applied) => applied,
        Err(RunError::Database { source, context }) if is_data_error(&source) => {
            drop(tx);
            tracing::warn!(%context, error = %source, "a follow transaction was refused; applying its changes one by one");
            tx = conn
                .begin()
                .await
                .map_err(failed("starting a follow transaction"))?;
            prepare_transaction(&mut tx).await?;
            one_by_one(&mut tx, cx, changes).await?
        }
        Err(e) => return Err(e.into()),
    };
    let wall = changes.last().and_then(|c| c.wall_ms);
    let cluster = changes
        .last()
        .and_then(|c| c.cluster_time)
        .map(|t| t.packed());
    let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    let transactions = count_transactions(changes);
    let (moved, ours): (i64, bool) = sqlx::query_as(&sql::record_follow(cx.state.schema()))
        .bind(from)
        .bind(to)
        .bind(cluster)
        .bind(wall)
        .bind(n(changes.len() as u64))
        .bind(n(applied.upserted))
        .bind(n(applied.deleted))
        .bind(n(applied.dead_letters.len() as u64))
        .bind(n(applied.references.rows))
        .bind(n(transactions))
        .bind(lag_ms)
        .bind(rate)
        .bind(epoch)
        .fetch_one(&mut *tx)
        .await
        .map_err(failed("recording the follow's position"))?;
    if !ours {
        return Err(RunError::TakenOver {
            state: cx.state.schema().to_string(),
        }
        .into());
    }
    if moved != 1 {
        return Err(RunError::Internal(format!(
            "the follow's recorded position in `{}` moved without this process (another follow's \
             last commit arriving late?); nothing of this transaction was written: run the follow again",
            cx.state.schema()
        ))
        .into());
    }
    tx.commit()
        .await
        .map_err(failed("committing a follow transaction"))?;
    Ok(applied)
}

/// Sets a follow (or oplog replay) transaction up ([`sql::FOLLOW_TRANSACTION`]).
pub(super) async fn prepare_transaction(tx: &mut PgConnection) -> Result<(), RunError> {
    sqlx::query(sql::FOLLOW_TRANSACTION)
        .execute(&mut *tx)
        .await
        .map_err(RunError::db(
            "preparing a follow transaction (turning foreign-key triggers off needs a superuser \
             or `GRANT SET ON PARAMETER session_replication_role`)",
        ))?;
    Ok(())
}

/// The MongoDB transactions whose changes are in `changes`.
fn count_transactions(changes: &[&Change]) -> u64 {
    let mut seen: Vec<&(Vec<u8>, i64)> = changes
        .iter()
        .filter_map(|c| c.transaction.as_ref())
        .collect();
    seen.dedup();
    seen.len() as u64
}

fn is_data_error(e: &sqlx::Error) -> bool {
    let sqlx::Error::Database(db) = e else {
        return false;
    };
    let code = db.code().map(|c| c.to_string()).unwrap_or_default();
    code.starts_with("23") || code.starts_with("22")
}

/// [`apply::apply`] a document's changes at a time, each under a savepoint.
async fn one_by_one(
    tx: &mut PgConnection,
    cx: &Context<'_>,
    changes: &[&Change],
) -> Result<Applied, FollowError> {
    let mut total = Applied::default();
    for change in changes {
        sqlx::query("SAVEPOINT follow_change")
            .execute(&mut *tx)
            .await
            .map_err(RunError::db("taking a savepoint"))?;
        match apply::apply(tx, cx, &[change]).await {
            Ok(applied) => {
                total.upserted += applied.upserted;
                total.deleted += applied.deleted;
                total.dead_letters.extend(applied.dead_letters);
                total.references.rows += applied.references.rows;
                total.references.rejected += applied.references.rejected;
            }
            Err(RunError::Database { source, context }) if is_data_error(&source) => {
                sqlx::query("ROLLBACK TO SAVEPOINT follow_change")
                    .execute(&mut *tx)
                    .await
                    .map_err(RunError::db("rolling back to a savepoint"))?;
                if let What::Upsert {
                    collection, doc, ..
                } = &change.what
                {
                    let letter = refused(collection, doc, &context, &source);
                    crate::dead_letter::insert(
                        tx,
                        cx.state.schema(),
                        std::slice::from_ref(&letter),
                    )
                    .await
                    .map_err(RunError::db("recording a refused change"))?;
                    total.dead_letters.push(letter);
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(total)
}

fn refused(
    collection: &str,
    doc: &bson::RawDocumentBuf,
    context: &str,
    error: &sqlx::Error,
) -> DeadLetter {
    let class = match error {
        sqlx::Error::Database(db) => {
            crate::dead_letter::sqlstate_class(db.code().as_deref().unwrap_or(""))
        }
        _ => "database_error",
    };
    DeadLetter {
        collection: collection.to_string(),
        document_id: crate::transform::describe_id(doc),
        stage: crate::dead_letter::Stage::Load,
        field: String::new(),
        class: class.to_string(),
        message: format!("{context}: {error}"),
        document: crate::dead_letter::document_json(doc),
        errors: Vec::new(),
        root_id: None,
    }
}
