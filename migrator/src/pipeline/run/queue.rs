//! The load's queue: the partitions waiting for a job, and how many of each collection's are
//! not finished yet.

use std::collections::{BTreeMap, VecDeque};

use super::partition::Task;
use super::workload::Readings;
use super::Shared;
use crate::progress::Event;
use crate::schema::ModelHandle;
use crate::source::{Partition, Position};
use crate::state::Checkpoint;

#[derive(Default)]
pub(super) struct Queue {
    /// The partitions waiting for a job, in the order they start.
    pub(super) tasks: VecDeque<Task>,
    /// Per collection: its partitions queued or running.
    pending: BTreeMap<String, usize>,
}

impl Queue {
    /// Queues the partitions of a collection planned before (a resume) that are not done, each
    /// from its checkpoint (`mine`: the collection's checkpoints).
    pub(super) fn resume(
        &mut self,
        shared: &Shared,
        model: &ModelHandle,
        mine: &[&Checkpoint],
        estimated: Option<u64>,
    ) {
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
        self.enqueue(shared, model, partitions, from, already, estimated);
    }

    /// Queues every partition of a collection just planned, from the start, with the readers
    /// started ahead of them.
    pub(super) fn planned(
        &mut self,
        shared: &Shared,
        model: &ModelHandle,
        partitions: Vec<Partition>,
        readings: Readings,
        estimated: Option<u64>,
    ) {
        self.enqueue(
            shared,
            model,
            partitions,
            |_| Some(Position::Start),
            0,
            estimated,
        );
        for (index, reading) in readings {
            let task = self
                .tasks
                .iter_mut()
                .find(|t| t.model.collection() == model.collection() && t.partition.index == index);
            if let Some(task) = task {
                task.reading.get_or_insert(reading);
            }
        }
    }

    /// Queues a partition cut off a range being read of `model`'s collection (recorded
    /// already), from its start.
    pub(super) fn cut_off(&mut self, model: &ModelHandle, partition: Partition) {
        *self
            .pending
            .entry(model.collection().to_string())
            .or_default() += 1;
        self.tasks.push_back(Task {
            model: model.clone(),
            partition,
            from: Position::Start,
            reading: None,
        });
    }

    /// Puts tasks taken off the queue for a reader (reserved, see [`super::merge`]) back at
    /// its front, in their order: they start next.
    pub(super) fn give_back(&mut self, tasks: Vec<Task>) {
        for task in tasks.into_iter().rev() {
            self.tasks.push_front(task);
        }
    }

    /// `n` of `collection`'s partitions were merged into one being read: they finish with it.
    pub(super) fn merged(&mut self, collection: &str, n: usize) {
        if let Some(left) = self.pending.get_mut(collection) {
            *left = left.saturating_sub(n);
        }
    }

    /// One of `collection`'s partitions finished: whether it was its last (unless the load is
    /// `stopped`), which finishes the collection.
    pub(super) fn finished_one(
        &mut self,
        collection: &str,
        stopped: impl FnOnce() -> bool,
    ) -> bool {
        let Some(left) = self.pending.get_mut(collection) else {
            return false;
        };
        *left -= 1;
        if *left == 0 && !stopped() {
            self.pending.remove(collection);
            return true;
        }
        false
    }

    /// Reports a collection started and queues its partitions that are not done (`from` gives
    /// where each resumes, `None` if done); a collection with nothing left is finished at once.
    fn enqueue(
        &mut self,
        shared: &Shared,
        model: &ModelHandle,
        partitions: Vec<Partition>,
        from: impl Fn(&Partition) -> Option<Position>,
        already_done: u64,
        estimated: Option<u64>,
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
            self.tasks.push_back(Task {
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
            self.pending.insert(collection, count);
        }
    }
}
