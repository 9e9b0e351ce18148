//! The load stage: the workload's partitions, `jobs` at a time, through the writers, while the
//! tables are created and the keys of the collections loaded first are built.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use sqlx::PgConnection;

use super::super::changes;
use super::super::config::SchemaMode;
use super::super::early::{EarlyKeys, EarlyWork};
use super::merge::Merger;
use super::partition::{claim_for, run_partition, start_reading};
use super::queue::Queue;
use super::resplit::Cutter;
use super::workload::{discard, discard_prefetch, plan, planning_failed, Workload};
use super::{Invocation, Shared};
use crate::progress::Event;
use crate::report::Outcome;
use crate::run_error::RunError;
use crate::schema::Schema;
use crate::sink::constraints;
use crate::sink::ddl::Ddl;
use crate::state::{RunStage, StateStore};

/// Loads what is left to load; a completed load records the `references` stage. The tables
/// being created and the early keys' last statement end with it, and the constraints stage's
/// sessions connect as it ends.
pub(super) async fn stage(
    schema: &Schema,
    shared: &Arc<Shared>,
    state: &StateStore,
    control: &mut PgConnection,
    ddl: &Ddl,
    run: &mut Invocation,
) -> Result<Outcome, RunError> {
    let config = &shared.config;
    // A load again after refused keys lists the collections again.
    let workload = match run.workload.take() {
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
            state.clone(),
            Arc::new(ddl.clone()),
            EarlyWork {
                keys: true,
                indexes: crate::references::all_actionable_enforced(schema),
            },
        )
    });
    // The sessions opened at the start serve the first load's writers.
    let mut writers = match run.sessions.take() {
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
    let outcome = match run.creating.take() {
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
            if to_constraints && outcome.as_ref().is_ok_and(|o| *o == Outcome::Completed) =>
        {
            run.busy = early.stop();
            let sessions = constraints::open_reusing(&config.pg_url, config.jobs, writers);
            run.opened = Some(sessions.await);
        }
        Some(early) => early.finish().await,
        None => {}
    }
    let outcome = outcome?;
    shared.time_stage("load", &mut run.mark);
    if outcome != Outcome::Completed {
        return Ok(outcome);
    }
    run.stage = RunStage::References;
    state.set_stage(control, run.stage).await?;
    run.loaded_here = true;
    Ok(Outcome::Completed)
}

/// How often a free job asks again whether the rest of a range is worth cutting off for it.
const RECONSIDER: Duration = Duration::from_millis(250);

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
    let mut checkpoints = state.checkpoints(control).await?;
    // A collection whose file changed since it was planned is loaded again from its start.
    let observer = shared.observer.as_ref();
    let source = &shared.source;
    let config = &shared.config;
    if changes::forget_changed(
        schema,
        source,
        config,
        observer,
        state,
        control,
        &checkpoints,
    )
    .await?
    {
        checkpoints = state.checkpoints(control).await?;
    }
    let mut prefetched = workload.prefetched.take();
    let estimate = |m: usize| workload.estimate(schema, m);
    let mut to_plan: VecDeque<usize> = workload.to_read(schema).collect();
    let mut queue = Queue::default();
    let mut planner = tokio::task::JoinSet::new();
    let mut running = tokio::task::JoinSet::new();
    // Writer connections opened ahead or given back by finished partitions, for the next ones.
    let mut writers: Vec<PgConnection> = std::mem::take(spare);
    let mut first_error: Option<RunError> = None;
    let mut cutter = Cutter::default();
    let mut merger = Merger::default();
    let wake = Arc::clone(&merger.wake);
    let jobs = shared.config.jobs.max(1);
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
            // Planned before: readers started on a new plan of it are not used.
            if let Some(ahead) = prefetched.take_if(|ahead| ahead.model == m) {
                discard_prefetch(ahead);
            }
            cutter.allow(model.collection(), false, mine.len());
            queue.resume(shared, &model, &mine, estimate(m));
        }
        while running.len() < jobs && !stopped() {
            let Some(mut task) = queue.tasks.pop_front() else {
                break;
            };
            // Its reader starts here (if it has not), so that its range can be cut, with the
            // ranges after it that nobody started reserved for it.
            if task.reading.is_none() {
                let claim = claim_for(shared, &task.partition, &task.from);
                if let Some(claim) = &claim {
                    let collection = task.model.collection();
                    merger.reserve(&mut queue, collection, &task.partition, claim, jobs);
                }
                let from = task.from.clone();
                match start_reading(shared, &task.model, &task.partition, from, claim) {
                    Ok(reading) => task.reading = Some(reading),
                    Err(e) => {
                        shared.stop.store(true, Ordering::SeqCst);
                        first_error.get_or_insert(e);
                        break;
                    }
                }
            }
            cutter.started(&task);
            let shared = Arc::clone(shared);
            let state = state.clone();
            let conn = writers.pop();
            running.spawn(async move {
                let collection = task.model.collection().to_string();
                let index = task.partition.index;
                let (result, conn) = run_partition(&shared, state, task, conn).await;
                (collection, index, result, conn)
            });
        }
        // A job free with nothing waiting for it: the rest of a range being read may be cut
        // off for it.
        let idle = running.len() < shared.config.jobs.max(1)
            && queue.tasks.is_empty()
            && planner.is_empty()
            && to_plan.is_empty()
            && cutter.any()
            && !stopped();
        // Ranges reserved for a reader and not reached yet are given back first: they cost
        // no cut.
        if idle && merger.give_back(shared, &mut queue) {
            continue;
        }
        if idle {
            match cutter.cut_one(shared, state, control, &mut queue).await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => {
                    shared.stop.store(true, Ordering::SeqCst);
                    first_error.get_or_insert(e);
                }
            }
        }
        // The partitions next in line start reading now: a job that frees up finds their first
        // batches ready instead of waiting for them (each holds at most two batches).
        // Reserving takes only tasks after the one starting (none started yet), so the next
        // ones keep their places.
        let mut next = 0;
        while next < jobs.min(queue.tasks.len()) {
            let task = &queue.tasks[next];
            next += 1;
            if task.reading.is_some() || stopped() {
                continue;
            }
            let (model, partition, from) = (
                task.model.clone(),
                task.partition.clone(),
                task.from.clone(),
            );
            let claim = claim_for(shared, &partition, &from);
            if let Some(claim) = &claim {
                merger.reserve(&mut queue, model.collection(), &partition, claim, jobs);
            }
            match start_reading(shared, &model, &partition, from, claim) {
                Ok(reading) => queue.tasks[next - 1].reading = Some(reading),
                Err(e) => {
                    shared.stop.store(true, Ordering::SeqCst);
                    first_error.get_or_insert(e);
                }
            }
        }
        tokio::select! {
            Some(done) = running.join_next(), if !running.is_empty() => {
                let (collection, index, result, conn) = done.unwrap_or_else(|e| {
                    (
                        String::new(),
                        0,
                        Err(RunError::Internal(format!("a partition task failed: {e}"))),
                        None,
                    )
                });
                cutter.finished(&collection, index);
                merger.finished(&collection, index, &mut queue);
                writers.extend(conn);
                match result {
                    Ok(()) => {
                        if queue.finished_one(&collection, stopped) {
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
                    Err(e) => {
                        shared.stop.store(true, Ordering::SeqCst);
                        first_error.get_or_insert(e);
                    }
                }
            }
            Some(planned) = planner.join_next(), if !planner.is_empty() => {
                let recorded = match planned {
                    Ok((model, Ok(planned), readings)) => match state
                        .plan_partitions(
                            control,
                            model.collection(),
                            &planned.partitions,
                            planned.stamp.as_ref(),
                        )
                        .await
                    {
                        Ok(()) => Ok((model, planned.partitions, readings)),
                        Err(e) => {
                            discard(readings);
                            Err(e)
                        }
                    },
                    Ok((_, Err(e), readings)) => {
                        discard(readings);
                        Err(e)
                    }
                    Err(e) => Err(planning_failed(e)),
                };
                match recorded {
                    Ok((model, partitions, readings)) => {
                        let m = schema
                            .models()
                            .iter()
                            .position(|h| h.collection() == model.collection());
                        let estimated = m.and_then(estimate);
                        cutter.allow(model.collection(), true, partitions.len());
                        queue.planned(shared, &model, partitions, readings, estimated);
                        merger.adopt(&mut queue, model.collection());
                    }
                    Err(e) => {
                        shared.stop.store(true, Ordering::SeqCst);
                        first_error.get_or_insert(e);
                    }
                }
            }
            // A reader waits for the merge of the ranges it reached.
            () = wake.notified(), if merger.any() && !running.is_empty() => {
                if let Err(e) = merger.settle(shared, state, control, &mut queue).await {
                    shared.stop.store(true, Ordering::SeqCst);
                    first_error.get_or_insert(e);
                }
            }
            // Measures change as reading goes: whether a cut pays is asked again.
            () = tokio::time::sleep(RECONSIDER), if idle => {}
            else => break,
        }
    }
    merger.close();
    if let Some(ahead) = prefetched {
        discard_prefetch(ahead);
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
