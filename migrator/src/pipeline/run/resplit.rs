//! Ranges cut as reading goes: when a job is free and nothing waits for it, the rest of a range
//! being read is cut in two (where the source judges it pays, see [`Source::split_rest`]) and
//! the free job reads the upper part. Parallelism then does not depend on the first plan: a
//! skewed plan, or one cursor chosen before anything was measured, is corrected by the readers'
//! own measures.
//!
//! Exactly once: the reader of the range hands out no `_id` at or above the cut once it is
//! proposed (its claim, [`RangeClaim`]), the shortened range and the new one are recorded in
//! the run state in one statement before the new one is read, and only then is the cut
//! confirmed to the reader. A run stopped at any point resumes from what the state says: both
//! ranges with their checkpoints, or the range uncut.
//!
//! Only collections read in ranges may be cut: one this run planned, or one recorded in more
//! than one partition. A collection recorded as one partition that this run did not plan was
//! loaded again whole after its keys were refused (the first of each repeat in `_id` order is
//! kept): it stays one cursor, like any collection with `--partitions 1`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use sqlx::PgConnection;

use super::partition::Task;
use super::queue::Queue;
use super::Shared;
use crate::progress::Event;
use crate::run_error::RunError;
use crate::schema::ModelHandle;
use crate::source::{Partition, RangeClaim};
use crate::state::StateStore;

/// Ranges a collection may be cut into as reading goes, per partition it may be planned in.
const CUTS_PER_PARTITION: usize = 4;

struct Tracked {
    model: ModelHandle,
    partition: Partition,
    claim: Arc<RangeClaim>,
}

/// The ranges being read whose rest may be cut off.
#[derive(Default)]
pub(super) struct Cutter {
    running: BTreeMap<(String, u32), Tracked>,
    /// Per collection: the next partition index (the largest recorded, plus one).
    next_index: BTreeMap<String, u32>,
    /// Per collection: ranges cut off so far.
    cut: BTreeMap<String, usize>,
    /// The collections whose ranges may be cut (see the module).
    cuttable: BTreeSet<String>,
}

impl Cutter {
    /// `collection`'s ranges may be cut: this run planned it, or it was recorded in `ranges`.
    pub(super) fn allow(&mut self, collection: &str, planned_here: bool, ranges: usize) {
        if planned_here || ranges > 1 {
            self.cuttable.insert(collection.to_string());
        }
    }

    /// A task starts: its range may be cut if its reader claims what it reads.
    pub(super) fn started(&mut self, task: &Task) {
        if !self.cuttable.contains(task.model.collection()) {
            return;
        }
        let Some(claim) = task.reading.as_ref().and_then(|r| r.claim.clone()) else {
            return;
        };
        self.running.insert(
            (task.model.collection().to_string(), task.partition.index),
            Tracked {
                model: task.model.clone(),
                partition: task.partition.clone(),
                claim,
            },
        );
    }

    pub(super) fn finished(&mut self, collection: &str, index: u32) {
        self.running.remove(&(collection.to_string(), index));
    }

    /// Whether a range is being read that could be cut.
    pub(super) fn any(&self) -> bool {
        !self.running.is_empty()
    }

    /// Cuts the rest of one range being read for a free job, if one pays; the range cut off is
    /// recorded and queued. Returns whether one was cut.
    pub(super) async fn cut_one(
        &mut self,
        shared: &Arc<Shared>,
        state: &StateStore,
        control: &mut PgConnection,
        queue: &mut Queue,
    ) -> Result<bool, RunError> {
        let limit = shared.config.partitions.max(1) * CUTS_PER_PARTITION;
        // The ranges read longest first: the likeliest to hold the most.
        let mut candidates: Vec<(std::time::Duration, (String, u32))> = self
            .running
            .iter()
            .filter(|((collection, _), _)| self.cut.get(collection).copied().unwrap_or(0) < limit)
            .map(|(key, t)| (t.claim.snapshot().reading_for, key.clone()))
            .collect();
        candidates.sort_by_key(|c| std::cmp::Reverse(c.0));
        for (_, key) in candidates {
            let Some(tracked) = self.running.get(&key) else {
                continue;
            };
            let (source, claim) = (Arc::clone(&shared.source), Arc::clone(&tracked.claim));
            let collection = key.0.clone();
            let split =
                tokio::task::spawn_blocking(move || source.split_rest(&collection, &claim, 2))
                    .await
                    .map_err(|e| RunError::Internal(format!("cutting a range: {e}")))??;
            let Some(cut) = split.cut else {
                continue;
            };
            let next = match self.next_index.get(&key.0) {
                Some(&next) => next,
                None => state
                    .checkpoints(control)
                    .await?
                    .iter()
                    .filter(|c| c.collection == key.0)
                    .map(|c| c.partition.index + 1)
                    .max()
                    .unwrap_or(1),
            };
            let narrowed = Partition {
                max: Some(cut.clone()),
                ..tracked.partition.clone()
            };
            // A range that ranges after it were merged into ends where the last of them did.
            let claimed = tracked.claim.snapshot();
            let end = match claimed.merged {
                0 => tracked.partition.max.clone(),
                _ => claimed.end.map(bson::Bson::into_canonical_extjson),
            };
            let cut_off = Partition {
                index: next,
                min: Some(cut.clone()),
                max: end,
                bytes: None,
            };
            let recorded = state
                .split_partition(control, &key.0, &narrowed, &cut_off)
                .await;
            match recorded {
                Ok(true) => tracked.claim.confirm(),
                other => {
                    tracked.claim.cancel();
                    other?;
                    continue;
                }
            }
            shared.observer.event(&Event::Note {
                message: format!(
                    "`{}`: partition {} {}; the rest is read as partition {next}",
                    key.0, narrowed.index, split.reason
                ),
            });
            let model = tracked.model.clone();
            if let Some(tracked) = self.running.get_mut(&key) {
                tracked.partition = narrowed;
            }
            self.next_index.insert(key.0.clone(), next + 1);
            *self.cut.entry(key.0).or_default() += 1;
            queue.cut_off(&model, cut_off);
            return Ok(true);
        }
        Ok(false)
    }
}
