//! [`EarlyKeys`]: the keys and indexes of the collections already loaded, built on a session of
//! their own while the other collections load.
//!
//! A collection's tables take no more rows once all its partitions are done, so their primary
//! keys, unique constraints and indexes can be built then instead of after the whole load: the
//! build overlaps the rest of the load, which fills the time the load leaves the cores idle and
//! hides the index builds' writes. Nothing here is needed for correctness: the constraints stage
//! adds whatever is missing (it skips what exists), so a statement that fails (repeated values
//! refuse keys, for example) is simply left to it, and so is everything when the run stops.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use sqlx::{Executor, PgConnection};
use tokio::sync::mpsc;

use crate::sink::constraints::{self, Busy};
use crate::sink::ddl::Ddl;
use crate::sink::sql;
use crate::state::StateStore;

/// The session building keys and indexes during the load.
#[derive(Debug)]
pub struct EarlyKeys {
    loaded: mpsc::UnboundedSender<Vec<String>>,
    stop: Arc<AtomicBool>,
    /// The table being built now; a table starts only under this lock, and only if `stop` is
    /// not set, so [`EarlyKeys::stop`] knows the last one.
    current: Arc<Mutex<Option<String>>>,
    /// Ends with the names of the keys the session added.
    task: tokio::task::JoinHandle<BTreeSet<String>>,
}

/// What to build for each loaded table.
#[derive(Debug, Clone, Copy)]
pub struct EarlyWork {
    pub keys: bool,
    pub indexes: bool,
}

impl EarlyKeys {
    /// Starts the session (it connects at its first table). Each of its statements runs under
    /// the fence of `state`'s run epoch (see [`sql::hold_fence`]): once another run has taken
    /// the target over, it starts none.
    pub fn start(
        url: String,
        target_schema: String,
        state: StateStore,
        ddl: Arc<Ddl>,
        work: EarlyWork,
    ) -> Self {
        let (loaded, mut tables) = mpsc::unbounded_channel::<Vec<String>>();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let current = Arc::new(Mutex::new(None));
        let building = Arc::clone(&current);
        let task = tokio::spawn(async move {
            let mut session: Option<(PgConnection, BTreeSet<String>)> = None;
            let mut added = BTreeSet::new();
            while let Some(batch) = tables.recv().await {
                for table in batch {
                    if !start_table(&building, &stopped, &table) {
                        return added;
                    }
                    if session.is_none() {
                        match open(&url, &target_schema).await {
                            Some(s) => session = Some(s),
                            None => return added,
                        }
                    }
                    if let Some((conn, existing)) = &mut session {
                        let fence = Fence { state: &state };
                        let built =
                            build(conn, existing, &ddl, &table, work, &stopped, fence).await;
                        added.extend(built);
                    }
                    if let Ok(mut current) = building.lock() {
                        *current = None;
                    }
                }
            }
            added
        });
        EarlyKeys {
            loaded,
            stop,
            current,
            task,
        }
    }

    /// The tables of a collection whose load is complete.
    pub fn loaded(&self, tables: Vec<String>) {
        let _ = self.loaded.send(tables);
    }

    /// Starts nothing more and waits for the statement that runs, if any.
    pub async fn finish(self) {
        self.stop.store(true, Ordering::SeqCst);
        drop(self.loaded);
        let _ = self.task.await;
    }

    /// Starts nothing more, without waiting: the table whose statement may still run, for the
    /// constraints stage to leave to this session until it ends (`None`: no table is being
    /// built, and the session starts none).
    pub fn stop(self) -> Option<Busy> {
        let table = match self.current.lock() {
            Ok(mut current) => {
                self.stop.store(true, Ordering::SeqCst);
                current.take()
            }
            Err(_) => None,
        };
        drop(self.loaded);
        let done = self.task;
        table.map(|table| Busy { table, done })
    }
}

/// Records `table` as the one being built, unless the session was stopped.
fn start_table(current: &Mutex<Option<String>>, stop: &AtomicBool, table: &str) -> bool {
    let Ok(mut current) = current.lock() else {
        return false;
    };
    if stop.load(Ordering::SeqCst) {
        return false;
    }
    *current = Some(table.to_string());
    true
}

/// A session for the builds, and the constraints that exist already (a resumed run).
async fn open(url: &str, target_schema: &str) -> Option<(PgConnection, BTreeSet<String>)> {
    let mut conn = constraints::session(url).await.ok()?;
    conn.execute(sql::SERIAL_BUILDS).await.ok()?;
    let existing = constraints::existing_names(&mut conn, target_schema)
        .await
        .ok()?;
    Some((conn, existing))
}

/// The run epoch the session's statements run under.
#[derive(Clone, Copy)]
struct Fence<'a> {
    state: &'a StateStore,
}

/// Why a statement did not run to its commit.
enum Refused {
    /// Another run took the target over: the session starts nothing more.
    TakenOver,
    Failed(sqlx::Error),
}

impl Fence<'_> {
    /// Runs `statement` in a transaction that first holds the fence row of this run's epoch.
    async fn run(self, conn: &mut PgConnection, statement: &str) -> Result<(), Refused> {
        let Some(epoch) = self.state.epoch() else {
            return conn
                .execute(statement)
                .await
                .map(drop)
                .map_err(Refused::Failed);
        };
        conn.execute("BEGIN").await.map_err(Refused::Failed)?;
        let outcome = async {
            let held: Option<i64> = sqlx::query_scalar(&sql::hold_fence(self.state.schema()))
                .bind(epoch)
                .fetch_optional(&mut *conn)
                .await
                .map_err(Refused::Failed)?;
            if held.is_none() {
                return Err(Refused::TakenOver);
            }
            conn.execute(statement).await.map_err(Refused::Failed)?;
            conn.execute("COMMIT").await.map_err(Refused::Failed)?;
            Ok(())
        }
        .await;
        if outcome.is_err() {
            let _ = conn.execute("ROLLBACK").await;
        }
        outcome
    }
}

/// Builds the keys, then the indexes, of `table`; a refusal stops the table's work, and a
/// take-over by another run the session's. Returns the names of the keys it added.
async fn build(
    conn: &mut PgConnection,
    existing: &BTreeSet<String>,
    ddl: &Ddl,
    table: &str,
    work: EarlyWork,
    stop: &AtomicBool,
    fence: Fence<'_>,
) -> Vec<String> {
    let refused = |e: Refused| match e {
        Refused::TakenOver => {
            stop.store(true, Ordering::SeqCst);
            tracing::debug!(
                table,
                "another run took the target over: no more early keys"
            );
        }
        Refused::Failed(e) => {
            tracing::debug!(table, error = %e, "left to the constraints stage");
        }
    };
    let mut added = Vec::new();
    if work.keys {
        let keys = ddl
            .keys
            .iter()
            .filter(|k| k.table == table && !k.exist_in(existing));
        for keys in keys {
            if stop.load(Ordering::SeqCst) {
                return added;
            }
            if let Err(e) = fence.run(conn, keys.statement.as_str()).await {
                refused(e);
                return added;
            }
            added.extend(keys.names.iter().cloned());
        }
    }
    if work.indexes {
        let indexes = ddl
            .indexes
            .iter()
            .zip(&ddl.index_tables)
            .filter(|(_, t)| *t == table);
        for (statement, _) in indexes {
            if stop.load(Ordering::SeqCst) {
                return added;
            }
            if let Err(e) = fence.run(conn, sql::if_missing(statement).as_str()).await {
                refused(e);
                return added;
            }
        }
    }
    added
}
