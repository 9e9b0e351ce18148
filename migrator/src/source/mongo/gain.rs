//! Whether splitting a live collection (or the rest of a range being read) can pay: what reading
//! it in more ranges at once saves against what the split costs the server, from measured
//! figures, written down so that `plan --source` and the summary can show them.
//!
//! Reading `n` documents at `r` each takes `n r` through one cursor and `n r / k` through `k`
//! ranges read at once by free jobs: the split saves `n r (1 - 1/k)`. It costs the queries
//! that find the cuts (the count, the smallest and largest `_id`, a sample), which a server
//! without an index answers by reading the collection, and one more query per extra range
//! (its start: what the server takes to a first answer). A split is taken when it saves more
//! than [`MARGIN`] times what it costs: the saving assumes idle cores, the costs are certain.

use std::fmt;
use std::time::Duration;

/// How much more a split must save than it costs.
pub const MARGIN: u32 = 2;

/// Reading one document, assumed until a reader measures its own: about the cheapest a server
/// with an `_id` index reads one (a sorted read of 300,000 users cost SecantusDB 2.9 µs each,
/// a MongoDB about 1 µs). Assumed low, so that an unmeasured split is taken only when cheap.
pub const ASSUMED_PER_DOCUMENT: Duration = Duration::from_micros(1);

/// The figures a split is weighed on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Weighing {
    /// Documents the ranges would share.
    pub documents: u64,
    /// Ranges read at once (free jobs, the range being read included).
    pub readers: usize,
    /// Reading one document.
    pub per_document: Duration,
    /// Where `per_document` comes from.
    pub basis: Basis,
    /// Finding the cuts: the queries before any range is read.
    pub finding: Duration,
    /// Starting one range's query.
    pub per_query: Duration,
}

/// Where a figure for reading one document comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    /// Assumed (before anything was read, or given).
    Assumed,
    /// Timed on a first batch of this many documents, asked by the planner.
    Probed(u64),
    /// What readers waited for the server, over this many documents read.
    Read(u64),
}

impl fmt::Display for Basis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Basis::Assumed => f.write_str("assumed"),
            Basis::Probed(n) => write!(f, "measured on a first batch of {n} documents"),
            Basis::Read(n) => write!(f, "measured over {n} documents read"),
        }
    }
}

/// What a split saves and costs, and whether it is taken.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verdict {
    pub saves: Duration,
    pub costs: Duration,
    pub split: bool,
}

impl Weighing {
    /// Weighs the split (see the module).
    pub fn weigh(&self) -> Verdict {
        let readers = u32::try_from(self.readers.max(1)).unwrap_or(u32::MAX);
        let documents = u32::try_from(self.documents).unwrap_or(u32::MAX);
        let read = self.per_document.saturating_mul(documents);
        let saves = read.saturating_sub(read / readers);
        let costs = self
            .finding
            .saturating_add(self.per_query.saturating_mul(readers - 1));
        Verdict {
            saves,
            costs,
            split: readers > 1 && saves > costs.saturating_mul(MARGIN),
        }
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

impl fmt::Display for Weighing {
    /// `300000 documents x 1.0 µs (assumed) over 4 readers saves 225.0 ms against 9.0 ms
    /// (finding the cuts 6.0 ms, 3 more queries x 1.0 ms)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = self.weigh();
        let extra = self.readers.max(1) - 1;
        write!(
            f,
            "{} documents x {:.1} µs ({}) over {} readers saves {} against {} (finding the cuts {}, {extra} more {} x {})",
            self.documents,
            self.per_document.as_secs_f64() * 1e6,
            self.basis,
            self.readers,
            ms(verdict.saves),
            ms(verdict.costs),
            ms(self.finding),
            if extra == 1 { "query" } else { "queries" },
            ms(self.per_query),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weighing(
        documents: u64,
        readers: usize,
        per_us: u64,
        finding_ms: u64,
        query_ms: u64,
    ) -> Weighing {
        Weighing {
            documents,
            readers,
            per_document: Duration::from_micros(per_us),
            basis: Basis::Read(documents),
            finding: Duration::from_millis(finding_ms),
            per_query: Duration::from_millis(query_ms),
        }
    }

    #[test]
    fn a_split_is_taken_only_when_it_saves_twice_what_it_costs() {
        // (documents, readers, µs per document, finding ms, per query ms, split)
        let cases = [
            // A server with an index: cuts and queries cost a round trip.
            (300_000, 4, 1, 3, 1, true),
            // SecantusDB at 300,000 users: count, smallest and largest `_id` each read the
            // collection (about 150 ms), and so does each range's sorted query.
            (300_000, 2, 3, 450, 150, false),
            // The rest of a range whose cut costs nothing more: measured 3 µs a document.
            (150_000, 2, 3, 0, 50, true),
            // Too few documents to win anything.
            (1_000, 4, 1, 3, 1, false),
            // One reader: nothing to share.
            (1_000_000, 1, 5, 0, 0, false),
        ];
        for (documents, readers, per, finding, query, split) in cases {
            let w = weighing(documents, readers, per, finding, query);
            assert_eq!(w.weigh().split, split, "{w}");
        }
    }

    #[test]
    fn the_figures_are_shown() {
        let w = weighing(300_000, 4, 1, 6, 1);
        let verdict = w.weigh();
        assert_eq!(verdict.saves, Duration::from_millis(225));
        assert_eq!(verdict.costs, Duration::from_millis(9));
        assert_eq!(
            w.to_string(),
            "300000 documents x 1.0 µs (measured over 300000 documents read) over 4 readers saves \
             225.0 ms against 9.0 ms (finding the cuts 6.0 ms, 3 more queries x 1.0 ms)"
        );
        let probed = Weighing {
            basis: Basis::Probed(256),
            ..w
        };
        assert!(
            probed
                .to_string()
                .contains("x 1.0 µs (measured on a first batch of 256 documents) over"),
            "{probed}"
        );
        // Nothing overflows on absurd figures.
        let huge = Weighing {
            documents: u64::MAX,
            readers: usize::MAX,
            per_document: Duration::MAX,
            basis: Basis::Assumed,
            finding: Duration::MAX,
            per_query: Duration::MAX,
        };
        assert!(!huge.weigh().split);
    }
}
