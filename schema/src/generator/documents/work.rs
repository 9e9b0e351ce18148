//! projects, labels, custom_fields, milestones, sprints, tasks, releases.

use migrator::bson::{doc, Bson, Document};
use rand::Rng;

use super::{date, money, put_opt, Cx, DAY};
use crate::generator::collection::Collection::*;
use crate::generator::text;

const PROJECT_WORDS: &[&str] = &[
    "Mobile",
    "Web",
    "Checkout",
    "Search",
    "Onboarding",
    "Analytics",
    "Payments",
    "Platform",
    "Admin",
    "Reporting",
    "Notifications",
    "Marketplace",
    "Identity",
    "Docs",
];

pub fn project(cx: &mut Cx<'_>) -> Document {
    let org = cx.pop.org_of_project(cx.index);
    let users = cx.pop.users_of_org(org);
    let teams = cx.pop.of_org(org, Teams);
    let team = cx.pop.pick(Teams, teams, &mut cx.rng);
    let owner = cx.pop.pick(Users, users.clone(), &mut cx.rng);
    let word = cx.choose(PROJECT_WORDS);
    let name = format!(
        "{word} {}",
        cx.choose(&["App", "Revamp", "v2", "Core", "API", "Launch"])
    );
    let key: String = word
        .chars()
        .take(3)
        .collect::<String>()
        .to_ascii_uppercase();
    let k = cx.between(0, 9) as usize;
    let mut members = vec![owner];
    for m in cx.pop.pick_distinct(Users, users, k, &mut cx.rng) {
        if !members.contains(&m) {
            members.push(m);
        }
    }
    let created = cx.created_millis();
    let mut d = doc! {
        "_id": cx.id(),
        "organizationId": cx.reference(Organizations, org),
        "teamId": cx.reference(Teams, team),
        "ownerId": cx.reference(Users, owner),
        "key": format!("{key}{}", cx.index),
        "name": name,
    };
    let description = cx
        .chance(0.7)
        .then(|| text::paragraph(&mut cx.rng, 2).into());
    put_opt(&mut d, "description", description, false);
    let status = text::choose(
        &mut cx.rng,
        &["active", "active", "active", "on_hold", "archived"],
    );
    d.insert("status", status);
    if !cx.legacy() {
        let n = cx.between(0, 3) as usize;
        d.insert(
            "tags",
            text::words(&mut cx.rng, n)
                .split_whitespace()
                .collect::<Vec<_>>(),
        );
    }
    d.insert("memberIds", cx.junction("project_members", Users, &members));
    let budget = cx
        .chance(0.3)
        .then(|| money(cx.between(500_000, 50_000_000)).into());
    put_opt(&mut d, "budget", budget, false);
    d.insert(
        "progress",
        f64::from(cx.rng.random_range(0..=100u32)) / 100.0,
    );
    let start = cx
        .chance(0.8)
        .then(|| date(created + cx.between(0, 30) * DAY));
    put_opt(&mut d, "startDate", start, false);
    let target = cx
        .chance(0.6)
        .then(|| date(created + cx.between(60, 400) * DAY));
    put_opt(&mut d, "targetDate", target, true);
    d.insert("createdAt", date(created));
    let deleted = cx.chance(0.02).then(|| date(created + 500 * DAY));
    put_opt(&mut d, "deletedAt", deleted, true);
    d
}

const LABELS: &[&str] = &[
    "bug",
    "feature",
    "chore",
    "design",
    "backend",
    "frontend",
    "security",
    "performance",
    "customer",
    "tech-debt",
    "docs",
    "blocked",
];

pub fn label(cx: &mut Cx<'_>) -> Document {
    let org = cx.pop.org_of(Labels, cx.index);
    let created = cx.created_millis();
    let mut d = doc! {
        "_id": cx.id(),
        "organizationId": cx.reference(Organizations, org),
        "name": format!("{}-{}", cx.choose(LABELS), cx.index),
        "color": cx.choose(text::COLORS),
    };
    let description = cx
        .chance(0.3)
        .then(|| text::sentence(&mut cx.rng, 3, 8).into());
    put_opt(&mut d, "description", description, true);
    d.insert("createdAt", date(created));
    d
}

/// The type of custom field #`index`, known to the tasks that hold its values.
pub fn custom_field_type(index: u64) -> &'static str {
    ["text", "number", "date", "select", "checkbox"][(index % 5) as usize]
}

const SELECT_OPTIONS: &[&str] = &["S", "M", "L", "XL"];

pub fn custom_field(cx: &mut Cx<'_>) -> Document {
    let org = cx.pop.org_of(CustomFields, cx.index);
    let kind = custom_field_type(cx.index);
    let created = cx.created_millis();
    let mut d = doc! {
        "_id": cx.id(),
        "organizationId": cx.reference(Organizations, org),
        "name": format!("{} {}", cx.choose(&["Customer", "Effort", "Review", "Area", "Risk"]), cx.index),
        "type": kind,
    };
    if kind == "select" {
        d.insert("options", SELECT_OPTIONS.to_vec());
    }
    d.insert("required", cx.chance(0.2));
    d.insert("position", (cx.index % 20) as i32);
    d.insert("createdAt", date(created));
    d
}

pub fn milestone(cx: &mut Cx<'_>) -> Document {
    let project = cx.pop.project_of_milestone(cx.index);
    let created = cx.created_millis();
    let closed = cx.chance(0.4);
    let mut d = doc! {
        "_id": cx.id(),
        "projectId": cx.reference(Projects, project),
        "title": format!("{} {}", cx.choose(&["Beta", "Launch", "Q1", "Q2", "Q3", "Q4", "GA", "MVP"]), cx.index),
    };
    let description = cx
        .chance(0.5)
        .then(|| text::sentence(&mut cx.rng, 5, 12).into());
    put_opt(&mut d, "description", description, false);
    d.insert("status", if closed { "closed" } else { "open" });
    let due = if cx.chance(0.8) {
        let millis = created + cx.between(14, 180) * DAY;
        Some(cx.day_or_text(millis))
    } else {
        None
    };
    put_opt(&mut d, "dueDate", due, false);
    let closed_at = closed.then(|| date(created + cx.between(20, 200) * DAY));
    put_opt(&mut d, "closedAt", closed_at, false);
    d.insert("createdAt", date(created));
    d
}

pub fn sprint(cx: &mut Cx<'_>) -> Document {
    let milestone = cx.pop.milestone_of_sprint(cx.index);
    let project = cx.pop.project_of_milestone(milestone);
    let created = cx.created_millis();
    let starts = created + cx.between(0, 10) * DAY;
    let state = text::choose(
        &mut cx.rng,
        &["completed", "completed", "active", "planned"],
    );
    let mut d = doc! {
        "_id": cx.id(),
        "projectId": cx.reference(Projects, project),
        "milestoneId": cx.reference(Milestones, milestone),
        "name": format!("Sprint {}", cx.index % 100 + 1),
    };
    let goal = cx
        .chance(0.6)
        .then(|| text::sentence(&mut cx.rng, 4, 9).into());
    put_opt(&mut d, "goal", goal, false);
    d.insert("state", state);
    d.insert("startsAt", date(starts));
    d.insert("endsAt", date(starts + 14 * DAY));
    let capacity = cx
        .chance(0.7)
        .then(|| Bson::Int32(cx.between(10, 80) as i32));
    put_opt(&mut d, "capacityPoints", capacity, false);
    d.insert("createdAt", date(created));
    d
}

const STATUSES: &[&str] = &[
    "backlog",
    "todo",
    "in_progress",
    "in_review",
    "done",
    "done",
    "cancelled",
];
const PRIORITIES: &[&str] = &["low", "medium", "medium", "high", "urgent"];

fn custom_value(cx: &mut Cx<'_>, field: u64, created: i64) -> Bson {
    match super::work::custom_field_type(field) {
        "text" => Bson::String(text::words(&mut cx.rng, 3)),
        "number" => Bson::Double(f64::from(cx.rng.random_range(0..1000u32)) / 4.0),
        "date" => date(created + cx.between(1, 90) * DAY),
        "select" => Bson::String(cx.choose(SELECT_OPTIONS).to_string()),
        _ => Bson::Boolean(cx.chance(0.5)),
    }
}

pub fn task(cx: &mut Cx<'_>) -> Document {
    let t = cx.index;
    let sprint = cx.pop.sprint_of_task(t);
    let milestone = cx.pop.milestone_of_sprint(sprint);
    let project = cx.pop.project_of_milestone(milestone);
    let org = cx.pop.org_of_project(project);
    let users = cx.pop.users_of_org(org);
    let project_tasks = cx.pop.tasks_of_project(project);
    let number = i32::try_from(t.saturating_sub(project_tasks.start) + 1).unwrap_or(i32::MAX);
    let created = cx.created_millis();
    let status = cx.choose(STATUSES);
    let reporter = cx.pop.pick(Users, users.clone(), &mut cx.rng);
    let assignee = cx
        .chance(0.75)
        .then(|| cx.pop.pick(Users, users.clone(), &mut cx.rng));

    let mut d = doc! {
        "_id": cx.id(),
        "projectId": cx.reference(Projects, project),
        "sprintId": cx.reference(Sprints, sprint),
    };
    let milestone = cx.chance(0.8).then(|| cx.reference(Milestones, milestone));
    put_opt(&mut d, "milestoneId", milestone, cx.legacy());
    d.insert("number", number);
    d.insert("title", text::task_title(&mut cx.rng));
    let description = cx
        .chance(0.6)
        .then(|| text::paragraph(&mut cx.rng, 3).into());
    put_opt(&mut d, "description", description, false);
    d.insert("status", status);
    d.insert("priority", cx.choose(PRIORITIES));
    put_opt(
        &mut d,
        "assigneeId",
        assignee.map(|a| cx.reference(Users, a)),
        false,
    );
    d.insert("reporterId", cx.reference(Users, reporter));
    let estimate = cx
        .chance(0.6)
        .then(|| Bson::Int32([1, 2, 3, 5, 8, 13][cx.rng.random_range(0..6)]));
    put_opt(&mut d, "estimatePoints", estimate, false);
    if !cx.legacy() || cx.chance(0.3) {
        let n = cx.between(0, 2) as usize;
        d.insert(
            "tags",
            text::words(&mut cx.rng, n)
                .split_whitespace()
                .collect::<Vec<_>>(),
        );
    }

    let labels = cx.pop.of_org(org, Labels);
    let k = cx.between(0, 3) as usize;
    let label_ids = if labels.is_empty() {
        Vec::new()
    } else {
        cx.pop.pick_distinct(Labels, labels, k, &mut cx.rng)
    };
    if !(cx.legacy() && label_ids.is_empty()) {
        d.insert("labelIds", cx.junction("task_labels", Labels, &label_ids));
    }
    let k = cx.between(0, 3) as usize;
    let mut watchers = vec![reporter];
    for w in cx.pop.pick_distinct(Users, users.clone(), k, &mut cx.rng) {
        if !watchers.contains(&w) {
            watchers.push(w);
        }
    }
    d.insert("watcherIds", cx.junction("task_watchers", Users, &watchers));
    let earlier = project_tasks.start..t.max(project_tasks.start);
    if !earlier.is_empty() && cx.chance(0.25) {
        let k = cx.between(1, 2) as usize;
        let blocked = cx.pop.pick_distinct(Tasks, earlier, k, &mut cx.rng);
        d.insert(
            "blockedBy",
            cx.junction("task_dependencies", Tasks, &blocked),
        );
    }

    let items = cx.between(0, 5) as u64;
    if items > 0 || !cx.legacy() {
        let mut checklist = Vec::new();
        for _ in 0..items {
            let assignee = cx
                .chance(0.3)
                .then(|| cx.pop.pick(Users, users.clone(), &mut cx.rng));
            let mut item =
                doc! { "text": text::sentence(&mut cx.rng, 2, 6), "done": cx.chance(0.5) };
            put_opt(
                &mut item,
                "assigneeId",
                assignee.map(|a| cx.reference(Users, a)),
                true,
            );
            checklist.push(Bson::Document(item));
        }
        cx.add_rows("task_checklist_items", items);
        d.insert("checklist", checklist);
    }
    let fields = cx.pop.of_org(org, CustomFields);
    if !fields.is_empty() && cx.chance(0.4) {
        let k = cx.between(1, 3) as usize;
        let chosen = cx.pop.pick_distinct(CustomFields, fields, k, &mut cx.rng);
        let mut values = Vec::new();
        for f in &chosen {
            let value = custom_value(cx, *f, created);
            values.push(Bson::Document(
                doc! { "fieldId": cx.reference(CustomFields, *f), "value": value },
            ));
        }
        cx.add_rows("task_custom_field_values", chosen.len() as u64);
        d.insert("customValues", values);
    }

    let due = if cx.chance(0.5) {
        let millis = created + cx.between(3, 60) * DAY;
        Some(cx.day_or_text(millis))
    } else {
        None
    };
    put_opt(&mut d, "dueDate", due, false);
    let completed = (status == "done").then(|| date(created + cx.between(1, 40) * DAY));
    put_opt(&mut d, "completedAt", completed, false);
    let created_value = cx.date_or_text(created);
    d.insert("createdAt", created_value);
    d.insert("updatedAt", date(created + cx.between(0, 60) * DAY));
    let deleted = cx.chance(0.02).then(|| date(created + 90 * DAY));
    put_opt(&mut d, "deletedAt", deleted, true);
    d
}

pub fn release(cx: &mut Cx<'_>) -> Document {
    let project = cx.pop.parent(Releases, cx.index, Projects);
    let milestones = cx.pop.milestones_of_project(project);
    let k = cx.between(1, 3) as usize;
    let chosen = cx.pop.pick_distinct(Milestones, milestones, k, &mut cx.rng);
    let created = cx.created_millis();
    let released = cx.chance(0.7);
    let mut d = doc! {
        "_id": cx.id(),
        "projectId": cx.reference(Projects, project),
        "version": format!("{}.{}.{}", cx.index % 4 + 1, cx.between(0, 30), cx.between(0, 9)),
    };
    let name = cx
        .chance(0.4)
        .then(|| Bson::String(format!("{} release", cx.choose(text::COMPANY_WORDS))));
    put_opt(&mut d, "name", name, true);
    let notes = cx
        .chance(0.6)
        .then(|| text::paragraph(&mut cx.rng, 4).into());
    put_opt(&mut d, "notes", notes, false);
    d.insert(
        "milestoneIds",
        cx.junction("release_milestones", Milestones, &chosen),
    );
    let released_at = released.then(|| date(created + cx.between(1, 30) * DAY));
    put_opt(&mut d, "releasedAt", released_at, false);
    d.insert("createdAt", date(created));
    d
}
