//! Creating the target tables while the load starts: the readers transform their first batches
//! while PostgreSQL creates the tables on a connection of its own, and every writer waits at a
//! gate until the tables (and the stage that says they exist) are committed.

use std::time::Instant;

use sqlx::Connection;
use tokio::sync::watch;

use super::config::RunConfig;
use crate::run_error::RunError;
use crate::sink::ddl;
use crate::state::{connect, RunStage, StateStore};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tables {
    Pending,
    Ready,
    Failed,
}

/// Whether the target tables exist yet.
#[derive(Debug)]
pub struct TablesGate(watch::Sender<Tables>);

impl TablesGate {
    /// A gate that stays closed until [`create`] commits the tables.
    pub fn pending() -> Self {
        TablesGate(watch::Sender::new(Tables::Pending))
    }

    /// The tables exist (a resume, or after [`create`]).
    pub fn open(&self) {
        self.0.send_replace(Tables::Ready);
    }

    fn fail(&self) {
        self.0.send_replace(Tables::Failed);
    }

    /// Waits until the tables exist; an error if creating them failed (that error is the run's).
    pub async fn wait(&self) -> Result<(), RunError> {
        let mut rx = self.0.subscribe();
        let state = *rx
            .wait_for(|t| *t != Tables::Pending)
            .await
            .map_err(|_| RunError::Internal("the table gate closed".into()))?;
        match state {
            Tables::Ready => Ok(()),
            _ => Err(RunError::Internal(
                "the tables could not be created (see the error before)".into(),
            )),
        }
    }
}

/// Runs `statements` and records the `loading` stage in one transaction on a connection of its
/// own, then opens `gate` (or marks it failed). Returns how long it took.
pub async fn create(
    config: &RunConfig,
    state: &StateStore,
    statements: &[String],
    gate: &TablesGate,
) -> Result<f64, RunError> {
    let started = Instant::now();
    let result = async {
        let mut conn = connect(&config.pg_url).await?;
        let mut tx = conn
            .begin()
            .await
            .map_err(RunError::db("starting to create the tables"))?;
        ddl::execute_all(&mut tx, "create the tables", statements).await?;
        state.set_stage(&mut tx, RunStage::Loading).await?;
        tx.commit()
            .await
            .map_err(RunError::db("committing the tables"))?;
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
    async fn writers_wait_until_the_gate_opens_or_fails() {
        let gate = std::sync::Arc::new(TablesGate::pending());
        let waiting = {
            let gate = std::sync::Arc::clone(&gate);
            tokio::spawn(async move { gate.wait().await })
        };
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "closed until the tables exist");
        gate.open();
        assert!(waiting.await.expect("joined").is_ok());
        assert!(gate.wait().await.is_ok(), "stays open");

        let failed = TablesGate::pending();
        failed.fail();
        let e = failed.wait().await.expect_err("creating them failed");
        assert!(e.to_string().contains("could not be created"), "{e}");
    }
}
