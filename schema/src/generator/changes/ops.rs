//! The kinds of change, each drawn from the plan's random stream.

use migrator::bson::{doc, oid::ObjectId, Bson, DateTime, Document};
use rand::Rng;

use super::{Change, ChangeKind, ChangePlan, Write};
use crate::generator::collection::Collection::{self, *};
use crate::generator::documents::money;
use crate::generator::text;

/// 2025-01-02T00:00:00Z: when the workload's changes say they happened, so that the same seed
/// gives the same bytes.
const AT_MILLIS: i64 = 1_735_776_000_000;

fn at(plan: &mut ChangePlan) -> Bson {
    Bson::DateTime(DateTime::from_millis(
        AT_MILLIS + plan.rng.random_range(0..86_400_000),
    ))
}

fn single(kind: ChangeKind, write: Write) -> Change {
    Change {
        kind,
        writes: vec![write],
    }
}

fn update(collection: Collection, id: ObjectId, update: Document) -> Write {
    Write::Update {
        collection,
        id,
        update,
    }
}

/// A new task, comment, time entry or notification; half of the comments, time entries and
/// notifications are about a task the workload inserted.
pub(super) fn insert(plan: &mut ChangePlan) -> Change {
    let c = match plan.rng.random_range(0..16u32) {
        0..=4 => Tasks,
        5..=9 => Comments,
        10..=12 => TimeEntries,
        _ => Notifications,
    };
    let (_, mut doc) = plan.new_document(c);
    if c != Tasks && plan.rng.random_bool(0.5) {
        if let Some(task) = plan.created.get(&Tasks).and_then(|t| t.last()).copied() {
            doc.insert("taskId", task);
        }
    }
    single(ChangeKind::Insert, Write::Insert { collection: c, doc })
}

/// A junction or child array of some collection and an element for it.
struct Element {
    collection: Collection,
    field: &'static str,
    value: Bson,
    /// A junction: added with `$addToSet`.
    reference: bool,
}

fn element(plan: &mut ChangePlan) -> Element {
    let (collection, field, reference) = match plan.rng.random_range(0..12u32) {
        0 => (Tasks, "watcherIds", true),
        1 => (Tasks, "labelIds", true),
        2 => (Tasks, "blockedBy", true),
        3 => (Tasks, "checklist", false),
        4 => (Tasks, "customValues", false),
        5 => (Comments, "mentionIds", true),
        6 => (Comments, "reactions", false),
        7 => (Documents, "contributorIds", true),
        8 => (Documents, "revisions", false),
        9 => (Teams, "memberIds", true),
        10 => (Releases, "milestoneIds", true),
        _ => (Invoices, "lineItems", false),
    };
    let value = match field {
        "watcherIds" | "mentionIds" | "contributorIds" | "memberIds" => {
            Bson::ObjectId(plan.existing(Users))
        }
        "labelIds" => Bson::ObjectId(plan.existing(Labels)),
        "blockedBy" => Bson::ObjectId(plan.existing(Tasks)),
        "milestoneIds" => Bson::ObjectId(plan.existing(Milestones)),
        "checklist" => {
            let text = text::sentence(&mut plan.rng, 2, 6);
            Bson::Document(doc! { "text": text, "done": plan.rng.random_bool(0.3) })
        }
        "customValues" => Bson::Document(
            doc! { "fieldId": plan.existing(CustomFields), "value": text::words(&mut plan.rng, 2) },
        ),
        "reactions" => Bson::Document(doc! {
            "userId": plan.existing(Users),
            "emoji": text::choose(&mut plan.rng, &["+1", "tada", "eyes", "heart"]),
            "reactedAt": at(plan),
        }),
        "revisions" => Bson::Document(doc! {
            "number": plan.rng.random_range(2..100i32),
            "authorId": plan.existing(Users),
            "summary": text::sentence(&mut plan.rng, 2, 5),
            "createdAt": at(plan),
        }),
        _ => {
            let cents = plan.rng.random_range(100..100_000i64);
            Bson::Document(doc! {
                "description": text::sentence(&mut plan.rng, 2, 4),
                "quantity": 1,
                "unitAmount": money(cents),
                "amount": money(cents),
                "adjustments": [{ "kind": "discount", "amount": money(-cents / 10), "reason": "loyalty" }],
            })
        }
    };
    Element {
        collection,
        field,
        value,
        reference,
    }
}

/// `{operator: {field: value}}`.
fn operation(operator: &str, field: &str, value: Bson) -> Document {
    let mut inner = Document::new();
    inner.insert(field, value);
    let mut outer = Document::new();
    outer.insert(operator, inner);
    outer
}

/// An element added to a junction or child array.
pub(super) fn push(plan: &mut ChangePlan) -> Change {
    let e = element(plan);
    let id = plan.existing(e.collection);
    let operator = if e.reference { "$addToSet" } else { "$push" };
    single(
        ChangeKind::Push,
        update(e.collection, id, operation(operator, e.field, e.value)),
    )
}

/// The first or last element of a junction or child array removed (an ordered junction's
/// positions move).
pub(super) fn pull(plan: &mut ChangePlan) -> Change {
    let e = element(plan);
    let id = plan.existing(e.collection);
    let end = if plan.rng.random_bool(0.5) { 1 } else { -1 };
    single(
        ChangeKind::Pull,
        update(
            e.collection,
            id,
            operation("$pop", e.field, Bson::Int32(end)),
        ),
    )
}

/// A scalar field set to a valid value.
pub(super) fn set(plan: &mut ChangePlan) -> Change {
    let (c, change) = match plan.rng.random_range(0..5u32) {
        0 => (
            Tasks,
            doc! { "$set": { "status": text::choose(&mut plan.rng, &["todo", "in_progress", "in_review", "done"]) } },
        ),
        1 => (
            Comments,
            doc! { "$set": { "body": text::sentence(&mut plan.rng, 3, 12), "editedAt": at(plan) } },
        ),
        2 => (Notifications, doc! { "$set": { "readAt": at(plan) } }),
        3 => (
            TimeEntries,
            doc! { "$set": { "minutes": plan.rng.random_range(5..480i32) } },
        ),
        _ => (
            Documents,
            doc! { "$set": { "published": plan.rng.random_bool(0.5), "updatedAt": at(plan) } },
        ),
    };
    let id = plan.existing(c);
    single(ChangeKind::Set, update(c, id, change))
}

/// A document that others reference deleted: their references follow their policies (a
/// comment's attachments are rejected, its replies and notifications lose it, a task's comments
/// are rejected and its dependents lose the dependency, a label's tasks are rejected, a
/// milestone's sprints and so their tasks are rejected).
pub(super) fn delete(plan: &mut ChangePlan) -> Change {
    let c = match plan.rng.random_range(0..20u32) {
        0..=7 => Comments,
        8..=11 => Attachments,
        12..=15 => Tasks,
        16..=17 => Documents,
        18 => Labels,
        _ => Milestones,
    };
    let id = plan.existing(c);
    plan.forget(c, id);
    single(ChangeKind::Delete, Write::Delete { collection: c, id })
}

/// A document changed into one its model refuses. Time entries and notifications (nothing
/// references them) may be fixed later; a task (its priority) or a comment (its creation date)
/// stays invalid: no other change touches those fields.
pub(super) fn invalidate(plan: &mut ChangePlan) -> Change {
    let (c, change) = match plan.rng.random_range(0..8u32) {
        0..=2 => (TimeEntries, doc! { "$set": { "minutes": "a lot" } }),
        3..=5 => (Notifications, doc! { "$set": { "kind": "carrier_pigeon" } }),
        6 => (Tasks, doc! { "$set": { "priority": "whenever" } }),
        _ => (Comments, doc! { "$set": { "createdAt": "yesterday" } }),
    };
    let id = plan.existing(c);
    if !plan.deleted.contains(&id) {
        plan.invalid.insert(id, c);
    }
    single(ChangeKind::Invalidate, update(c, id, change))
}

/// A time entry or notification made invalid earlier fixed (a plain update when there is none).
pub(super) fn revalidate(plan: &mut ChangePlan) -> Change {
    let leaves: Vec<(ObjectId, Collection)> = plan
        .invalid
        .iter()
        .filter(|(_, c)| matches!(c, TimeEntries | Notifications))
        .map(|(id, c)| (*id, *c))
        .collect();
    if leaves.is_empty() {
        return set(plan);
    }
    let (id, c) = leaves[plan.rng.random_range(0..leaves.len())];
    plan.invalid.remove(&id);
    let change = match c {
        TimeEntries => doc! { "$set": { "minutes": 45 } },
        _ => doc! { "$set": { "kind": "mention" } },
    };
    single(ChangeKind::Revalidate, update(c, id, change))
}

/// A new task, a comment and a time entry on it, and an existing task now blocked by it, in one
/// multi-document transaction.
pub(super) fn transaction(plan: &mut ChangePlan) -> Change {
    let (task, task_doc) = plan.new_document(Tasks);
    let (_, mut comment) = plan.new_document(Comments);
    comment.insert("taskId", task);
    comment.insert("parentId", Bson::Null);
    let (_, mut entry) = plan.new_document(TimeEntries);
    entry.insert("taskId", task);
    let blocked = plan.existing(Tasks);
    Change {
        kind: ChangeKind::Transaction,
        writes: vec![
            Write::Insert {
                collection: Tasks,
                doc: task_doc,
            },
            Write::Insert {
                collection: Comments,
                doc: comment,
            },
            Write::Insert {
                collection: TimeEntries,
                doc: entry,
            },
            update(Tasks, blocked, doc! { "$addToSet": { "blockedBy": task } }),
        ],
    }
}
