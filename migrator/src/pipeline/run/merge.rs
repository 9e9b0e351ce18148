//! Ranges merged as reading goes: a reader starting its range is given the ranges after it that
//! nobody has started (its share of those waiting, so that every job still finds some), and its
//! one query runs on through them. A range that turns out empty or tiny then costs no query of
//! its own, however many the plan cut (a server that sorts what each query matches, as
//! SecantusDB does, pays for each one).
//!
//! Exactly once: the reserved ranges leave the queue, so no other reader starts them; the
//! reader hands out no document of one before the load has recorded its merge into the
//! reader's range (one transaction, fenced by the run's epoch: the reader's range widened, the
//! merged range's checkpoint gone, only if it is untouched), see [`RangeClaim::reserve`]. A run
//! stopped at any point resumes from what the state says: the ranges apart, or merged with the
//! widened range's checkpoint. A reserved range not reached yet goes back to the queue when a
//! job is free with nothing else to do, and when a merge cannot be recorded.
//!
//! The first `--jobs` readers of the collection read first start while it is planned, before
//! the load has a queue: each reserves its share of the ranges after it the same way (the next
//! one starts after those), and the load takes them over with their queue's tasks
//! ([`Merger::adopt`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use bson::Bson;
use sqlx::PgConnection;

use super::partition::Task;
use super::queue::Queue;
use super::Shared;
use crate::progress::Event;
use crate::run_error::RunError;
use crate::source::{Partition, Position, RangeClaim, Reserved};
use crate::state::StateStore;

/// A reader with ranges reserved after its own.
struct Reader {
    /// Its partition as recorded (widened by each merge).
    partition: Partition,
    claim: Arc<RangeClaim>,
    /// The tasks of the ranges reserved and not merged yet, by partition index.
    reserved: BTreeMap<u32, Task>,
}

/// The readers that may go on into the ranges after their own (see the module).
#[derive(Default)]
pub(super) struct Merger {
    readers: BTreeMap<(String, u32), Reader>,
    /// Told by a reader that asks for a merge.
    pub(super) wake: Arc<tokio::sync::Notify>,
}

/// The environment variable that turns merging as reading goes off, for measuring what it
/// saves (tests/bench/README.md) and for nothing else.
pub const OFF_FOR_MEASUREMENT: &str = "MIGRATOR_MEASURE_WITHOUT_MERGES";

/// Whether merging as reading goes is turned off (see [`OFF_FOR_MEASUREMENT`]).
pub(super) fn off() -> bool {
    std::env::var_os(OFF_FOR_MEASUREMENT).is_some()
}

/// The ranges a reader starting `partition` reserves among `waiting` (its collection's ranges
/// nobody has started, itself not among them): those after it, each starting where the one
/// before it ends, at most its share of `waiting` among `jobs` readers, itself included (so
/// that every job still finds some).
pub(super) fn pick<'a>(
    partition: &Partition,
    waiting: &[&'a Partition],
    jobs: usize,
) -> Vec<&'a Partition> {
    let share = (waiting.len() + 1).div_ceil(jobs.max(1)).saturating_sub(1);
    let mut end = partition.max.as_ref();
    let mut taken: Vec<&Partition> = Vec::new();
    while taken.len() < share {
        let Some(at) = end else { break };
        let Some(next) = waiting.iter().find(|p| p.min.as_ref() == Some(at)) else {
            break;
        };
        end = next.max.as_ref();
        taken.push(next);
    }
    taken
}

/// The ranges `picked` as a reader's claim is told them; `None` when a bound is not Extended
/// JSON.
pub(super) fn reservations(picked: &[&Partition]) -> Option<Vec<Reserved>> {
    picked
        .iter()
        .map(|p| {
            let end = match &p.max {
                Some(max) => Some(Bson::try_from(max.clone()).ok()?),
                None => None,
            };
            Some(Reserved {
                index: p.index,
                end,
            })
        })
        .collect()
}

/// Whether nobody has started `task` (nor read any of it).
fn untouched(task: &Task) -> bool {
    task.reading.is_none() && task.from == Position::Start && task.partition.bytes.is_none()
}

impl Merger {
    /// Reserves for the reader of `partition` of `collection` (about to start reading with
    /// `claim`) the ranges after it that wait untouched in `queue` (see [`pick`]). Before the
    /// reader starts.
    pub(super) fn reserve(
        &mut self,
        queue: &mut Queue,
        collection: &str,
        partition: &Partition,
        claim: &Arc<RangeClaim>,
        jobs: usize,
    ) {
        if off() {
            return;
        }
        let mine = |t: &Task| {
            t.model.collection() == collection
                && t.partition.index != partition.index
                && untouched(t)
        };
        let waiting: Vec<&Partition> = queue
            .tasks
            .iter()
            .filter(|t| mine(t))
            .map(|t| &t.partition)
            .collect();
        let picked = pick(partition, &waiting, jobs);
        // A bound that is not Extended JSON is no range to read on into.
        let Some(ends) = reservations(&picked).filter(|e| !e.is_empty()) else {
            return;
        };
        let mut taken = BTreeMap::new();
        for end in &ends {
            let at = queue
                .tasks
                .iter()
                .position(|t| mine(t) && t.partition.index == end.index);
            if let Some(task) = at.and_then(|i| queue.tasks.remove(i)) {
                taken.insert(end.index, task);
            }
        }
        claim.reserve(ends, Arc::clone(&self.wake));
        self.readers.insert(
            (collection.to_string(), partition.index),
            Reader {
                partition: partition.clone(),
                claim: Arc::clone(claim),
                reserved: taken,
            },
        );
    }

    /// Takes over the readers of `collection` started before the load had a queue (the first
    /// ranges of the collection read first, started while it was planned: see
    /// [`super::workload::Workload::prefetch_first`]) that reserved the ranges after their own:
    /// those ranges' tasks leave the queue, and the merges the readers ask (perhaps already)
    /// are recorded here. Right after the collection's tasks are queued.
    pub(super) fn adopt(&mut self, queue: &mut Queue, collection: &str) {
        let started: Vec<(Partition, Arc<RangeClaim>)> = queue
            .tasks
            .iter()
            .filter(|t| t.model.collection() == collection)
            .filter_map(|t| {
                let claim = t.reading.as_ref()?.claim.as_ref()?;
                Some((t.partition.clone(), Arc::clone(claim)))
            })
            .collect();
        for (partition, claim) in started {
            let indexes = claim.reserved();
            if indexes.is_empty() {
                continue;
            }
            let mut reserved = BTreeMap::new();
            for index in indexes {
                let at = queue.tasks.iter().position(|t| {
                    t.model.collection() == collection && t.partition.index == index && untouched(t)
                });
                if let Some(task) = at.and_then(|i| queue.tasks.remove(i)) {
                    reserved.insert(index, task);
                }
            }
            claim.rewake(Arc::clone(&self.wake));
            self.readers.insert(
                (collection.to_string(), partition.index),
                Reader {
                    partition,
                    claim,
                    reserved,
                },
            );
        }
    }

    /// Whether a reader has ranges reserved.
    pub(super) fn any(&self) -> bool {
        !self.readers.is_empty()
    }

    /// Records the merges the readers ask for, each in its own transaction, and lets them read
    /// on; a merge that cannot be recorded (or any, once the run stops) is refused: its reader
    /// stops at its range's end and its reserved ranges go back to the queue.
    pub(super) async fn settle(
        &mut self,
        shared: &Shared,
        state: &StateStore,
        control: &mut PgConnection,
        queue: &mut Queue,
    ) -> Result<(), RunError> {
        let stopped = shared.stop.load(std::sync::atomic::Ordering::SeqCst);
        for ((collection, index), reader) in &mut self.readers {
            let Some(asked) = reader.claim.merge_asked() else {
                continue;
            };
            let merged: Vec<u32> = asked.iter().map(|r| r.index).collect();
            let last = merged.last().and_then(|i| reader.reserved.get(i));
            let (Some(last), false) = (last, stopped) else {
                let left = reader.claim.close();
                queue.give_back(take(&mut reader.reserved, &left));
                continue;
            };
            let widened = Partition {
                max: last.partition.max.clone(),
                ..reader.partition.clone()
            };
            let recorded = state
                .merge_partitions(control, collection, &widened, &merged)
                .await;
            match recorded {
                Ok(true) => {}
                Ok(false) => {
                    let left = reader.claim.close();
                    queue.give_back(take(&mut reader.reserved, &left));
                    continue;
                }
                Err(e) => {
                    reader.claim.close();
                    return Err(e);
                }
            }
            reader.claim.confirm_merge();
            reader.partition = widened;
            take(&mut reader.reserved, &merged);
            queue.merged(collection, merged.len());
            shared.source.note_merged(collection, merged.len());
            shared.observer.event(&Event::Note {
                message: format!(
                    "`{collection}`: partition {index} read on into {} (merged as reading went)",
                    listed(&merged)
                ),
            });
        }
        Ok(())
    }

    /// Gives back to `queue` half the ranges reserved and not reached by the reader with the
    /// most, for a free job; whether there were any.
    pub(super) fn give_back(&mut self, shared: &Shared, queue: &mut Queue) -> bool {
        let most = self
            .readers
            .iter_mut()
            .map(|(key, r)| (r.claim.snapshot().ahead, key, r))
            .filter(|(ahead, ..)| *ahead > 0)
            .max_by_key(|(ahead, ..)| *ahead);
        let Some((_, (collection, index), reader)) = most else {
            return false;
        };
        let back = reader.claim.give_back();
        if back.is_empty() {
            return false;
        }
        shared.observer.event(&Event::Note {
            message: format!(
                "`{collection}`: {} reserved for partition {index} given back to a free job",
                listed(&back)
            ),
        });
        queue.give_back(take(&mut reader.reserved, &back));
        true
    }

    /// A partition finished: the ranges still reserved for it (its query ended before them,
    /// or failed) go back to the queue.
    pub(super) fn finished(&mut self, collection: &str, index: u32, queue: &mut Queue) {
        if let Some(mut reader) = self.readers.remove(&(collection.to_string(), index)) {
            let left = reader.claim.close();
            queue.give_back(take(&mut reader.reserved, &left));
        }
    }

    /// The load ends: no reader waits for a merge any more.
    pub(super) fn close(&mut self) {
        for reader in self.readers.values() {
            reader.claim.close();
        }
        self.readers.clear();
    }
}

/// The tasks of `indexes` taken out of `reserved`, in index order.
fn take(reserved: &mut BTreeMap<u32, Task>, indexes: &[u32]) -> Vec<Task> {
    let mut tasks: Vec<Task> = indexes.iter().filter_map(|i| reserved.remove(i)).collect();
    tasks.sort_by_key(|t| t.partition.index);
    tasks
}

/// "partition 4", "partitions 4, 5".
fn listed(indexes: &[u32]) -> String {
    let all: Vec<String> = indexes.iter().map(u32::to_string).collect();
    match all.len() {
        1 => format!("partition {}", all[0]),
        _ => format!("partitions {}", all.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges(n: u32) -> Vec<Partition> {
        let bound = |k: u32| Some(serde_json::json!({"$numberInt": (k * 10).to_string()}));
        (0..n)
            .map(|k| Partition {
                index: k,
                min: (k > 0).then(|| bound(k)).flatten(),
                max: (k + 1 < n).then(|| bound(k + 1)).flatten(),
                bytes: None,
            })
            .collect()
    }

    fn indexes(picked: &[&Partition]) -> Vec<u32> {
        picked.iter().map(|p| p.index).collect()
    }

    #[test]
    fn a_reader_reserves_its_share_of_the_ranges_right_after_its_own() {
        let all = ranges(12);
        let after = |k: usize| all[k + 1..].iter().collect::<Vec<_>>();
        // The first of 12 among 2 jobs: half the 12 is its own and the 5 after it.
        assert_eq!(indexes(&pick(&all[0], &after(0), 2)), [1, 2, 3, 4, 5]);
        // The next reader's share of the 6 left, its own included.
        assert_eq!(indexes(&pick(&all[6], &after(6), 2)), [7, 8]);
        assert_eq!(indexes(&pick(&all[0], &after(0), 4)), [1, 2]);
        assert!(pick(&all[11], &after(11), 2).is_empty(), "nothing after");
        assert!(pick(&all[0], &after(0), 12).is_empty(), "a job for each");
        // Only ranges that follow on: a gap ends the reservation.
        let gap: Vec<&Partition> = [&all[1], &all[2], &all[4], &all[5]].into();
        assert_eq!(indexes(&pick(&all[0], &gap, 1)), [1, 2]);
        // Their ends as the claim reads them: the last range is open.
        let last = [&all[10], &all[11]];
        assert_eq!(
            reservations(&last),
            Some(vec![
                Reserved {
                    index: 10,
                    end: Some(Bson::Int32(110))
                },
                Reserved {
                    index: 11,
                    end: None
                }
            ])
        );
    }
}
