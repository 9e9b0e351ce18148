//! The run: set up the target, load every partition phase by phase, then resolve dangling
//! references and add constraints. Every step can be interrupted and resumed.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::{Connection, PgConnection, Row};

use super::config::{RunConfig, SchemaMode};
use super::early::{EarlyKeys, EarlyWork};
use super::reader::{BatchLimits, Reading};
use super::reload::Reloaded;
use super::tables::{self, Creation, TablesGate};
use crate::dead_letter::DeadLetterFile;
use crate::plan::LoadPlan;
use crate::progress::{Event, Observer};
use crate::report::{CollectionReport, ErrorGroup, Outcome, RunReport};
use crate::run_error::RunError;
use crate::schema::{ModelHandle, Schema};
use crate::sink::constraints::{self, Added, Work};
use crate::sink::ddl::{self, Ddl};
use crate::sink::pool::BufferPool;
use crate::sink::postgres::{open_session, BatchWriter, WriterConfig};
use crate::sink::sql;
use crate::source::{CollectionInfo, Partition, Position, Source, SourceError};
use crate::state::{connect, stable_hash, Fingerprint, RunStage, StateStore};

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
    reference_actions: Mutex<BTreeMap<String, u64>>,
    /// Whether every table holds exactly the rows the batches wrote (so the summary need not
    /// count them).
    rows_as_written: AtomicBool,
    /// Seconds spent in each stage by this invocation.
    stage_seconds: Mutex<BTreeMap<String, f64>>,
    /// Which collections' tables exist: each writer waits for its collection's.
    tables: TablesGate,
    /// Buffers of written batches, for the readers.
    buffers: BufferPool,
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
    let state = StateStore::new(config.state_schema.clone());
    // The source lists its collections (a live one counts their documents) while the control
    // session connects and takes the lock.
    let listing = {
        let source = Arc::clone(&source);
        tokio::task::spawn_blocking(move || source.collections())
    };
    // The writers' sessions connect meanwhile too: the first batches need them at once.
    let sessions = open_writer_sessions(&config);
    let mut control = connect(&config.pg_url).await?;
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
        reference_actions: Mutex::new(BTreeMap::new()),
        stage_seconds: Mutex::new(BTreeMap::new()),
        rows_as_written: AtomicBool::new(false),
        tables: TablesGate::pending(),
        buffers: BufferPool::new(idle_buffers),
    });
    let result = run_locked(schema, &shared, &state, &mut control, listing, sessions).await;
    // The file was appended to as batches committed; the table is the exact record (a kill
    // between a commit and its append, or a resumed stage, can leave the file off by a few).
    let exported = export_dead_letters(&shared, &state, &mut control).await;
    let _ = state.unlock(&mut control).await;
    let outcome = result?;
    exported?;
    summarize(
        schema,
        &shared,
        &state,
        &mut control,
        outcome,
        started.elapsed(),
    )
    .await
}

async fn run_locked(
    schema: &Schema,
    shared: &Arc<Shared>,
    state: &StateStore,
    control: &mut PgConnection,
    listing: tokio::task::JoinHandle<Result<Vec<CollectionInfo>, SourceError>>,
    sessions: tokio::task::JoinHandle<Vec<PgConnection>>,
) -> Result<Outcome, RunError> {
    let mut sessions = Some(sessions);
    let config = &shared.config;
    let mut mark = Instant::now();
    let ddl = Ddl::new(schema, Some(&config.target_schema));
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
    // Before anything is written: a source without a collection the models need.
    let infos = listing
        .await
        .map_err(|e| RunError::Internal(format!("listing the collections failed: {e}")))??;
    shared.observer.event(&Event::listed(&infos));
    check_collections(schema, shared.source.as_ref(), &infos)?;
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
    if config.schema_mode == SchemaMode::Create && state.current(control).await?.is_none() {
        let create = new_tables(control, schema, config, &ddl, &workload.order, &names).await?;
        let (ready, waiting) = tokio::sync::oneshot::channel();
        creating = Some(start_creating(shared, state, create, Some(waiting)));
        state_ready = Some(ready);
    }
    let mut stage = state.begin(control, &fingerprint).await?;
    if let Some(ready) = state_ready {
        // The creation task is gone only if it failed: the load then hears why.
        let _ = ready.send(());
    }
    if stage == RunStage::New {
        match config.schema_mode {
            SchemaMode::Create => {
                if creating.is_none() {
                    let create =
                        new_tables(control, schema, config, &ddl, &workload.order, &names).await?;
                    creating = Some(start_creating(shared, state, create, None));
                }
            }
            SchemaMode::Existing => {
                // The check and the stage that follows from it commit together.
                let mut tx = control
                    .begin()
                    .await
                    .map_err(RunError::db("starting to check the tables"))?;
                let mismatches =
                    ddl::check_existing(&mut tx, schema, &config.target_schema).await?;
                if !mismatches.is_empty() {
                    return Err(RunError::SchemaMismatch { mismatches });
                }
                state.set_stage(&mut tx, RunStage::Loading).await?;
                tx.commit()
                    .await
                    .map_err(RunError::db("committing the checked tables"))?;
            }
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
    // Whether this invocation ended the load (and so saw every row the references stage found).
    let mut loaded_here = false;
    let mut workload = Some(workload);
    // Whether this invocation added every foreign key and index already (the usual case): the
    // constraints stage then has nothing left to do.
    let mut constraints_added = false;
    // Collections loaded again because their keys were refused.
    let mut reloaded = Reloaded::default();
    // The constraint sessions, opened while the load ends, and the table the early keys'
    // session may still be building (see below).
    let mut opened: Option<Result<constraints::Sessions, RunError>> = None;
    let mut busy: Option<constraints::Busy> = None;
    loop {
        if stage == RunStage::Loading {
            // A load again after refused keys lists the collections again.
            let workload = match workload.take() {
                Some(w) => w,
                None => Workload::new(schema, shared.source.collections()?),
            };
            // Whether a completed load goes on to the constraints (on tables this run created).
            let to_constraints = config.schema_mode == SchemaMode::Create && !config.skip_finish;
            // Keys and indexes of the collections loaded first are built while the others load.
            let early = to_constraints.then(|| {
                EarlyKeys::start(
                    config.pg_url.clone(),
                    config.target_schema.clone(),
                    Arc::new(ddl.clone()),
                    EarlyWork {
                        keys: true,
                        indexes: crate::references::all_actionable_enforced(schema),
                    },
                )
            });
            // The sessions opened at the start serve the first load's writers.
            let mut writers = match sessions.take() {
                Some(opened) => opened.await.unwrap_or_default(),
                None => Vec::new(),
            };
            let loading = load(
                schema,
                shared,
                state,
                control,
                workload,
                early.as_ref(),
                &mut writers,
            );
            let outcome = match creating.take() {
                None => loading.await,
                Some(creating) => {
                    // A failure is this stage's outcome: the early keys still finish below.
                    match tokio::join!(creating, loading) {
                        (Ok(Ok(seconds)), loaded) => {
                            shared.add_stage_seconds("setup", seconds);
                            loaded
                        }
                        (Ok(Err(e)), _) => Err(e),
                        (Err(e), _) => Err(RunError::Internal(format!(
                            "creating the tables failed: {e}"
                        ))),
                    }
                }
            };
            // The early keys' last statement runs on while the constraints stage's sessions
            // connect and start: the stage leaves that statement's table to it until it ends.
            match early {
                Some(early)
                    if to_constraints
                        && outcome.as_ref().is_ok_and(|o| *o == Outcome::Completed) =>
                {
                    busy = early.stop();
                    let sessions = constraints::open_reusing(&config.pg_url, config.jobs, writers);
                    opened = Some(sessions.await);
                }
                Some(early) => early.finish().await,
                None => {}
            }
            let outcome = outcome?;
            shared.time_stage("load", &mut mark);
            if outcome != Outcome::Completed {
                return Ok(outcome);
            }
            stage = RunStage::References;
            state.set_stage(control, stage).await?;
            loaded_here = true;
        }
        if config.skip_finish {
            return Ok(Outcome::Completed);
        }
        if stage != RunStage::References {
            break;
        }
        shared.observer.event(&Event::Stage {
            name: "references".into(),
        });
        // Keys first (the tables were created without them), then the foreign keys, with the
        // indexes: a foreign key that is accepted proves that no value of its column dangles,
        // which is the usual case, and spares looking for dangling values a second time. Only
        // if one is refused are they all dropped and every reference resolved.
        let mut scope = crate::references::Scope::All;
        // The references that get no foreign key, resolved meanwhile (see below).
        let mut unenforced = None;
        if config.schema_mode == SchemaMode::Create {
            let enforced = crate::references::all_actionable_enforced(schema);
            let work = Work {
                keys: true,
                foreign_keys: enforced,
                indexes: enforced,
            };
            let adding = async {
                let sessions = match opened.take() {
                    Some(sessions) => sessions?,
                    None => constraints::open(&config.pg_url, config.jobs).await?,
                };
                constraints::add_on(sessions, &config.target_schema, &ddl, work, busy.take()).await
            };
            // When every reference that can act gets a foreign key, the others only `keep`
            // their values: looking for those dangling changes no row, so it runs while the
            // constraints are added (should a constraint be refused, it is done again after).
            let added = if enforced {
                let resolving = resolve_references(
                    schema,
                    shared,
                    state,
                    control,
                    crate::references::Scope::Unenforced,
                );
                let (added, resolved) = tokio::join!(adding, resolving);
                unenforced = Some(resolved);
                added?
            } else {
                adding.await?
            };
            match added {
                Added::All if enforced => {
                    scope = crate::references::Scope::Unenforced;
                    constraints_added = true;
                }
                Added::All => {}
                Added::ForeignKeyRefused(_) => {
                    constraints::drop_foreign_keys(control, &config.target_schema, &ddl).await?
                }
                Added::KeysRefused(refused) => {
                    let observer = shared.observer.as_ref();
                    reloaded
                        .reload(schema, config, observer, state, control, refused)
                        .await?;
                    shared.time_stage("references", &mut mark);
                    stage = RunStage::Loading;
                    continue;
                }
            }
        }
        let resolved = match unenforced {
            Some(resolved) if scope == crate::references::Scope::Unenforced => resolved?,
            _ => resolve_references(schema, shared, state, control, scope).await?,
        };
        // Created here, loaded by this invocation and nothing removed since: the rows written
        // are the rows there. (A resumed stage may follow an attempt that removed some.)
        if config.schema_mode == SchemaMode::Create && loaded_here && !resolved.rows_removed {
            shared.rows_as_written.store(true, Ordering::SeqCst);
        }
        if let Ok(mut map) = shared.reference_actions.lock() {
            *map = resolved.actions;
        }
        shared.time_stage("references", &mut mark);
        stage = RunStage::Constraints;
        // With every constraint added already, the next record is `done` (one commit fewer; a
        // run stopped before it resumes in `references`, where everything is idempotent).
        if !constraints_added {
            state.set_stage(control, stage).await?;
        }
        break;
    }
    if stage == RunStage::Constraints {
        shared.observer.event(&Event::Stage {
            name: "constraints".into(),
        });
        if config.schema_mode == SchemaMode::Create && !constraints_added {
            let added = constraints::add(
                &config.pg_url,
                &config.target_schema,
                &ddl,
                config.jobs,
                Work::ALL,
            )
            .await?;
            // Every reference is resolved by now, every key was added in the references stage:
            // a refusal is an error.
            match added {
                Added::All => {}
                Added::ForeignKeyRefused(e) => return Err(e),
                Added::KeysRefused(refused) => {
                    return Err(refused.into_iter().next().map_or_else(
                        || RunError::Internal("keys refused without an error".into()),
                        |r| r.error,
                    ));
                }
            }
        }
        state.set_stage(control, RunStage::Done).await?;
        shared.time_stage("constraints", &mut mark);
    }
    Ok(Outcome::Completed)
}

/// Resolves the dangling references of `scope` (see [`crate::references::resolve`]).
async fn resolve_references(
    schema: &Schema,
    shared: &Shared,
    state: &StateStore,
    control: &mut PgConnection,
    scope: crate::references::Scope,
) -> Result<crate::references::Resolved, RunError> {
    crate::references::resolve(
        schema,
        shared.source.as_ref(),
        &shared.config,
        state,
        control,
        shared.dead_file.as_ref(),
        scope,
    )
    .await
}

/// Rewrites the dead-letter file (if any) from the state schema's table.
async fn export_dead_letters(
    shared: &Shared,
    state: &StateStore,
    control: &mut PgConnection,
) -> Result<(), RunError> {
    let Some(file) = &shared.dead_file else {
        return Ok(());
    };
    if state.current(control).await?.is_none() {
        return Ok(());
    }
    let letters = crate::dead_letter::load_all(control, state.schema())
        .await
        .map_err(RunError::db("reading dead letters"))?;
    file.rewrite(&letters).map_err(|e| RunError::Io {
        path: file.path().display().to_string(),
        source: e,
    })
}

/// Every collection of the schema must be in the source; all missing ones are named at once.
fn check_collections(
    schema: &Schema,
    source: &dyn Source,
    available: &[CollectionInfo],
) -> Result<(), RunError> {
    let missing: Vec<&str> = schema
        .models()
        .iter()
        .map(ModelHandle::collection)
        .filter(|c| !available.iter().any(|a| a.name == *c))
        .collect();
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

/// Drops the state and the target tables (create mode) or empties them (existing mode).
async fn restart(
    schema: &Schema,
    config: &RunConfig,
    state: &StateStore,
    control: &mut PgConnection,
) -> Result<(), RunError> {
    drop_tables(schema, &config.target_schema, config.schema_mode, control).await?;
    state.drop(control).await?;
    Ok(())
}

/// Drops the models' tables and enum types (create mode) or empties the tables (existing mode).
pub async fn drop_tables(
    schema: &Schema,
    target_schema: &str,
    mode: SchemaMode,
    control: &mut PgConnection,
) -> Result<(), RunError> {
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
    ddl::execute_all(control, "drop the previous run's tables", &stmts).await
}

struct Task {
    model: ModelHandle,
    partition: Partition,
    from: Position,
    /// Started before a job is free for it, so its first batches are ready when one is.
    reading: Option<Reading>,
}

/// How much work each collection is, and the order the load takes the models in.
struct Workload {
    /// Per collection: its size on disk when the source knows every collection's, else its
    /// document count.
    weights: BTreeMap<String, u64>,
    estimates: BTreeMap<String, Option<u64>>,
    /// Whether `weights` are sizes on disk (files, whose byte ranges cost nothing extra).
    by_size: bool,
    /// Indexes into `schema.models()`, largest first.
    order: Vec<usize>,
    total: u64,
    /// The first collection's partitions, asked for ahead of the load.
    prefetched: Option<Prefetch>,
}

/// A collection's partitions being asked from the source (on a blocking thread), and readers
/// started on the first of them.
struct Prefetch {
    model: usize,
    planned: tokio::task::JoinHandle<(Result<Vec<Partition>, RunError>, Readings)>,
}

/// Opens `jobs` writer sessions in the background; one that fails is left out (a writer without
/// a session opens its own, with retries).
fn open_writer_sessions(config: &RunConfig) -> tokio::task::JoinHandle<Vec<PgConnection>> {
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

/// Readers started ahead of their tasks, by partition index.
type Readings = Vec<(u32, Reading)>;

/// A planning task that did not finish.
fn planning_failed(e: tokio::task::JoinError) -> RunError {
    RunError::Internal(format!("planning partitions failed: {e}"))
}

/// Asks the source for the partitions of `model`'s collection (run it on a blocking thread).
fn plan(
    shared: &Shared,
    model: ModelHandle,
    max: usize,
) -> impl FnOnce() -> Result<Vec<Partition>, RunError> + Send + 'static {
    let source = Arc::clone(&shared.source);
    move || Ok(source.partitions(model.collection(), max)?)
}

impl Workload {
    fn new(schema: &Schema, infos: Vec<CollectionInfo>) -> Workload {
        let by_size = infos.iter().all(|c| c.bytes_on_disk.is_some());
        let weights: BTreeMap<String, u64> = infos
            .iter()
            .map(|c| {
                let w = if by_size {
                    c.bytes_on_disk
                } else {
                    c.estimated_documents
                };
                (c.name.clone(), w.unwrap_or(0))
            })
            .collect();
        let estimates = infos
            .into_iter()
            .map(|c| (c.name, c.estimated_documents))
            .collect();
        let mut workload = Workload {
            weights,
            estimates,
            by_size,
            order: Vec::new(),
            total: 0,
            prefetched: None,
        };
        // Largest first (a stable sort keeps the plan's order among equals), so the long
        // partitions start early and the short ones fill the gaps at the end.
        let mut order: Vec<usize> = LoadPlan::new(schema).order().collect();
        order.sort_by_key(|&m| std::cmp::Reverse(workload.weight(schema, m)));
        workload.order = order;
        workload.total = workload.weights.values().sum();
        workload
    }

    /// The most partitions model `m`'s collection is split into.
    fn max_partitions(&self, schema: &Schema, config: &RunConfig, m: usize) -> usize {
        config.partitions_for(self.weight(schema, m), self.total, self.by_size)
    }

    /// Starts asking for the partitions of the collection the load takes first, and reading
    /// the first `jobs` of them: the source is only read, so this needs no state, and the
    /// first batches are ready by the time the state and the tables are. (A resume that planned
    /// the collection before drops these readers unused.)
    fn prefetch_first(&mut self, schema: &Schema, shared: &Arc<Shared>) {
        let Some(&m) = self.order.first() else { return };
        let max = self.max_partitions(schema, &shared.config, m);
        let model = schema.models()[m].clone();
        let planning = plan(shared, model.clone(), max);
        let shared = Arc::clone(shared);
        let planned = tokio::task::spawn_blocking(move || {
            let planned = planning();
            let first = planned.as_deref().unwrap_or_default();
            let readings = first
                .iter()
                .take(shared.config.jobs.max(1))
                .map_while(|p| {
                    let reading = start_reading(&shared, &model, p, Position::Start).ok()?;
                    Some((p.index, reading))
                })
                .collect();
            (planned, readings)
        });
        self.prefetched = Some(Prefetch { model: m, planned });
    }

    fn weight(&self, schema: &Schema, m: usize) -> u64 {
        let collection = schema.models()[m].collection();
        self.weights.get(collection).copied().unwrap_or(0)
    }

    fn estimate(&self, schema: &Schema, m: usize) -> Option<u64> {
        let collection = schema.models()[m].collection();
        self.estimates.get(collection).copied().flatten()
    }
}

/// Foreign keys are added after the load and references resolved after it, so nothing orders
/// the collections: they load largest first, `jobs` partitions at a time whatever their phase.
/// A collection's partitions are asked from the source (on a blocking thread) while earlier
/// ones load, and recorded before any of them starts: a resume finds the partitions that had
/// not started, and cannot ask the source again (a live collection's `_id` ranges move).
/// The writers take their connections from `spare` first, and leave them there (for the
/// constraints stage).
async fn load(
    schema: &Schema,
    shared: &Arc<Shared>,
    state: &StateStore,
    control: &mut PgConnection,
    mut workload: Workload,
    early: Option<&EarlyKeys>,
    spare: &mut Vec<PgConnection>,
) -> Result<Outcome, RunError> {
    let checkpoints = state.checkpoints(control).await?;
    let mut prefetched = workload.prefetched.take();
    let estimate = |m: usize| workload.estimate(schema, m);
    let mut to_plan: VecDeque<usize> = workload.order.iter().copied().collect();
    let mut queue: VecDeque<Task> = VecDeque::new();
    let mut pending: BTreeMap<String, usize> = BTreeMap::new();
    let mut planner = tokio::task::JoinSet::new();
    let mut running = tokio::task::JoinSet::new();
    // Writer connections opened ahead or given back by finished partitions, for the next ones.
    let mut writers: Vec<PgConnection> = std::mem::take(spare);
    let mut first_error: Option<RunError> = None;
    let stopped = || shared.stop.load(Ordering::SeqCst);
    loop {
        // Collections that were planned before (a resume) need no source; the next one that
        // needs the source is planned in the background.
        while planner.is_empty() && !stopped() {
            let Some(m) = to_plan.pop_front() else { break };
            let model = schema.models()[m].clone();
            let mine: Vec<_> = checkpoints
                .iter()
                .filter(|c| c.collection == model.collection())
                .collect();
            if mine.is_empty() {
                match prefetched.take() {
                    Some(ahead) if ahead.model == m => {
                        planner.spawn(async move {
                            let (planned, readings) = ahead
                                .planned
                                .await
                                .unwrap_or_else(|e| (Err(planning_failed(e)), Vec::new()));
                            (model, planned, readings)
                        });
                    }
                    _ => {
                        let max = workload.max_partitions(schema, &shared.config, m);
                        let planning = plan(shared, model.clone(), max);
                        planner.spawn_blocking(move || (model, planning(), Vec::new()));
                    }
                }
                continue;
            }
            let partitions = mine.iter().map(|c| c.partition.clone()).collect();
            let already: u64 = mine
                .iter()
                .map(|c| u64::try_from(c.documents).unwrap_or(0))
                .sum();
            let from = |p: &Partition| {
                let checkpoint = mine.iter().find(|c| c.partition.index == p.index);
                match checkpoint {
                    Some(c) if c.done => None,
                    Some(c) => Some(c.position.clone()),
                    None => Some(Position::Start),
                }
            };
            enqueue(
                shared,
                &model,
                partitions,
                from,
                already,
                estimate(m),
                &mut queue,
                &mut pending,
            );
        }
        while running.len() < shared.config.jobs.max(1) && !stopped() {
            let Some(task) = queue.pop_front() else { break };
            let shared = Arc::clone(shared);
            let state = state.clone();
            let conn = writers.pop();
            running.spawn(async move {
                let collection = task.model.collection().to_string();
                let (result, conn) = run_partition(&shared, state, task, conn).await;
                (collection, result, conn)
            });
        }
        // The partitions next in line start reading now: a job that frees up finds their first
        // batches ready instead of waiting for them (each holds at most two batches).
        for task in queue.iter_mut().take(shared.config.jobs.max(1)) {
            if task.reading.is_some() || stopped() {
                continue;
            }
            match start_reading(shared, &task.model, &task.partition, task.from.clone()) {
                Ok(reading) => task.reading = Some(reading),
                Err(e) => {
                    shared.stop.store(true, Ordering::SeqCst);
                    first_error.get_or_insert(e);
                }
            }
        }
        tokio::select! {
            Some(done) = running.join_next(), if !running.is_empty() => {
                let (collection, result, conn) = done.unwrap_or_else(|e| {
                    (
                        String::new(),
                        Err(RunError::Internal(format!("a partition task failed: {e}"))),
                        None,
                    )
                });
                writers.extend(conn);
                match result {
                    Ok(()) => {
                        if let Some(left) = pending.get_mut(&collection) {
                            *left -= 1;
                            if *left == 0 && !stopped() {
                                pending.remove(&collection);
                                if let (Some(early), Some(model)) = (
                                    early,
                                    schema.models().iter().find(|m| m.collection() == collection),
                                ) {
                                    early.loaded(
                                        model.def().tables.iter().map(|t| t.name.clone()).collect(),
                                    );
                                }
                                shared
                                    .observer
                                    .event(&Event::CollectionFinished { collection });
                            }
                        }
                    }
                    Err(e) => {
                        shared.stop.store(true, Ordering::SeqCst);
                        first_error.get_or_insert(e);
                    }
                }
            }
            Some(planned) = planner.join_next(), if !planner.is_empty() => {
                let recorded = match planned {
                    Ok((model, Ok(partitions), readings)) => state
                        .plan_partitions(control, model.collection(), &partitions)
                        .await
                        .map(|()| (model, partitions, readings)),
                    Ok((_, Err(e), _)) => Err(e),
                    Err(e) => Err(planning_failed(e)),
                };
                match recorded {
                    Ok((model, partitions, readings)) => {
                        let m = schema
                            .models()
                            .iter()
                            .position(|h| h.collection() == model.collection());
                        let estimated = m.and_then(estimate);
                        enqueue(
                            shared,
                            &model,
                            partitions,
                            |_| Some(Position::Start),
                            0,
                            estimated,
                            &mut queue,
                            &mut pending,
                        );
                        for (index, reading) in readings {
                            let task = queue.iter_mut().find(|t| {
                                t.model.collection() == model.collection()
                                    && t.partition.index == index
                            });
                            if let Some(task) = task {
                                task.reading.get_or_insert(reading);
                            }
                        }
                    }
                    Err(e) => {
                        shared.stop.store(true, Ordering::SeqCst);
                        first_error.get_or_insert(e);
                    }
                }
            }
            else => break,
        }
    }
    spare.append(&mut writers);
    if let Some(e) = first_error {
        return Err(e);
    }
    if stopped() {
        return Ok(if shared.too_many_errors.load(Ordering::SeqCst) {
            Outcome::TooManyErrors
        } else {
            Outcome::Interrupted
        });
    }
    Ok(Outcome::Completed)
}

/// Reports a collection started and queues its partitions that are not done (`from` gives where
/// each resumes, `None` if done); a collection with nothing left is finished at once.
#[allow(clippy::too_many_arguments)]
fn enqueue(
    shared: &Shared,
    model: &ModelHandle,
    partitions: Vec<Partition>,
    from: impl Fn(&Partition) -> Option<Position>,
    already_done: u64,
    estimated: Option<u64>,
    queue: &mut VecDeque<Task>,
    pending: &mut BTreeMap<String, usize>,
) {
    let collection = model.collection().to_string();
    shared.observer.event(&Event::CollectionStarted {
        collection: collection.clone(),
        partitions: partitions.len(),
        estimated,
        already_done,
    });
    let mut count = 0;
    for partition in partitions {
        let Some(from) = from(&partition) else {
            continue;
        };
        queue.push_back(Task {
            model: model.clone(),
            partition,
            from,
            reading: None,
        });
        count += 1;
    }
    if count == 0 {
        shared
            .observer
            .event(&Event::CollectionFinished { collection });
    } else {
        pending.insert(collection, count);
    }
}

/// Loads one partition through `conn` (a connection a finished partition gave back, if any);
/// gives the connection back if the partition finished cleanly.
async fn run_partition(
    shared: &Arc<Shared>,
    state: StateStore,
    task: Task,
    conn: Option<PgConnection>,
) -> (Result<(), RunError>, Option<PgConnection>) {
    let mut writer = BatchWriter::new(
        WriterConfig {
            url: shared.config.pg_url.clone(),
            target_schema: shared.config.target_schema.clone(),
            state,
            replica_role: shared.config.schema_mode == SchemaMode::Existing,
            max_retries: 8,
            first_backoff: Duration::from_millis(250),
        },
        task.model.clone(),
    )
    .with_connection(conn)
    .with_source(Arc::clone(&shared.source));
    let result = write_partition(shared, &mut writer, task).await;
    let conn = match result {
        Ok(()) => writer.into_connection(),
        Err(_) => None,
    };
    (result, conn)
}

async fn write_partition(
    shared: &Arc<Shared>,
    writer: &mut BatchWriter,
    task: Task,
) -> Result<(), RunError> {
    let collection = task.model.collection().to_string();
    // One batch waits while one is written and the reader fills the next: transforming overlaps
    // the COPY, and a job holds at most three batches whatever the data's size.
    let mut reading = match task.reading {
        Some(reading) => reading,
        None => start_reading(shared, &task.model, &task.partition, task.from)?,
    };
    // The server starts the writer's process while the tables are being created.
    let (tables, ()) = tokio::join!(shared.tables.wait(&collection), writer.connect());
    tables?;
    while let Some(message) = reading.batches.recv().await {
        let batch = message?;
        let committed = writer.write(&batch).await?;
        if let Some(file) = &shared.dead_file {
            file.append(&committed.dead_letters)
                .map_err(|e| RunError::Io {
                    path: file.path().display().to_string(),
                    source: e,
                })?;
        }
        let partition = batch.partition.index;
        // The next batches read fill the same memory.
        batch.give_buffers(&shared.buffers);
        let dead = committed.dead_letters.len() as u64;
        let read =
            shared.read.fetch_add(committed.documents, Ordering::SeqCst) + committed.documents;
        let dead_total = shared.dead.fetch_add(dead, Ordering::SeqCst) + dead;
        shared.observer.event(&Event::BatchCommitted {
            collection: collection.clone(),
            partition,
            documents: committed.documents,
            rows: committed.rows.iter().sum(),
            dead_letters: dead,
            retries: committed.retries,
        });
        if let Some(limit) = shared.config.max_errors {
            if limit.exceeded(dead_total, read) {
                shared.too_many_errors.store(true, Ordering::SeqCst);
                shared.stop.store(true, Ordering::SeqCst);
            }
        }
    }
    reading.finish().await;
    Ok(())
}

/// Starts reading a partition on a thread of its own.
fn start_reading(
    shared: &Arc<Shared>,
    model: &ModelHandle,
    partition: &Partition,
    from: Position,
) -> Result<Reading, RunError> {
    let limits = BatchLimits {
        documents: shared.config.batch_documents.max(1),
        bytes: shared.config.batch_bytes.max(1),
    };
    Reading::start(
        Arc::clone(&shared.source),
        model.clone(),
        partition.clone(),
        from,
        limits,
        Arc::clone(&shared.stop),
        shared.buffers.clone(),
    )
}

/// The report of the whole migration so far, from the state tables.
async fn summarize(
    schema: &Schema,
    shared: &Arc<Shared>,
    state: &StateStore,
    control: &mut PgConnection,
    outcome: Outcome,
    elapsed: Duration,
) -> Result<RunReport, RunError> {
    let checkpoints = state.checkpoints(control).await?;
    let dead: BTreeMap<String, i64> = sqlx::query(&sql::count_dead_letters(state.schema()))
        .fetch_all(&mut *control)
        .await
        .map_err(RunError::db("counting dead letters"))?
        .into_iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let ns = sql::Namespace(Some(shared.config.target_schema.as_str()));
    let written: BTreeMap<String, i64> = if shared.rows_as_written.load(Ordering::SeqCst) {
        state.table_rows(control).await?.into_iter().collect()
    } else {
        BTreeMap::new()
    };
    let mut collections = BTreeMap::new();
    for model in schema.models() {
        let mut report = CollectionReport::default();
        for c in checkpoints
            .iter()
            .filter(|c| c.collection == model.collection())
        {
            report.documents += u64::try_from(c.documents).unwrap_or(0);
            report.batches += u64::try_from(c.batches).unwrap_or(0);
            report.seconds += c.seconds;
        }
        report.dead_letters = dead
            .get(model.collection())
            .map_or(0, |n| u64::try_from(*n).unwrap_or(0));
        for table in &model.def().tables {
            // The rows that are there now (rejections and skips after the load removed some).
            let n: i64 = match written.get(&table.name) {
                Some(n) => *n,
                None => sqlx::query_scalar(&sql::count_rows(ns, &table.name))
                    .fetch_one(&mut *control)
                    .await
                    .map_err(RunError::db(format!("counting the rows of {}", table.name)))?,
            };
            report
                .rows
                .insert(table.name.clone(), u64::try_from(n).unwrap_or(0));
        }
        collections.insert(model.collection().to_string(), report);
    }
    let error_groups = error_groups(state, control, 10).await?;
    let reference_actions = shared
        .reference_actions
        .lock()
        .map(|m| m.clone())
        .unwrap_or_default();
    let stage_seconds = shared
        .stage_seconds
        .lock()
        .map(|m| m.clone())
        .unwrap_or_default();
    Ok(RunReport {
        outcome,
        collections,
        error_groups,
        reference_actions,
        stage_seconds,
        seconds: elapsed.as_secs_f64(),
    })
}

/// The largest groups of dead letters by (collection, class, field pattern).
pub async fn error_groups(
    state: &StateStore,
    conn: &mut PgConnection,
    limit: i64,
) -> Result<Vec<ErrorGroup>, RunError> {
    let rows = sqlx::query(&sql::group_dead_letters(state.schema()))
        .bind(limit)
        .fetch_all(&mut *conn)
        .await
        .map_err(RunError::db("grouping dead letters"))?;
    Ok(rows
        .into_iter()
        .map(|r| ErrorGroup {
            collection: r.get(0),
            class: r.get(1),
            field: r.get(2),
            count: u64::try_from(r.get::<i64, _>(3)).unwrap_or(0),
            example_id: r.get(4),
            example_message: r.get(5),
        })
        .collect())
}
