//! Fault injection: which documents are broken, how, and what the migration must say about them.
//!
//! Faults are chosen before any document is generated, from their own random stream, so the
//! broken documents are known up front and references can avoid them: a document the migration
//! rejects is never pointed at, and no rejection cascades. Each document gets at most one fault.

use std::collections::HashSet;

use migrator::bson::{doc, Bson, DateTime, Document, RawDocumentBuf};
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::collection::Collection::{self, *};
use super::population::Population;
use super::rng::Streams;
use super::text;

/// MongoDB's maximum document size.
pub const MAX_BSON_SIZE: usize = 16 * 1024 * 1024;
/// The size of the oversized documents: 15.9 MiB, just under the limit.
pub const OVERSIZED_BYTES: usize = 16_672_358;

/// A way of breaking (or stressing) a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// A required field is absent.
    Missing,
    /// A value of another BSON type (a string where a number is expected).
    WrongType,
    /// A string that is not one of the enum's labels.
    NotInEnum,
    /// An ObjectId that no document has, in a reference whose policy is `reject`.
    MissingReference,
    /// A string with a NUL character, which PostgreSQL text cannot store.
    NulByte,
    /// A legacy date string that is not a date.
    BadDate,
    /// A date past PostgreSQL's range.
    OutOfRange,
    /// A key the model does not declare, under `unknown_fields = "reject"`.
    UnknownField,
    /// Repeated elements in a junction array: not an error, the duplicates collapse.
    DuplicateEntries,
    /// A document near MongoDB's 16 MB limit: not an error, it must migrate whole.
    Oversized,
}

/// Where the migration reports a fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Rejected when the document is decoded.
    Transform,
    /// Rejected when references are resolved after the load.
    Reference,
    /// Not rejected: the document lands.
    None,
}

impl FaultKind {
    pub const ALL: [FaultKind; 10] = [
        FaultKind::Missing,
        FaultKind::WrongType,
        FaultKind::NotInEnum,
        FaultKind::MissingReference,
        FaultKind::NulByte,
        FaultKind::BadDate,
        FaultKind::OutOfRange,
        FaultKind::UnknownField,
        FaultKind::DuplicateEntries,
        FaultKind::Oversized,
    ];

    /// The error class the migration reports (`DocumentError` classes, plus `missing_reference`).
    pub fn class(self) -> Option<&'static str> {
        Some(match self {
            FaultKind::Missing => "missing",
            FaultKind::WrongType => "wrong_type",
            FaultKind::NotInEnum => "not_in_enum",
            FaultKind::MissingReference => "missing_reference",
            FaultKind::NulByte => "invalid",
            FaultKind::BadDate => "custom",
            FaultKind::OutOfRange => "out_of_range",
            FaultKind::UnknownField => "unknown_field",
            FaultKind::DuplicateEntries | FaultKind::Oversized => return None,
        })
    }

    pub fn stage(self) -> Stage {
        match self {
            FaultKind::MissingReference => Stage::Reference,
            FaultKind::DuplicateEntries | FaultKind::Oversized => Stage::None,
            _ => Stage::Transform,
        }
    }

    /// Whether the document is rejected (and so never referenced and never counted in rows).
    pub fn rejects(self) -> bool {
        self.stage() != Stage::None
    }

    /// Where this fault can be put: (collection, document key, column).
    pub fn targets(self) -> &'static [(Collection, &'static str, &'static str)] {
        match self {
            FaultKind::Missing => &[
                (Tasks, "title", "title"),
                (Comments, "body", "body"),
                (TimeEntries, "minutes", "minutes"),
                (Users, "email", "email"),
                (Invoices, "currency", "currency"),
            ],
            FaultKind::WrongType => &[
                (Tasks, "number", "number"),
                (TimeEntries, "minutes", "minutes"),
                (Payments, "amount", "amount"),
                (Projects, "progress", "progress"),
            ],
            FaultKind::NotInEnum => &[
                (Tasks, "status", "status"),
                (Invoices, "status", "status"),
                (Memberships, "role", "role"),
                (Notifications, "channel", "channel"),
            ],
            FaultKind::MissingReference => &[
                (Tasks, "reporterId", "reporter_id"),
                (Comments, "authorId", "author_id"),
                (TimeEntries, "userId", "user_id"),
                (Payments, "invoiceId", "invoice_id"),
                (Attachments, "uploadedBy", "uploaded_by"),
            ],
            FaultKind::NulByte => &[(Comments, "body", "body"), (Tasks, "title", "title")],
            FaultKind::BadDate => &[
                (Users, "createdAt", "created_at"),
                (TimeEntries, "startedAt", "started_at"),
            ],
            FaultKind::OutOfRange => &[
                (Notifications, "createdAt", "created_at"),
                (Payments, "attemptedAt", "attempted_at"),
            ],
            FaultKind::UnknownField => &[(ApiKeys, "debugToken", "debug_token")],
            FaultKind::DuplicateEntries => &[
                (Tasks, "watcherIds", "task_watchers"),
                (Teams, "memberIds", "team_members"),
                (Projects, "memberIds", "project_members"),
                (Documents, "contributorIds", "document_contributors"),
                (Releases, "milestoneIds", "release_milestones"),
                (Integrations, "projectIds", "integration_projects"),
            ],
            FaultKind::Oversized => &[
                (Documents, "body", "body"),
                (Documents, "content", "content"),
            ],
        }
    }
}

/// How many faults to inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultConfig {
    /// Faults of each kind but [`FaultKind::Oversized`], spread over the kind's targets.
    pub per_kind: u64,
    /// Documents near the 16 MB limit (about 16 MB of output each).
    pub oversized: u64,
}

impl FaultConfig {
    /// Five of each kind per scale unit (at least one), and two oversized documents.
    pub fn scaled(scale: f64) -> Self {
        FaultConfig {
            per_kind: ((5.0 * scale).ceil() as u64).max(1),
            oversized: 2,
        }
    }

    pub fn none() -> Self {
        FaultConfig {
            per_kind: 0,
            oversized: 0,
        }
    }
}

/// One planned fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub collection: Collection,
    pub index: u64,
    pub kind: FaultKind,
    /// The document key (a junction's array key for duplicates).
    pub field: &'static str,
    /// The column (the junction table for duplicates).
    pub column: &'static str,
    /// The fault's number within its kind.
    pub number: u64,
}

/// Every planned fault, sorted by (collection, index).
#[derive(Debug, Clone, Default)]
pub struct FaultPlan {
    faults: Vec<Fault>,
}

impl FaultPlan {
    /// Chooses the faulty documents and marks the rejected ones broken in `pop`.
    pub fn choose(seed: u64, config: FaultConfig, pop: &mut Population) -> FaultPlan {
        let mut rng = Streams::new(seed, 0x1_0000).stream(0);
        let mut taken: HashSet<(Collection, u64)> = HashSet::new();
        let mut faults = Vec::new();
        let mut used = [0u64; 26];
        for kind in FaultKind::ALL {
            let wanted = if kind == FaultKind::Oversized {
                config.oversized
            } else {
                config.per_kind
            };
            let targets = kind.targets();
            for number in 0..wanted {
                let (collection, field, column) = targets[(number as usize) % targets.len()];
                let n = pop.count(collection);
                // Never break more than a quarter of a collection, so references always find
                // a document to point at.
                let slot = usize::from(collection.number());
                if (used[slot] + 1) * 4 > n {
                    continue;
                }
                let start = rng.random_range(0..n);
                let Some(index) = (0..n)
                    .map(|k| (start + k) % n)
                    .find(|i| !taken.contains(&(collection, *i)))
                else {
                    continue;
                };
                taken.insert((collection, index));
                used[slot] += 1;
                faults.push(Fault {
                    collection,
                    index,
                    kind,
                    field,
                    column,
                    number,
                });
            }
        }
        faults.sort_by_key(|f| (f.collection, f.index));
        for c in Collection::ALL {
            let broken = faults
                .iter()
                .filter(|f| f.collection == c && f.kind.rejects())
                .map(|f| f.index)
                .collect();
            pop.set_broken(c, broken);
        }
        FaultPlan { faults }
    }

    pub fn faults(&self) -> &[Fault] {
        &self.faults
    }

    /// The fault planned for document `index` of `c`.
    pub fn get(&self, c: Collection, index: u64) -> Option<&Fault> {
        let i = self
            .faults
            .binary_search_by_key(&(c, index), |f| (f.collection, f.index))
            .ok()?;
        self.faults.get(i)
    }
}

/// What applying a fault did, for the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub detail: String,
    /// Extra elements appended to a junction array (they collapse).
    pub duplicates: Option<u64>,
}

/// Breaks `doc` as `fault` says.
pub fn apply(fault: &Fault, doc: &mut Document, pop: &Population, rng: &mut impl Rng) -> Applied {
    let key = fault.field;
    let plain = |detail: String| Applied {
        detail,
        duplicates: None,
    };
    match fault.kind {
        FaultKind::Missing => {
            doc.remove(key);
            plain(format!("removed required `{key}`"))
        }
        FaultKind::WrongType => {
            let value = match doc.get(key) {
                Some(Bson::Int32(i)) => i.to_string(),
                Some(Bson::Double(f)) => format!("{}%", (f * 100.0).round()),
                Some(Bson::Decimal128(d)) => d.to_string(),
                _ => "12".to_string(),
            };
            let detail = format!("`{key}` is the string {value:?}");
            doc.insert(key, value);
            plain(detail)
        }
        FaultKind::NotInEnum => {
            let value = match fault.collection {
                Tasks => "archived",
                Invoices => "refunded",
                Memberships => "superadmin",
                _ => "sms",
            };
            doc.insert(key, value);
            plain(format!("`{key}` is `{value}`"))
        }
        FaultKind::MissingReference => {
            let dangling = pop.dangling_id(fault.number);
            doc.insert(key, dangling);
            plain(format!("`{key}` is {dangling}, which no document has"))
        }
        FaultKind::NulByte => {
            let text = format!("{}\0{}", text::words(rng, 2), text::words(rng, 2));
            doc.insert(key, text);
            plain(format!("`{key}` contains a NUL character"))
        }
        FaultKind::BadDate => {
            let value = format!(
                "{}/{}/2018",
                rng.random_range(13..=28),
                rng.random_range(1..=12)
            );
            let detail = format!("`{key}` is {value:?}");
            doc.insert(key, value);
            plain(detail)
        }
        FaultKind::OutOfRange => {
            doc.insert(key, DateTime::from_millis(i64::MAX));
            plain(format!(
                "`{key}` is {} ms after 1970, past PostgreSQL's last date",
                i64::MAX
            ))
        }
        FaultKind::UnknownField => {
            doc.insert(key, text::hex(rng, 16));
            plain(format!("undeclared key `{key}`"))
        }
        FaultKind::DuplicateEntries => {
            let copies = 1 + fault.number % 3;
            let mut added = 0;
            if let Some(Bson::Array(items)) = doc.get_mut(key) {
                for k in 0..copies as usize {
                    if let Some(first) = items.get(k % items.len().max(1)).cloned() {
                        items.push(first);
                        added += 1;
                    }
                }
            }
            Applied {
                detail: format!("{added} repeated element(s) in `{key}`"),
                duplicates: Some(added),
            }
        }
        FaultKind::Oversized => {
            let detail = grow(doc, key, rng);
            plain(detail)
        }
    }
}

fn encoded_len(doc: &Document) -> usize {
    RawDocumentBuf::try_from(doc).map_or(0, |raw| raw.as_bytes().len())
}

/// Fills `key` (a string, or the jsonb block tree `content`) until the document is
/// [`OVERSIZED_BYTES`] long.
fn grow(doc: &mut Document, key: &str, rng: &mut impl Rng) -> String {
    const BLOCK: usize = 64 * 1024;
    if key == "content" {
        let room = OVERSIZED_BYTES.saturating_sub(encoded_len(doc));
        let blocks: Vec<Bson> = (0..room / (BLOCK + 64))
            .map(|_| Bson::Document(doc! { "type": "paragraph", "text": text::filler(rng, BLOCK) }))
            .collect();
        doc.insert(key, doc! { "type": "doc", "version": 2, "blocks": blocks });
    } else {
        doc.insert(key, String::new());
    }
    // Top up the last string to the exact size.
    let missing = OVERSIZED_BYTES.saturating_sub(encoded_len(doc));
    let last = match doc.get_mut(key) {
        Some(Bson::Document(content)) => match content.get_mut("blocks") {
            Some(Bson::Array(blocks)) => match blocks.last_mut() {
                Some(Bson::Document(block)) => block.get_mut("text"),
                _ => None,
            },
            _ => None,
        },
        other => other,
    };
    if let Some(Bson::String(s)) = last {
        let extra = text::filler(rng, missing);
        s.push_str(&extra);
    }
    format!("`{key}` grown to a {} byte document", encoded_len(doc))
}
