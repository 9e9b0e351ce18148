//! What reading a document has cost so far in this run, as the readers measured it: the
//! planner weighs a split of the next collection on it instead of an assumed figure.
//!
//! A reader counts what it waited for the server's answers after its query's first (the first
//! answer also pays for starting the query), per document handed out. A reader whose next batch
//! is ready when it asks (the load downstream is the slower part) waits nothing: more readers
//! would gain nothing, and the measure says so.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// Documents read before the run's measure is trusted.
pub(super) const TRUSTED_AFTER: u64 = 500;

/// The run's readers' measures, summed.
#[derive(Debug, Default)]
pub(super) struct ReadMeter {
    totals: Mutex<(u64, Duration)>,
}

impl ReadMeter {
    /// A reader waited `waited` for an answer that brought `documents` documents (not its
    /// query's first answer).
    pub(super) fn add(&self, documents: usize, waited: Duration) {
        let mut totals = self.totals.lock().unwrap_or_else(PoisonError::into_inner);
        totals.0 += documents as u64;
        totals.1 = totals.1.saturating_add(waited);
    }

    /// What reading one document cost the readers, and over how many documents, once at least
    /// [`TRUSTED_AFTER`] were read.
    pub(super) fn per_document(&self) -> Option<(Duration, u64)> {
        let (documents, waited) = *self.totals.lock().unwrap_or_else(PoisonError::into_inner);
        if documents < TRUSTED_AFTER {
            return None;
        }
        let per = waited.as_secs_f64() / documents as f64;
        Some((Duration::from_secs_f64(per), documents))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_measure_is_trusted_after_enough_documents() {
        let meter = ReadMeter::default();
        assert_eq!(meter.per_document(), None);
        meter.add(400, Duration::from_millis(2));
        assert_eq!(meter.per_document(), None, "400 documents: too few");
        meter.add(600, Duration::from_millis(8));
        assert_eq!(
            meter.per_document(),
            Some((Duration::from_micros(10), 1_000))
        );
        // Batches that did not wait bring the figure down.
        meter.add(1_000, Duration::ZERO);
        assert_eq!(
            meter.per_document(),
            Some((Duration::from_micros(5), 2_000))
        );
    }
}
