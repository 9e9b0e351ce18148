//! What a key path's values are ([`Profile`]), and a bounded [`KeySet`] of their hashes for
//! references and uniqueness.

use std::collections::{BTreeMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

use bson::RawBsonRef;

/// Hashes kept per key path before the set keeps only a hash-chosen half of the values.
pub const KEY_SET_CAP: usize = 1 << 16;
/// Values of a large set compared before a pair that shares too few is given up
/// ([`KeySet::contained_at_least`]).
pub const PROBES: usize = 512;
/// Distinct strings remembered per path (enum evidence); past it the path is no enum.
pub const LABEL_CAP: usize = 24;
/// Strings longer than this are text, not keys: no hashed set is kept for them.
pub const KEY_MAX_LEN: usize = 64;

/// The hashed values of one key path, bounded: past [`KEY_SET_CAP`] hashes, only values whose
/// hash starts with `level` zero bits are kept (a sample chosen by value, the same in every
/// collection, so containment and repeats stay measurable on it).
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    /// The hashes while the path's collection is read.
    hashes: HashSet<u64, BuildHasherDefault<Prehashed>>,
    /// The hashes once it is read ([`KeySet::freeze`]), sorted: 8 bytes each, no table.
    sorted: Vec<u64>,
    /// Values seen (all of them, kept or not).
    pub values: u64,
    /// Values whose hash was kept already (repeats among the kept values).
    pub repeats: u64,
    /// Sampling level: 0 keeps every value.
    pub level: u32,
}

fn kept(level: u32, hash: u64) -> bool {
    level == 0 || hash >> (64 - level) == 0
}

impl KeySet {
    fn insert(&mut self, hash: u64) {
        self.values += 1;
        if !kept(self.level, hash) {
            return;
        }
        if !self.sorted.is_empty() {
            self.hashes.extend(self.sorted.drain(..));
        }
        if !self.hashes.insert(hash) {
            self.repeats += 1;
        } else if self.hashes.len() > KEY_SET_CAP {
            self.level += 1;
            let level = self.level;
            self.hashes.retain(|h| kept(level, *h));
        }
    }

    /// Keeps the hashes sorted in a vector instead of a table (half the memory or less: a
    /// table is at most 7/8 full and a set past [`KEY_SET_CAP`] keeps its table after each
    /// halving), once the path's collection is read; an insert after that goes back to a table.
    pub(super) fn freeze(&mut self) {
        let mut sorted: Vec<u64> = self.hashes.drain().collect();
        sorted.append(&mut self.sorted);
        sorted.sort_unstable();
        self.sorted = sorted;
        self.hashes = HashSet::default();
    }

    /// The hashes kept (in the table's order, or ascending once frozen: either way by the
    /// hashes' bits, not by which other sets hold them).
    fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.hashes.iter().chain(&self.sorted).copied()
    }

    fn contains(&self, h: u64) -> bool {
        self.hashes.contains(&h) || self.sorted.binary_search(&h).is_ok()
    }

    /// Distinct values kept (all distinct values when `level` is 0).
    pub fn distinct(&self) -> usize {
        self.hashes.len() + self.sorted.len()
    }

    /// How many of this set's values (kept at `level`) the other set holds, and of how many.
    pub fn contained_in(&self, other: &KeySet) -> (usize, usize) {
        self.contained_at_least(other, 0.0).unwrap_or_default()
    }

    /// [`KeySet::contained_in`], or `None` when fewer than `share` of the values compared are
    /// in `other`: as soon as more than `1 - share` are missing, or (most pairs of sets share
    /// nothing) when the first [`PROBES`] values compared hold fewer than half that share. The
    /// values come in the order of their hashes' bits ([`KeySet::iter`]), not of whether
    /// `other` holds them: those are a fair sample, and a pair holding `share` of them is cut short only
    /// with a chance under e^(-2·PROBES·(share/2)²) (10^-27 for a reference's 50%).
    pub fn contained_at_least(&self, other: &KeySet, share: f64) -> Option<(usize, usize)> {
        let level = self.level.max(other.level);
        let total = if level == self.level {
            self.distinct()
        } else {
            self.iter().filter(|h| kept(level, *h)).count()
        };
        let may_miss = total - (share * total as f64).ceil() as usize;
        let early = (total >= 2 * PROBES).then(|| (share / 2.0 * PROBES as f64).ceil() as usize);
        let mut missed = 0;
        for (i, h) in self.iter().filter(|h| kept(level, *h)).enumerate() {
            if i == PROBES && early.is_some_and(|need| PROBES - missed < need) {
                return None;
            }
            if !other.contains(h) {
                missed += 1;
                if missed > may_miss {
                    return None;
                }
            }
        }
        Some((total - missed, total))
    }

    /// Whether every value was kept (figures are exact, up to 64-bit hash collisions).
    pub fn exact(&self) -> bool {
        self.level == 0
    }
}

/// What the values under one key path are.
#[derive(Debug, Clone, Default)]
pub struct Profile {
    /// int32 and int64 values, and their range.
    pub ints: u64,
    pub int_min: i64,
    pub int_max: i64,
    pub doubles: u64,
    /// Doubles holding a whole number (within ±2^63).
    pub integral_doubles: u64,
    pub integral_min: f64,
    pub integral_max: f64,
    /// Doubles beyond ±2^53: integers there are not exact.
    pub beyond_2_53: u64,
    pub strings: u64,
    /// Distinct strings with their counts, until more than [`LABEL_CAP`] are seen.
    pub labels: BTreeMap<String, u64>,
    pub labels_overflow: bool,
    pub empty_strings: u64,
    /// Strings that read as a number (`"7.5"`).
    pub numeric_strings: u64,
    /// Strings of 24 hexadecimal digits (an ObjectId written as text).
    pub hex24_strings: u64,
    pub nul_strings: u64,
    pub max_len: usize,
    /// Binary values per subtype; float32 vectors (subtype 9, dtype 0x27) counted apart.
    pub binary_subtypes: BTreeMap<u8, u64>,
    pub float32_vectors: u64,
    /// Hashed objectId, string and integer values, while they look like keys.
    pub keys: Option<KeySet>,
    /// The path held a value that is not key-like (long text, a double): no key set.
    pub not_key: bool,
    /// The kinds of key values seen: 1 objectId, 2 string, 3 integer.
    pub key_kinds: u8,
    /// Dates a `timestamptz` cannot hold (the runtime rejects them as it reads them).
    pub dates_out_of_range: u64,
}

impl Profile {
    fn key(&mut self, kind: u8, hash: u64) {
        self.key_kinds |= 1 << kind;
        if self.not_key {
            return;
        }
        self.keys.get_or_insert_with(KeySet::default).insert(hash);
    }

    fn drop_keys(&mut self) {
        self.not_key = true;
        self.keys = None;
    }
}

/// The set's hasher: the values are hashes already. Rotated, so that the table's bucket (its
/// low bits) and tag (its top bits) do not come from the sample's zero bits.
#[derive(Debug, Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0.rotate_left(32)
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }

    fn write_u64(&mut self, h: u64) {
        self.0 = h;
    }
}

const SEED: u64 = 0x9E37_79B9_7F4A_7C15;
const MULTIPLIER: u64 = 0xBF58_476D_1CE4_E5B9;

/// The product of two words, its high and low halves folded together.
#[inline]
fn fold(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    (product as u64) ^ ((product >> 64) as u64)
}

/// A value's 64-bit hash, the same in every collection and run: a word at a time, each folded
/// multiply mixing it into the state, the length and kind in the seed. Every bit of the result
/// depends on every input bit, so its top bits choose the sample fairly.
pub(super) fn hash(kind: u8, bytes: &[u8]) -> u64 {
    let mut h = SEED ^ (u64::from(kind) << 56) ^ bytes.len() as u64;
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        h = fold(h ^ u64::from_le_bytes(w), MULTIPLIER);
    }
    let rest = words.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        h = fold(h ^ u64::from_le_bytes(w), MULTIPLIER);
    }
    fold(h ^ SEED, MULTIPLIER ^ SEED)
}

/// A little-endian word of `N` bytes at the start of a value.
#[inline]
fn word<const N: usize>(bytes: &[u8]) -> Option<[u8; N]> {
    bytes.get(..N)?.try_into().ok()
}

/// Profiles one scalar value, given as the census's walk finds it: its BSON type byte and its
/// bytes in the document's frame (lengths checked to fit; strings not yet checked as UTF-8: a
/// string that is not UTF-8 is not profiled). Nulls are no values here.
pub(super) fn observe(p: &mut Profile, tag: u8, bytes: &[u8]) {
    match tag {
        0x10 => {
            if let Some(w) = word::<4>(bytes) {
                int(p, i64::from(i32::from_le_bytes(w)));
            }
        }
        0x12 => {
            if let Some(w) = word::<8>(bytes) {
                int(p, i64::from_le_bytes(w));
            }
        }
        0x01 => {
            let Some(w) = word::<8>(bytes) else { return };
            let d = f64::from_le_bytes(w);
            p.doubles += 1;
            if d.abs() > 9_007_199_254_740_992.0 && d.is_finite() {
                p.beyond_2_53 += 1;
            }
            if d.fract() == 0.0 && d.abs() < 9.2e18 {
                if p.integral_doubles == 0 {
                    p.integral_min = d;
                    p.integral_max = d;
                }
                p.integral_doubles += 1;
                p.integral_min = p.integral_min.min(d);
                p.integral_max = p.integral_max.max(d);
            }
            p.drop_keys();
        }
        0x02 => {
            // The length prefix counts the closing NUL (the frame checked both).
            let Some(s) = bytes.get(4..bytes.len().saturating_sub(1)) else {
                return;
            };
            if let Ok(s) = std::str::from_utf8(s) {
                string(p, s);
            }
        }
        0x07 => {
            if let Some(o) = word::<12>(bytes) {
                p.key(1, hash(1, &o));
            }
        }
        0x05 => {
            // Length, subtype, then the bytes.
            let Some(&subtype) = bytes.get(4) else { return };
            *p.binary_subtypes.entry(subtype).or_default() += 1;
            if subtype == 9 && bytes.get(5) == Some(&0x27) {
                p.float32_vectors += 1;
            }
            p.drop_keys();
        }
        0x09 => {
            if let Some(w) = word::<8>(bytes) {
                let date = RawBsonRef::DateTime(bson::DateTime::from_millis(i64::from_le_bytes(w)));
                if <bson::DateTime as crate::value::FromBson>::from_bson(date).is_err() {
                    p.dates_out_of_range += 1;
                }
            }
            p.drop_keys();
        }
        0x06 | 0x0A => {}
        _ => p.drop_keys(),
    }
}

fn string(p: &mut Profile, s: &str) {
    p.strings += 1;
    p.max_len = p.max_len.max(s.len());
    if s.is_empty() {
        p.empty_strings += 1;
    } else if s.trim().parse::<f64>().is_ok() {
        p.numeric_strings += 1;
    }
    if s.len() == 24 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        p.hex24_strings += 1;
    }
    if s.contains('\0') {
        p.nul_strings += 1;
    }
    if !p.labels_overflow {
        let room = p.labels.len() < LABEL_CAP && s.len() <= 40;
        match p.labels.get_mut(s) {
            Some(n) => *n += 1,
            None if room => {
                p.labels.insert(s.to_string(), 1);
            }
            None => {
                p.labels_overflow = true;
                p.labels.clear();
            }
        }
    }
    if s.len() > KEY_MAX_LEN {
        p.drop_keys();
    } else {
        p.key(2, hash(2, s.as_bytes()));
    }
}

fn int(p: &mut Profile, i: i64) {
    if p.ints == 0 {
        p.int_min = i;
        p.int_max = i;
    }
    p.ints += 1;
    p.int_min = p.int_min.min(i);
    p.int_max = p.int_max.max(i);
    p.key(3, hash(3, &i.to_le_bytes()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_spread_over_every_bit() {
        // Sequential integers and ObjectIds differing in one byte: each top bit is set in about
        // half the hashes, the top four are zero in about a sixteenth, and none collide.
        let ints = (0..100_000u64).map(|i| hash(3, &i.to_le_bytes()));
        let oids = (0..100_000u32).map(|i| {
            let mut b = [7u8; 12];
            b[8..].copy_from_slice(&i.to_be_bytes());
            hash(1, &b)
        });
        for hashes in [ints.collect::<Vec<_>>(), oids.collect()] {
            let n = hashes.len() as f64;
            for bit in 48..64 {
                let set = hashes.iter().filter(|h| *h >> bit & 1 == 1).count() as f64;
                assert!((0.48..0.52).contains(&(set / n)), "bit {bit}: {}", set / n);
            }
            let top4 = hashes.iter().filter(|h| *h >> 60 == 0).count() as f64;
            assert!((0.055..0.07).contains(&(top4 / n)), "{}", top4 / n);
            let distinct: HashSet<u64> = hashes.iter().copied().collect();
            assert_eq!(distinct.len(), hashes.len());
        }
        assert_ne!(hash(2, b"ab"), hash(2, b"ab\0"));
        assert_ne!(hash(2, b"7"), hash(3, b"7"));
    }

    #[test]
    fn key_sets_stay_bounded_and_measure_containment() {
        let mut a = KeySet::default();
        let mut b = KeySet::default();
        for i in 0..(KEY_SET_CAP as u64 * 3) {
            a.insert(hash(3, &i.to_le_bytes()));
            if i % 2 == 0 {
                b.insert(hash(3, &i.to_le_bytes()));
            }
        }
        assert!(a.distinct() <= KEY_SET_CAP && a.level > 0);
        assert_eq!(a.repeats, 0);
        let (found, total) = b.contained_in(&a);
        assert_eq!(found, total, "every value of b is in a");
        let (found, total) = a.contained_in(&b);
        let share = found as f64 / total as f64;
        assert!((0.4..0.6).contains(&share), "{share}");
        assert_eq!(a.contained_at_least(&b, 0.4), Some((found, total)));
        assert_eq!(a.contained_at_least(&b, 0.7), None);
    }

    #[test]
    fn pairs_sharing_little_are_given_up_early_and_others_counted_exactly() {
        // 10,000 values; `c` holds 60% of them (every value whose number ends in 0-5), `d` none.
        let mut a = KeySet::default();
        let mut c = KeySet::default();
        let mut d = KeySet::default();
        for i in 0..10_000u64 {
            a.insert(hash(3, &i.to_le_bytes()));
            if i % 10 < 6 {
                c.insert(hash(3, &i.to_le_bytes()));
            }
            d.insert(hash(3, &(i + 1_000_000).to_le_bytes()));
        }
        assert_eq!(a.contained_at_least(&c, 0.5), Some((6_000, 10_000)));
        assert_eq!(a.contained_at_least(&d, 0.5), None);
        assert_eq!(
            a.contained_in(&d),
            (0, 10_000),
            "no share asked: all counted"
        );
        // Frozen (sorted, once the collection is read), the sets answer the same.
        for set in [&mut a, &mut c, &mut d] {
            set.freeze();
        }
        assert_eq!((a.distinct(), c.distinct()), (10_000, 6_000));
        assert_eq!(a.contained_at_least(&c, 0.5), Some((6_000, 10_000)));
        assert_eq!(c.contained_in(&a), (6_000, 6_000));
        assert_eq!(a.contained_at_least(&d, 0.5), None);
        a.insert(hash(3, &20_000u64.to_le_bytes()));
        assert_eq!(a.distinct(), 10_001, "an insert after freezing counts");
    }
}
