//! Creating the target tables while the load starts, without their keys (built after the load).
//! PostgreSQL fsyncs every index it builds (each TOAST index), so creating tens of tables takes a
//! while even though it costs little CPU: the tables are created collection by collection, in
//! the order the load takes them, on a connection of their own, and each collection's writers
//! wait only for its own tables. The readers meanwhile transform their first batches.

use std::collections::BTreeSet;
use std::time::Instant;

use sqlx::{Connection, PgConnection};
use tokio::sync::{oneshot, watch};

use super::config::RunConfig;
use crate::run_error::RunError;
use crate::schema::Schema;
use crate::sink::{ddl, sql};
use crate::state::{connect, RunStage, StateStore};

#[derive(Debug, Clone, Default)]
struct Tables {
    /// Collections whose tables exist.
    ready: BTreeSet<String>,
    all: bool,
    failed: bool,
}

/// Which collections' tables exist yet.
#[derive(Debug)]
pub struct TablesGate(watch::Sender<Tables>);

impl TablesGate {
    /// A gate that stays closed until [`create`] commits the tables.
    pub fn pending() -> Self {
        TablesGate(watch::Sender::new(Tables::default()))
    }

    /// Every table exists (a resume that finds them all, or existing tables).
    pub fn open(&self) {
        self.0.send_modify(|t| t.all = true);
    }

    fn ready(&self, collection: &str) {
        self.0.send_modify(|t| {
            t.ready.insert(collection.to_string());
        });
    }

    fn fail(&self) {
        self.0.send_modify(|t| t.failed = true);
    }

    /// Waits until the tables of `collection` exist; an error if creating them failed (that
    /// error is the run's).
    pub async fn wait(&self, collection: &str) -> Result<(), RunError> {
        let mut rx = self.0.subscribe();
        let tables = rx
            .wait_for(|t| t.all || t.failed || t.ready.contains(collection))
            .await
            .map_err(|_| RunError::Internal("the table gate closed".into()))?;
        if tables.all || tables.ready.contains(collection) {
            Ok(())
        } else {
            Err(RunError::Internal(
                "the tables could not be created (see the error before)".into(),
            ))
        }
    }
}

/// The `CREATE TABLE`s of one collection, committed together.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Chunk {
    pub collection: String,
    pub statements: Vec<String>,
}

/// What a run creates before its writers can write.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Creation {
    /// Statements that go first, with the first chunk: the schema and the enum types.
    pub prelude: Vec<String>,
    /// Collection by collection, in the order the load takes them.
    pub chunks: Vec<Chunk>,
    /// Whether the first transaction also records the `loading` stage (a new run: the stage
    /// then says the first tables exist, and a resume creates whatever tables are missing).
    pub set_loading: bool,
}

impl Creation {
    /// The tables of the models in `order` (indexes into `schema.models()`) that are not in
    /// `existing`, in that order.
    pub fn missing(schema: &Schema, target: &str, order: &[usize], existing: &[String]) -> Self {
        let ns = sql::Namespace(Some(target));
        let chunks = order
            .iter()
            .filter_map(|&m| {
                let model = &schema.models()[m];
                let statements: Vec<String> = model
                    .def()
                    .tables
                    .iter()
                    .filter(|t| !existing.contains(&t.name))
                    .map(|t| sql::create_table_for_load(ns, t))
                    .collect();
                (!statements.is_empty()).then(|| Chunk {
                    collection: model.collection().to_string(),
                    statements,
                })
            })
            .collect();
        Creation {
            prelude: Vec::new(),
            chunks,
            set_loading: false,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.prelude.is_empty() && self.chunks.is_empty() && !self.set_loading
    }
}

/// The tables of `names` that exist in schema `target`.
pub async fn existing(
    conn: &mut PgConnection,
    target: &str,
    names: &[String],
) -> Result<Vec<String>, RunError> {
    sqlx::query_scalar(sql::EXISTING_TABLES)
        .bind(target)
        .bind(names)
        .fetch_all(conn)
        .await
        .map_err(RunError::db("looking for the target tables"))
}

/// Runs `creation` on a connection of its own, one transaction per collection, opening `gate`
/// for each collection as its tables commit (or marking it failed). Returns how long it took.
/// With `state_ready`, the first transaction commits only once it is told the run is recorded
/// (the stage it sets is the run's).
pub async fn create(
    config: &RunConfig,
    state: &StateStore,
    creation: &Creation,
    gate: &TablesGate,
    mut state_ready: Option<oneshot::Receiver<()>>,
) -> Result<f64, RunError> {
    let started = Instant::now();
    let result = async {
        let mut conn = connect(&config.pg_url).await?;
        // A commit lost in a crash is found missing by the next run, which creates it again:
        // nothing that needs the tables commits before them (the WAL keeps the order).
        sqlx::query(sql::ASYNC_COMMIT)
            .execute(&mut conn)
            .await
            .map_err(RunError::db("setting up the table session"))?;
        let empty = Chunk::default();
        let chunks: Vec<&Chunk> = if creation.chunks.is_empty() {
            vec![&empty]
        } else {
            creation.chunks.iter().collect()
        };
        for (i, chunk) in chunks.into_iter().enumerate() {
            let mut tx = conn
                .begin()
                .await
                .map_err(RunError::db("starting to create the tables"))?;
            let mut statements = Vec::new();
            if i == 0 {
                statements.extend(creation.prelude.iter().cloned());
            }
            statements.extend(chunk.statements.iter().cloned());
            ddl::execute_all(&mut tx, "create the tables", &statements).await?;
            if let Some(ready) = state_ready.take() {
                ready.await.map_err(|_| {
                    RunError::Internal("the run state was not set up: no tables created".into())
                })?;
            }
            if i == 0 && creation.set_loading {
                state.set_stage(&mut tx, RunStage::Loading).await?;
            }
            tx.commit()
                .await
                .map_err(RunError::db("committing the tables"))?;
            if !chunk.collection.is_empty() {
                gate.ready(&chunk.collection);
            }
        }
        let _ = conn.close().await;
        Ok(started.elapsed().as_secs_f64())
    }
    .await;
    match &result {
        Ok(_) => gate.open(),
        Err(_) => gate.fail(),
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn writers_wait_for_their_collection_until_the_gate_opens_or_fails() {
        let gate = std::sync::Arc::new(TablesGate::pending());
        let waiting = |collection: &'static str| {
            let gate = std::sync::Arc::clone(&gate);
            tokio::spawn(async move { gate.wait(collection).await })
        };
        let tasks = waiting("tasks");
        let users = waiting("users");
        tokio::task::yield_now().await;
        assert!(!tasks.is_finished(), "closed until the tables exist");
        gate.ready("tasks");
        assert!(tasks.await.expect("joined").is_ok());
        tokio::task::yield_now().await;
        assert!(
            !users.is_finished(),
            "another collection's tables do not open it"
        );
        gate.open();
        assert!(users.await.expect("joined").is_ok());
        assert!(gate.wait("anything").await.is_ok(), "stays open");

        let failed = TablesGate::pending();
        failed.ready("tasks");
        failed.fail();
        assert!(
            failed.wait("tasks").await.is_ok(),
            "created before the failure"
        );
        let e = failed
            .wait("users")
            .await
            .expect_err("creating them failed");
        assert!(e.to_string().contains("could not be created"), "{e}");
    }
}
