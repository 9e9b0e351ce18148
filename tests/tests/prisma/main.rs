//! A Prisma application's tables: created by the real Prisma CLI from `schema/schema.prisma`,
//! loaded with `--schema-mode existing` through the adaptations the check lists, and read back
//! through the generated Prisma Client (organizations with their users, a task's labels through
//! the implicit many-to-many, money as Decimal, dates, enums, the users' self-reference),
//! compared with the source documents. Then the whole example into the `schema.prisma` the
//! `prisma` command prints, every model counted through the client.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use bson::{oid::ObjectId, Bson, Document};
use migrator::pipeline::config::SchemaMode;
use migrator::report::Outcome;
use migrator::source::DumpSource;
use migrator_e2e::example;
use migrator_e2e::pg::TestDb;
use migrator_e2e::prisma::PrismaProject;
use schema::generator::FaultConfig;

mod support;

use support::{
    check_foreign_keys, decimal_text, documents, millis, oid, team_tables, uuid_of, Notes,
};

#[test]
fn a_prisma_client_reads_what_was_loaded_into_the_tables_prisma_made() {
    let dir = tempfile::tempdir().expect("temp dir");
    let generator = example::generator(
        7,
        0.05,
        FaultConfig {
            per_kind: 0,
            oversized: 0,
        },
    );
    let manifest = example::write_dump(&generator, dir.path());
    assert_eq!(manifest.rejections(), 0);

    let team_schema = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema/schema.prisma"),
    )
    .expect("schema/schema.prisma");
    let project = PrismaProject::new(&team_schema);
    let db = TestDb::create("prisma_team");
    let sql = project.create_tables(&db);
    assert!(sql.contains("CREATE TABLE \"_LabelToTask\""), "{sql}");

    let schema = schema::example::prisma::schema().expect("the Prisma edition's models");
    let mut config = db.config();
    config.schema_mode = SchemaMode::Existing;
    let notes = Arc::new(Notes::default());
    let source = Arc::new(DumpSource::open(dir.path()).expect("the dump opens"));
    let report = db
        .run_observed(&schema, source, config, notes.clone(), Arc::default())
        .unwrap_or_else(|e| panic!("the load into Prisma's tables failed: {e}"));
    assert_eq!(report.outcome, Outcome::Completed, "{report:?}");
    assert_eq!(
        db.dead_letters(),
        Vec::<[String; 6]>::new(),
        "nothing rejected"
    );
    let notes = notes.0.lock().expect("notes").join("\n");
    for adaptation in [
        "existing column `Task.id`: uuid written as its canonical text",
        "existing column `Task.createdAt`: timestamptz written as UTC into timestamp(3) without time zone (a finer value is a dead letter)",
        "existing column `Task.status`: labels of `task_status` written as enum type \"TaskStatus\"",
        "existing column `Task.priority`: labels of `task_priority` written as enum type \"TaskPriority\"",
        "existing column `Task.estimatePoints`: widened into bigint",
        "existing column `Task.dueDate`: timestamptz written as its UTC day into date (a time of day is a dead letter)",
        "existing column `Plan.monthlyPrice`: numeric into numeric(65,30)",
        "existing column `Project.budget`: numeric into numeric(14,2)",
        "existing column `Label.color`: text into character varying(7) (a longer value is a dead letter)",
        "existing column `_LabelToTask.A`: uuid written as its canonical text",
    ] {
        assert!(notes.contains(adaptation), "`{adaptation}` not listed in:\n{notes}");
        let reported = adaptation.trim_start_matches("existing column ");
        assert!(
            report.adaptations.iter().any(|a| a.starts_with(reported)),
            "`{reported}` not in the report: {:#?}",
            report.adaptations
        );
    }

    // Every document of the 26 collections loaded, the junctions' rows included.
    for (collection, table) in [
        ("plans", "Plan"),
        ("organizations", "Organization"),
        ("users", "User"),
        ("teams", "Team"),
        ("memberships", "Membership"),
        ("invitations", "Invitation"),
        ("api_keys", "ApiKey"),
        ("projects", "Project"),
        ("labels", "Label"),
        ("custom_fields", "CustomField"),
        ("milestones", "Milestone"),
        ("sprints", "Sprint"),
        ("tasks", "Task"),
        ("releases", "Release"),
        ("comments", "Comment"),
        ("attachments", "Attachment"),
        ("time_entries", "TimeEntry"),
        ("documents", "WikiDocument"),
        ("notifications", "Notification"),
        ("payment_methods", "PaymentMethod"),
        ("subscriptions", "Subscription"),
        ("invoices", "Invoice"),
        ("payments", "Payment"),
        ("audit_events", "AuditEvent"),
        ("webhooks", "Webhook"),
        ("integrations", "Integration"),
    ] {
        let docs = documents(dir.path(), collection).len() as i64;
        assert!(docs > 0, "{collection} has documents");
        assert_eq!(db.table_count(table), docs, "{table}");
    }
    let elements = |collection: &str, key: &str| -> i64 {
        documents(dir.path(), collection)
            .iter()
            .map(|d| d.get_array(key).map_or(0, |a| a.len() as i64))
            .sum()
    };
    for (table, collection, key) in [
        ("_TeamToUser", "teams", "memberIds"),
        ("_ProjectToUser", "projects", "memberIds"),
        ("_TaskToUser", "tasks", "watcherIds"),
        ("_InvitationToTeam", "invitations", "teamIds"),
        ("ReleaseMilestone", "releases", "milestoneIds"),
        ("TaskChecklistItem", "tasks", "checklist"),
        ("InvoiceLineItem", "invoices", "lineItems"),
        ("CommentReaction", "comments", "reactions"),
    ] {
        assert_eq!(db.table_count(table), elements(collection, key), "{table}");
    }
    let tasks = documents(dir.path(), "tasks");
    let links: i64 = tasks
        .iter()
        .map(|t| t.get_array("labelIds").map_or(0, |a| a.len() as i64))
        .sum();
    assert_eq!(db.table_count("Task"), tasks.len() as i64);
    assert_eq!(db.table_count("_LabelToTask"), links);

    // What the Prisma application reads.
    let organizations = documents(dir.path(), "organizations");
    let users = documents(dir.path(), "users");
    let plans = documents(dir.path(), "plans");
    let labels = documents(dir.path(), "labels");
    let projects = documents(dir.path(), "projects");
    let by_id = |docs: &[Document]| -> BTreeMap<ObjectId, Document> {
        docs.iter()
            .map(|d| (oid(d, "_id").expect("_id"), d.clone()))
            .collect()
    };
    let (users_by_id, labels_by_id, projects_by_id) =
        (by_id(&users), by_id(&labels), by_id(&projects));
    let org = organizations
        .iter()
        .find(|o| {
            users
                .iter()
                .filter(|u| oid(u, "organizationId") == oid(o, "_id"))
                .count()
                > 1
        })
        .expect("an organization with users");
    let task = tasks
        .iter()
        .find(|t| {
            t.get_array("labelIds").is_ok_and(|a| a.len() > 1)
                && millis(t.get("createdAt").unwrap_or(&Bson::Null)).is_some()
                && millis(t.get("dueDate").unwrap_or(&Bson::Null)).is_some()
                && projects_by_id[&oid(t, "projectId").expect("projectId")]
                    .get("budget")
                    .is_some_and(|b| *b != Bson::Null)
        })
        .expect("a task with labels, a date and a budgeted project");
    let user = users
        .iter()
        .find(|u| oid(u, "managerId").is_some_and(|m| users_by_id.contains_key(&m)))
        .expect("a user with a manager");
    let read = project.read(
        &db,
        &[
            "team",
            &uuid_of(&oid(org, "_id").expect("_id")),
            &uuid_of(&oid(task, "_id").expect("_id")),
            &uuid_of(&oid(user, "_id").expect("_id")),
        ],
    );

    let plan = plans
        .iter()
        .find(|p| p.get_str("code").ok() == org.get_str("planCode").ok())
        .expect("the organization's plan");
    let mut emails: Vec<&str> = users
        .iter()
        .filter(|u| oid(u, "organizationId") == oid(org, "_id"))
        .map(|u| u.get_str("email").expect("email"))
        .collect();
    emails.sort_unstable();
    let owner = &users_by_id[&oid(org, "ownerId").expect("ownerId")];
    let mut label_names: Vec<&str> = task
        .get_array("labelIds")
        .expect("labelIds")
        .iter()
        .map(|l| {
            labels_by_id[&l.as_object_id().expect("an ObjectId")]
                .get_str("name")
                .expect("name")
        })
        .collect();
    label_names.sort_unstable();
    let budget = &projects_by_id[&oid(task, "projectId").expect("projectId")]["budget"];
    let manager = &users_by_id[&oid(user, "managerId").expect("managerId")];
    let mut reports: Vec<String> = users
        .iter()
        .filter(|u| oid(u, "managerId") == oid(manager, "_id"))
        .map(|u| uuid_of(&oid(u, "_id").expect("_id")))
        .collect();
    reports.sort();
    let updated = millis(&task["updatedAt"]).expect("tasks have updatedAt");
    let expected = serde_json::json!({
        "organization": {
            "name": org.get_str("name").expect("name"),
            "slug": org.get_str("slug").expect("slug"),
            "owner": owner.get_str("email").expect("email"),
            "users": emails,
            "plan": {
                "code": plan.get_str("code").expect("code"),
                "tier": plan.get_str("tier").expect("tier"),
                "monthlyPrice": { "decimal": true, "text": decimal_text(&plan["monthlyPrice"]) },
            },
            "createdAt": { "date": true, "millis": millis(&org["createdAt"]) },
        },
        "task": {
            "title": task.get_str("title").expect("title"),
            "status": task.get_str("status").expect("status"),
            "priority": task.get_str("priority").expect("priority"),
            "labels": label_names,
            "createdAt": { "date": true, "millis": millis(&task["createdAt"]) },
            "updatedAt": { "date": true, "millis": updated },
            "dueDate": { "date": true, "millis": millis(&task["dueDate"]) },
            "estimatePoints": task.get("estimatePoints").and_then(|p| match p {
                Bson::Int32(n) => Some(n.to_string()),
                _ => None,
            }),
            "budget": { "decimal": true, "text": decimal_text(budget) },
        },
        "user": {
            "email": user.get_str("email").expect("email"),
            "manager": manager.get_str("email").expect("email"),
            "managerReports": reports,
        },
    });
    assert_eq!(
        read, expected,
        "what Prisma Client reads differs from the source documents"
    );

    // `validate` writes the expected rows through the same adaptations: every document
    // compared, nothing differs; then a changed amount and a lost label link are caught.
    let source = DumpSource::open(dir.path()).expect("the dump opens");
    let report = example::validate(&db, &schema, &source, 1_000_000);
    assert!(report.passed(), "{:#?}", report.problems());
    let compared: u64 = report.collections.iter().map(|c| c.sampled_documents).sum();
    assert!(
        compared as usize >= tasks.len(),
        "{compared} documents compared"
    );
    let task_id = uuid_of(&oid(task, "_id").expect("_id"));
    let project_id = uuid_of(&oid(task, "projectId").expect("projectId"));
    let mut conn = db.connect();
    db.block_on(migrator::sink::ddl::execute_all(
        &mut conn,
        "change the target",
        &[
            format!("UPDATE \"Project\" SET budget = budget + 0.01 WHERE id = '{project_id}'"),
            format!("DELETE FROM \"_LabelToTask\" WHERE ctid = (SELECT ctid FROM \"_LabelToTask\" WHERE \"B\" = '{task_id}' LIMIT 1)"),
        ],
    ))
    .expect("the target is changed");
    let report = example::validate(&db, &schema, &source, 1_000_000);
    assert!(!report.passed());
    let found: Vec<(String, Option<String>)> = report
        .collections
        .iter()
        .flat_map(|c| &c.mismatches)
        .map(|m| (m.table.clone(), m.column.clone()))
        .collect();
    assert_eq!(
        found,
        [
            ("Project".to_string(), Some("budget".to_string())),
            ("_LabelToTask".to_string(), None)
        ],
        "{:#?}",
        report.problems()
    );
}

#[test]
fn the_whole_example_loads_into_the_schema_the_prisma_command_prints() {
    let dir = tempfile::tempdir().expect("temp dir");
    let generator = example::generator(
        11,
        0.03,
        FaultConfig {
            per_kind: 0,
            oversized: 0,
        },
    );
    example::write_dump(&generator, dir.path());
    let schema = example::schema();
    let printed = migrator::prisma::schema_prisma(&schema);
    let project = PrismaProject::new(&printed);
    let db = TestDb::create("prisma_printed");
    project.create_tables(&db);

    let mut config = db.config();
    config.schema_mode = SchemaMode::Existing;
    let notes = Arc::new(Notes::default());
    let source = Arc::new(DumpSource::open(dir.path()).expect("the dump opens"));
    let report = db
        .run_observed(&schema, source, config, notes.clone(), Arc::default())
        .unwrap_or_else(|e| panic!("the load into the printed schema's tables failed: {e}"));
    assert_eq!(report.outcome, Outcome::Completed, "{report:?}");
    let notes = notes.0.lock().expect("notes");
    let adapted: Vec<&String> = notes
        .iter()
        .filter(|n| n.starts_with("existing column"))
        .collect();
    // Text enums become Prisma enums; every other column is the type the model writes.
    assert!(
        adapted.iter().all(|n| n.contains("written as enum type")),
        "{adapted:#?}"
    );

    let counts = project.read(&db, &["counts"]);
    let counts = counts.as_object().expect("counts by table");
    let tables = db.table_counts();
    let mut checked = 0;
    for (table, rows) in &tables {
        if table.starts_with('_') {
            continue;
        }
        assert_eq!(
            counts.get(table).and_then(|c| c.as_i64()),
            Some(*rows),
            "{table}"
        );
        checked += 1;
    }
    assert!(
        checked >= 40,
        "{checked} tables read through the client: {counts:?}"
    );
}

#[test]
fn values_the_existing_columns_would_round_are_dead_letters_naming_the_field() {
    let dir = tempfile::tempdir().expect("temp dir");
    let generator = example::generator(
        5,
        0.03,
        FaultConfig {
            per_kind: 0,
            oversized: 0,
        },
    );
    example::write_dump(&generator, dir.path());
    let team_schema = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema/schema.prisma"),
    )
    .expect("schema/schema.prisma");
    let project = PrismaProject::new(&team_schema);
    let db = TestDb::create("prisma_refused");
    project.create_tables(&db);
    // Whole seconds only: a task created at a millisecond other than 0 would be rounded; a
    // day only: a task completed at a time of day would lose it.
    let mut conn = db.connect();
    db.block_on(migrator::sink::ddl::execute_all(
        &mut conn,
        "narrow columns",
        &[
            "ALTER TABLE \"Task\" ALTER COLUMN \"createdAt\" TYPE timestamp(0)".to_string(),
            "ALTER TABLE \"Task\" ALTER COLUMN \"completedAt\" TYPE date".to_string(),
        ],
    ))
    .expect("the columns are narrowed");

    let schema = schema::example::prisma::schema().expect("the Prisma edition's models");
    let mut config = db.config();
    config.schema_mode = SchemaMode::Existing;
    let source = Arc::new(DumpSource::open(dir.path()).expect("the dump opens"));
    let report = db
        .run(&schema, source, config)
        .unwrap_or_else(|e| panic!("the load failed: {e}"));
    assert_eq!(report.outcome, Outcome::Completed, "{report:?}");

    let tasks = documents(dir.path(), "tasks");
    let letters = db.dead_letters();
    let fractional = tasks
        .iter()
        .filter(|t| millis(&t["createdAt"]).is_some_and(|ms| ms % 1000 != 0))
        .count();
    assert!(
        fractional > 0,
        "the data has tasks created at a fraction of a second"
    );
    let completed = tasks
        .iter()
        .filter(|t| millis(t.get("completedAt").unwrap_or(&Bson::Null)).is_some())
        .count();
    assert!(completed > 0, "the data has completed tasks");
    assert!(letters.len() >= fractional, "{letters:#?}");
    let rounded = "timestamp(0) keeps 0 decimal places of seconds; the value would be rounded";
    let day = "a date keeps the day only; the value has a time of day (UTC) that would be lost";
    // The refused tasks' comments, attachments and time entries go with them (their foreign
    // keys); every other dead letter is a task's rounded value.
    let (letters, cascaded): (Vec<_>, Vec<_>) = letters
        .into_iter()
        .partition(|l| l[4] != "rejected_reference");
    assert!(
        cascaded
            .iter()
            .all(|l| ["comments", "attachments", "time_entries"].contains(&l[0].as_str())),
        "{cascaded:#?}"
    );
    for [collection, _, _, field, class, message] in &letters {
        assert_eq!(
            (collection.as_str(), class.as_str()),
            ("tasks", "out_of_range")
        );
        assert!(
            (field.contains("createdAt") && message.contains(rounded))
                || (field.contains("completedAt") && message.contains(day)),
            "{field}: {message}"
        );
    }
    assert!(
        letters.iter().any(|l| l[3] == "completedAt"),
        "{letters:#?}"
    );
    assert_eq!(db.table_count("Task") as usize + letters.len(), tasks.len());
}

#[test]
fn a_rejection_cascades_through_the_foreign_keys_prisma_made() {
    let dir = tempfile::tempdir().expect("temp dir");
    let generator = example::generator(
        5,
        0.03,
        FaultConfig {
            per_kind: 0,
            oversized: 0,
        },
    );
    example::write_dump(&generator, dir.path());
    let (project, db) = team_tables("prisma_cascade");
    // Budgets up to 99,999.99 only: a project with a larger one is refused, and its
    // milestones, sprints and tasks (whose foreign keys Prisma made) go with it.
    let mut conn = db.connect();
    db.block_on(migrator::sink::ddl::execute_all(
        &mut conn,
        "narrow a column",
        &["ALTER TABLE \"Project\" ALTER COLUMN \"budget\" TYPE numeric(7, 2)".to_string()],
    ))
    .expect("the column is narrowed");

    let schema = schema::example::prisma::schema().expect("the Prisma edition's models");
    let mut config = db.config();
    config.schema_mode = SchemaMode::Existing;
    let source = Arc::new(DumpSource::open(dir.path()).expect("the dump opens"));
    let report = db
        .run(&schema, source, config)
        .unwrap_or_else(|e| panic!("the load failed: {e}"));
    assert_eq!(report.outcome, Outcome::Completed, "{report:?}");

    let projects = documents(dir.path(), "projects");
    let refused: Vec<ObjectId> = projects
        .iter()
        .filter(|p| match p.get("budget") {
            Some(Bson::Decimal128(d)) => {
                d.to_string().parse::<f64>().expect("a number") >= 100_000.0
            }
            _ => false,
        })
        .map(|p| oid(p, "_id").expect("_id"))
        .collect();
    assert!(
        !refused.is_empty(),
        "the data has projects with large budgets"
    );
    let milestones: Vec<ObjectId> = documents(dir.path(), "milestones")
        .iter()
        .filter(|m| oid(m, "projectId").is_some_and(|p| refused.contains(&p)))
        .map(|m| oid(m, "_id").expect("_id"))
        .collect();
    assert!(!milestones.is_empty(), "refused projects have milestones");

    let letters = db.dead_letters();
    let of = |collection: &str, class: &str| {
        letters
            .iter()
            .filter(|l| l[0] == collection && l[4] == class)
            .count()
    };
    assert_eq!(
        of("projects", "out_of_range"),
        refused.len(),
        "{letters:#?}"
    );
    assert_eq!(
        of("milestones", "rejected_reference"),
        milestones.len(),
        "{letters:#?}"
    );
    assert!(of("sprints", "rejected_reference") > 0, "{letters:#?}");
    assert!(of("tasks", "rejected_reference") > 0, "{letters:#?}");
    assert_eq!(
        db.table_count("Project") as usize + refused.len(),
        projects.len()
    );
    for id in &milestones {
        assert_eq!(
            db.count(&format!(
                "SELECT id FROM \"Milestone\" WHERE id = '{}'",
                uuid_of(id)
            )),
            0
        );
    }
    assert!(check_foreign_keys(&db) >= 20);
    // The application still reads every model.
    let counts = project.read(&db, &["counts"]);
    assert_eq!(
        counts["Milestone"].as_i64(),
        Some(db.table_count("Milestone")),
        "{counts}"
    );
}
