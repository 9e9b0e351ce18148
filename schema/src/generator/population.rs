//! Who exists, computed instead of stored: how many documents each collection has, the `_id`
//! and creation time of document #i, which documents are broken, and which documents a document
//! points at. Every answer is a pure function of the seed, the scale and the indexes, so any
//! document can be generated alone and nothing grows with the data.
//!
//! Children are laid out in contiguous blocks under their parents: with `n_c` children and
//! `n_p` parents, child `i` belongs to parent `floor(i * n_p / n_c)`, and parent `j` owns the
//! children `ceil(j * n_c / n_p) .. ceil((j + 1) * n_c / n_p)`. Broken documents (those the
//! manifest expects to be rejected) are never pointed at: every reference goes through
//! [`Population::avoid`], which moves to the nearest document that is not broken.

use std::ops::Range;

use migrator::bson::oid::ObjectId;
use rand::Rng;

use super::collection::Collection;

/// 2017-01-01T00:00:00Z: the first document of every collection is from then.
const START_SECONDS: u64 = 1_483_228_800;
/// Eight years: the last documents are from the end of 2024.
const SPAN_SECONDS: u64 = 252_460_800;
/// Documents whose position in their collection is below this fraction come from the first
/// version of the application (before 2019), which wrote dates as text.
pub const LEGACY_FRACTION: f64 = 0.25;
/// The collection byte of ObjectIds that no document has.
const DANGLING_TAG: u8 = 0xFF;

/// Document counts, ids and relations at one seed and scale.
#[derive(Debug, Clone)]
pub struct Population {
    seed: u64,
    seed_tag: [u8; 3],
    counts: [u64; 26],
    /// Sorted indexes of the broken documents, per collection.
    broken: [Vec<u64>; 26],
}

fn slot(c: Collection) -> usize {
    usize::from(c.number())
}

/// `floor(a * b / c)` without overflow.
fn mul_div(a: u64, b: u64, c: u64) -> u64 {
    if c == 0 {
        return 0;
    }
    (u128::from(a) * u128::from(b) / u128::from(c)) as u64
}

/// `ceil(a * b / c)` without overflow.
fn mul_div_ceil(a: u64, b: u64, c: u64) -> u64 {
    if c == 0 {
        return 0;
    }
    (u128::from(a) * u128::from(b)).div_ceil(u128::from(c)) as u64
}

impl Population {
    pub fn new(seed: u64, counts: [u64; 26]) -> Self {
        let mixed = super::rng::mix(seed, 0xA11C_E5ED);
        let b = mixed.to_be_bytes();
        Population {
            seed,
            seed_tag: [b[0], b[1], b[2]],
            counts,
            broken: Default::default(),
        }
    }

    /// Marks documents as broken (indexes need not be sorted).
    pub(crate) fn set_broken(&mut self, c: Collection, mut indexes: Vec<u64>) {
        indexes.sort_unstable();
        indexes.dedup();
        self.broken[slot(c)] = indexes;
    }

    /// A hash of (seed, collection, index, salt): attributes other documents need to know (a
    /// user's name, which makes their email) without generating the whole document.
    pub fn hash(&self, c: Collection, index: u64, salt: u64) -> u64 {
        let h = super::rng::mix(self.seed, u64::from(c.number()) << 56 | salt);
        super::rng::mix(h, index)
    }

    pub fn count(&self, c: Collection) -> u64 {
        self.counts[slot(c)]
    }

    pub fn is_broken(&self, c: Collection, index: u64) -> bool {
        self.broken[slot(c)].binary_search(&index).is_ok()
    }

    /// Position of document `index` in its collection, from 0 to 1.
    pub fn fraction(&self, c: Collection, index: u64) -> f64 {
        let n = self.count(c).max(1);
        index as f64 / n as f64
    }

    /// Whether document `index` comes from the first version of the application.
    pub fn is_legacy(&self, c: Collection, index: u64) -> bool {
        self.fraction(c, index) < LEGACY_FRACTION
    }

    /// The creation second of document `index`: spread evenly over the span, in `_id` order.
    /// Each document gets a random second within its share of the span, so seconds never
    /// decrease with the index.
    pub fn seconds(&self, c: Collection, index: u64) -> u32 {
        let n = self.count(c).max(1);
        let offset = mul_div(index, SPAN_SECONDS, n);
        let share = (SPAN_SECONDS / n).max(1);
        let jitter = self.hash(c, index, 3) % share;
        // Later collections in the load order are created a little after their parents.
        let lag = u64::from(c.number()) * 600;
        u32::try_from(START_SECONDS + offset + jitter + lag).unwrap_or(u32::MAX)
    }

    /// The `_id` of document `index`: its creation second, the collection, the seed, the index.
    /// Ids of a collection sort in index order, and no two documents share one.
    pub fn id(&self, c: Collection, index: u64) -> ObjectId {
        self.make_id(self.seconds(c, index), c.number(), index)
    }

    /// The `_id` of a document that a reference may point at: never a broken one.
    pub fn ref_id(&self, c: Collection, index: u64) -> ObjectId {
        debug_assert!(
            !self.is_broken(c, index),
            "reference to broken document {c} #{index}"
        );
        self.id(c, index)
    }

    /// An ObjectId that no generated document has (the collection byte is not a collection).
    pub fn dangling_id(&self, number: u64) -> ObjectId {
        self.make_id(START_SECONDS as u32, DANGLING_TAG, number)
    }

    fn make_id(&self, seconds: u32, tag: u8, index: u64) -> ObjectId {
        let mut bytes = [0u8; 12];
        bytes[..4].copy_from_slice(&seconds.to_be_bytes());
        bytes[4] = tag;
        bytes[5..8].copy_from_slice(&self.seed_tag);
        // Counts are checked to fit 32 bits when the generator is built.
        bytes[8..].copy_from_slice(&(index as u32).to_be_bytes());
        ObjectId::from_bytes(bytes)
    }

    /// `index` itself if it is not broken, else the nearest document after it, else before it.
    pub fn avoid(&self, c: Collection, index: u64) -> u64 {
        let n = self.count(c);
        let index = index.min(n.saturating_sub(1));
        if !self.is_broken(c, index) {
            return index;
        }
        let after = (index + 1..n).find(|&k| !self.is_broken(c, k));
        let before = (0..index).rev().find(|&k| !self.is_broken(c, k));
        after.or(before).unwrap_or(index)
    }

    /// The first document in `range` at or after `start` (wrapping) that is not broken, or the
    /// nearest one anywhere when the whole range is broken or empty.
    fn avoid_in(&self, c: Collection, range: &Range<u64>, start: u64) -> u64 {
        let found = (start..range.end)
            .chain(range.start..start)
            .find(|&k| !self.is_broken(c, k));
        found.unwrap_or_else(|| self.avoid(c, start))
    }

    /// The block parent of child `index` of `child`.
    pub fn parent(&self, child: Collection, index: u64, parent: Collection) -> u64 {
        let j = mul_div(index, self.count(parent), self.count(child));
        self.avoid(parent, j)
    }

    /// The children of the parents `parents` of `parent` in `child`'s blocks.
    pub fn children(
        &self,
        parent: Collection,
        parents: Range<u64>,
        child: Collection,
    ) -> Range<u64> {
        let (np, nc) = (self.count(parent), self.count(child));
        mul_div_ceil(parents.start, nc, np)..mul_div_ceil(parents.end, nc, np)
    }

    /// The children of parent `index`.
    pub fn children_of(&self, parent: Collection, index: u64, child: Collection) -> Range<u64> {
        self.children(parent, index..index + 1, child)
    }

    /// A random document of `c` within `range` (anywhere when the range is empty), never broken.
    pub fn pick(&self, c: Collection, range: Range<u64>, rng: &mut impl Rng) -> u64 {
        if range.is_empty() {
            let n = self.count(c).max(1);
            return self.avoid(c, rng.random_range(0..n));
        }
        let start = rng.random_range(range.clone());
        self.avoid_in(c, &range, start)
    }

    /// Up to `k` distinct random documents of `c` within `range`, in the order drawn.
    pub fn pick_distinct(
        &self,
        c: Collection,
        range: Range<u64>,
        k: usize,
        rng: &mut impl Rng,
    ) -> Vec<u64> {
        let mut out: Vec<u64> = Vec::with_capacity(k);
        for _ in 0..k {
            let j = self.pick(c, range.clone(), rng);
            if !out.contains(&j) {
                out.push(j);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn population() -> Population {
        let mut counts = [0u64; 26];
        for c in Collection::ALL {
            counts[slot(c)] = c.count_at(0.05);
        }
        Population::new(7, counts)
    }

    #[test]
    fn blocks_are_consistent_both_ways() {
        let p = population();
        let (parent, child) = (Collection::Projects, Collection::Tasks);
        let mut seen = 0;
        for j in 0..p.count(parent) {
            for i in p.children_of(parent, j, child) {
                assert_eq!(p.parent(child, i, parent), j);
                seen += 1;
            }
        }
        assert_eq!(seen, p.count(child));
    }

    #[test]
    fn ids_are_unique_ordered_and_never_dangling() {
        let p = population();
        let ids: Vec<ObjectId> = (0..p.count(Collection::Users))
            .map(|i| p.id(Collection::Users, i))
            .collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        let other = p.id(Collection::Teams, 0);
        assert!(!ids.contains(&other));
        assert!(!ids.contains(&p.dangling_id(0)));
        assert_ne!(
            Population::new(8, p.counts).id(Collection::Users, 0),
            ids[0]
        );
    }

    #[test]
    fn broken_documents_are_avoided() {
        let mut p = population();
        p.set_broken(Collection::Users, vec![3, 4, 5]);
        assert_eq!(p.avoid(Collection::Users, 4), 6);
        let last = p.count(Collection::Users) - 1;
        p.set_broken(Collection::Users, vec![last]);
        assert_eq!(p.avoid(Collection::Users, last), last - 1);
        p.set_broken(Collection::Users, vec![10, 11]);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        for _ in 0..200 {
            let j = p.pick(Collection::Users, 10..12, &mut rng);
            assert!(!p.is_broken(Collection::Users, j));
        }
    }
}
