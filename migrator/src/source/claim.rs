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

use std::cmp::Ordering;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
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
}

#[derive(Debug)]
struct State {
    claimed: Claimed,
    first_at: Option<Instant>,
    /// A cut proposed and not yet recorded.
    pending: Option<Bson>,
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
        claimed.reading_for = state.first_at.map(|t| t.elapsed()).unwrap_or_default();
        claimed
    }

    /// The reader asks to hand out the document with this `_id`: `false` when the range now
    /// ends at or before it (the reader stops). Waits while a cut at or below it is proposed.
    pub fn claim(&self, id: &Bson) -> bool {
        let mut state = self.lock();
        while state.pending.as_ref().is_some_and(|cut| !is_below(id, cut)) {
            state = self
                .settled
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        if state
            .claimed
            .end
            .as_ref()
            .is_some_and(|end| !is_below(id, end))
        {
            state.claimed.finished = true;
            return false;
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

    /// The reader reached the end of its query: waits for a proposed cut to be settled, then
    /// marks the range finished (no cut is proposed after).
    pub fn finish(&self) {
        let mut state = self.lock();
        while state.pending.is_some() {
            state = self
                .settled
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
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
        if state.pending.is_some() || state.claimed.finished || !above_last || !below_end {
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
            std::thread::spawn(move || claim.finish())
        };
        std::thread::sleep(Duration::from_millis(50));
        assert!(!reader.is_finished());
        claim.cancel();
        reader.join().expect("the reader");
        assert!(!claim.propose(&Bson::Int32(60)));
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
