//! Exact confirmation of what a hash sample decided. Past [`KEY_SET_CAP`] distinct values the
//! scan keeps only a hash-chosen sample of a key path's values; a reference, or a unique key
//! that will be declared (`unique` by an index, or a natural key others reference), decided on
//! such a sample is counted again here, exactly, reading only the collections and key paths
//! concerned, each value straight from the document's frame ([`super::columns`]), each
//! collection once (a pass; see below):
//!
//! 1. the collections holding target keys (and unique keys) first: every key value is held and,
//!    once its collection is read, sorted; the values and the distinct ones are counted;
//! 2. the referencing values, as they are read: each is looked up among its target's keys (a
//!    reference read before its target's keys are whole, from a collection holding keys itself,
//!    waits in memory until they are); a hit marks the key in a bitmap (distinct values resolved:
//!    the marks), a miss goes to the set of dangling values (distinct values dangling: its size).
//!    The collections holding keys are read in the order that leaves the fewest values waiting.
//!
//! What is exact: integers and ObjectIds are compared by value and strings of up to 14 bytes by
//! their bytes; a longer string (key-like strings have at most [`KEY_MAX_LEN`] bytes) by 120 bits
//! of its SHA-1, so two different long strings pass for one value only with a chance under
//! 10^-20 over a hundred million values. Memory: 16 bytes per target key held and per waiting
//! reference value, a bit per target key and reference, 16 bytes per distinct dangling value.
//! Past [`BUDGET`] values held, the values are split by a hash into parts read one pass each (a
//! value and its target key are always in the same part); past [`DANGLING_CAP`] distinct
//! dangling values a reference keeps the sample's figures.
//!
//! Each path's value count is checked against the scan's: a path read differently (a key
//! holding a `.`) keeps the sample's figures, said as such.
//!
//! [`KEY_SET_CAP`]: super::scan::KEY_SET_CAP
//! [`KEY_MAX_LEN`]: super::scan::KEY_MAX_LEN

use std::collections::{BTreeMap, BTreeSet, HashSet};

use super::columns::Columns;
use super::references::{PathOf, References, MIN_SHARE};
use super::scan::SourceScan;
use crate::source::{Partition, Position, Source, SourceError};

/// Values held at once (target keys and waiting references, 16 bytes each: 32 MB); more are
/// read in parts.
pub const BUDGET: u64 = 1 << 21;
/// Distinct dangling values counted per reference (16 bytes each).
pub const DANGLING_CAP: usize = 1 << 20;

/// What a second read counted for one reference, exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Confirmed {
    /// Distinct values at the path.
    pub distinct: u64,
    /// Of those, the ones the target's key does not hold.
    pub dangling: u64,
    /// Values read (each array element counts).
    pub values: u64,
    /// Values whose target is missing.
    pub dangling_values: u64,
    /// Documents holding at least one of those.
    pub dangling_documents: u64,
}

/// What the second read did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Confirmation {
    /// References and unique keys confirmed.
    pub confirmed: usize,
    /// References compared exactly by the scan that dangle, read again only to count the
    /// documents holding a dangling value.
    pub dangling_counted: usize,
    /// Passes (parts of the target keys).
    pub parts: u64,
    /// Target and unique key values held, in all parts.
    pub keys: u64,
    /// Referencing values looked up.
    pub looked_up: u64,
}

/// The part (of `parts`) a value is read in.
fn part(v: u128, parts: u64) -> u64 {
    let folded = (v as u64) ^ ((v >> 64) as u64);
    (folded.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) % parts
}

/// Counts of a sorted run of values: (values, distinct).
fn counts(sorted: &[u128]) -> (u64, u64) {
    let distinct = sorted.windows(2).filter(|w| w[0] != w[1]).count() as u64;
    (
        sorted.len() as u64,
        distinct + u64::from(!sorted.is_empty()),
    )
}

/// One reference being checked, in one part.
#[derive(Debug)]
struct Check {
    /// The target's keys (sorted, distinct) in `targets`.
    target: usize,
    /// A bit per target key: some value resolved to it.
    hit: Vec<u64>,
    dangling: HashSet<u128>,
    values: u64,
    dangling_values: u64,
    overflow: bool,
}

impl Check {
    /// Looks `v` up among `keys`; returns whether it dangles.
    fn look_up(&mut self, keys: &[u128], v: u128) -> bool {
        self.values += 1;
        match keys.binary_search(&v) {
            Ok(i) => {
                self.hit[i / 64] |= 1 << (i % 64);
                false
            }
            Err(_) => {
                self.dangling_values += 1;
                if self.dangling.len() < DANGLING_CAP {
                    self.dangling.insert(v);
                } else if !self.dangling.contains(&v) {
                    self.overflow = true;
                }
                true
            }
        }
    }

    fn counted(&self) -> Confirmed {
        let resolved: u64 = self.hit.iter().map(|w| u64::from(w.count_ones())).sum();
        Confirmed {
            distinct: resolved + self.dangling.len() as u64,
            dangling: self.dangling.len() as u64,
            values: self.values,
            dangling_values: self.dangling_values,
            dangling_documents: 0,
        }
    }
}

/// Marks document `doc` (its number in the collection's reading order) in a bitmap.
fn mark(bits: &mut Vec<u64>, doc: u64) {
    let word = (doc / 64) as usize;
    if bits.len() <= word {
        bits.resize(word + 1, 0);
    }
    bits[word] |= 1 << (doc % 64);
}

/// What needs confirming: sampled references (source path → target key), references that
/// dangle (for the documents holding a dangling value, which the scan does not count), and
/// sampled unique keys that will be declared.
fn wanted(refs: &References) -> (Vec<(PathOf, PathOf)>, Vec<PathOf>) {
    let references = refs
        .found
        .iter()
        .filter(|(_, f)| (!f.exact || f.dangling() > 0) && f.confirmed.is_none())
        .map(|(at, f)| (at.clone(), (f.target.clone(), f.key.clone())))
        .collect();
    let unique = refs
        .unique
        .iter()
        .filter(|((c, p), u)| !u.exact && (u.index.is_some() || refs.is_referenced_key(c, p)))
        .map(|(at, _)| at.clone())
        .collect();
    (references, unique)
}

/// The order the collections are read in (each once a pass): first those holding target or
/// unique keys, each chosen (of those left) with the fewest referencing values that point at
/// keys not yet read (its own included), which wait in memory until the keys are whole; then
/// the collections that only reference. Returns the collections, with for each the references
/// (numbers) read from it whose target is read after it or is itself.
fn order<'a>(
    keys: &'a [PathOf],
    references: &'a [(PathOf, PathOf)],
    expected: &dyn Fn(&PathOf) -> u64,
) -> Vec<(&'a str, Vec<usize>)> {
    let holding: BTreeSet<&str> = keys.iter().map(|(c, _)| c.as_str()).collect();
    let referencing: BTreeSet<&str> = references.iter().map(|((c, _), _)| c.as_str()).collect();
    let mut left: Vec<&str> = holding.iter().copied().collect();
    let mut read: BTreeSet<&str> = BTreeSet::new();
    let mut out = Vec::new();
    let waiting = |c: &str, read: &BTreeSet<&str>| -> Vec<usize> {
        references
            .iter()
            .enumerate()
            .filter(|(_, ((from, _), (to, _)))| from == c && !read.contains(to.as_str()))
            .map(|(n, _)| n)
            .collect()
    };
    while !left.is_empty() {
        let (i, _) = left
            .iter()
            .enumerate()
            .min_by_key(|(_, c)| {
                let w: u64 = waiting(c, &read)
                    .iter()
                    .map(|n| expected(&references[*n].0))
                    .sum();
                (w, **c)
            })
            .unwrap_or((0, &""));
        let c = left.remove(i);
        out.push((c, waiting(c, &read)));
        read.insert(c);
    }
    for c in referencing.difference(&holding) {
        out.push((c, Vec::new()));
    }
    out
}

/// Reads `paths` (each with its number) of every document of `collection` (at most `sample`),
/// giving each value to `out(number, document, value)`, documents numbered from 0 in reading
/// order.
fn read(
    source: &dyn Source,
    collection: &str,
    paths: &[(&str, usize)],
    sample: Option<u64>,
    out: &mut dyn FnMut(usize, u64, u128),
    progress: &mut dyn FnMut(&str, u64, bool),
) -> Result<(), SourceError> {
    let mut columns = Columns::default();
    let numbers: Vec<usize> = paths.iter().map(|(_, n)| *n).collect();
    for (p, _) in paths {
        columns.add(p);
    }
    let mut stream = source.read(collection, &Partition::whole(), &Position::Start)?;
    let mut n = 0u64;
    while let Some(next) = stream.next_doc() {
        let (doc, _) = next?;
        if sample.is_some_and(|s| n >= s) {
            break;
        }
        columns.read(doc.as_bytes(), &mut |c, v| out(numbers[c], n, v));
        n += 1;
        if n.is_multiple_of(20_000) {
            progress(collection, n, false);
        }
    }
    progress(collection, n, true);
    Ok(())
}

/// Confirms every sampled reference and declared unique key of `refs` by reading `source` again
/// (the same documents the scan read: at most `scan.sample` per collection). A reference whose
/// exact share found falls under [`MIN_SHARE`] is dropped. `progress` hears (collection, documents)
/// as the scan's does.
pub fn confirm(
    source: &dyn Source,
    scan: &SourceScan,
    refs: &mut References,
    progress: &mut dyn FnMut(&str, u64, bool),
) -> Result<Confirmation, SourceError> {
    confirm_within(source, scan, refs, BUDGET, progress)
}

/// A column of the second read: a key (its number among the keys) or a reference's values.
#[derive(Debug, Clone, Copy)]
enum Column {
    Key(usize),
    Reference(usize),
}

/// [`confirm`] holding at most `budget` values (target keys, and references waiting for their
/// target's keys) at once (more parts, more passes).
pub fn confirm_within(
    source: &dyn Source,
    scan: &SourceScan,
    refs: &mut References,
    budget: u64,
    progress: &mut dyn FnMut(&str, u64, bool),
) -> Result<Confirmation, SourceError> {
    let (references, unique) = wanted(refs);
    // Key columns (targets and unique keys) and referencing columns, numbered.
    let keys: Vec<PathOf> = unique
        .iter()
        .chain(references.iter().map(|(_, to)| to))
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if keys.is_empty() {
        return Ok(Confirmation::default());
    }
    let expected = |(c, p): &PathOf| {
        scan.collection(c)
            .and_then(|c| c.profile(p))
            .and_then(|p| p.keys.as_ref())
            .map_or(0, |k| k.values)
    };
    let targets: Vec<usize> = references
        .iter()
        .map(|(_, to)| keys.binary_search(to).unwrap_or_default())
        .collect();
    let reads = order(&keys, &references, &expected);
    let mut waits = vec![false; references.len()];
    for (_, waiting) in &reads {
        for n in waiting {
            waits[*n] = true;
        }
    }
    let held_total: u64 = keys.iter().map(expected).sum::<u64>()
        + (references.iter().zip(&waits))
            .filter(|(_, w)| **w)
            .map(|((at, _), _)| expected(at))
            .sum::<u64>();
    let parts = held_total.div_ceil(budget.max(1)).max(1);
    // The columns each collection is read for.
    let mut paths: BTreeMap<&str, Vec<(&str, Column)>> = BTreeMap::new();
    for (n, (c, p)) in keys.iter().enumerate() {
        paths.entry(c).or_default().push((p, Column::Key(n)));
    }
    for (n, ((c, p), _)) in references.iter().enumerate() {
        paths.entry(c).or_default().push((p, Column::Reference(n)));
    }
    let mut key_counts = vec![(0u64, 0u64); keys.len()];
    let mut found = vec![Confirmed::default(); references.len()];
    let mut overflow = vec![false; references.len()];
    // A bit per document holding a dangling value, per reference (over every part).
    let mut documents: Vec<Vec<u64>> = vec![Vec::new(); references.len()];
    let mut looked_up = 0;
    for part_no in 0..parts {
        let in_part = |v: &u128| parts == 1 || part(*v, parts) == part_no;
        let mut held: Vec<Vec<u128>> = keys
            .iter()
            .map(|k| Vec::with_capacity((expected(k) / parts + 1024) as usize))
            .collect();
        let mut checks: Vec<Check> = targets
            .iter()
            .map(|&target| Check {
                target,
                hit: Vec::new(),
                dangling: HashSet::new(),
                values: 0,
                dangling_values: 0,
                overflow: false,
            })
            .collect();
        // References waiting for their target's keys.
        let mut waiting: Vec<Vec<(u128, u64)>> = (references.iter().zip(&waits))
            .map(|((at, _), w)| match w {
                true => Vec::with_capacity((expected(at) / parts + 1024) as usize),
                false => Vec::new(),
            })
            .collect();
        for (collection, _) in &reads {
            let Some(columns) = paths.get(collection) else {
                continue;
            };
            let numbered: Vec<(&str, usize)> = columns
                .iter()
                .enumerate()
                .map(|(i, (p, _))| (*p, i))
                .collect();
            let out = &mut |i: usize, doc: u64, v: u128| {
                if !in_part(&v) {
                    return;
                }
                match columns[i].1 {
                    Column::Key(k) => held[k].push(v),
                    Column::Reference(r) if waits[r] => waiting[r].push((v, doc)),
                    Column::Reference(r) => {
                        let check = &mut checks[r];
                        if check.look_up(&held[check.target], v) {
                            mark(&mut documents[r], doc);
                        }
                    }
                }
            };
            read(source, collection, &numbered, scan.sample, out, progress)?;
            // This collection's keys are whole: sorted, counted, and ready for lookups.
            for (_, column) in columns {
                if let Column::Key(k) = *column {
                    let col = &mut held[k];
                    col.sort_unstable();
                    let (values, distinct) = counts(col);
                    key_counts[k].0 += values;
                    key_counts[k].1 += distinct;
                    col.dedup();
                    col.shrink_to_fit();
                    for check in checks.iter_mut().filter(|c| c.target == k) {
                        check.hit = vec![0; col.len().div_ceil(64)];
                    }
                }
            }
        }
        for (r, values) in waiting.iter_mut().enumerate() {
            let check = &mut checks[r];
            for (v, doc) in values.drain(..) {
                if check.look_up(&held[check.target], v) {
                    mark(&mut documents[r], doc);
                }
            }
        }
        for (n, check) in checks.iter().enumerate() {
            found[n] += check.counted();
            overflow[n] |= check.overflow;
            looked_up += check.values;
        }
    }
    // A path read differently from the scan keeps the sample's figures.
    let key_whole = |to: &PathOf| {
        keys.binary_search(to)
            .is_ok_and(|k| key_counts[k].0 == expected(to))
    };
    let mut confirmed = 0;
    let mut dangling_counted = 0;
    for (n, (at, to)) in references.iter().enumerate() {
        let mut c = found[n];
        c.dangling_documents = documents[n].iter().map(|w| u64::from(w.count_ones())).sum();
        if overflow[n] || c.values != expected(at) || !key_whole(to) {
            continue;
        }
        if refs.found.get(at).is_some_and(|f| f.exact) {
            dangling_counted += 1;
        } else {
            confirmed += 1;
        }
        let share = (c.distinct - c.dangling) as f64 / (c.distinct.max(1) as f64);
        if share < MIN_SHARE {
            refs.found.remove(at);
        } else if let Some(f) = refs.found.get_mut(at) {
            f.confirmed = Some(c);
        }
    }
    for at in &unique {
        let Ok(k) = keys.binary_search(at) else {
            continue;
        };
        let (values, distinct) = key_counts[k];
        if let (Some(u), true) = (refs.unique.get_mut(at), key_whole(at)) {
            u.distinct = distinct as usize;
            u.repeats = values - distinct;
            u.exact = true;
            u.confirmed = true;
            confirmed += 1;
        }
    }
    Ok(Confirmation {
        confirmed,
        dangling_counted,
        parts,
        keys: key_counts.iter().map(|(v, _)| v).sum(),
        looked_up,
    })
}

impl std::ops::AddAssign for Confirmed {
    fn add_assign(&mut self, o: Confirmed) {
        self.distinct += o.distinct;
        self.dangling += o.dangling;
        self.values += o.values;
        self.dangling_values += o.dangling_values;
        self.dangling_documents += o.dangling_documents;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looking_up_counts_distinct_and_repeated_values() {
        let keys = [1, 2, 3, 9];
        let mut check = Check {
            target: 0,
            hit: vec![0; 1],
            dangling: HashSet::new(),
            values: 0,
            dangling_values: 0,
            overflow: false,
        };
        for v in [1, 1, 2, 5, 5, 5, 9] {
            check.look_up(&keys, v);
        }
        assert_eq!(
            check.counted(),
            Confirmed {
                distinct: 4,
                dangling: 1,
                values: 7,
                dangling_values: 3,
                dangling_documents: 0,
            }
        );
        assert_eq!(counts(&[1, 2, 2, 3, 9]), (5, 4));
        assert_eq!(counts(&[]), (0, 0));
    }

    #[test]
    fn parts_split_values_evenly() {
        let mut sizes = [0u32; 3];
        for v in 0..30_000u128 {
            sizes[part(v | 1 << 120, 3) as usize] += 1;
        }
        assert!(
            sizes.iter().all(|s| (9_000..11_000).contains(s)),
            "{sizes:?}"
        );
    }
}
