//! Errors that stop a run (per-document problems are dead letters instead, see
//! [`crate::dead_letter`]).

use crate::source::SourceError;

/// Why a run stopped. Everything committed before it stays committed; running again resumes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    #[error("another migration holds the lock on this target (state schema `{state}`); wait for it or stop it")]
    Locked { state: String },
    #[error("another run took this target over (state schema `{state}`) after this run's control session was lost; this run's writers stopped before committing anything more")]
    TakenOver { state: String },
    #[error("the checkpoint in `{state}` was written with other settings: {}; run with --restart to start over", differences.join("; "))]
    CheckpointMismatch {
        state: String,
        differences: Vec<String>,
    },
    #[error("partition {partition} of `{collection}` was advanced by another writer (a previous run's last commit arriving late?); nothing of this batch was written; run again to resume from the recorded position")]
    CheckpointMoved { collection: String, partition: u32 },
    #[error("the target schema `{schema}` already holds {}, which this run creates; nothing was written: drop {}, or load into tables you made yourself with --schema-mode existing", tables.join(", "), if tables.len() == 1 { "it" } else { "them" })]
    TablesInTheWay { schema: String, tables: Vec<String> },
    #[error("existing tables do not match the models:\n  {}", mismatches.join("\n  "))]
    SchemaMismatch { mismatches: Vec<String> },
    #[error("foreign keys of the existing tables do not hold once the references are resolved:\n  {}", violations.join("\n  "))]
    ForeignKeysBroken { violations: Vec<String> },
    #[error("{context}: {source}")]
    Database {
        context: String,
        #[source]
        source: sqlx::Error,
    },
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error("schema has no model for collection `{0}`")]
    UnknownCollection(String),
    #[error("writing {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("not enough memory for this run: the limit is {limit} and it may need {need}; raise the limit, or lower `--batch-bytes` or `--jobs`")]
    Memory { limit: String, need: String },
    #[error("out of memory while loading `{collection}`: {what} of {bytes} bytes could not be allocated; a run's memory is bounded by its batches in flight: lower `--batch-bytes` or `--jobs`, or raise the memory limit")]
    OutOfMemory {
        collection: String,
        /// What was being allocated (`a COPY buffer of table `tasks``).
        what: String,
        bytes: usize,
    },
    #[error("the models have {what}, which needs the PostgreSQL extension `{extension}`, and the server at the target does not have it installed; nothing was written. {install}")]
    MissingExtension {
        extension: String,
        /// What needs it (`geometry columns (organizations.office)`).
        what: String,
        /// How to install it.
        install: String,
    },
    #[error("{0}")]
    Internal(String),
}

impl RunError {
    pub fn db(context: impl Into<String>) -> impl FnOnce(sqlx::Error) -> RunError {
        let context = context.into();
        move |source| RunError::Database { context, source }
    }
}
