//! A live collection split into `_id` ranges cut between its smallest and largest `_id`: every
//! document read exactly once, in `_id` order across the ranges; the planner's choice between
//! ranges and one cursor, and its reason; a run stopped in the middle of a range resumes from
//! that range's own checkpoint with the split points it recorded; a skewed plan is cut as reading
//! goes, every document read once, and a run stopped around a cut resumes exactly ([`cuts`]).

mod cuts;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bson::oid::ObjectId;
use bson::{Bson, RawDocumentBuf};
use migrator::progress::{Event, Observer};
use migrator::report::Outcome;
use migrator::source::mongo::{Budget, SplitMethod};
use migrator::source::{DumpSource, Partition, Position, Source};
use migrator_e2e::mongo::MongoDb;
use migrator_e2e::pg::TestDb;
use schema::accounts::generator::Accounts;

/// A count limit no loaded machine reaches: the planner tests here are about its budget, not
/// about the listing's stopped counts (tests/tests/live_merge.rs tests those).
const COUNT_AT_LEISURE: Duration = Duration::from_secs(60);

/// Users in the split collection.
const USERS: u64 = 3_000;

fn ids_of(
    source: &dyn Source,
    collection: &str,
    partition: &Partition,
    from: &Position,
) -> Vec<ObjectId> {
    source
        .read(collection, partition, from)
        .expect("read")
        .map(|d| {
            d.expect("a document")
                .doc
                .get_object_id("_id")
                .expect("an ObjectId `_id`")
        })
        .collect()
}

/// The user directory in a dump directory and on the Mongo-wire server.
fn accounts(test: &str) -> (tempfile::TempDir, MongoDb) {
    let dir = tempfile::tempdir().expect("temp dir");
    Accounts::new(5, USERS)
        .write_dump(dir.path())
        .expect("the dump is written");
    let mongo = MongoDb::create(test);
    let dump = DumpSource::open(dir.path()).expect("the dump opens");
    for name in ["roles", "orgs", "users"] {
        let docs: Vec<RawDocumentBuf> = dump
            .read(name, &Partition::whole(), &Position::Start)
            .expect("read the dump")
            .map(|d| d.expect("a document").doc)
            .collect();
        // Shuffled a little: the server's order on disk is not the `_id` order.
        let (even, odd): (Vec<_>, Vec<_>) =
            docs.into_iter().enumerate().partition(|(i, _)| i % 2 == 0);
        let docs: Vec<RawDocumentBuf> = odd.into_iter().rev().chain(even).map(|(_, d)| d).collect();
        mongo.insert(name, &docs);
    }
    (dir, mongo)
}

#[test]
fn split_ranges_read_every_document_once_in_id_order() {
    let (_dir, mongo) = accounts("ranges_once");
    let source = mongo
        .source()
        .with_split(SplitMethod::Edges)
        .with_batch_size(100);
    let whole = ids_of(&source, "users", &Partition::whole(), &Position::Start);
    assert_eq!(whole.len() as u64, USERS);
    assert!(
        whole.windows(2).all(|w| w[0] < w[1]),
        "the whole read is in `_id` order"
    );

    let plan = source.plan_split("users", 4).expect("planned");
    assert_eq!(plan.partitions.len(), 4, "{plan:?}");
    assert!(plan.reason.contains("4 ranges"), "{}", plan.reason);
    assert_eq!(source.split_reason("users"), Some(plan.reason.clone()));
    assert_eq!(
        source.partitions("users", 4).expect("again"),
        plan.partitions,
        "stable"
    );
    let mut joined = Vec::new();
    for p in &plan.partitions {
        let part = ids_of(&source, "users", p, &Position::Start);
        // Users sign up evenly over three years: cuts by timestamp give even ranges.
        assert!(
            part.len() as u64 > USERS / 4 * 9 / 10,
            "range {} holds {} users",
            p.index,
            part.len()
        );
        joined.extend(part);
    }
    assert_eq!(
        joined, whole,
        "the ranges joined are the whole collection, in `_id` order"
    );

    // A collection too small to split; one range asked for.
    assert_eq!(
        source.partitions("roles", 4).expect("roles"),
        [Partition::whole()]
    );
    let reason = source.split_reason("roles").expect("a reason");
    assert!(reason.contains("50 documents are too few"), "{reason}");
    assert_eq!(
        source.partitions("users", 1).expect("one"),
        [Partition::whole()]
    );
}

#[test]
fn the_planner_reads_through_one_cursor_when_the_server_answers_slowly() {
    let (_dir, mongo) = accounts("ranges_budget");
    // No time at all allowed: whatever the server, its count is over budget.
    let strict = Budget {
        fixed: Duration::ZERO,
        per_document: Duration::ZERO,
    };
    // The listing's counts are stopped at 50 ms by default; on a loaded machine that can stop
    // this one, which is a different reason for one cursor than the one tested here.
    let source = mongo
        .source()
        .with_count_limit(COUNT_AT_LEISURE)
        .with_split_budget(strict);
    source.collections().expect("listed");
    assert_eq!(
        source.partitions("users", 4).expect("planned"),
        [Partition::whole()]
    );
    let reason = source.split_reason("users").expect("a reason");
    assert!(
        reason.starts_with("one cursor: the server took"),
        "{reason}"
    );
    assert!(
        reason.contains(&format!("to count {USERS} documents")),
        "{reason}"
    );

    // Not listed first: the planner counts (and times) it itself.
    let source = mongo
        .source()
        .with_count_limit(COUNT_AT_LEISURE)
        .with_split_budget(strict);
    assert_eq!(
        source.partitions("users", 4).expect("planned"),
        [Partition::whole()]
    );
    // Ample time, and documents dear enough to read: the same collection is split, with the
    // figures the split was weighed on.
    let ample = Budget {
        fixed: Duration::from_secs(60),
        per_document: Duration::ZERO,
    };
    let source = mongo
        .source()
        .with_count_limit(COUNT_AT_LEISURE)
        .with_split_budget(ample)
        .with_read_cost(Duration::from_millis(1));
    assert_eq!(source.partitions("users", 4).expect("planned").len(), 4);
    let reason = source.split_reason("users").expect("a reason");
    assert!(
        reason.contains("cut at the quantiles of a `$sample`"),
        "{reason}"
    );
    assert!(
        reason.contains(&format!(
            "; {USERS} documents x 1000.0 µs (assumed) over 4 readers saves 2250.0 ms against"
        )),
        "{reason}"
    );
    // Documents that cost nothing to read: splitting cannot pay.
    let source = mongo
        .source()
        .with_count_limit(COUNT_AT_LEISURE)
        .with_split_budget(ample)
        .with_read_cost(Duration::ZERO);
    assert_eq!(
        source.partitions("users", 4).expect("planned"),
        [Partition::whole()]
    );
    let reason = source.split_reason("users").expect("a reason");
    assert!(
        reason.starts_with("one cursor: splitting would not pay: "),
        "{reason}"
    );
    assert!(reason.contains("saves 0.0 ms against"), "{reason}");
}

#[test]
fn numeric_and_string_ids_are_split_too() {
    let mongo = MongoDb::create("ranges_keys");
    let numbers: Vec<RawDocumentBuf> = (0..2_000_i64)
        .map(|i| bson::rawdoc! {"_id": i * 7, "n": i})
        .collect();
    mongo.insert("numbers", &numbers);
    let strings: Vec<RawDocumentBuf> = (0..2_000)
        .map(|i| bson::rawdoc! {"_id": format!("key-{:05}", (i * 7919) % 10_000), "n": i})
        .collect();
    mongo.insert("strings", &strings);
    let source = mongo.source().with_split(SplitMethod::Edges);
    for (name, n) in [("numbers", numbers.len()), ("strings", strings.len())] {
        let parts = source.partitions(name, 4).expect("planned");
        assert!(
            parts.len() > 1,
            "{name}: {parts:?} ({:?})",
            source.split_reason(name)
        );
        let mut joined: Vec<Bson> = Vec::new();
        for p in &parts {
            joined.extend(
                source
                    .read(name, p, &Position::Start)
                    .expect("read")
                    .map(|d| {
                        Bson::try_from(d.expect("doc").doc.get("_id").expect("id").expect("id"))
                            .expect("bson")
                    }),
            );
        }
        let whole: Vec<Bson> = source
            .read(name, &Partition::whole(), &Position::Start)
            .expect("read")
            .map(|d| {
                Bson::try_from(d.expect("doc").doc.get("_id").expect("id").expect("id"))
                    .expect("bson")
            })
            .collect();
        assert_eq!(whole.len(), n);
        assert_eq!(joined, whole, "{name}: every document once, in order");
    }
}

/// Stops the run once `after` batches of `users` committed.
struct StopAfter {
    after: u64,
    committed: AtomicU64,
    stop: Arc<AtomicBool>,
}

impl Observer for StopAfter {
    fn event(&self, event: &Event) {
        if let Event::BatchCommitted { collection, .. } = event {
            if collection == "users"
                && self.committed.fetch_add(1, Ordering::SeqCst) + 1 >= self.after
            {
                self.stop.store(true, Ordering::SeqCst);
            }
        }
    }
}

#[test]
fn a_run_stopped_inside_a_range_resumes_it_with_the_recorded_split_points() {
    let (_dir, mongo) = accounts("ranges_resume");
    let schema = schema::accounts::schema().expect("the accounts schema");
    let db = TestDb::create("ranges_resume");
    let mut config = db.config();
    config.batch_documents = 100;
    config.partitions = 4;
    config.jobs = 2;
    let bounds = || {
        db.rows(
            "SELECT partition::text, bounds::text, done::text, documents::text \
             FROM _migrator.checkpoints WHERE collection = 'users' ORDER BY checkpoints.partition",
        )
    };
    let stop = Arc::new(AtomicBool::new(false));
    let observer = Arc::new(StopAfter {
        after: 5,
        committed: AtomicU64::new(0),
        stop: Arc::clone(&stop),
    });
    let first: Arc<dyn Source> = Arc::new(mongo.source().with_split(SplitMethod::Edges));
    let report = db
        .run_observed(&schema, first, config.clone(), observer, stop)
        .expect("the first run stops cleanly");
    assert_eq!(report.outcome, Outcome::Interrupted);
    let planned = bounds();
    assert_eq!(planned.len(), 4, "{planned:?}");
    let committed = db.number("SELECT count(*) FROM users");
    assert!(
        committed > 0 && committed < USERS as i64,
        "stopped part way: {committed}"
    );
    let partial = db.number(
        "SELECT count(*) FROM _migrator.checkpoints WHERE collection = 'users' \
         AND NOT done AND documents > 0",
    );
    assert!(
        partial > 0,
        "a range was stopped in its middle: {planned:?}"
    );

    // The resume plans nothing: a source that would cut elsewhere (`$bucketAuto`) changes nothing.
    let second: Arc<dyn Source> = Arc::new(mongo.source().with_split(SplitMethod::BucketAuto));
    let report = db
        .run(&schema, second, config)
        .expect("the resume completes");
    assert_eq!(report.outcome, Outcome::Completed);
    let resumed = bounds();
    // The same split points: each range kept, or (one nobody had started) merged into the range
    // before it as reading went, which then ends where it did.
    let bound = |row: &Vec<Option<String>>, end: &str| {
        let bounds: serde_json::Value =
            serde_json::from_str(row[1].as_deref().unwrap_or("null")).expect("json");
        bounds[end].clone()
    };
    for row in &planned {
        let kept = resumed
            .iter()
            .find(|r| r[0] == row[0])
            .map(|r| bound(r, "min") == bound(row, "min"));
        let untouched = row[3].as_deref() == Some("0");
        assert!(
            kept == Some(true) || (kept.is_none() && untouched),
            "range {:?} kept, or merged untouched: {planned:?} -> {resumed:?}",
            row[0]
        );
    }
    for row in &resumed {
        assert!(
            planned.iter().any(|p| bound(p, "max") == bound(row, "max")),
            "range {:?} ends at a planned split point: {planned:?} -> {resumed:?}",
            row[0]
        );
    }
    assert!(
        resumed.iter().all(|r| r[2].as_deref() == Some("true")),
        "{resumed:?}"
    );
    assert_eq!(db.number("SELECT count(*) FROM users"), USERS as i64);
    assert_eq!(
        db.number("SELECT count(DISTINCT id) FROM users"),
        USERS as i64,
        "no document twice"
    );
    assert_eq!(
        report.documents(),
        USERS + 1_050,
        "every document counted once"
    );
}
