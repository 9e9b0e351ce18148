//! audit_events, webhooks, integrations.

use migrator::bson::{doc, Bson, Document};
use rand::Rng;

use super::tenancy::{org_identity, user_identity};
use super::{date, put_opt, Cx, DAY};
use crate::generator::collection::Collection::{self, *};
use crate::generator::text;

/// The label under which audit events' dangling actor emails (kept by policy) are counted.
pub const KEPT_ACTOR_EMAILS: &str = "audit_events.actor_email";

/// (action, target collection).
const ACTIONS: &[(&str, Collection)] = &[
    ("task.created", Tasks),
    ("task.updated", Tasks),
    ("task.deleted", Tasks),
    ("project.archived", Projects),
    ("member.invited", Invitations),
    ("invoice.paid", Invoices),
    ("api_key.created", ApiKeys),
    ("document.published", Documents),
];

pub fn audit_event(cx: &mut Cx<'_>) -> Document {
    let org = cx.pop.org_of(AuditEvents, cx.index);
    let (_, slug) = org_identity(cx.pop, org);
    let actor = if cx.chance(0.03) {
        // Someone who has left: audit records keep their email, which no user has any more.
        cx.add_kept_reference(KEPT_ACTOR_EMAILS);
        format!("former.employee{}@{slug}.example.com", cx.index)
    } else {
        let users = cx.pop.users_of_org(org);
        let user = cx.pop.pick(Users, users, &mut cx.rng);
        user_identity(cx.pop, user).2
    };
    let (action, target) = ACTIONS[cx.rng.random_range(0..ACTIONS.len())];
    let target_index = cx.pop.pick(target, 0..0, &mut cx.rng);
    let created = cx.created_millis();
    let mut d = doc! {
        "_id": cx.id(),
        "organizationId": cx.reference(Organizations, org),
        "actorEmail": actor,
        "action": action,
        "targetType": target.name(),
        "targetId": cx.pop.ref_id(target, target_index),
    };
    let changes = cx.chance(0.5).then(|| {
        let field = cx.choose(&["status", "title", "assigneeId", "priority"]).to_string();
        Bson::Document(doc! { field: { "from": text::words(&mut cx.rng, 1), "to": text::words(&mut cx.rng, 1) } })
    });
    put_opt(&mut d, "changes", changes, true);
    d.insert(
        "ip",
        format!(
            "10.{}.{}.{}",
            cx.between(0, 255),
            cx.between(0, 255),
            cx.between(1, 254)
        ),
    );
    let agent = cx.chance(0.8).then(|| {
        Bson::String(
            cx.choose(&["Mozilla/5.0", "migrator-cli/1.2", "okhttp/4.9"])
                .to_string(),
        )
    });
    put_opt(&mut d, "userAgent", agent, false);
    d.insert("occurredAt", date(created));
    d
}

const EVENTS: &[&str] = &[
    "task.created",
    "task.updated",
    "comment.created",
    "project.updated",
    "invoice.paid",
    "member.joined",
];

pub fn webhook(cx: &mut Cx<'_>) -> Document {
    let org = cx.pop.org_of(Webhooks, cx.index);
    let users = cx.pop.users_of_org(org);
    let by = cx.pop.pick(Users, users, &mut cx.rng);
    let (_, slug) = org_identity(cx.pop, org);
    let created = cx.created_millis();
    let active = cx.chance(0.85);
    let n = cx.between(1, 4) as usize;
    let mut events: Vec<&str> = (0..n).map(|_| cx.choose(EVENTS)).collect();
    events.sort_unstable();
    events.dedup();
    let mut d = doc! {
        "_id": cx.id(),
        "organizationId": cx.reference(Organizations, org),
        "createdBy": cx.reference(Users, by),
        "url": format!("https://hooks.{slug}.example.com/{}", text::hex(&mut cx.rng, 12)),
        "secret": format!("whsec_{}", text::hex(&mut cx.rng, 32)),
        "events": events.clone(),
        "active": active,
    };
    if cx.chance(0.7) {
        let n = cx.between(0, 5) as u64;
        let mut deliveries = Vec::new();
        for k in 0..n {
            let ok = cx.chance(0.9);
            let mut delivery = doc! { "event": events[(k as usize) % events.len()] };
            let status = if ok {
                Some(200)
            } else {
                [None, Some(500), Some(404)][cx.rng.random_range(0..3)]
            };
            put_opt(&mut delivery, "statusCode", status.map(Bson::Int32), false);
            delivery.insert("durationMs", cx.between(20, 30_000));
            delivery.insert("succeeded", ok);
            delivery.insert("attemptedAt", date(created + (k as i64 + 1) * DAY));
            deliveries.push(Bson::Document(delivery));
        }
        cx.add_rows("webhook_deliveries", n);
        d.insert("deliveries", deliveries);
    }
    d.insert("createdAt", date(created));
    let disabled = (!active).then(|| date(created + 60 * DAY));
    put_opt(&mut d, "disabledAt", disabled, true);
    d
}

pub fn integration(cx: &mut Cx<'_>) -> Document {
    let org = cx.pop.org_of(Integrations, cx.index);
    let users = cx.pop.users_of_org(org);
    let by = cx.pop.pick(Users, users, &mut cx.rng);
    let provider = cx.choose(&["github", "gitlab", "slack", "jira", "google_drive"]);
    let projects = cx.pop.projects_of_org(org);
    let k = cx.between(1, 3) as usize;
    let chosen = cx.pop.pick_distinct(Projects, projects, k, &mut cx.rng);
    let created = cx.created_millis();
    let mut config = doc! { "workspace": format!("{}-{}", provider, cx.index) };
    if provider == "slack" {
        config.insert(
            "channel",
            format!("#{}", cx.choose(&["eng", "alerts", "product", "general"])),
        );
    }
    config.insert(
        "tokenRef",
        format!("vault://integrations/{}", text::hex(&mut cx.rng, 16)),
    );
    let mut d = doc! {
        "_id": cx.id(),
        "organizationId": cx.reference(Organizations, org),
        "provider": provider,
        "installedBy": cx.reference(Users, by),
        "config": config,
    };
    d.insert(
        "projectIds",
        cx.junction("integration_projects", Projects, &chosen),
    );
    d.insert("enabled", cx.chance(0.9));
    d.insert("installedAt", date(created));
    let synced = cx
        .chance(0.7)
        .then(|| date(created + cx.between(0, 100) * DAY));
    put_opt(&mut d, "lastSyncedAt", synced, false);
    d
}
