//! comments, attachments, time_entries, documents, notifications.

use migrator::bson::{doc, spec::BinarySubtype, Binary, Bson, Document};
use rand::Rng;

use super::{date, money, put_opt, Cx, DAY};
use crate::generator::collection::Collection::*;
use crate::generator::text;

pub fn comment(cx: &mut Cx<'_>) -> Document {
    let c = cx.index;
    let task = cx.pop.task_of_comment(c);
    let org = cx.pop.org_of_task(task);
    let users = cx.pop.users_of_org(org);
    let thread = cx.pop.comments_of_task(task);
    let author = cx.pop.pick(Users, users.clone(), &mut cx.rng);
    let parent = (c > thread.start && thread.contains(&c) && cx.chance(0.3))
        .then(|| cx.pop.pick(Comments, thread.start..c, &mut cx.rng));
    let created = cx.created_millis();
    let mut d = doc! {
        "_id": cx.id(),
        "taskId": cx.reference(Tasks, task),
        "authorId": cx.reference(Users, author),
    };
    put_opt(
        &mut d,
        "parentId",
        parent.map(|p| cx.reference(Comments, p)),
        true,
    );
    let sentences = cx.between(1, 4) as usize;
    d.insert("body", text::paragraph(&mut cx.rng, sentences));
    let k = cx.between(0, 2) as usize;
    let mentions = if k == 0 {
        Vec::new()
    } else {
        cx.pop.pick_distinct(Users, users.clone(), k, &mut cx.rng)
    };
    if !mentions.is_empty() || !cx.legacy() {
        d.insert(
            "mentionIds",
            cx.junction("comment_mentions", Users, &mentions),
        );
    }
    let n = if cx.chance(0.4) {
        cx.between(1, 3) as u64
    } else {
        0
    };
    if n > 0 {
        let mut reactions = Vec::new();
        for _ in 0..n {
            let user = cx.pop.pick(Users, users.clone(), &mut cx.rng);
            reactions.push(Bson::Document(doc! {
                "userId": cx.reference(Users, user),
                "emoji": cx.choose(text::EMOJI),
                "reactedAt": date(created + cx.between(1, 3_000) * 60_000),
            }));
        }
        cx.add_rows("comment_reactions", n);
        d.insert("reactions", reactions);
    }
    let edited = cx
        .chance(0.15)
        .then(|| date(created + cx.between(1, 600) * 60_000));
    put_opt(&mut d, "editedAt", edited, true);
    d.insert("createdAt", date(created));
    let deleted = cx.chance(0.03).then(|| date(created + 2 * DAY));
    put_opt(&mut d, "deletedAt", deleted, true);
    d
}

/// (extension, content type, is an image).
const FILE_TYPES: &[(&str, &str, bool)] = &[
    ("png", "image/png", true),
    ("jpg", "image/jpeg", true),
    ("pdf", "application/pdf", false),
    ("csv", "text/csv", false),
    ("zip", "application/zip", false),
    ("mp4", "video/mp4", false),
];

pub fn attachment(cx: &mut Cx<'_>) -> Document {
    let comment = cx.pop.parent(Attachments, cx.index, Comments);
    let task = cx.pop.task_of_comment(comment);
    let org = cx.pop.org_of_task(task);
    let users = cx.pop.users_of_org(org);
    let uploader = cx.pop.pick(Users, users, &mut cx.rng);
    let (ext, content_type, image) = FILE_TYPES[cx.rng.random_range(0..FILE_TYPES.len())];
    let created = cx.created_millis();
    let name = text::words(&mut cx.rng, 2).replace(' ', "-");
    let checksum: Vec<u8> = (0..16).map(|_| cx.rng.random()).collect();
    let mut d = doc! {
        "_id": cx.id(),
        "taskId": cx.reference(Tasks, task),
        "commentId": cx.reference(Comments, comment),
        "uploadedBy": cx.reference(Users, uploader),
        "fileName": format!("{name}.{ext}"),
        "contentType": content_type,
        "sizeBytes": cx.between(200, 3_000_000_000),
        "checksum": Binary { subtype: BinarySubtype::Md5, bytes: checksum },
        "storageKey": format!("orgs/{org}/attachments/{}", cx.id().to_hex()),
    };
    if image {
        let len = cx.between(32, 256) as usize;
        let bytes: Vec<u8> = (0..len).map(|_| cx.rng.random()).collect();
        d.insert(
            "thumbnail",
            Binary {
                subtype: BinarySubtype::Generic,
                bytes,
            },
        );
        let (w, h) = (cx.between(64, 4096), cx.between(64, 4096));
        d.insert(
            "metadata",
            doc! { "width": w, "height": h, "exif": { "camera": null } },
        );
    }
    d.insert("createdAt", date(created));
    let deleted = cx.chance(0.02).then(|| date(created + 30 * DAY));
    put_opt(&mut d, "deletedAt", deleted, true);
    d
}

pub fn time_entry(cx: &mut Cx<'_>) -> Document {
    let task = cx.pop.parent(TimeEntries, cx.index, Tasks);
    let org = cx.pop.org_of_task(task);
    let users = cx.pop.users_of_org(org);
    let user = cx.pop.pick(Users, users, &mut cx.rng);
    let created = cx.created_millis();
    let started = created - cx.between(1, 600) * 60_000;
    let started_value = cx.date_or_text(started);
    let billable = cx.chance(0.6);
    let mut d = doc! {
        "_id": cx.id(),
        "taskId": cx.reference(Tasks, task),
        "userId": cx.reference(Users, user),
        "startedAt": started_value,
        "minutes": cx.between(5, 480) as i32,
        "billable": billable,
    };
    let rate = billable.then(|| money(cx.between(40, 250) * 100).into());
    put_opt(&mut d, "hourlyRate", rate, true);
    let note = cx
        .chance(0.5)
        .then(|| text::sentence(&mut cx.rng, 2, 8).into());
    put_opt(&mut d, "note", note, false);
    d.insert("createdAt", date(created));
    d
}

pub fn document(cx: &mut Cx<'_>) -> Document {
    let i = cx.index;
    let project = cx.pop.parent(Documents, i, Projects);
    let org = cx.pop.org_of_project(project);
    let users = cx.pop.users_of_org(org);
    let siblings = cx.pop.children_of(Projects, project, Documents);
    let parent = (i > siblings.start && siblings.contains(&i) && cx.chance(0.3))
        .then(|| cx.pop.pick(Documents, siblings.start..i, &mut cx.rng));
    let author = cx.pop.pick(Users, users.clone(), &mut cx.rng);
    let created = cx.created_millis();
    let title = format!(
        "{} {}",
        cx.choose(&["Runbook:", "RFC:", "Guide:", "Notes:", "Spec:"]),
        text::words(&mut cx.rng, 3)
    );
    let mut d = doc! {
        "_id": cx.id(),
        "projectId": cx.reference(Projects, project),
    };
    put_opt(
        &mut d,
        "parentId",
        parent.map(|p| cx.reference(Documents, p)),
        true,
    );
    d.insert("authorId", cx.reference(Users, author));
    d.insert("slug", format!("{}-{i}", text::slug(&title)));
    d.insert("title", title);
    let sections = cx.between(1, 4) as usize;
    let mut body = String::new();
    for _ in 0..sections {
        body.push_str("## ");
        body.push_str(&text::words(&mut cx.rng, 3));
        body.push_str("\n\n");
        body.push_str(&text::paragraph(&mut cx.rng, 3));
        body.push_str("\n\n");
    }
    d.insert("body", body);
    if cx.chance(0.6) {
        let blocks: Vec<Bson> = (0..sections)
            .map(|_| {
                Bson::Document(
                    doc! { "type": "paragraph", "text": text::sentence(&mut cx.rng, 4, 12) },
                )
            })
            .collect();
        d.insert(
            "content",
            doc! { "type": "doc", "version": 2, "blocks": blocks },
        );
    }
    let k = cx.between(0, 3) as usize;
    let mut contributors = vec![author];
    for u in cx.pop.pick_distinct(Users, users.clone(), k, &mut cx.rng) {
        if !contributors.contains(&u) {
            contributors.push(u);
        }
    }
    d.insert(
        "contributorIds",
        cx.junction("document_contributors", Users, &contributors),
    );
    let n = cx.between(0, 4) as u64;
    if n > 0 {
        let mut revisions = Vec::new();
        for r in 0..n {
            let by = contributors[(r as usize) % contributors.len()];
            let mut rev = doc! { "number": r as i32 + 1, "authorId": cx.reference(Users, by) };
            let summary = cx
                .chance(0.5)
                .then(|| text::sentence(&mut cx.rng, 2, 6).into());
            put_opt(&mut rev, "summary", summary, true);
            rev.insert("createdAt", date(created + (r as i64 + 1) * DAY));
            revisions.push(Bson::Document(rev));
        }
        cx.add_rows("document_revisions", n);
        d.insert("revisions", revisions);
    }
    d.insert("published", cx.chance(0.7));
    d.insert("createdAt", date(created));
    d.insert("updatedAt", date(created + (n as i64 + 1) * DAY));
    let deleted = cx.chance(0.03).then(|| date(created + 100 * DAY));
    put_opt(&mut d, "deletedAt", deleted, true);
    d
}

const KINDS: &[&str] = &[
    "mention",
    "assignment",
    "comment",
    "due_soon",
    "status_change",
];

pub fn notification(cx: &mut Cx<'_>) -> Document {
    let user = cx.pop.parent(Notifications, cx.index, Users);
    let org = cx.pop.org_of(Users, user);
    let kind = cx.choose(KINDS);
    let projects = cx.pop.projects_of_org(org);
    let task = if projects.is_empty() {
        None
    } else {
        let project = cx.pop.pick(Projects, projects, &mut cx.rng);
        let tasks = cx.pop.tasks_of_project(project);
        (!tasks.is_empty()).then(|| cx.pop.pick(Tasks, tasks, &mut cx.rng))
    };
    let comment = match task {
        Some(t) if kind == "mention" || kind == "comment" => {
            let thread = cx.pop.comments_of_task(t);
            (!thread.is_empty()).then(|| cx.pop.pick(Comments, thread, &mut cx.rng))
        }
        _ => None,
    };
    let attachment = comment.and_then(|c| {
        let files = cx.pop.children_of(Comments, c, Attachments);
        (!files.is_empty()).then(|| cx.pop.pick(Attachments, files, &mut cx.rng))
    });
    let created = cx.created_millis();
    let mut d = doc! {
        "_id": cx.id(),
        "userId": cx.reference(Users, user),
        "kind": kind,
        "channel": cx.choose(&["in_app", "in_app", "email", "slack"]),
    };
    put_opt(
        &mut d,
        "taskId",
        task.map(|t| cx.reference(Tasks, t)),
        false,
    );
    put_opt(
        &mut d,
        "commentId",
        comment.map(|c| cx.reference(Comments, c)),
        true,
    );
    put_opt(
        &mut d,
        "attachmentId",
        attachment.map(|a| cx.reference(Attachments, a)),
        true,
    );
    d.insert(
        "payload",
        doc! { "title": text::sentence(&mut cx.rng, 3, 7), "url": format!("/notifications/{}", cx.index) },
    );
    let read = cx
        .chance(0.6)
        .then(|| date(created + cx.between(1, 4_000) * 60_000));
    put_opt(&mut d, "readAt", read, false);
    d.insert("createdAt", date(created));
    d
}
