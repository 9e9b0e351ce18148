//! The `_id` ranges a live collection is read in, and whether splitting it can pay at all.
//!
//! Splitting costs the server a query or two before the first document is read: cheap where
//! the `_id` index answers them (the smallest and largest `_id` are its two ends), a read of
//! the whole collection where the server reads to answer (SecantusDB counts, sorts and finds
//! the smallest `_id` by reading every document). The ranges themselves cost about what one
//! cursor costs (each range reads only its own `_id`s), so the only price of a split is finding
//! its points. The planner watches what the first queries cost: the count the listing asked
//! for, then the smallest `_id`. If either took longer than a server with an index needs
//! ([`Budget`]), the collection is read through one cursor: the split would cost the server
//! about as much as the read it divides.

use std::time::{Duration, Instant};

use bson::{doc, Bson, Document};

use super::conn::Conn;
use super::gain::{Basis, Weighing, ASSUMED_PER_DOCUMENT};
use super::split::{interpolate, merge_sparse, quantiles, SplitMethod};
use super::stream::{collect, edge_id, single_class};
use crate::source::{Partition, SourceError};

/// Collections are split only when every range gets at least this many documents.
pub(super) const MIN_PARTITION_DOCUMENTS: u64 = 256;
/// `$sample`d `_id`s per range wanted.
const SAMPLE_PER_RANGE: u64 = 16;
/// A range the sample expects to hold fewer documents is merged into its neighbour.
const LEAST_EXPECTED: u64 = MIN_PARTITION_DOCUMENTS / 4;
/// Documents in the planner's first batch, which measures what reading one costs.
const PROBE_DOCUMENTS: u32 = 256;
const INTERPOLATED: &str = "cut evenly between the smallest and largest `_id`";
const SAMPLED: &str = "cut at the quantiles of a `$sample` of the `_id`s";

/// How long a query about a collection may take on a server that answers it from an index
/// or from its statistics: a fixed allowance (a round trip, a busy server) plus a few
/// nanoseconds per document, far less than any server needs to read a document. A server
/// slower than this reads to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub fixed: Duration,
    pub per_document: Duration,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            fixed: Duration::from_millis(10),
            per_document: Duration::from_nanos(50),
        }
    }
}

impl Budget {
    /// The longest a cheap answer about `documents` documents takes.
    pub(crate) fn allows(&self, documents: u64) -> Duration {
        let per = self
            .per_document
            .saturating_mul(u32::try_from(documents).unwrap_or(u32::MAX));
        self.fixed.saturating_add(per)
    }
}

/// What the planner decided for one collection, and why (shown by `plan` and the summary).
#[derive(Debug, Clone, PartialEq)]
pub struct SplitPlan {
    pub partitions: Vec<Partition>,
    pub reason: String,
    /// The largest `_id` and what finding an edge cost, where the planner asked: what cutting
    /// the rest of a range later needs.
    pub(super) largest: Option<Bson>,
    pub(super) edge_took: Option<Duration>,
}

impl SplitPlan {
    pub(super) fn whole(reason: String) -> SplitPlan {
        SplitPlan {
            partitions: vec![Partition::whole()],
            reason,
            largest: None,
            edge_took: None,
        }
    }
}

/// What the planner knows of a collection before asking anything.
#[derive(Debug, Clone, Copy)]
pub(super) struct Known {
    pub(super) documents: u64,
    /// How long the server took to count them.
    pub(super) counted_in: Duration,
    /// Reading one document, if known before planning (measured by the run's readers, or
    /// given); else the planner times a first batch of the collection (see [`super::gain`]).
    pub(super) read: Option<(Duration, Basis)>,
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// Plans `collection`'s ranges (at most `max`).
pub(super) fn plan(
    conn: &Conn,
    collection: &str,
    max: usize,
    known: Known,
    method: SplitMethod,
    budget: Budget,
) -> Result<SplitPlan, SourceError> {
    let n = known.documents;
    if max <= 1 {
        return Ok(SplitPlan::whole("one cursor: one range asked for".into()));
    }
    let wanted = (max as u64).min(n / MIN_PARTITION_DOCUMENTS);
    if wanted <= 1 {
        return Ok(SplitPlan::whole(format!(
            "one cursor: {n} documents are too few to split"
        )));
    }
    if method == SplitMethod::BucketAuto {
        return bucket_auto(conn, collection, wanted);
    }
    let allowed = budget.allows(n);
    let measured = method == SplitMethod::Auto;
    if measured && known.counted_in > allowed {
        return Ok(SplitPlan::whole(format!(
            "one cursor: the server took {} to count {n} documents (an index answers in under {}), \
             so finding split points would cost it about a read of the collection",
            ms(known.counted_in),
            ms(allowed)
        )));
    }
    let coll = conn.collection(collection);
    let started = Instant::now();
    let first = conn.run({
        let coll = coll.clone();
        async move { edge_id(coll, 1).await }
    })?;
    let first_took = started.elapsed();
    let Some(first) = first else {
        return Ok(SplitPlan::whole(
            "one cursor: the collection is empty".into(),
        ));
    };
    if measured && first_took > allowed {
        return Ok(SplitPlan::whole(format!(
            "one cursor: the server took {} to find the smallest `_id` of {n} documents (an \
             index answers in under {}), so the largest would cost as much again",
            ms(first_took),
            ms(allowed)
        )));
    }
    let (per_document, basis) = match known.read {
        Some(read) => read,
        None if measured => probe(conn, collection, first_took)?,
        None => (ASSUMED_PER_DOCUMENT, Basis::Assumed),
    };
    // The largest `_id` is assumed to cost what the smallest did.
    let weighing = Weighing {
        documents: n,
        readers: wanted as usize,
        per_document,
        basis,
        finding: known
            .counted_in
            .saturating_add(first_took.saturating_mul(2)),
        per_query: first_took,
    };
    if measured && !weighing.weigh().split {
        return Ok(SplitPlan {
            edge_took: Some(first_took),
            ..SplitPlan::whole(format!("one cursor: splitting would not pay: {weighing}"))
        });
    }
    let last = conn.run(async move { edge_id(coll, -1).await })?;
    let Some(last) = last else {
        return Ok(SplitPlan::whole(
            "one cursor: the collection is empty".into(),
        ));
    };
    if !single_class(&Some(first.clone()), &Some(last.clone()), None) {
        return Ok(SplitPlan::whole(
            "one cursor: its `_id`s are of several types".into(),
        ));
    }
    let size = SAMPLE_PER_RANGE * wanted;
    // A random cursor on the index stays cheap only for a small share of the collection; a
    // larger sample is a read of it.
    let cheap_sample = size.saturating_mul(20) <= n;
    let interpolated = interpolate(&first, &last, wanted as usize);
    let is_string = matches!(first, Bson::String(_));
    // The server answers a small sample from its index: it follows a skewed collection where
    // cutting evenly between the ends would not, and shows the ranges such a cut leaves empty.
    let sample = if cheap_sample || (is_string && interpolated.is_empty() && !measured) {
        sample_ids(conn, collection, size)?
    } else {
        Vec::new()
    };
    let sampled = quantiles(&sample, wanted as usize);
    let (cuts, how) = if measured && !sampled.is_empty() {
        (sampled, SAMPLED)
    } else if !interpolated.is_empty() {
        (interpolated, INTERPOLATED)
    } else if is_string {
        (sampled, SAMPLED)
    } else {
        (Vec::new(), "")
    };
    let (cuts, merged) = merge_sparse(cuts, &sample, n, LEAST_EXPECTED);
    let merged = match merged {
        0 => String::new(),
        1 => ", 1 more that a `$sample` showed (nearly) empty merged into a neighbour".into(),
        m => format!(", {m} more that a `$sample` showed (nearly) empty merged into neighbours"),
    };
    if cuts.is_empty() && !merged.is_empty() {
        return Ok(SplitPlan {
            largest: Some(last.clone()),
            edge_took: Some(first_took),
            ..SplitPlan::whole(format!(
                "one cursor: a `$sample` of {} `_id`s puts the collection in one of the ranges \
                 {how}",
                sample.len()
            ))
        });
    }
    if cuts.is_empty() {
        return Ok(SplitPlan {
            largest: Some(last.clone()),
            edge_took: Some(first_took),
            ..SplitPlan::whole(format!(
                "one cursor: no split point between `_id`s {first} and {last}"
            ))
        });
    }
    let partitions = from_cuts(cuts);
    let weighed = if measured {
        format!("; {weighing}")
    } else {
        String::new()
    };
    Ok(SplitPlan {
        reason: format!(
            "{} ranges {how}{merged} (found in {}){weighed}",
            partitions.len(),
            ms(started.elapsed())
        ),
        partitions,
        largest: Some(last),
        edge_took: Some(first_took),
    })
}

/// Partition `i` is `[cut i - 1, cut i)`; the first and last are open, so documents inserted
/// beyond the smallest or largest `_id` are still read.
pub(super) fn from_cuts(cuts: Vec<Bson>) -> Vec<Partition> {
    let bounds: Vec<serde_json::Value> =
        cuts.into_iter().map(Bson::into_canonical_extjson).collect();
    (0..=bounds.len())
        .map(|i| Partition {
            index: u32::try_from(i).unwrap_or(u32::MAX),
            min: i.checked_sub(1).map(|j| bounds[j].clone()),
            max: bounds.get(i).cloned(),
            bytes: None,
        })
        .collect()
}

/// What reading one document costs the server, timed on the collection's first
/// [`PROBE_DOCUMENTS`] documents in `_id` order: the batch's time less what starting a query
/// took (`started_in`, the smallest `_id`'s), per document. Assumed when the collection holds
/// too few documents to tell.
fn probe(
    conn: &Conn,
    collection: &str,
    started_in: Duration,
) -> Result<(Duration, Basis), SourceError> {
    let coll = conn.collection(collection);
    let started = Instant::now();
    let read = conn.run(async move {
        let cursor = coll
            .find(doc! {})
            .sort(doc! {"_id": 1})
            .limit(i64::from(PROBE_DOCUMENTS))
            .batch_size(PROBE_DOCUMENTS)
            .await?;
        Ok(collect(cursor).await?.len())
    })?;
    let took = started.elapsed();
    if read < 2 {
        return Ok((ASSUMED_PER_DOCUMENT, Basis::Assumed));
    }
    let per = took.saturating_sub(started_in) / u32::try_from(read).unwrap_or(u32::MAX);
    Ok((per, Basis::Probed(read as u64)))
}

/// A `$sample` of `size` `_id`s.
fn sample_ids(conn: &Conn, collection: &str, size: u64) -> Result<Vec<Bson>, SourceError> {
    let coll = conn.collection(collection);
    let pipeline = [
        doc! {"$sample": {"size": i64::try_from(size).unwrap_or(i64::MAX)}},
        doc! {"$project": {"_id": 1}},
    ];
    conn.run(async move {
        let mut cursor = coll.aggregate(pipeline).await?;
        let mut ids = Vec::new();
        while cursor.advance().await? {
            let d: Document = cursor.deserialize_current()?;
            ids.extend(d.get("_id").cloned());
        }
        Ok(ids)
    })
}

/// Ranges of equal size from `$bucketAuto` over the `_id`s alone: a sort of every `_id` on the
/// server. One range when the aggregation fails or the `_id`s are of several types.
fn bucket_auto(conn: &Conn, collection: &str, wanted: u64) -> Result<SplitPlan, SourceError> {
    let coll = conn.collection(collection);
    // Only `_id` goes through the bucketing (a server may otherwise carry whole documents).
    let pipeline = [
        doc! {"$project": {"_id": 1}},
        doc! {"$bucketAuto": {"groupBy": "$_id", "buckets": i64::try_from(wanted).unwrap_or(i64::MAX)}},
    ];
    let started = Instant::now();
    let buckets = conn.run(async move {
        let buckets = async {
            let mut cursor = coll.aggregate(pipeline).allow_disk_use(true).await?;
            let mut bounds = Vec::new();
            while cursor.advance().await? {
                let bucket: Document = cursor.deserialize_current()?;
                let range = bucket.get_document("_id").ok();
                bounds.push((
                    range.and_then(|b| b.get("min")).cloned(),
                    range.and_then(|b| b.get("max")).cloned(),
                ));
            }
            mongodb::error::Result::Ok(bounds)
        };
        Ok(buckets.await.map_err(|e| e.to_string()))
    })?;
    let took = started.elapsed();
    let buckets = match buckets {
        Ok(buckets) => buckets,
        Err(e) => {
            return Ok(SplitPlan::whole(format!(
                "one cursor: `$bucketAuto` failed: {e}"
            )))
        }
    };
    let last = buckets.last().and_then(|(_, max)| max.clone());
    let Some(mins) = buckets
        .into_iter()
        .map(|(min, _)| min)
        .collect::<Option<Vec<Bson>>>()
    else {
        return Ok(SplitPlan::whole(
            "one cursor: `$bucketAuto` gave no bounds".into(),
        ));
    };
    // The first bucket starts at the smallest `_id` and the last ends at the largest: `_id`s
    // of several types (compared with `$expr` only) are read whole.
    if !single_class(&mins.first().cloned(), &last, None) {
        return Ok(SplitPlan::whole(
            "one cursor: its `_id`s are of several types".into(),
        ));
    }
    let partitions = from_cuts(mins.into_iter().skip(1).collect());
    Ok(SplitPlan {
        reason: format!(
            "{} ranges of equal size from `$bucketAuto` (found in {})",
            partitions.len(),
            ms(took)
        ),
        partitions,
        largest: last,
        edge_took: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_adjacent_and_open_at_both_ends() {
        let parts = from_cuts(vec![Bson::Int32(10), Bson::Int32(20)]);
        let bound = |n: i32| Some(Bson::Int32(n).into_canonical_extjson());
        assert_eq!(parts.len(), 3);
        assert_eq!(
            (parts[0].min.clone(), parts[0].max.clone()),
            (None, bound(10))
        );
        assert_eq!(
            (parts[1].min.clone(), parts[1].max.clone()),
            (bound(10), bound(20))
        );
        assert_eq!(
            (parts[2].min.clone(), parts[2].max.clone()),
            (bound(20), None)
        );
        assert_eq!(from_cuts(Vec::new()), [Partition::whole()]);
    }

    #[test]
    fn the_budget_grows_with_the_collection() {
        let budget = Budget::default();
        assert_eq!(budget.allows(0), Duration::from_millis(10));
        assert_eq!(budget.allows(300_000), Duration::from_millis(25));
        // SecantusDB counts 28,000 documents in 14 to 18 ms and 300,000 in about 150: over.
        assert!(Duration::from_millis(14) > budget.allows(28_000));
        assert!(budget.allows(u64::MAX) >= Duration::from_secs(200));
    }
}
