//! The run: set up the target, load every partition phase by phase, then resolve dangling
//! references and add constraints. Every step can be interrupted and resumed.
//!
//! One module per stage, in the order a run takes them: `setup` (the lock, the state, the
//! source's listing and the tables), `load` (the workload's partitions through the writers,
//! with the early keys), `references` (keys, foreign keys and dangling references),
//! `constraints` (what the references stage could not add) and `summary` (the report).
//! The load's parts: the `workload` (sizes, order, partitions asked ahead), its `queue` of
//! partitions and each `partition`'s reader and writer.

mod constraints;
mod load;
mod merge;
mod partition;
mod queue;
mod references;
mod resplit;
mod setup;
mod summary;
mod workload;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use sqlx::PgConnection;

pub use setup::drop_tables;
pub use summary::error_groups;

use super::config::{RunConfig, SchemaMode};
use super::reload::Reloaded;
use super::tables::TablesGate;
use crate::allocator::{self, Activity};
use crate::dead_letter::DeadLetterFile;
use crate::progress::{Event, Observer};
use crate::report::{Outcome, RunReport};
use crate::run_error::RunError;
use crate::schema::Schema;
use crate::sink::constraints::{Busy, Sessions};
use crate::sink::ddl::Ddl;
use crate::sink::pool::BufferPool;
use crate::source::{CollectionInfo, Source, SourceError};
use crate::state::{connect, RunStage, StateStore};
use workload::Workload;

/// Shared by the partition tasks of a run.
struct Shared {
    source: Arc<dyn Source>,
    config: RunConfig,
    observer: Arc<dyn Observer>,
    stop: Arc<AtomicBool>,
    too_many_errors: AtomicBool,
    read: AtomicU64,
    dead: AtomicU64,
    dead_file: Option<DeadLetterFile>,
    /// Whether every table holds exactly the rows the batches wrote (so the summary need not
    /// count them).
    rows_as_written: AtomicBool,
    /// Seconds spent in each stage by this invocation.
    stage_seconds: Mutex<BTreeMap<String, f64>>,
    /// Which collections' tables exist: each writer waits for its collection's.
    tables: TablesGate,
    /// Buffers of written batches, for the readers.
    buffers: BufferPool,
    /// The columns written adapted to a user's own tables (`--schema-mode existing`).
    adaptations: Mutex<Vec<String>>,
}

impl Shared {
    /// Adds the time since `mark` to stage `name` and moves `mark` to now.
    fn time_stage(&self, name: &str, mark: &mut Instant) {
        let now = Instant::now();
        self.add_stage_seconds(name, (now - *mark).as_secs_f64());
        *mark = now;
    }

    fn add_stage_seconds(&self, name: &str, seconds: f64) {
        if let Ok(mut stages) = self.stage_seconds.lock() {
            *stages.entry(name.to_string()).or_default() += seconds;
        }
    }
}

/// Runs (or resumes) a migration of `schema` from `source` into PostgreSQL.
///
/// `stop` asks the run to finish its current batches and return [`Outcome::Interrupted`].
pub async fn run(
    schema: &Schema,
    source: Arc<dyn Source>,
    config: RunConfig,
    observer: Arc<dyn Observer>,
    stop: Arc<AtomicBool>,
) -> Result<RunReport, RunError> {
    let started = Instant::now();
    super::memory::check(&config)?;
    let state = StateStore::new(config.state_schema.clone());
    // The source lists its collections (a live one counts their documents) while the control
    // session connects and takes the lock.
    let listing = {
        let source = Arc::clone(&source);
        tokio::task::spawn_blocking(move || source.collections())
    };
    // The writers' sessions connect meanwhile too: the first batches need them at once.
    let sessions = setup::open_writer_sessions(&config);
    let mut control = connect(&config.pg_url).await?;
    // Before the lock and the state: a server without PostGIS stops the run with nothing written.
    crate::sink::extensions::require(&mut control, schema).await?;
    state.lock(&mut control).await?;
    // Idle buffers kept: two batches per job (a job holds up to three, its read-ahead two).
    let idle_buffers = config
        .batch_bytes
        .saturating_mul(config.jobs.max(1).saturating_mul(2));
    let shared = Arc::new(Shared {
        source,
        dead_file: config.dead_letter_file.clone().map(DeadLetterFile::new),
        config,
        observer,
        stop,
        too_many_errors: AtomicBool::new(false),
        read: AtomicU64::new(0),
        dead: AtomicU64::new(0),
        stage_seconds: Mutex::new(BTreeMap::new()),
        rows_as_written: AtomicBool::new(false),
        tables: TablesGate::pending(),
        buffers: BufferPool::new(idle_buffers),
        adaptations: Mutex::new(Vec::new()),
    });
    let started_ahead = Started { listing, sessions };
    let result = run_locked(schema, &shared, &state, &mut control, started_ahead).await;
    // The file was appended to as batches committed; the table is the exact record (a kill
    // between a commit and its append, or a resumed stage, can leave the file off by a few).
    // A finished run brings it up to date too: a kill after the state said `done` and before
    // this export left it short, and the file is only touched when it differs.
    let exported = summary::export_dead_letters(&shared, &state, &mut control).await;
    let _ = state.unlock(&mut control).await;
    let outcome = result?;
    exported?;
    summary::summarize(
        schema,
        &shared,
        &state,
        &mut control,
        outcome,
        started.elapsed(),
    )
    .await
}

/// What [`run`] starts before it holds the lock: the source's listing and the writers' sessions.
struct Started {
    listing: tokio::task::JoinHandle<Result<Vec<CollectionInfo>, SourceError>>,
    sessions: tokio::task::JoinHandle<Vec<PgConnection>>,
}

/// What this invocation carries from one stage to the next.
struct Invocation {
    /// The stage the run is in.
    stage: RunStage,
    /// When the current stage's time started (see [`Shared::time_stage`]).
    mark: Instant,
    /// The first load's workload, listed while the control session connected.
    workload: Option<Workload>,
    /// The writers' sessions opened at the start, for the first load.
    sessions: Option<tokio::task::JoinHandle<Vec<PgConnection>>>,
    /// The tables being created while the load reads its first batches.
    creating: Option<tokio::task::JoinHandle<Result<f64, RunError>>>,
    /// Whether this invocation ended the load (and so saw every row the references stage found).
    loaded_here: bool,
    /// Whether this invocation added every foreign key and index already (the usual case): the
    /// constraints stage then has nothing left to do.
    constraints_added: bool,
    /// Collections loaded again because their keys were refused.
    reloaded: Reloaded,
    /// The constraint sessions, opened while the load ends, and the table the early keys'
    /// session may still be building (see [`load::stage`]).
    opened: Option<Result<Sessions, RunError>>,
    busy: Option<Busy>,
}

/// The run's story once it holds the lock: set up, load, resolve the references (with the keys
/// and foreign keys), add the constraints left. Refused keys send their collections back to
/// the load.
async fn run_locked(
    schema: &Schema,
    shared: &Arc<Shared>,
    state: &StateStore,
    control: &mut PgConnection,
    started_ahead: Started,
) -> Result<Outcome, RunError> {
    let config = &shared.config;
    let mark = Instant::now();
    let adapted;
    let schema = if config.schema_mode == SchemaMode::Existing {
        adapted = fit_existing(schema, shared, control).await?;
        &adapted
    } else {
        schema
    };
    let ddl = Ddl::new(schema, Some(&config.target_schema));
    allocator::set_activity(Activity::SettingUp);
    let Some(mut run) =
        setup::stage(schema, shared, state, control, &ddl, started_ahead, mark).await?
    else {
        return Ok(Outcome::AlreadyComplete);
    };
    loop {
        if run.stage == RunStage::Loading {
            allocator::set_activity(Activity::Loading);
            let outcome = load::stage(schema, shared, state, control, &ddl, &mut run).await?;
            if outcome != Outcome::Completed {
                return Ok(outcome);
            }
        }
        if config.skip_finish {
            return Ok(Outcome::Completed);
        }
        if run.stage != RunStage::References {
            break;
        }
        // Asked to stop before the last stage began (the CLI says so from here on: the stage
        // reported next tells it the load is over).
        if shared.stop.load(Ordering::SeqCst) {
            return Ok(Outcome::Interrupted);
        }
        allocator::set_activity(Activity::References);
        references::stage(schema, shared, state, control, &ddl, &mut run).await?;
        // Keys refused: their collections load again.
        if run.stage != RunStage::Loading {
            break;
        }
    }
    if run.stage == RunStage::Constraints {
        allocator::set_activity(Activity::Constraints);
        constraints::stage(shared, state, control, &ddl, &mut run).await?;
    }
    Ok(Outcome::Completed)
}

/// A user's own tables checked against the models before anything is written: every problem
/// at once, else the adaptations (each a note) and the schema writing through them.
async fn fit_existing(
    schema: &Schema,
    shared: &Shared,
    control: &mut PgConnection,
) -> Result<Schema, RunError> {
    let fit = crate::sink::existing::check(control, schema, &shared.config.target_schema).await?;
    if !fit.mismatches.is_empty() {
        return Err(RunError::SchemaMismatch {
            mismatches: fit.mismatches,
        });
    }
    for adaptation in &fit.adaptations {
        shared.observer.event(&Event::Note {
            message: format!("existing column {adaptation}"),
        });
    }
    if let Ok(mut adaptations) = shared.adaptations.lock() {
        adaptations.clone_from(&fit.adaptations);
    }
    Ok(schema.adapted(&fit.adapters))
}
