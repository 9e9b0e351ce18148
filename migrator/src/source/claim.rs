//! A range being read whose rest the load may cut off while it is read, so that a reader that
//! finished early takes over part of a range that turned out larger than the others.
//!
//! The reader claims each `_id` before handing its document out ([`RangeClaim::claim`]); the
//! load proposes a cut above the last `_id` claimed ([`RangeClaim::propose`]), records the
//! shortened range and the new one in the run state, then confirms the cut. Claims and
//! proposals go through one lock, so no `_id` at or above a cut is ever handed out by the
//! shortened range, and none below it is left to the new one. While a cut is proposed and not
//! yet recorded, a reader that reaches it (or the end of its query) waits: it must not report
//! its range done before the state says where the range ends.
//!
//! The load may also reserve for the reader the ranges after its own that nobody has started
//! ([`RangeClaim::reserve`]): the reader's query then runs to the end of the last of them
//! ([`RangeClaim::reach`]), and a reader that reaches one of them (or the end of its query)
//! asks for it to be merged into its range and waits until the load has recorded the merge
//! ([`RangeClaim::merge_asked`], [`RangeClaim::confirm_merge`]) before it hands out a document
//! of it. A range that turns out empty or tiny then costs no query of its own. Ranges reserved
//! and not reached may be given back to the load ([`RangeClaim::give_back`]) for a free job.

use std::cmp::Ordering;
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use bson::Bson;

/// What the reader of a range has claimed so far, and where the range ends.
#[derive(Debug, Clone, Default)]
pub struct Claimed {
    /// The first `_id` this reading handed out.
    pub first: Option<Bson>,
    /// The last `_id` handed out (before the first: the resume point, or the range's start).
    pub last: Option<Bson>,
    /// The range's end (exclusive) now in force; `None`: open.
    pub end: Option<Bson>,
    /// Documents handed out by this reading.
    pub documents: u64,
    /// How long the reader waited for its query's first answer: what starting a range costs.
    pub first_after: Option<Duration>,
    /// How long the reader waited for the server's later answers: what reading its documents
    /// costs where the reader waits for it (a reader whose batches are ready when it asks for
    /// them, because the load downstream is slower, waits nothing).
    pub waited: Duration,
    /// How long this reading has handed documents out (since its first).
    pub reading_for: Duration,
    /// Whether the reader reached the end of its range.
    pub finished: bool,
    /// Ranges reserved after this one and not reached yet.
    pub ahead: usize,
    /// Ranges merged into this one as it was read.
    pub merged: u64,
}

/// A range reserved for a reader after its own (see the module): its partition's index and its
/// end (exclusive; `None`: open). It starts where the range before it ends.
#[derive(Debug, Clone, PartialEq)]
pub struct Reserved {
    pub index: u32,
    pub end: Option<Bson>,
}

#[derive(Debug)]
struct State {
    claimed: Claimed,
    first_at: Option<Instant>,
    /// A cut proposed and not yet recorded.
    pending: Option<Bson>,
    /// Ranges reserved after this one, in `_id` order.
    ahead: VecDeque<Reserved>,
    /// Ranges the reader reached, whose merge is asked and not yet recorded.
    merging: Vec<Reserved>,
    /// No merge is asked any more (the load refused one, or stopped).
    closed: bool,
    /// Wakes the load when a merge is asked.
    wake: Option<Arc<tokio::sync::Notify>>,
}

/// A range being read, shared by its reader and the load (see the module).
#[derive(Debug)]
pub struct RangeClaim {
    state: Mutex<State>,
    settled: Condvar,
}

impl RangeClaim {
    /// A range from `start` (inclusive) to before `end` (`None`: open), read after `after` (a
    /// resume point).
    pub fn new(start: Option<Bson>, end: Option<Bson>, after: Option<Bson>) -> RangeClaim {
        RangeClaim {
            state: Mutex::new(State {
                claimed: Claimed {
                    last: after.or(start),
                    end,
                    ..Claimed::default()
                },
                first_at: None,
                pending: None,
                ahead: VecDeque::new(),
                merging: Vec::new(),
                closed: false,
                wake: None,
            }),
            settled: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What has been claimed so far.
    pub fn snapshot(&self) -> Claimed {
        let state = self.lock();
        let mut claimed = state.claimed.clone();
        claimed.ahead = state.ahead.len();
        claimed.reading_for = state.first_at.map(|t| t.elapsed()).unwrap_or_default();
        claimed
    }

    /// The reader asks to hand out the document with this `_id`: `false` when the range now
    /// ends at or before it (the reader stops). Waits while a cut at or below it is proposed,
    /// and while the ranges reserved up to it are being merged into the range.
    pub fn claim(&self, id: &Bson) -> bool {
        let mut state = self.lock();
        loop {
            while !state.merging.is_empty()
                || state.pending.as_ref().is_some_and(|cut| !is_below(id, cut))
            {
                state = self
                    .settled
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            let beyond = |end: &Option<Bson>| end.as_ref().is_some_and(|end| !is_below(id, end));
            if !beyond(&state.claimed.end) {
                break;
            }
            // The ranges reserved up to this `_id` (those it passes are empty) are merged first.
            if state.closed || state.ahead.is_empty() {
                state.claimed.finished = true;
                return false;
            }
            while let Some(next) = state.ahead.pop_front() {
                let passed = beyond(&next.end);
                state.merging.push(next);
                if !passed {
                    break;
                }
            }
            state.ask();
        }
        if state.first_at.is_none() {
            state.first_at = Some(Instant::now());
            state.claimed.first = Some(id.clone());
        }
        state.claimed.last = Some(id.clone());
        state.claimed.documents += 1;
        true
    }

    /// The reader waited `took` for an answer of the server (the first: its query's start).
    pub fn waited(&self, took: Duration) {
        let mut state = self.lock();
        match state.claimed.first_after {
            None => state.claimed.first_after = Some(took),
            Some(_) => state.claimed.waited += took,
        }
    }

    /// The reader reached the end of its query, which asked for the `_id`s below `reach`
    /// (`None`: all): waits for a proposed cut to be settled, asks for the ranges reserved
    /// within that reach (the query found nothing in them) to be merged and waits for that,
    /// then marks the range finished (no cut is proposed after). Ranges reserved beyond the
    /// reach are left to the load.
    pub fn finish(&self, reach: &Option<Bson>) {
        let within = |r: &Reserved| match (reach, &r.end) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(reach), Some(end)) => !is_below(reach, end),
        };
        let mut state = self.lock();
        loop {
            while state.pending.is_some() || !state.merging.is_empty() {
                state = self
                    .settled
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            if state.closed || !state.ahead.front().is_some_and(within) {
                break;
            }
            while state.ahead.front().is_some_and(within) {
                if let Some(next) = state.ahead.pop_front() {
                    state.merging.push(next);
                }
            }
            state.ask();
        }
        state.claimed.finished = true;
    }

    /// Proposes `cut` as the range's new end: accepted only above every `_id` handed out,
    /// below the current end, with nothing else pending and the range not finished.
    pub fn propose(&self, cut: &Bson) -> bool {
        let mut state = self.lock();
        let above_last = match &state.claimed.last {
            Some(last) => is_below(last, cut),
            None => true,
        };
        let below_end = match &state.claimed.end {
            Some(end) => is_below(cut, end),
            None => true,
        };
        // A range with ranges reserved after it gives those back first (see the module).
        let merges = !state.ahead.is_empty() || !state.merging.is_empty();
        if state.pending.is_some() || state.claimed.finished || merges || !above_last || !below_end
        {
            return false;
        }
        state.pending = Some(cut.clone());
        true
    }

    /// The proposed cut is recorded: the range now ends there.
    pub fn confirm(&self) {
        let mut state = self.lock();
        if let Some(cut) = state.pending.take() {
            state.claimed.end = Some(cut);
        }
        self.settled.notify_all();
    }

    /// The proposed cut could not be recorded: the range keeps its end.
    pub fn cancel(&self) {
        self.lock().pending = None;
        self.settled.notify_all();
    }
}

impl RangeClaim {
    /// Reserves `ahead` (the ranges after this one, in order, each starting where the one
    /// before it ends) for this reader; `wake` is told when it asks for a merge. Before the
    /// reader reads.
    pub fn reserve(&self, ahead: Vec<Reserved>, wake: Arc<tokio::sync::Notify>) {
        let mut state = self.lock();
        state.ahead = ahead.into();
        state.wake = Some(wake);
    }

    /// Tells `wake` instead when the reader asks for a merge (the load takes over a reader
    /// started before it, see [`RangeClaim::reserve`]), and at once if it asks already.
    pub fn rewake(&self, wake: Arc<tokio::sync::Notify>) {
        let mut state = self.lock();
        state.wake = Some(wake);
        if !state.merging.is_empty() {
            state.ask();
        }
    }

    /// The indexes of the ranges reserved and not merged yet (those being merged first).
    pub fn reserved(&self) -> Vec<u32> {
        let state = self.lock();
        state
            .merging
            .iter()
            .chain(state.ahead.iter())
            .map(|r| r.index)
            .collect()
    }

    /// Where the reader's query ends: the end of the last range reserved, else the range's
    /// (`None`: open).
    pub fn reach(&self) -> Option<Bson> {
        let state = self.lock();
        match state.ahead.back() {
            Some(last) => last.end.clone(),
            None => state.claimed.end.clone(),
        }
    }

    /// The ranges the reader asks to merge into its range, if it waits for that.
    pub fn merge_asked(&self) -> Option<Vec<Reserved>> {
        let state = self.lock();
        (!state.merging.is_empty()).then(|| state.merging.clone())
    }

    /// The merge asked is recorded: the range now ends where the last range merged ended.
    pub fn confirm_merge(&self) {
        let mut state = self.lock();
        let merged = std::mem::take(&mut state.merging);
        if let Some(last) = merged.last() {
            state.claimed.end = last.end.clone();
            state.claimed.merged += merged.len() as u64;
        }
        self.settled.notify_all();
    }

    /// Refuses every merge from now on (the one asked could not be recorded, or the load
    /// stopped): the reader stops at its range's end. Returns the indexes of the ranges
    /// reserved and not merged, which are the load's again.
    pub fn close(&self) -> Vec<u32> {
        let mut state = self.lock();
        state.closed = true;
        let merging = std::mem::take(&mut state.merging);
        let left: Vec<u32> = merging
            .iter()
            .chain(state.ahead.iter())
            .map(|r| r.index)
            .collect();
        state.ahead.clear();
        self.settled.notify_all();
        left
    }

    /// Gives back the upper half (at least one) of the ranges reserved and not reached, for
    /// free jobs; returns their indexes (none if nothing is reserved).
    pub fn give_back(&self) -> Vec<u32> {
        let mut state = self.lock();
        let keep = state.ahead.len() / 2;
        state
            .ahead
            .split_off(keep)
            .into_iter()
            .map(|r| r.index)
            .collect()
    }
}

impl State {
    /// Asks the load to record the merge of `merging`.
    fn ask(&self) {
        if let Some(wake) = &self.wake {
            wake.notify_one();
        }
    }
}

/// Whether `a` sorts before `b` in the server's order, both of one type class a range can be
/// cut in (ObjectIds, strings, numbers, dates). Values of other or different classes are never
/// below: a range whose `_id`s cannot be compared here is never cut (see [`RangeClaim::propose`]),
/// and its reader stops at no cut.
fn is_below(a: &Bson, b: &Bson) -> bool {
    compare(a, b) == Some(Ordering::Less)
}

/// The order of two `_id`s of one class (see [`is_below`]).
pub(crate) fn compare(a: &Bson, b: &Bson) -> Option<Ordering> {
    let (a, b) = (order_key(a)?, order_key(b)?);
    match (&a, &b) {
        (OrderKey::Bytes(_), OrderKey::Bytes(_))
        | (OrderKey::Number(_), OrderKey::Number(_))
        | (OrderKey::Millis(_), OrderKey::Millis(_)) => a.partial_cmp(&b),
        _ => None,
    }
}

/// A value's place in the server's order, within its type.
#[derive(Debug, Clone, PartialEq, PartialOrd)]
pub(crate) enum OrderKey {
    Bytes(Vec<u8>),
    Number(f64),
    Millis(i64),
}

pub(crate) fn order_key(value: &Bson) -> Option<OrderKey> {
    match value {
        Bson::ObjectId(o) => Some(OrderKey::Bytes(o.bytes().to_vec())),
        Bson::String(s) => Some(OrderKey::Bytes(s.as_bytes().to_vec())),
        Bson::DateTime(d) => Some(OrderKey::Millis(d.timestamp_millis())),
        Bson::Int32(n) => Some(OrderKey::Number(f64::from(*n))),
        Bson::Int64(n) => Some(OrderKey::Number(*n as f64)),
        Bson::Double(x) if x.is_finite() => Some(OrderKey::Number(*x)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_cut_is_taken_only_above_what_was_handed_out() {
        let claim = RangeClaim::new(Some(Bson::Int32(0)), Some(Bson::Int32(100)), None);
        // Not below the range's start.
        assert!(!claim.propose(&Bson::Int32(0)));
        assert!(claim.claim(&Bson::Int32(10)));
        assert!(claim.claim(&Bson::Int32(20)));
        // At or below the last `_id` handed out, at or above the end: refused.
        assert!(!claim.propose(&Bson::Int32(20)));
        assert!(!claim.propose(&Bson::Int32(100)));
        assert!(claim.propose(&Bson::Int32(60)));
        // One at a time.
        assert!(!claim.propose(&Bson::Int32(70)));
        // Below the proposed cut the reader goes on.
        assert!(claim.claim(&Bson::Int32(59)));
        claim.confirm();
        assert!(!claim.claim(&Bson::Int32(60)), "the range now ends at 60");
        let seen = claim.snapshot();
        assert_eq!(seen.end, Some(Bson::Int32(60)));
        assert_eq!(seen.documents, 3);
        assert_eq!(seen.first, Some(Bson::Int32(10)));
        assert_eq!(seen.last, Some(Bson::Int32(59)));
        assert!(seen.finished);
        assert!(!claim.propose(&Bson::Int32(59)), "finished: no cut");
    }

    #[test]
    fn a_reader_at_a_proposed_cut_waits_until_it_is_settled() {
        for confirmed in [true, false] {
            let claim = Arc::new(RangeClaim::new(None, None, Some(Bson::Int32(5))));
            assert!(claim.propose(&Bson::Int32(50)));
            let reader = {
                let claim = Arc::clone(&claim);
                std::thread::spawn(move || claim.claim(&Bson::Int32(70)))
            };
            std::thread::sleep(Duration::from_millis(50));
            assert!(!reader.is_finished(), "waits while the cut is pending");
            if confirmed {
                claim.confirm();
            } else {
                claim.cancel();
            }
            let handed_out = reader.join().expect("the reader");
            assert_eq!(handed_out, !confirmed);
        }
        // The end of the query waits too, then no cut is taken.
        let claim = Arc::new(RangeClaim::new(None, None, None));
        assert!(claim.propose(&Bson::Int32(50)));
        let reader = {
            let claim = Arc::clone(&claim);
            std::thread::spawn(move || claim.finish(&None))
        };
        std::thread::sleep(Duration::from_millis(50));
        assert!(!reader.is_finished());
        claim.cancel();
        reader.join().expect("the reader");
        assert!(!claim.propose(&Bson::Int32(60)));
    }

    fn reserved(index: u32, end: Option<i32>) -> Reserved {
        Reserved {
            index,
            end: end.map(Bson::Int32),
        }
    }

    /// Answers the reader's merges on another thread, as the load does, until the range is
    /// finished: confirms the first `confirmed`, then closes the claim; returns the merges asked.
    fn load(claim: &Arc<RangeClaim>, confirmed: usize) -> std::thread::JoinHandle<Vec<Vec<u32>>> {
        let claim = Arc::clone(claim);
        std::thread::spawn(move || {
            let mut asked = Vec::new();
            loop {
                let Some(merge) = claim.merge_asked() else {
                    if claim.snapshot().finished {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(1));
                    continue;
                };
                asked.push(merge.iter().map(|r| r.index).collect());
                if asked.len() <= confirmed {
                    claim.confirm_merge();
                } else {
                    claim.close();
                }
            }
            asked
        })
    }

    #[test]
    fn a_reader_goes_on_into_the_ranges_reserved_once_each_is_merged() {
        let claim = Arc::new(RangeClaim::new(None, Some(Bson::Int32(10)), None));
        let wake = Arc::new(tokio::sync::Notify::new());
        claim.reserve(
            vec![
                reserved(1, Some(20)),
                reserved(2, Some(30)),
                reserved(3, Some(40)),
                reserved(4, None),
            ],
            Arc::clone(&wake),
        );
        // The query runs to the end of the last range reserved: open.
        assert_eq!(claim.reach(), None);
        assert!(claim.claim(&Bson::Int32(5)));
        // No cut while ranges are reserved.
        assert!(!claim.propose(&Bson::Int32(8)));
        let answers = load(&claim, 2);
        // 25 passes range 1 (empty) into range 2: both merged at once.
        assert!(claim.claim(&Bson::Int32(25)));
        assert_eq!(claim.snapshot().end, Some(Bson::Int32(30)));
        // Range 3 merged; then range 4's merge is refused: the reader stops at 40.
        assert!(claim.claim(&Bson::Int32(35)));
        assert!(!claim.claim(&Bson::Int32(45)));
        let asked = answers.join().expect("the load");
        assert_eq!(asked, [vec![1, 2], vec![3], vec![4]]);
        let seen = claim.snapshot();
        assert_eq!(
            (seen.end, seen.merged, seen.ahead),
            (Some(Bson::Int32(40)), 3, 0)
        );
        assert!(seen.finished);
    }

    #[test]
    fn a_reader_started_before_the_load_is_taken_over_with_its_merge_asked() {
        let claim = Arc::new(RangeClaim::new(None, Some(Bson::Int32(10)), None));
        let before = Arc::new(tokio::sync::Notify::new());
        claim.reserve(
            vec![reserved(1, Some(20)), reserved(2, Some(30))],
            Arc::clone(&before),
        );
        assert_eq!(claim.reserved(), [1, 2]);
        let reader = {
            let claim = Arc::clone(&claim);
            std::thread::spawn(move || claim.claim(&Bson::Int32(15)))
        };
        while claim.merge_asked().is_none() {
            std::thread::sleep(Duration::from_millis(1));
        }
        // Asked before the load listened: the new listener is told at once.
        assert_eq!(claim.reserved(), [1, 2], "range 1 being merged");
        let load = Arc::new(tokio::sync::Notify::new());
        claim.rewake(Arc::clone(&load));
        let told = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a runtime")
            .block_on(async {
                tokio::time::timeout(Duration::from_secs(5), load.notified())
                    .await
                    .is_ok()
            });
        assert!(told, "the load is told of the merge asked");
        claim.confirm_merge();
        assert!(reader.join().expect("the reader"));
        assert_eq!(claim.reserved(), [2]);
    }

    #[test]
    fn a_query_ended_merges_only_the_ranges_within_its_reach() {
        let claim = Arc::new(RangeClaim::new(None, Some(Bson::Int32(10)), None));
        let wake = Arc::new(tokio::sync::Notify::new());
        claim.reserve(
            vec![
                reserved(1, Some(20)),
                reserved(2, Some(30)),
                reserved(3, Some(40)),
            ],
            wake,
        );
        // Half given back before the reader reaches them: the query asks up to 20 only.
        let back = claim.give_back();
        assert_eq!(back, [2, 3]);
        assert_eq!(claim.reach(), Some(Bson::Int32(20)));
        assert!(claim.claim(&Bson::Int32(3)));
        let answers = load(&claim, 1);
        // The query (to 20) found nothing more: range 1 is merged empty.
        claim.finish(&Some(Bson::Int32(20)));
        claim.close();
        assert_eq!(answers.join().expect("the load"), [vec![1]]);
        let seen = claim.snapshot();
        assert_eq!(
            (seen.end, seen.merged, seen.finished),
            (Some(Bson::Int32(20)), 1, true)
        );
        // A query that ended short of a range reserved leaves it to the load.
        let claim = RangeClaim::new(None, Some(Bson::Int32(10)), None);
        claim.reserve(
            vec![reserved(1, Some(20))],
            Arc::new(tokio::sync::Notify::new()),
        );
        claim.finish(&Some(Bson::Int32(10)));
        assert_eq!(claim.close(), [1]);
        assert_eq!(claim.snapshot().merged, 0);
    }

    #[test]
    fn only_values_of_one_class_compare() {
        let cases = [
            (Bson::Int32(1), Bson::Double(1.5), Some(Ordering::Less)),
            (Bson::Int64(3), Bson::Int32(2), Some(Ordering::Greater)),
            (
                Bson::String("b".into()),
                Bson::String("a".into()),
                Some(Ordering::Greater),
            ),
            (Bson::String("a".into()), Bson::Int32(1), None),
            (Bson::Boolean(true), Bson::Boolean(false), None),
        ];
        for (a, b, expected) in cases {
            assert_eq!(compare(&a, &b), expected, "{a:?} {b:?}");
        }
    }
}
