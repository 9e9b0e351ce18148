//! Where a live collection is cut into `_id` ranges, worked out from its smallest and largest
//! `_id` (or a small sample) instead of a pass over every `_id`.
//!
//! ObjectIds start with their creation second, then a per-process value and a counter: read as
//! one 96-bit number they grow with time, and within one second with the counter, so cutting
//! that number evenly between the smallest and largest cuts the collection by insertion time
//! (documents inserted in bursts make ranges of uneven size; each range is read on its own, so
//! an uneven one costs balance, never a document). Numbers and dates are cut the same way by
//! value. Where a server samples cheaply, the quantiles of a bounded `$sample` follow a skewed
//! collection better (and are the only way to cut strings).

use bson::oid::ObjectId;
use bson::{Bson, DateTime};

use crate::source::claim::{compare, order_key, OrderKey};

/// How a collection's cut points are found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SplitMethod {
    /// From the smallest and largest `_id` (ObjectIds, numbers, dates) or a bounded `$sample`
    /// (strings): two or three cheap queries on a server with an `_id` index. One cursor per
    /// collection where the server's first answers (the count, the smallest `_id`) show that it
    /// reads the collection to answer them.
    #[default]
    Auto,
    /// The same cuts whatever finding the smallest and largest `_id` costs the server.
    Edges,
    /// `$bucketAuto` over every `_id`: ranges of equal size, at the price of a sort of every `_id`
    /// on the server before the first document is read.
    BucketAuto,
}

/// Up to `parts - 1` increasing cut points strictly above `first` and at most `last`, spread
/// evenly between the two (`first` and `last`: the smallest and largest `_id`). Empty when the
/// two cannot be interpolated (different types, a type without a numeric order, `last <= first`)
/// or are too close to leave room for a cut.
pub(crate) fn interpolate(first: &Bson, last: &Bson, parts: usize) -> Vec<Bson> {
    if parts < 2 {
        return Vec::new();
    }
    match (first, last) {
        (Bson::ObjectId(a), Bson::ObjectId(b)) => {
            let (a, b) = (oid_number(a), oid_number(b));
            even_cuts(i128::try_from(a).ok(), i128::try_from(b).ok(), parts)
                .into_iter()
                .filter_map(|n| u128::try_from(n).ok())
                .map(|n| Bson::ObjectId(oid_from_number(n)))
                .collect()
        }
        (Bson::DateTime(a), Bson::DateTime(b)) => even_cuts(
            Some(i128::from(a.timestamp_millis())),
            Some(i128::from(b.timestamp_millis())),
            parts,
        )
        .into_iter()
        .filter_map(|n| i64::try_from(n).ok())
        .map(|n| Bson::DateTime(DateTime::from_millis(n)))
        .collect(),
        (a, b) => match (integer(a), integer(b)) {
            (Some(x), Some(y)) => even_cuts(Some(i128::from(x)), Some(i128::from(y)), parts)
                .into_iter()
                .filter_map(|n| i64::try_from(n).ok())
                .map(|n| match i32::try_from(n) {
                    Ok(small) => Bson::Int32(small),
                    Err(_) => Bson::Int64(n),
                })
                .collect(),
            _ => match (float(a), float(b)) {
                (Some(x), Some(y)) => float_cuts(x, y, parts),
                _ => Vec::new(),
            },
        },
    }
}

/// Cut points at the quantiles of a sample of `_id`s (any order): up to `parts - 1`, increasing,
/// distinct, each one a sampled value above the smallest. Empty unless the sampled values are
/// all ObjectIds, all strings, all numbers or all dates (orders this side can follow: strings
/// compare by their UTF-8 bytes on a server without a collation).
pub(crate) fn quantiles(sample: &[Bson], parts: usize) -> Vec<Bson> {
    if parts < 2 || sample.is_empty() {
        return Vec::new();
    }
    let Some(mut keyed) = sample
        .iter()
        .map(|v| Some((order_key(v)?, v)))
        .collect::<Option<Vec<(OrderKey, &Bson)>>>()
    else {
        return Vec::new();
    };
    let kind = std::mem::discriminant(&keyed[0].0);
    if keyed.iter().any(|(k, _)| std::mem::discriminant(k) != kind) {
        return Vec::new();
    }
    keyed.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
    let smallest = keyed[0].0.clone();
    let mut cuts: Vec<&(OrderKey, &Bson)> = (1..parts)
        .map(|i| &keyed[i * keyed.len() / parts])
        .filter(|(k, _)| *k > smallest)
        .collect();
    cuts.dedup_by(|a, b| a.0 == b.0);
    cuts.into_iter().map(|(_, v)| (*v).clone()).collect()
}

/// Drops the cuts that would leave a range expected to hold fewer than `least` of the
/// collection's `documents`, going up from the smallest `_id`: such a range is merged into the
/// one above it (the last into the one below). What a range holds is expected from how many of
/// the `sample`d `_id`s fall into it. Returns the cuts kept and how many were dropped; the cuts
/// unchanged when the sample cannot be compared with them.
pub(crate) fn merge_sparse(
    cuts: Vec<Bson>,
    sample: &[Bson],
    documents: u64,
    least: u64,
) -> (Vec<Bson>, usize) {
    if cuts.is_empty() || sample.is_empty() {
        return (cuts, 0);
    }
    // Sampled `_id`s per range: range `i` is below cut `i`, the last is above every cut.
    let mut sampled = vec![0u64; cuts.len() + 1];
    for id in sample {
        let mut range = 0;
        for cut in &cuts {
            match compare(id, cut) {
                Some(std::cmp::Ordering::Less) => break,
                Some(_) => range += 1,
                None => return (cuts, 0),
            }
        }
        sampled[range] += 1;
    }
    let each = documents as f64 / sample.len() as f64;
    let expected: Vec<f64> = sampled.iter().map(|&n| n as f64 * each).collect();
    let least = least as f64;
    let mut kept = Vec::with_capacity(cuts.len());
    let (mut below, mut above) = (0.0, expected.iter().sum::<f64>());
    for (i, cut) in cuts.iter().enumerate() {
        below += expected[i];
        above -= expected[i];
        if below >= least && above >= least {
            kept.push(cut.clone());
            below = 0.0;
        }
    }
    let dropped = cuts.len() - kept.len();
    (kept, dropped)
}

/// Where an `_id` sits on the line [`interpolate`] cuts: ObjectIds as 96-bit numbers, numbers
/// by value, dates in milliseconds; `None` for what is not cut by value (strings). Differences
/// of positions of one type measure how much of a range lies between two `_id`s.
pub(super) fn position(value: &Bson) -> Option<f64> {
    match value {
        Bson::ObjectId(o) => Some(oid_number(o) as f64),
        Bson::DateTime(d) => Some(d.timestamp_millis() as f64),
        other => float(other).filter(|x| x.is_finite()),
    }
}

/// `first + (last - first) * i / parts` for `i` in `1..parts`, without repeats; empty when
/// `last <= first`.
fn even_cuts(first: Option<i128>, last: Option<i128>, parts: usize) -> Vec<i128> {
    let (Some(first), Some(last)) = (first, last) else {
        return Vec::new();
    };
    if last <= first {
        return Vec::new();
    }
    let span = last - first;
    let parts = parts as i128;
    let mut cuts: Vec<i128> = (1..parts)
        // span < 2^96 and parts < 2^32 for any key here: no overflow in i128.
        .map(|i| first + span / parts * i + span % parts * i / parts)
        .filter(|&c| c > first)
        .collect();
    cuts.dedup();
    cuts
}

fn float_cuts(first: f64, last: f64, parts: usize) -> Vec<Bson> {
    if !(first.is_finite() && last.is_finite() && last > first) {
        return Vec::new();
    }
    let mut cuts: Vec<f64> = (1..parts)
        .map(|i| first + (last - first) * i as f64 / parts as f64)
        .filter(|&c| c > first && c <= last)
        .collect();
    cuts.dedup();
    cuts.into_iter().map(Bson::Double).collect()
}

fn integer(value: &Bson) -> Option<i64> {
    match value {
        Bson::Int32(n) => Some(i64::from(*n)),
        Bson::Int64(n) => Some(*n),
        _ => None,
    }
}

fn float(value: &Bson) -> Option<f64> {
    match value {
        Bson::Int32(n) => Some(f64::from(*n)),
        Bson::Int64(n) => Some(*n as f64),
        Bson::Double(x) => Some(*x),
        _ => None,
    }
}

fn oid_number(oid: &ObjectId) -> u128 {
    oid.bytes()
        .iter()
        .fold(0u128, |n, &byte| n << 8 | u128::from(byte))
}

fn oid_from_number(n: u128) -> ObjectId {
    let all = n.to_be_bytes();
    let mut bytes = [0u8; 12];
    bytes.copy_from_slice(&all[4..]);
    ObjectId::from_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oid(seconds: u32, rest: u64) -> Bson {
        let mut bytes = [0u8; 12];
        bytes[..4].copy_from_slice(&seconds.to_be_bytes());
        bytes[4..].copy_from_slice(&rest.to_be_bytes());
        Bson::ObjectId(ObjectId::from_bytes(bytes))
    }

    fn seconds(value: &Bson) -> u32 {
        match value {
            Bson::ObjectId(o) => {
                u32::from_be_bytes([o.bytes()[0], o.bytes()[1], o.bytes()[2], o.bytes()[3]])
            }
            other => panic!("not an ObjectId: {other:?}"),
        }
    }

    #[test]
    fn object_ids_are_cut_evenly_by_their_timestamps() {
        let (first, last) = (oid(1_600_000_000, 0), oid(1_600_000_400, 0));
        let cuts = interpolate(&first, &last, 4);
        let at: Vec<u32> = cuts.iter().map(seconds).collect();
        assert_eq!(at, [1_600_000_100, 1_600_000_200, 1_600_000_300]);
        // The cuts keep the order the server sorts in (byte order of the 12 bytes).
        let bytes: Vec<[u8; 12]> = std::iter::once(&first)
            .chain(&cuts)
            .chain(std::iter::once(&last))
            .map(|b| b.as_object_id().expect("an ObjectId").bytes())
            .collect();
        assert!(bytes.windows(2).all(|w| w[0] < w[1]), "{bytes:?}");
    }

    #[test]
    fn object_ids_of_one_second_are_cut_by_their_counters() {
        // Generated or bulk-inserted data: every `_id` from the same second and process.
        let (first, last) = (
            oid(1_700_000_000, 5 << 24),
            oid(1_700_000_000, 5 << 24 | 999),
        );
        let cuts = interpolate(&first, &last, 3);
        assert_eq!(
            cuts,
            [
                oid(1_700_000_000, 5 << 24 | 333),
                oid(1_700_000_000, 5 << 24 | 666)
            ]
        );
    }

    #[test]
    fn degenerate_ranges_give_no_cuts() {
        let one = oid(1_700_000_000, 7);
        // One document (the smallest `_id` is the largest).
        assert!(interpolate(&one, &one, 4).is_empty());
        // Reversed, or of two types: nothing to interpolate.
        assert!(interpolate(&oid(9, 0), &oid(8, 0), 4).is_empty());
        assert!(interpolate(&one, &Bson::Int32(3), 4).is_empty());
        assert!(interpolate(&Bson::Boolean(false), &Bson::Boolean(true), 4).is_empty());
        // One part asked for.
        assert!(interpolate(&oid(1, 0), &oid(100, 0), 1).is_empty());
        // Neighbours: fewer cuts than asked, never a repeat or an empty first range.
        assert_eq!(interpolate(&oid(5, 0), &oid(5, 2), 8), [oid(5, 1)]);
        assert!(quantiles(&[], 4).is_empty());
    }

    #[test]
    fn numbers_and_dates_are_cut_by_value() {
        assert_eq!(
            interpolate(&Bson::Int32(0), &Bson::Int32(100), 4),
            [Bson::Int32(25), Bson::Int32(50), Bson::Int32(75)]
        );
        assert_eq!(
            interpolate(&Bson::Int32(1), &Bson::Int64(10_000_000_001), 2),
            [Bson::Int64(5_000_000_001)]
        );
        assert_eq!(
            interpolate(&Bson::Int64(i64::MIN), &Bson::Int64(i64::MAX), 2),
            [Bson::Int32(-1)]
        );
        assert_eq!(
            interpolate(&Bson::Double(0.0), &Bson::Int32(1), 4),
            [Bson::Double(0.25), Bson::Double(0.5), Bson::Double(0.75)]
        );
        assert!(interpolate(&Bson::Double(f64::NAN), &Bson::Double(1.0), 4).is_empty());
        let day = 86_400_000;
        assert_eq!(
            interpolate(
                &Bson::DateTime(DateTime::from_millis(0)),
                &Bson::DateTime(DateTime::from_millis(2 * day)),
                2
            ),
            [Bson::DateTime(DateTime::from_millis(day))]
        );
    }

    #[test]
    fn ranges_a_sample_shows_empty_are_merged() {
        let n = |v: i32| Bson::Int32(v);
        let cuts: Vec<Bson> = [25, 50, 75].into_iter().map(n).collect();
        // Spread evenly: every range kept.
        let even: Vec<Bson> = (0..100).map(n).collect();
        assert_eq!(
            merge_sparse(cuts.clone(), &even, 1_000, 64),
            (cuts.clone(), 0)
        );
        // A burst above 75 and a few below 25: the two empty ranges in between merge into the
        // burst's range above them; with fewer documents in all, the first range too.
        let bursty: Vec<Bson> = (0..3).chain(80..100).map(n).collect();
        assert_eq!(
            merge_sparse(cuts.clone(), &bursty, 2_300, 64),
            (vec![n(25)], 2),
            "3 sampled of 23 (300 documents) below 25, 2,000 above 75"
        );
        assert_eq!(
            merge_sparse(cuts.clone(), &bursty, 230, 64),
            (Vec::new(), 3)
        );
        // An empty last range merges into the one below it.
        let low: Vec<Bson> = (0..70).map(n).collect();
        assert_eq!(
            merge_sparse(cuts.clone(), &low, 7_000, 64),
            (vec![n(25), n(50)], 1)
        );
        // Nothing to go by, or values the cuts do not compare with: unchanged.
        assert_eq!(
            merge_sparse(cuts.clone(), &[], 1_000, 64),
            (cuts.clone(), 0)
        );
        let strings = [Bson::String("a".into())];
        assert_eq!(merge_sparse(cuts.clone(), &strings, 1_000, 64), (cuts, 0));
    }

    #[test]
    fn strings_are_cut_at_the_quantiles_of_a_sample() {
        let sample: Vec<Bson> = ["k", "b", "x", "e", "a", "q", "m", "t"]
            .into_iter()
            .map(|s| Bson::String(s.into()))
            .collect();
        let cuts = quantiles(&sample, 4);
        assert_eq!(
            cuts,
            [
                Bson::String("e".into()),
                Bson::String("m".into()),
                Bson::String("t".into())
            ]
        );
        // All alike, or of several types: no cut.
        let same = vec![Bson::String("a".into()); 10];
        assert!(quantiles(&same, 4).is_empty());
        assert!(quantiles(&[Bson::Int32(1), Bson::String("a".into())], 2).is_empty());
        assert!(quantiles(&[Bson::Boolean(true), Bson::Boolean(false)], 2).is_empty());
    }

    #[test]
    fn a_sample_follows_skewed_object_ids() {
        // Most documents inserted in one burst, a few long before: interpolating between the
        // ends puts every cut before the burst; the sample's quantiles land inside it.
        let mut sample: Vec<Bson> = (0..60).map(|i| oid(1_700_000_000, i)).collect();
        sample.extend((0..4).map(|i| oid(1_500_000_000 + i, 0)));
        let cuts = quantiles(&sample, 4);
        assert_eq!(
            cuts,
            [
                oid(1_700_000_000, 12),
                oid(1_700_000_000, 28),
                oid(1_700_000_000, 44)
            ]
        );
        let between = interpolate(&oid(1_500_000_000, 0), &oid(1_700_000_000, 59), 4);
        assert!(
            between.iter().all(|c| seconds(c) < 1_700_000_000),
            "{between:?}"
        );
        // Numbers of two types sort as numbers.
        let mixed = [
            Bson::Int32(3),
            Bson::Double(1.5),
            Bson::Int64(2),
            Bson::Int32(4),
        ];
        assert_eq!(quantiles(&mixed, 2), [Bson::Int32(3)]);
    }
}
