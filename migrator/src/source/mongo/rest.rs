//! Cutting the rest of a range being read in two, as reading goes: where a reader that finished
//! early takes over the upper part of a range that turned out larger than the others (a skewed
//! plan, or one cursor that the server's first answers made the planner choose).
//!
//! The rest runs from the last `_id` handed out to the range's end (for the last range, open,
//! the collection's largest `_id`: known from planning, or asked now). How many documents it
//! holds is estimated from what the reader met so far (documents per unit of `_id` between its
//! first and last), its cost from what the reader waited for the server (per document, and for
//! its query's start): a reader whose next batch is ready when it asks, because the load
//! downstream is the slower part, waits nothing, and a second reader would gain nothing.
//! [`Weighing`] decides. The cut is interpolated like the planner's.

use std::time::{Duration, Instant};

use bson::Bson;

use super::conn::Conn;
use super::gain::{Basis, Weighing};
use super::ranges::MIN_PARTITION_DOCUMENTS;
use super::split::{interpolate, position};
use super::stream::edge_id;
use crate::source::claim::Claimed;
use crate::source::{RangeClaim, RestSplit, SourceError};

/// Documents a reader hands out before its rate is trusted.
const MEASURED_AFTER: u64 = 500;

/// What the source knows of the collection apart from the claim.
#[derive(Debug, Clone, Default)]
pub(super) struct Known {
    /// The largest `_id`, if found (by the planner, or by an earlier cut).
    pub(super) largest: Option<Bson>,
    /// What finding it would cost: the planner's measure of an edge query, or of the count.
    pub(super) edge_cost: Duration,
    /// The collection's documents, as listed.
    pub(super) documents: Option<u64>,
}

/// What became of a collection's ranges as reading went.
#[derive(Debug, Clone, Default)]
pub(super) struct AsRead {
    /// Rests cut off for free jobs.
    pub(super) cut: u32,
    /// Ranges merged into the range before them (read on by its cursor).
    pub(super) merged: usize,
    /// The last decision not to cut.
    pub(super) declined: Option<String>,
}

/// The reason a collection was read as it was: the plan's (`planned`), then what became of its
/// ranges as reading went.
pub(super) fn reason(planned: Option<String>, went: Option<&AsRead>) -> Option<String> {
    let Some(went) = went else {
        return planned;
    };
    let mut parts = Vec::new();
    match went.merged {
        0 => {}
        1 => parts.push("1 range merged into the one before it (read on by its query)".to_string()),
        n => parts.push(format!(
            "{n} ranges merged into the ones before them (read on by their queries)"
        )),
    }
    match went.cut {
        0 => {}
        1 => parts.push("the rest of a range cut off for a free job".to_string()),
        n => parts.push(format!(
            "the rest of a range cut off {n} times for free jobs"
        )),
    }
    let mut said = parts.join(", ");
    if let Some(declined) = &went.declined {
        if !said.is_empty() {
            said.push_str(", then ");
        }
        said.push_str(declined);
    }
    if said.is_empty() {
        return planned;
    }
    Some(match planned {
        Some(planned) => format!("{planned}; as reading went: {said}"),
        None => format!("as reading went: {said}"),
    })
}

/// Documents left between `claimed.last` and `upper`, from the reader's density so far; with
/// no upper `_id` known, what the listing's count leaves.
fn left(claimed: &Claimed, upper: Option<&Bson>, documents: Option<u64>) -> Option<u64> {
    let Some(upper) = upper else {
        return documents.map(|n| n.saturating_sub(claimed.documents));
    };
    let (first, last) = (
        position(claimed.first.as_ref()?)?,
        position(claimed.last.as_ref()?)?,
    );
    let upper = position(upper)?;
    let (read, rest) = (last - first, upper - last);
    if read <= 0.0 || rest <= 0.0 {
        return None;
    }
    // Truncating: an estimate.
    Some((claimed.documents as f64 * rest / read) as u64)
}

/// Weighs cutting `claim`'s rest for `readers` readers (unless not `weighed`: `--split edges`
/// cuts whatever it costs), and proposes the cut if it pays; `found` receives the largest `_id`
/// if it had to be asked.
#[allow(clippy::too_many_arguments)]
pub(super) fn split_rest(
    conn: &Conn,
    collection: &str,
    claim: &RangeClaim,
    readers: usize,
    known: &Known,
    weighed: bool,
    found: impl FnOnce(&Bson, Duration),
) -> Result<RestSplit, SourceError> {
    let claimed = claim.snapshot();
    let decline = |reason: String| {
        Ok(RestSplit {
            reason,
            ..RestSplit::default()
        })
    };
    if claimed.finished {
        return decline("the range is read".into());
    }
    if claimed.documents < MEASURED_AFTER {
        return decline(format!(
            "{} documents read: too few to measure",
            claimed.documents
        ));
    }
    let Some(last) = claimed.last.clone() else {
        return decline("nothing read".into());
    };
    if position(&last).is_none() {
        return decline(format!("`_id` {last} cannot be cut by value"));
    }
    let upper = claimed.end.clone().or_else(|| known.largest.clone());
    let Some(documents) = left(&claimed, upper.as_ref(), known.documents) else {
        return decline("no estimate of what is left".into());
    };
    if documents < 2 * MIN_PARTITION_DOCUMENTS {
        return decline(format!("about {documents} documents left: too few to cut"));
    }
    let per_document = claimed.waited / u32::try_from(claimed.documents).unwrap_or(u32::MAX);
    let weighing = Weighing {
        documents,
        readers,
        per_document,
        basis: Basis::Read(claimed.documents),
        finding: if upper.is_some() {
            Duration::ZERO
        } else {
            known.edge_cost
        },
        per_query: claimed.first_after.unwrap_or_default(),
    };
    if weighed && !weighing.weigh().split {
        return Ok(RestSplit {
            cut: None,
            reason: format!("not cut further: {weighing}"),
            weighed: true,
        });
    }
    let upper = match upper {
        Some(upper) => upper,
        None => {
            let coll = conn.collection(collection);
            let started = Instant::now();
            let largest = conn.run(async move { edge_id(coll, -1).await })?;
            let Some(largest) = largest else {
                return decline("the collection is empty".into());
            };
            found(&largest, started.elapsed());
            largest
        }
    };
    let Some(cut) = interpolate(&last, &upper, 2).into_iter().next() else {
        return decline(format!("no cut between `_id`s {last} and {upper}"));
    };
    if !claim.propose(&cut) {
        return decline("the reader moved past the cut".into());
    }
    Ok(RestSplit {
        reason: format!("cut at {cut}: {weighing}"),
        cut: Some(cut.into_canonical_extjson()),
        weighed: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_left_follows_the_density_read_so_far() {
        let claimed = Claimed {
            first: Some(Bson::Int32(0)),
            last: Some(Bson::Int32(100)),
            documents: 1_000,
            ..Claimed::default()
        };
        // 10 documents per unit of `_id` so far; 300 units left.
        assert_eq!(left(&claimed, Some(&Bson::Int32(400)), None), Some(3_000));
        // No upper `_id`: what the count leaves.
        assert_eq!(left(&claimed, None, Some(5_000)), Some(4_000));
        assert_eq!(left(&claimed, None, None), None);
        // Nothing left, or no span read yet.
        assert_eq!(left(&claimed, Some(&Bson::Int32(100)), None), None);
        let one = Claimed {
            first: Some(Bson::Int32(7)),
            last: Some(Bson::Int32(7)),
            documents: 1,
            ..Claimed::default()
        };
        assert_eq!(left(&one, Some(&Bson::Int32(400)), None), None);
        // Strings are not cut by value.
        let strings = Claimed {
            first: Some(Bson::String("a".into())),
            last: Some(Bson::String("b".into())),
            documents: 10,
            ..Claimed::default()
        };
        assert_eq!(left(&strings, Some(&Bson::String("z".into())), None), None);
    }
}
