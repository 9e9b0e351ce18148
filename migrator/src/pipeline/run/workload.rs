//! The load's workload: how much work each collection is, the order the load takes them in,
//! and their partitions asked from the source.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::super::changes::{self, Planned};
use super::super::config::{counted, RunConfig};
use super::super::reader::Reading;
use super::merge;
use super::partition::{claim_for, start_reading};
use super::Shared;
use crate::plan::LoadPlan;
use crate::progress::Event;
use crate::run_error::RunError;
use crate::schema::{ModelHandle, Schema};
use crate::source::{CollectionInfo, Partition, Position};

/// How much work each collection is, and the order the load takes the models in.
pub(super) struct Workload {
    /// Per collection: its size on disk when the source knows every collection's, else its
    /// document count.
    weights: BTreeMap<String, u64>,
    estimates: BTreeMap<String, Option<u64>>,
    /// Whether `weights` are sizes on disk (files, whose byte ranges cost nothing extra).
    by_size: bool,
    /// Indexes into `schema.models()`, largest first.
    pub(super) order: Vec<usize>,
    total: u64,
    /// The first collection's partitions, asked for ahead of the load.
    pub(super) prefetched: Option<Prefetch>,
}

/// A collection's partitions being asked from the source (on a blocking thread), and readers
/// started on the first of them.
pub(super) struct Prefetch {
    pub(super) model: usize,
    pub(super) planned: tokio::task::JoinHandle<(Result<Planned, RunError>, Readings)>,
}

/// Readers started ahead of their tasks, by partition index.
pub(super) type Readings = Vec<(u32, Reading)>;

/// Starts reading the first `jobs` of `all` (a collection's partitions just planned, in `_id`
/// order), each reserving the ranges after it that are its share (see [`super::merge::pick`]).
fn start_first(shared: &Arc<Shared>, model: &ModelHandle, all: &[Partition]) -> Readings {
    let jobs = shared.config.jobs.max(1);
    let mut readings = Vec::new();
    let mut at = 0;
    while readings.len() < jobs && at < all.len() {
        let partition = &all[at];
        let claim = claim_for(shared, partition, &Position::Start);
        let mut reserved = 0;
        if let (Some(claim), false) = (&claim, merge::off()) {
            let after: Vec<&Partition> = all[at + 1..].iter().collect();
            let picked = merge::pick(partition, &after, jobs);
            if let Some(ends) = merge::reservations(&picked).filter(|e| !e.is_empty()) {
                reserved = ends.len();
                // The load listens once it takes the reader over.
                claim.reserve(ends, Arc::new(tokio::sync::Notify::new()));
            }
        }
        let Ok(reading) = start_reading(shared, model, partition, Position::Start, claim) else {
            break;
        };
        readings.push((partition.index, reading));
        at += 1 + reserved;
    }
    readings
}

/// Readers started ahead and not used: none of them waits any more for a merge nobody will
/// record (each stops at its range's end), and each ends once dropped.
pub(super) fn discard(readings: Readings) {
    for (_, reading) in &readings {
        if let Some(claim) = &reading.claim {
            claim.close();
        }
    }
}

/// The readers a prefetch started, discarded once it has planned (see [`discard`]).
pub(super) fn discard_prefetch(prefetch: Prefetch) {
    tokio::spawn(async move {
        if let Ok((_, readings)) = prefetch.planned.await {
            discard(readings);
        }
    });
}

/// A planning task that did not finish.
pub(super) fn planning_failed(e: tokio::task::JoinError) -> RunError {
    RunError::Internal(format!("planning partitions failed: {e}"))
}

/// Asks the source for the partitions of `model`'s collection, with what the collection's
/// source is now (run it on a blocking thread).
pub(super) fn plan(
    shared: &Shared,
    model: ModelHandle,
    max: usize,
) -> impl FnOnce() -> Result<Planned, RunError> + Send + 'static {
    let (source, observer) = (Arc::clone(&shared.source), Arc::clone(&shared.observer));
    move || {
        let planned = changes::plan(source.as_ref(), model.collection(), max)?;
        if let Some(reason) = source.split_reason(model.collection()) {
            let message = format!("`{}`: {reason}", model.collection());
            observer.event(&Event::Note { message });
        }
        Ok(planned)
    }
}

impl Workload {
    pub(super) fn new(schema: &Schema, infos: Vec<CollectionInfo>) -> Workload {
        let (weights, by_size) = super::super::config::weights(&infos);
        let weights: BTreeMap<String, u64> = infos
            .iter()
            .zip(weights)
            .map(|(c, w)| (c.name.clone(), w))
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
    pub(super) fn max_partitions(&self, schema: &Schema, config: &RunConfig, m: usize) -> usize {
        let collection = schema.models()[m].collection();
        let estimated = self.estimates.get(collection).copied().flatten();
        let weight = counted(self.weight(schema, m), self.by_size, estimated);
        config.partitions_for(weight, self.total, self.by_size)
    }

    /// Starts asking for the partitions of the collection the load takes first, and reading
    /// the first `jobs` of them, each with its share of the ranges after it reserved (see
    /// [`super::merge`]; the next reader starts after those): the source is only read, so this
    /// needs no state, and the first batches are ready by the time the state and the tables
    /// are. The load takes the readers over ([`super::merge::Merger::adopt`]); a resume that
    /// planned the collection before drops them unused ([`discard`]).
    pub(super) fn prefetch_first(&mut self, schema: &Schema, shared: &Arc<Shared>) {
        let Some(m) = self.to_read(schema).next() else {
            return;
        };
        let max = self.max_partitions(schema, &shared.config, m);
        let model = schema.models()[m].clone();
        let planning = plan(shared, model.clone(), max);
        let shared = Arc::clone(shared);
        let planned = tokio::task::spawn_blocking(move || {
            let planned = planning();
            let all = planned
                .as_ref()
                .map(|p| p.partitions.as_slice())
                .unwrap_or_default();
            let readings = start_first(&shared, &model, all);
            (planned, readings)
        });
        self.prefetched = Some(Prefetch { model: m, planned });
    }

    /// The models whose collection the source has, in load order (one allowed to be absent
    /// and absent is not read: its tables stay empty).
    pub(super) fn to_read<'a>(&'a self, schema: &'a Schema) -> impl Iterator<Item = usize> + 'a {
        self.order
            .iter()
            .copied()
            .filter(|&m| self.weights.contains_key(schema.models()[m].collection()))
    }

    fn weight(&self, schema: &Schema, m: usize) -> u64 {
        let collection = schema.models()[m].collection();
        self.weights.get(collection).copied().unwrap_or(0)
    }

    pub(super) fn estimate(&self, schema: &Schema, m: usize) -> Option<u64> {
        let collection = schema.models()[m].collection();
        self.estimates.get(collection).copied().flatten()
    }
}
