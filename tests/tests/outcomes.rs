//! Honest outcomes: rejected documents change the exit code unless accepted, a finished run
//! found finished writes nothing, a rejection caused by another one names its root (through a
//! primary or a natural key), and dangling references are counted exactly, the same by `migrate`
//! and `validate`.

use std::path::Path;
use std::sync::Arc;

use bson::{doc, Document};
use migrator::report::Outcome;
use migrator::source::DumpSource;
use migrator::state::StateStore;
use migrator::{Migrate, Schema};
use migrator_e2e::cli::{Cli, SchemaChoice};
use migrator_e2e::data::Dataset;
use migrator_e2e::fixture::{self, docs_mut};
use migrator_e2e::pg::{TestDb, STATE, TARGET};

const BIN: &str = env!("CARGO_BIN_EXE_e2e-migrate");

fn dump(data: Vec<(&'static str, Vec<Document>)>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    Dataset::from_documents(data).write_dump(dir.path());
    dir
}

fn migrate_args<'a>(dir: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "migrate",
        "--source",
        dir.to_str().expect("a UTF-8 temp path"),
        "--batch-size",
        "7",
    ];
    args.extend_from_slice(extra);
    args
}

/// Every document of the fixture fails its model (or references one that does): the run
/// completes, says that nothing landed, and exits with the documented code for rejections.
#[test]
fn a_run_rejecting_everything_exits_6() {
    let db = TestDb::create("outcomes_all_rejected");
    let mut data = fixture::clean();
    for (collection, key) in [
        ("customers", "name"),
        ("coupons", "code"),
        ("products", "price"),
        ("orders", "status"),
        ("shipments", "carrier"),
    ] {
        for d in docs_mut(&mut data, collection) {
            d.remove(key);
        }
    }
    let dir = dump(data);
    let cli = Cli::new(BIN, SchemaChoice::Fixture, db.url());
    let run = cli.run(&migrate_args(dir.path(), &[]));
    run.expect_code(6);
    assert!(
        run.stdout.contains("Migration completed in")
            && run
                .stdout
                .contains("75 documents read: 0 landed, 75 rejected"),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains("--accept-rejected 75"),
        "the message says how to accept them: {}",
        run.stderr
    );
    assert_eq!(db.count(&format!("SELECT 1 FROM {STATE}.dead_letters")), 75);
}

/// Three bad customers among 78 documents: exit 6 by default, 0 when that many (or that share)
/// are accepted. Run again on the finished target, it says it is complete, in human and JSON
/// output (JSON only), and writes nothing: no row of the target or of the state changes (a
/// dead-letter file left short by a kill is brought back to the table's letters).
#[test]
fn accepted_rejections_exit_0_and_a_finished_run_writes_nothing() {
    let db = TestDb::create("outcomes_accepted");
    let mut data = fixture::clean();
    for i in 0..3 {
        docs_mut(&mut data, "customers").push(doc! {"_id": 100 + i, "email": format!("x{i}@y")});
    }
    let dir = dump(data);
    let cli = Cli::new(BIN, SchemaChoice::Fixture, db.url());
    let first = cli.run(&migrate_args(dir.path(), &["--accept-rejected", "5%"]));
    first.expect_code(0);
    assert!(
        first
            .stdout
            .contains("78 documents read: 75 landed, 3 rejected; 159 rows."),
        "{}",
        first.stdout
    );
    let versions = || {
        let tables = ["customers", "orders", "order_lines", "order_products"].map(|t| {
            format!("(SELECT string_agg(xmin::text, ',' ORDER BY ctid) FROM {TARGET}.{t})")
        });
        let state = ["run", "checkpoints", "dead_letters", "table_rows"].map(|t| {
            format!("(SELECT string_agg(xmin::text, ',' ORDER BY ctid) FROM {STATE}.{t})")
        });
        db.scalar(&format!(
            "SELECT concat_ws('|', {}, {})",
            tables.join(", "),
            state.join(", ")
        ))
        .expect("row versions")
    };
    let before = versions();

    let again = cli.run(&migrate_args(dir.path(), &["--accept-rejected", "3"]));
    again.expect_code(0);
    assert!(
        again.stdout.contains("Already complete")
            && again.stdout.contains("nothing was done or written")
            && again.stdout.contains("75 landed, 3 rejected"),
        "{}",
        again.stdout
    );
    let json = cli.run(&migrate_args(
        dir.path(),
        &["--json", "--accept-rejected", "3"],
    ));
    json.expect_code(0);
    let report: serde_json::Value = serde_json::from_str(&json.stdout)
        .unwrap_or_else(|e| panic!("stdout is one JSON document ({e}):\n{}", json.stdout));
    assert_eq!(report["outcome"], "already_complete");
    // A kill after the state said `done` and before the dead-letter file was written leaves the
    // file short: the finished run found finished brings it back to the table's letters.
    let file = cli.dir().join("migrator-dead-letters.jsonl");
    let full = std::fs::read_to_string(&file).expect("the dead-letter file");
    assert_eq!(full.lines().count(), 3, "{full}");
    let first_line = full.lines().next().expect("a line");
    std::fs::write(&file, format!("{first_line}\n")).expect("shorten the file");
    cli.run(&migrate_args(dir.path(), &["--accept-rejected", "3"]))
        .expect_code(0);
    assert_eq!(
        std::fs::read_to_string(&file).expect("the dead-letter file"),
        full,
        "the finished run restores the dead-letter file from the table"
    );
    // The finished run's rejections still count against what is accepted.
    let strict = cli.run(&migrate_args(dir.path(), &["--accept-rejected", "2"]));
    strict.expect_code(6);
    let share = cli.run(&migrate_args(dir.path(), &["--accept-rejected", "2%"]));
    share.expect_code(6);
    assert_eq!(
        versions(),
        before,
        "a finished run found finished writes nothing"
    );

    // A dry run's JSON is JSON only too.
    let dry = cli.run(&migrate_args(dir.path(), &["--dry-run", "--json"]));
    dry.expect_code(0);
    serde_json::from_str::<serde_json::Value>(&dry.stdout)
        .unwrap_or_else(|e| panic!("dry-run stdout is one JSON document ({e}):\n{}", dry.stdout));
}

#[derive(Debug, Migrate)]
#[migrate(collection = "staff")]
struct Staff {
    #[migrate(id)]
    id: i32,
    name: String,
    #[migrate(references = Staff)]
    manager_id: Option<i32>,
}

/// An old dump may lack it: declared as possibly absent.
#[derive(Debug, Migrate)]
#[migrate(collection = "assignments", optional)]
struct Assignment {
    #[migrate(id)]
    id: i32,
    #[migrate(references = Staff)]
    staff_id: i32,
}

fn staff_schema() -> Schema {
    migrator::schema![Staff, Assignment].expect("the staff schema")
}

/// Staff 1's manager does not exist: staff 1 keeps that reason; staff 2 (managed by 1), staff 3
/// (managed by 2) and an assignment of staff 3 are rejected as a cascade naming staff 1.
#[test]
fn rejections_caused_by_a_rejected_document_name_the_root() {
    let db = TestDb::create("outcomes_cascade");
    let dir = dump(vec![
        (
            "staff",
            vec![
                doc! {"_id": 1, "name": "a", "manager_id": 999},
                doc! {"_id": 2, "name": "b", "manager_id": 1},
                doc! {"_id": 3, "name": "c", "manager_id": 2},
                doc! {"_id": 4, "name": "d"},
            ],
        ),
        (
            "assignments",
            vec![
                doc! {"_id": 1, "staff_id": 3},
                doc! {"_id": 2, "staff_id": 4},
            ],
        ),
    ]);
    let source = Arc::new(DumpSource::open(dir.path()).expect("the dump opens"));
    let report = db
        .run(&staff_schema(), source, db.config())
        .expect("the run completes");
    assert_eq!(report.outcome, Outcome::Completed);
    assert_eq!(
        letter_classes(&db),
        [
            ["assignments", "1", "rejected_reference", "1"],
            ["staff", "1", "missing_reference", "-"],
            ["staff", "2", "rejected_reference", "1"],
            ["staff", "3", "rejected_reference", "1"],
        ]
        .map(|r| r.map(str::to_string).to_vec())
    );
    assert_eq!(db.table_count("staff"), 1);
    assert_eq!(db.table_count("assignments"), 1);
    let groups: Vec<(String, u64)> = report
        .error_groups
        .iter()
        .map(|g| (format!("{}.{}", g.collection, g.class), g.count))
        .collect();
    assert!(
        groups.contains(&("staff.rejected_reference".into(), 2))
            && groups.contains(&("staff.missing_reference".into(), 1)),
        "root causes and cascades are separate groups: {groups:?}"
    );
}

/// Collection, `_id`, class and root of every dead letter.
fn letter_classes(db: &TestDb) -> Vec<Vec<String>> {
    db.rows(&format!(
        "SELECT collection, document_id, class, coalesce(root_id, '-') FROM {STATE}.dead_letters \
         ORDER BY collection, document_id"
    ))
    .into_iter()
    .map(|r| r.into_iter().map(Option::unwrap_or_default).collect())
    .collect()
}

/// Teams referenced by their unique `code`, a natural key.
#[derive(Debug, Migrate)]
#[migrate(collection = "teams")]
struct Team {
    #[migrate(id)]
    id: i32,
    #[migrate(unique)]
    code: String,
    size: i32,
    #[migrate(references = Team, key = "code")]
    parent_code: Option<String>,
}

#[derive(Debug, Migrate)]
#[migrate(collection = "members")]
struct Member {
    #[migrate(id)]
    id: i32,
    #[migrate(references = Team, key = "code")]
    team_code: String,
}

/// The cascade through a natural key: team `root`'s parent does not exist, so `mid` (under
/// `root`), `leaf` (under `mid`) and a member of `leaf` are rejected naming team 1; team 5 fails
/// its model (`size` is text), and the member of its code names team 5; a member of a code no
/// team has is the member's own reason.
#[test]
fn rejections_caused_through_a_natural_key_name_the_root() {
    let db = TestDb::create("outcomes_cascade_natural");
    let dir = dump(vec![
        (
            "teams",
            vec![
                doc! {"_id": 1, "code": "root", "size": 1, "parent_code": "ghost"},
                doc! {"_id": 2, "code": "mid", "size": 1, "parent_code": "root"},
                doc! {"_id": 3, "code": "leaf", "size": 1, "parent_code": "mid"},
                doc! {"_id": 4, "code": "solo", "size": 1},
                doc! {"_id": 5, "code": "bad", "size": "large"},
            ],
        ),
        (
            "members",
            vec![
                doc! {"_id": 1, "team_code": "leaf"},
                doc! {"_id": 2, "team_code": "solo"},
                doc! {"_id": 3, "team_code": "bad"},
                doc! {"_id": 4, "team_code": "nobody"},
            ],
        ),
    ]);
    let schema = migrator::schema![Team, Member].expect("the teams schema");
    let source = Arc::new(DumpSource::open(dir.path()).expect("the dump opens"));
    let report = db
        .run(&schema, source, db.config())
        .expect("the run completes");
    assert_eq!(report.outcome, Outcome::Completed);
    let letters = letter_classes(&db);
    let (transform, rest): (Vec<_>, Vec<_>) = letters
        .into_iter()
        .partition(|l| l[0] == "teams" && l[1] == "5");
    assert_eq!(transform.len(), 1, "{transform:?}");
    assert_ne!(transform[0][2], "rejected_reference", "{transform:?}");
    assert_eq!(
        rest,
        [
            ["members", "1", "rejected_reference", "1"],
            ["members", "3", "rejected_reference", "5"],
            ["members", "4", "missing_reference", "-"],
            ["teams", "1", "missing_reference", "-"],
            ["teams", "2", "rejected_reference", "1"],
            ["teams", "3", "rejected_reference", "1"],
        ]
        .map(|r| r.map(str::to_string).to_vec())
    );
    assert_eq!(db.table_count("teams"), 1);
    assert_eq!(db.table_count("members"), 1);
}

/// 12,000 orders whose `referrer` (kept when it dangles) points at 5,000 distinct unknown
/// emails: the run counts every row, not the first 10,000, with the distinct values; validate
/// counts the same rows; the detail kept in `reference_issues` stays bounded.
#[test]
fn dangling_references_are_counted_exactly_above_10000() {
    let db = TestDb::create("outcomes_exact_counts");
    let mut data = fixture::clean();
    let orders = docs_mut(&mut data, "orders");
    for i in 0..12_000 {
        orders.push(doc! {
            "_id": 1000 + i,
            "status": "pending",
            "customer_id": 1,
            "referrer": format!("ghost{}@nowhere", i % 5000),
            "products": [],
            "lines": [],
        });
    }
    let dir = dump(data);
    let schema = fixture::schema().expect("the fixture schema");
    let source = Arc::new(DumpSource::open(dir.path()).expect("the dump opens"));
    let report = db
        .run(&schema, source.clone(), db.config())
        .expect("the run completes");
    let kept = report
        .references
        .iter()
        .find(|r| r.column == "referrer")
        .unwrap_or_else(|| panic!("no count for referrer: {:?}", report.references));
    assert_eq!(
        (kept.action.as_str(), kept.rows, kept.distinct_values),
        ("keep", 12_000, 5_000)
    );
    assert_eq!(
        db.count(&format!(
            "SELECT 1 FROM {STATE}.reference_issues WHERE column_name = 'referrer'"
        )),
        10_000,
        "the detail is bounded"
    );
    let mut conn = db.connect();
    let validation = db
        .block_on(async {
            migrator::validate::validate(
                &schema,
                source.as_ref(),
                &mut conn,
                TARGET,
                &StateStore::new(STATE.to_string()),
                10,
            )
            .await
        })
        .expect("validate runs");
    let orphans: Vec<u64> = validation
        .collections
        .iter()
        .flat_map(|c| c.references.iter())
        .filter(|r| r.column == "referrer")
        .map(|r| r.orphans)
        .collect();
    assert_eq!(orphans, [12_000], "validate counts the same rows");
    assert!(validation.passed(), "{validation}");
}

/// A model declared `optional` whose collection the dump lacks: the run reports it absent and
/// loads it as empty instead of stopping.
#[test]
fn an_optional_collection_may_be_absent() {
    let db = TestDb::create("outcomes_optional");
    let dir = dump(vec![("staff", vec![doc! {"_id": 1, "name": "a"}])]);
    let source = Arc::new(DumpSource::open(dir.path()).expect("the dump opens"));
    let report = db
        .run(&staff_schema(), source, db.config())
        .expect("an absent optional collection does not stop the run");
    assert_eq!(report.outcome, Outcome::Completed);
    assert_eq!(report.absent, ["assignments"]);
    assert_eq!(db.table_count("staff"), 1);
    assert_eq!(db.table_count("assignments"), 0);
}

/// `--absent-ok` does the same from the command line: the fixture without `coupons` loads, the
/// orders' coupons (policy `null`) dangle and are nulled, and validate passes; without the flag
/// the run stops naming the collection.
#[test]
fn absent_ok_loads_a_missing_collection_as_empty() {
    let db = TestDb::create("outcomes_absent_ok");
    let data: Vec<_> = fixture::clean()
        .into_iter()
        .filter(|(name, _)| *name != "coupons")
        .collect();
    let dir = dump(data);
    let cli = Cli::new(BIN, SchemaChoice::Fixture, db.url());
    let refused = cli.run(&migrate_args(dir.path(), &[]));
    refused.expect_code(1);
    assert!(refused.stderr.contains("coupons"), "{}", refused.stderr);
    let run = cli.run(&migrate_args(
        dir.path(),
        &["--absent-ok", "coupons", "--validate"],
    ));
    run.expect_code(0);
    assert!(
        run.stdout
            .contains("Absent from the source (allowed; loaded as empty): coupons"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("validation passed"), "{}", run.stdout);
    assert_eq!(db.table_count("coupons"), 0);
    assert_eq!(
        db.count("SELECT 1 FROM public.orders WHERE coupon_id IS NOT NULL"),
        0,
        "references to the absent collection dangle and are nulled"
    );
    assert!(
        run.stdout.contains("null   orders.coupon_id -> coupons.id"),
        "{}",
        run.stdout
    );
}
