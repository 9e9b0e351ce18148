//! The setup stage: a restart's drop, the run's fingerprint and state, the source's listing
//! checked against the models, the first partitions asked for, and the tables created (or
//! checked) while the load reads its first batches.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use sqlx::{Connection, PgConnection};

use super::super::config::{RunConfig, SchemaMode};
use super::super::tables::{self, Creation};
use super::workload::Workload;
use super::{Invocation, Shared, Started};
use crate::progress::Event;
use crate::run_error::RunError;
use crate::schema::{ModelHandle, Schema};
use crate::sink::ddl::{self, Ddl};
use crate::sink::postgres::open_session;
use crate::sink::sql;
use crate::source::{CollectionInfo, Source, SourceError};
use crate::state::{stable_hash, Fingerprint, RunStage, StateStore};

/// Sets the run up (see the module's documentation); the load may start as soon as this
/// returns, the tables being created meanwhile.
pub(super) async fn stage(
    schema: &Schema,
    shared: &Arc<Shared>,
    state: &StateStore,
    control: &mut PgConnection,
    ddl: &Ddl,
    started_ahead: Started,
    mut mark: Instant,
) -> Result<Option<Invocation>, RunError> {
    let Started { listing, sessions } = started_ahead;
    let config = &shared.config;
    if config.restart {
        restart(schema, config, state, control).await?;
    }
    let fingerprint = Fingerprint {
        schema: stable_hash(&ddl.to_sql()),
        source_kind: shared.source.kind().to_string(),
        target_schema: config.target_schema.clone(),
        partitions: config.partitions,
        schema_mode: config.schema_mode.as_str().to_string(),
    };
    // A run that finished already: nothing to do, nothing written.
    if crate::pipeline::finished::already_complete(state, control, &fingerprint).await? {
        return Ok(None);
    }
    // Before anything is written: a source without a collection the models need.
    let infos = listing
        .await
        .map_err(|e| RunError::Internal(format!("listing the collections failed: {e}")))??;
    shared.observer.event(&Event::listed(&infos));
    check_collections(schema, shared.source.as_ref(), &infos)?;
    crate::pipeline::absent::report(schema, &infos, shared.observer.as_ref());
    // Before any document is transformed: columns filled with the load time get the one a
    // resumed run recorded (a new run records its own below).
    state.adopt_load_time(control).await?;
    let mut workload = Workload::new(schema, infos);
    // The first collection's partitions are asked for while the state and the tables are set
    // up (on a resume that planned it already, the answer goes unused).
    workload.prefetch_first(schema, shared);
    // New tables are created on a session of their own while the load reads its first
    // batches (each collection's writers wait for its own tables). In a target without a run,
    // that starts while the state is set up: the creation's first commit, which records the
    // `loading` stage, waits for the run to be recorded.
    let names: Vec<String> = schema
        .models()
        .iter()
        .flat_map(|m| m.def().tables.iter().map(|t| t.name.clone()))
        .collect();
    let mut creating = None;
    let mut state_ready = None;
    let new_run = state.current(control).await?.is_none();
    // A new run from a live source notes where its change stream stands before any collection
    // is read: a follow applies every change from there (see `crate::follow`).
    let start = if new_run {
        change_start(shared).await
    } else {
        None
    };
    if config.schema_mode == SchemaMode::Create && new_run {
        let create = new_tables(control, schema, config, ddl, &workload.order, &names).await?;
        let (ready, waiting) = tokio::sync::oneshot::channel();
        creating = Some(start_creating(shared, state, create, Some(waiting)));
        state_ready = Some(ready);
    }
    let mut stage = state.begin(control, &fingerprint, start.as_ref()).await?;
    state.settle_load_time(control).await?;
    if let Some(ready) = state_ready {
        // The creation task is gone only if it failed: the load then hears why.
        let _ = ready.send(());
    }
    if stage == RunStage::New {
        match config.schema_mode {
            SchemaMode::Create => {
                if creating.is_none() {
                    let create =
                        new_tables(control, schema, config, ddl, &workload.order, &names).await?;
                    creating = Some(start_creating(shared, state, create, None));
                }
            }
            SchemaMode::Existing => check_tables(state, control).await?,
        }
        stage = RunStage::Loading;
    } else if stage == RunStage::Loading && config.schema_mode == SchemaMode::Create {
        // A run stopped while its tables were being created: the rest are created now.
        let existing = tables::existing(control, &config.target_schema, &names).await?;
        let create = Creation::missing(schema, &config.target_schema, &workload.order, &existing);
        if !create.is_empty() {
            creating = Some(start_creating(shared, state, create, None));
        }
    }
    if creating.is_none() {
        shared.tables.open();
    }
    shared.time_stage("setup", &mut mark);
    Ok(Some(Invocation {
        stage,
        mark,
        workload: Some(workload),
        sessions: Some(sessions),
        creating,
        loaded_here: false,
        constraints_added: false,
        reloaded: Default::default(),
        opened: None,
        busy: None,
    }))
}

/// Where the source's change stream stands, if it has one. A source that cannot say (a server
/// without change streams, a user without the privilege) is noted, and the load goes on: only
/// a later follow needs the point.
async fn change_start(shared: &Arc<Shared>) -> Option<crate::source::ChangeStart> {
    let source = Arc::clone(&shared.source);
    let taken = tokio::task::spawn_blocking(move || source.change_start()).await;
    match taken {
        Ok(Ok(start)) => start,
        Ok(Err(e)) => {
            shared.observer.event(&Event::Note {
                message: format!(
                    "no change stream start point recorded ({e}): this run cannot be followed"
                ),
            });
            None
        }
        Err(e) => {
            shared.observer.event(&Event::Note {
                message: format!("no change stream start point recorded: {e}"),
            });
            None
        }
    }
}

/// Records the `loading` stage of a run into a user's own tables (checked against the models
/// by [`super::run_locked`] before anything is written).
async fn check_tables(state: &StateStore, control: &mut PgConnection) -> Result<(), RunError> {
    let mut tx = control
        .begin()
        .await
        .map_err(RunError::db("starting to record the checked tables"))?;
    state.set_stage(&mut tx, RunStage::Loading).await?;
    tx.commit()
        .await
        .map_err(RunError::db("committing the checked tables"))
}

/// Opens `jobs` writer sessions in the background; one that fails is left out (a writer without
/// a session opens its own, with retries).
pub(super) fn open_writer_sessions(
    config: &RunConfig,
) -> tokio::task::JoinHandle<Vec<PgConnection>> {
    let url = config.pg_url.clone();
    let replica_role = config.schema_mode == SchemaMode::Existing;
    let jobs = config.jobs.max(1);
    tokio::spawn(async move {
        let mut opening = tokio::task::JoinSet::new();
        for _ in 0..jobs {
            let url = url.clone();
            opening.spawn(async move { open_session(&url, replica_role).await });
        }
        let mut sessions = Vec::new();
        while let Some(opened) = opening.join_next().await {
            sessions.extend(opened.ok().and_then(Result::ok));
        }
        sessions
    })
}

/// Every collection of the schema must be in the source; all missing ones are named at once.
fn check_collections(
    schema: &Schema,
    source: &dyn Source,
    available: &[CollectionInfo],
) -> Result<(), RunError> {
    let missing: Vec<&str> = crate::pipeline::absent::missing(schema, available, false);
    let holds: Vec<&str> = available.iter().map(|a| a.name.as_str()).collect();
    let source_name = match holds.as_slice() {
        [] => format!("{}, which holds no collection", source.describe()),
        names => format!(
            "{}, which holds `{}`",
            source.describe(),
            names.join("`, `")
        ),
    };
    match missing.as_slice() {
        [] => Ok(()),
        [one] => Err(SourceError::MissingCollection {
            collection: one.to_string(),
            source_name,
        }
        .into()),
        many => Err(SourceError::MissingCollection {
            collection: many.join("`, `"),
            source_name,
        }
        .into()),
    }
}

/// Drops the state and the target tables (create mode) or empties them (existing mode), in one
/// transaction: a run killed meanwhile finds the previous run as it was, never a state without
/// its tables.
async fn restart(
    schema: &Schema,
    config: &RunConfig,
    state: &StateStore,
    control: &mut PgConnection,
) -> Result<(), RunError> {
    let mut stmts = drop_tables(schema, &config.target_schema, config.schema_mode);
    stmts.push(sql::drop_state(state.schema()));
    ddl::execute_all(control, "drop the previous run", &stmts).await
}

/// The statements that drop the models' tables and enum types (create mode) or empty the tables
/// (existing mode).
pub fn drop_tables(schema: &Schema, target_schema: &str, mode: SchemaMode) -> Vec<String> {
    let ns = sql::Namespace(Some(target_schema));
    let mut stmts = Vec::new();
    for def in schema.models().iter().map(ModelHandle::def) {
        for table in &def.tables {
            stmts.push(match mode {
                SchemaMode::Create => sql::drop_table(ns, &table.name),
                SchemaMode::Existing => sql::truncate_table(ns, &table.name),
            });
        }
    }
    if mode == SchemaMode::Create {
        for e in schema.enum_types().values() {
            if e.repr == crate::model::EnumRepr::Native {
                stmts.push(sql::drop_type(ns, e.name));
            }
        }
    }
    stmts
}

/// The tables of a new run: after checking that none of them is in the way, all of them with
/// the target schema and the enum types, the first commit recording the `loading` stage (a run
/// killed before that commit finds `new` and starts again).
async fn new_tables(
    control: &mut PgConnection,
    schema: &Schema,
    config: &RunConfig,
    ddl: &Ddl,
    order: &[usize],
    names: &[String],
) -> Result<Creation, RunError> {
    let in_the_way = tables::existing(control, &config.target_schema, names).await?;
    if !in_the_way.is_empty() {
        return Err(RunError::TablesInTheWay {
            schema: config.target_schema.clone(),
            tables: in_the_way,
        });
    }
    let mut create = Creation::missing(schema, &config.target_schema, order, &[]);
    create
        .prelude
        .push(sql::create_schema(&config.target_schema));
    create.prelude.extend(ddl.types.iter().cloned());
    create.set_loading = true;
    Ok(create)
}

/// Creates `creation`'s tables on a task of its own (see [`tables::create`]); a failure stops
/// the load, which is waiting for them.
fn start_creating(
    shared: &Arc<Shared>,
    state: &StateStore,
    creation: Creation,
    state_ready: Option<tokio::sync::oneshot::Receiver<()>>,
) -> tokio::task::JoinHandle<Result<f64, RunError>> {
    let shared = Arc::clone(shared);
    let state = state.clone();
    tokio::spawn(async move {
        let seconds = tables::create(
            &shared.config,
            &state,
            &creation,
            &shared.tables,
            state_ready,
        )
        .await;
        if seconds.is_err() {
            shared.stop.store(true, Ordering::SeqCst);
        }
        seconds
    })
}
