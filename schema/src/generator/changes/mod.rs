//! A change workload on the example application's data, as its users would make it while a
//! migration copies and follows the database: inserts, updates that add and remove elements of
//! junction arrays (watchers, labels, dependencies, mentions, contributors, team members,
//! release milestones) and child arrays (checklists, custom values, reactions, revisions,
//! invoice lines with their adjustments), scalar updates, deletes of referenced documents
//! (comments, attachments, tasks, wiki documents, labels, milestones), documents made invalid
//! (and, for documents nothing references, valid again) and multi-document transactions.
//!
//! [`ChangePlan`] is pure: the same data (generator seed and scale) and the same workload seed
//! give the same changes, in the same order. `writer` (with the `live` feature) applies them to a
//! live database.
//!
//! Two rules keep a followed target equal to a fresh migration of the final state (see
//! docs/guarantees.md, "Following a live source"): a document is never inserted again after it
//! was deleted (new documents get new `_id`s), and a document something references is never made
//! valid again once invalid (only time entries and notifications, which nothing references, are).
//!
//! ```
//! use schema::generator::changes::ChangePlan;
//! use schema::generator::{Generator, GeneratorConfig};
//!
//! let generator = Generator::new(GeneratorConfig::new(42, 0.01))?;
//! let changes: Vec<_> = ChangePlan::new(&generator, 7).take(100).collect();
//! assert_eq!(changes.len(), 100);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod ops;
#[cfg(feature = "live")]
pub mod writer;

use std::collections::{BTreeMap, BTreeSet};

use migrator::bson::{oid::ObjectId, Document};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::collection::Collection;
use super::rng::{mix, Streams};
use super::Generator;

/// The first byte after the timestamp of the `_id`s the workload gives new documents: no
/// generated document has it (those hold their collection's number, 0 to 25).
const NEW_TAG: u8 = 0xFE;
/// 2025-01-01T00:00:00Z: after every generated document.
const NEW_SECONDS: u32 = 1_735_689_600;

/// One write to the database.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    Insert {
        collection: Collection,
        doc: Document,
    },
    Update {
        collection: Collection,
        id: ObjectId,
        update: Document,
    },
    Delete {
        collection: Collection,
        id: ObjectId,
    },
}

impl Write {
    pub fn collection(&self) -> Collection {
        match self {
            Write::Insert { collection, .. }
            | Write::Update { collection, .. }
            | Write::Delete { collection, .. } => *collection,
        }
    }
}

/// What a change does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChangeKind {
    /// A new task, comment, time entry or notification.
    Insert,
    /// An element added to a junction or child array.
    Push,
    /// An element removed from a junction or child array.
    Pull,
    /// A scalar field changed.
    Set,
    /// A document other documents reference deleted.
    Delete,
    /// A document changed into one its model refuses.
    Invalidate,
    /// A time entry or notification made invalid earlier fixed.
    Revalidate,
    /// Several writes in one multi-document transaction.
    Transaction,
}

impl ChangeKind {
    pub const ALL: [ChangeKind; 8] = [
        ChangeKind::Insert,
        ChangeKind::Push,
        ChangeKind::Pull,
        ChangeKind::Set,
        ChangeKind::Delete,
        ChangeKind::Invalidate,
        ChangeKind::Revalidate,
        ChangeKind::Transaction,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ChangeKind::Insert => "insert",
            ChangeKind::Push => "push",
            ChangeKind::Pull => "pull",
            ChangeKind::Set => "set",
            ChangeKind::Delete => "delete",
            ChangeKind::Invalidate => "invalidate",
            ChangeKind::Revalidate => "revalidate",
            ChangeKind::Transaction => "transaction",
        }
    }
}

/// One change: a single write, or several in one transaction ([`ChangeKind::Transaction`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub kind: ChangeKind,
    pub writes: Vec<Write>,
}

/// The changes of the example application, one at a time, deterministic from the generator and
/// the workload's seed. It remembers what it deleted and made invalid, never what it wrote
/// otherwise: memory grows with the documents it inserts and deletes only.
#[derive(Debug, Clone)]
pub struct ChangePlan {
    generator: Generator,
    rng: ChaCha8Rng,
    seed_tag: [u8; 3],
    next_new: u32,
    /// The documents the workload inserted and did not delete, per collection.
    created: BTreeMap<Collection, Vec<ObjectId>>,
    deleted: BTreeSet<ObjectId>,
    /// Documents made invalid and not fixed or deleted since.
    invalid: BTreeMap<ObjectId, Collection>,
    counts: BTreeMap<ChangeKind, u64>,
}

impl ChangePlan {
    /// The changes to the data `generator` makes, under workload seed `seed`.
    pub fn new(generator: &Generator, seed: u64) -> ChangePlan {
        let mixed = mix(generator.config().seed, seed);
        let b = mixed.to_be_bytes();
        ChangePlan {
            generator: generator.clone(),
            rng: Streams::new(mixed, 0x3_0000).stream(0),
            seed_tag: [b[0], b[1], b[2]],
            next_new: 0,
            created: BTreeMap::new(),
            deleted: BTreeSet::new(),
            invalid: BTreeMap::new(),
            counts: BTreeMap::new(),
        }
    }

    /// The documents left invalid so far (made invalid, not fixed, not deleted): each must be a
    /// dead letter of the target once the follow has caught up.
    pub fn invalid_documents(&self) -> Vec<(Collection, ObjectId)> {
        self.invalid.iter().map(|(id, c)| (*c, *id)).collect()
    }

    /// The documents deleted so far.
    pub fn deleted(&self) -> usize {
        self.deleted.len()
    }

    /// Changes made so far, per kind.
    pub fn counts(&self) -> &BTreeMap<ChangeKind, u64> {
        &self.counts
    }

    /// A new `_id`: its timestamp after every generated document's, its fifth byte no
    /// collection's.
    fn new_id(&mut self) -> ObjectId {
        self.next_new += 1;
        let mut bytes = [0u8; 12];
        bytes[..4].copy_from_slice(&NEW_SECONDS.to_be_bytes());
        bytes[4] = NEW_TAG;
        bytes[5..8].copy_from_slice(&self.seed_tag);
        bytes[8..].copy_from_slice(&self.next_new.to_be_bytes());
        ObjectId::from_bytes(bytes)
    }

    /// The index of a generated document of `c` without a fault (none broken, none near 16 MB),
    /// if a few draws find one.
    fn sound(&mut self, c: Collection) -> u64 {
        let pop = self.generator.population();
        let n = pop.count(c).max(1);
        let mut index = 0;
        for _ in 0..8 {
            index = pop.avoid(c, self.rng.random_range(0..n));
            if self.generator.fault(c, index).is_none() {
                break;
            }
        }
        index
    }

    /// A document of `c` that exists (not deleted): a generated one without a fault, or a fifth
    /// of the time one the workload inserted. After a few tries it may return a deleted one
    /// (its update then changes nothing).
    fn existing(&mut self, c: Collection) -> ObjectId {
        let mut id = ObjectId::from_bytes([0; 12]);
        for _ in 0..8 {
            let created = self.created.get(&c).map_or(0, Vec::len);
            id = if created > 0 && self.rng.random_bool(0.2) {
                self.created[&c][self.rng.random_range(0..created)]
            } else {
                let index = self.sound(c);
                self.generator.population().id(c, index)
            };
            if !self.deleted.contains(&id) {
                break;
            }
        }
        id
    }

    /// A new document of `c`: a copy of a generated one under a new `_id`.
    fn new_document(&mut self, c: Collection) -> (ObjectId, Document) {
        let index = self.sound(c);
        let mut doc = self.generator.document(c, index).doc;
        let id = self.new_id();
        doc.insert("_id", id);
        self.created.entry(c).or_default().push(id);
        (id, doc)
    }

    fn forget(&mut self, c: Collection, id: ObjectId) {
        self.deleted.insert(id);
        self.invalid.remove(&id);
        if let Some(ids) = self.created.get_mut(&c) {
            ids.retain(|x| *x != id);
        }
    }
}

impl Iterator for ChangePlan {
    type Item = Change;

    fn next(&mut self) -> Option<Change> {
        let change = match self.rng.random_range(0..100u32) {
            0..=15 => ops::insert(self),
            16..=31 => ops::push(self),
            32..=45 => ops::pull(self),
            46..=59 => ops::set(self),
            60..=69 => ops::delete(self),
            70..=77 => ops::invalidate(self),
            78..=83 => ops::revalidate(self),
            _ => ops::transaction(self),
        };
        *self.counts.entry(change.kind).or_default() += 1;
        Some(change)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generator::GeneratorConfig;

    fn generator() -> Generator {
        Generator::new(GeneratorConfig::new(42, 0.02)).expect("a generator")
    }

    #[test]
    fn the_same_seeds_give_the_same_changes() {
        let g = generator();
        let a: Vec<Change> = ChangePlan::new(&g, 7).take(500).collect();
        let b: Vec<Change> = ChangePlan::new(&g, 7).take(500).collect();
        let c: Vec<Change> = ChangePlan::new(&g, 8).take(500).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn every_kind_of_change_is_made_and_nothing_deleted_comes_back() {
        let g = generator();
        let mut plan = ChangePlan::new(&g, 3);
        let mut deleted = BTreeSet::new();
        let mut inserted = BTreeSet::new();
        let mut transactions = 0;
        for change in plan.by_ref().take(3_000) {
            if change.writes.len() > 1 {
                transactions += 1;
            }
            for write in &change.writes {
                match write {
                    Write::Insert { doc, .. } => {
                        let id = doc.get_object_id("_id").expect("an ObjectId _id");
                        assert!(!deleted.contains(&id), "{id} inserted after its delete");
                        assert!(inserted.insert(id), "{id} inserted twice");
                        assert_eq!(id.bytes()[4], NEW_TAG);
                    }
                    Write::Delete { id, .. } => {
                        deleted.insert(*id);
                    }
                    Write::Update { .. } => {}
                }
            }
        }
        for kind in ChangeKind::ALL {
            assert!(
                plan.counts().get(&kind).copied().unwrap_or(0) > 0,
                "no {} change",
                kind.name()
            );
        }
        assert!(transactions > 0);
        // What is still invalid was not deleted, and only leaves were made valid again.
        for (_, id) in plan.invalid_documents() {
            assert!(!deleted.contains(&id));
        }
        assert!(plan.deleted() > 0 && plan.deleted() <= deleted.len());
    }
}
