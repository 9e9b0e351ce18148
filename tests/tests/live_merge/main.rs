//! What the live source's planner learns before it reads, against the real server: ranges cut
//! evenly between the smallest and largest `_id` that a `$sample` shows empty are merged into
//! their neighbours (no query is spent on them, and a run stopped part way resumes with the
//! merged ranges); a count the server does not answer within its limit leaves the total
//! unknown and the collection read through one cursor; what reading a document costs is
//! measured (on a first batch, then over what the run read) instead of assumed. Ranges that
//! turn out empty or tiny as they are read are merged into the range before them, read on by
//! its query, and a run killed around a merge resumes exactly ([`reading`]).

mod reading;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bson::oid::ObjectId;
use bson::{Bson, RawDocumentBuf};
use migrator::progress::{Event, Observer};
use migrator::report::Outcome;
use migrator::source::mongo::{Budget, SplitMethod};
use migrator::source::{Partition, Position, Source};
use migrator_e2e::mongo::MongoDb;
use migrator_e2e::pg::TestDb;
use schema::accounts::generator::Accounts;

/// Users in all; the first half signed up 24 years before the second.
const USERS: u64 = 3_000;
/// 24 years, in seconds.
const EARLIER: u32 = 24 * 365 * 86_400;

fn raw(doc: &bson::Document) -> RawDocumentBuf {
    RawDocumentBuf::try_from(doc).expect("encodes")
}

/// The user directory on the server with its users in two bursts far apart: cut evenly between
/// the smallest and largest `_id` into 4 ranges, the two in the middle hold nobody.
fn bursty(test: &str) -> MongoDb {
    let accounts = Accounts::new(11, USERS);
    let mongo = MongoDb::create(test);
    let roles: Vec<RawDocumentBuf> = (0..50).map(|i| raw(&accounts.role(i))).collect();
    let orgs: Vec<RawDocumentBuf> = (0..1_000).map(|i| raw(&accounts.org(i))).collect();
    let users: Vec<RawDocumentBuf> = (0..USERS)
        .map(|i| {
            let (mut user, _) = accounts.user(i);
            if i < USERS / 2 {
                let id = user.get_object_id("_id").expect("an ObjectId");
                let mut bytes = id.bytes();
                let seconds = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
                bytes[..4].copy_from_slice(&(seconds - EARLIER).to_be_bytes());
                user.insert("_id", ObjectId::from_bytes(bytes));
            }
            raw(&user)
        })
        .collect();
    mongo.insert("roles", &roles);
    mongo.insert("orgs", &orgs);
    for chunk in users.chunks(1_000) {
        mongo.insert("users", chunk);
    }
    mongo
}

fn ids_of(source: &dyn Source, collection: &str, partition: &Partition) -> Vec<Bson> {
    source
        .read(collection, partition, &Position::Start)
        .expect("read")
        .map(|d| {
            let doc = d.expect("a document").doc;
            Bson::try_from(doc.get("_id").expect("readable").expect("an `_id`")).expect("bson")
        })
        .collect()
}

#[test]
fn ranges_a_sample_shows_empty_are_merged_before_they_are_read() {
    let mongo = bursty("merge_plan");
    let source = mongo
        .source()
        .with_split(SplitMethod::Edges)
        .with_batch_size(200);
    let plan = source.plan_split("users", 4).expect("planned");
    let reason = &plan.reason;
    // Cut evenly, the ranges would be 1,500 users, nobody, nobody, 1,500 users.
    assert_eq!(plan.partitions.len(), 2, "{reason}: {:?}", plan.partitions);
    assert!(
        reason.starts_with(
            "2 ranges cut evenly between the smallest and largest `_id`, 2 more \
             that a `$sample` showed (nearly) empty merged into neighbours"
        ),
        "{reason}"
    );
    let whole = ids_of(&source, "users", &Partition::whole());
    assert_eq!(whole.len() as u64, USERS);
    let mut joined = Vec::new();
    for p in &plan.partitions {
        let part = ids_of(&source, "users", p);
        assert_eq!(
            part.len() as u64,
            USERS / 2,
            "range {} of {reason}",
            p.index
        );
        joined.extend(part);
    }
    assert_eq!(joined, whole, "every user once, in `_id` order");
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
fn a_run_stopped_part_way_resumes_with_the_merged_ranges() {
    let mongo = bursty("merge_resume");
    let schema = schema::accounts::schema().expect("the accounts schema");
    let db = TestDb::create("merge_resume");
    let mut config = db.config();
    config.batch_documents = 100;
    config.partitions = 4;
    config.jobs = 2;
    let ranges = || {
        db.rows(
            "SELECT partition::text, bounds::text, documents::text, done::text \
             FROM _migrator.checkpoints WHERE collection = 'users' ORDER BY partition",
        )
    };
    let stop = Arc::new(AtomicBool::new(false));
    let observer = Arc::new(StopAfter {
        after: 4,
        committed: AtomicU64::new(0),
        stop: Arc::clone(&stop),
    });
    let first: Arc<dyn Source> = Arc::new(
        mongo
            .source()
            .with_split(SplitMethod::Edges)
            .with_batch_size(100),
    );
    let report = db
        .run_observed(&schema, first, config.clone(), observer, stop)
        .expect("the first run stops cleanly");
    assert_eq!(report.outcome, Outcome::Interrupted);
    let planned = ranges();
    assert_eq!(
        planned.len(),
        2,
        "merged before anything was read: {planned:?}"
    );
    let loaded = db.number("SELECT count(*) FROM users");
    assert!(
        loaded > 0 && loaded < USERS as i64,
        "stopped part way: {loaded}"
    );

    // The resume plans nothing: a source that would cut elsewhere changes nothing.
    let second: Arc<dyn Source> = Arc::new(mongo.source().with_split(SplitMethod::BucketAuto));
    let report = db
        .run(&schema, second, config)
        .expect("the resume completes");
    assert_eq!(report.outcome, Outcome::Completed);
    // Both merged ranges kept, every range done, and none of the kept ones empty. A free job
    // may cut the rest of one as reading goes, by the `_id` density read so far: between the
    // two bursts such a cut can land on a span with no user (it then reads nothing, once).
    let resumed = ranges();
    for r in &planned {
        let min = |row: &Vec<Option<String>>| {
            let bounds: serde_json::Value =
                serde_json::from_str(row[1].as_deref().unwrap_or("null")).expect("json");
            bounds["min"].clone()
        };
        assert!(
            resumed.iter().any(|s| s[0] == r[0] && min(s) == min(r)),
            "range {:?} kept: {resumed:?}",
            r[0]
        );
    }
    let mut total = 0;
    for r in &resumed {
        let documents: i64 = r[2].as_deref().and_then(|n| n.parse().ok()).unwrap_or(-1);
        let kept = planned.iter().any(|p| p[0] == r[0]);
        assert!(
            documents > 0 || (!kept && documents == 0),
            "no kept range empty: {resumed:?}"
        );
        assert_eq!(r[3].as_deref(), Some("true"), "{resumed:?}");
        total += documents;
    }
    assert_eq!(total, USERS as i64, "each user counted once: {resumed:?}");
    assert_eq!(
        db.number("SELECT count(DISTINCT id) FROM users"),
        USERS as i64
    );
    assert_eq!(db.number("SELECT count(*) FROM users"), USERS as i64);
}

#[test]
fn a_count_stopped_at_its_limit_leaves_the_total_unknown_and_one_cursor() {
    let mongo = MongoDb::create("merge_count_limit");
    let big: Vec<RawDocumentBuf> = (0..30_000)
        .map(|i| bson::rawdoc! {"_id": ObjectId::new(), "n": i, "pad": "x".repeat(64)})
        .collect();
    for chunk in big.chunks(5_000) {
        mongo.insert("big", chunk);
    }
    let small: Vec<RawDocumentBuf> = (0..20).map(|i| bson::rawdoc! {"_id": i}).collect();
    mongo.insert("small", &small);
    // No server reads 30,000 documents in a millisecond; a server with counts answers in one.
    let source = mongo
        .source()
        .with_count_limit(Duration::from_millis(1))
        .with_split_budget(Budget {
            fixed: Duration::from_secs(60),
            per_document: Duration::ZERO,
        });
    let listed = source.collections().expect("listed");
    let totals: Vec<(String, Option<u64>)> = listed
        .into_iter()
        .map(|c| (c.name, c.estimated_documents))
        .collect();
    assert_eq!(totals[0], ("big".to_string(), None), "{totals:?}");
    assert_eq!(totals.len(), 2, "{totals:?}");
    assert_eq!(
        source.partitions("big", 4).expect("planned"),
        [Partition::whole()]
    );
    let reason = source.split_reason("big").expect("a reason");
    assert!(
        reason.starts_with("one cursor: the server had not counted the collection after"),
        "{reason}"
    );
    // `--split edges` cuts whatever it costs: its listing counts without a limit.
    let edges = mongo
        .source()
        .with_count_limit(Duration::from_millis(1))
        .with_split(SplitMethod::Edges);
    let listed = edges.collections().expect("listed");
    assert_eq!(listed[0].estimated_documents, Some(30_000));
    let parts = edges.partitions("big", 4).expect("planned");
    assert!(
        parts.len() > 1,
        "{parts:?}: {:?}",
        edges.split_reason("big")
    );
}

/// A run whose listing stopped the count of its largest collection: the load hands that
/// collection to the planner, which reads it through one cursor without asking anything more
/// and says why in the summary (it was taken as one more document than the largest counted
/// collection before, under a job's share: read whole with no reason given).
#[test]
fn a_run_says_why_a_collection_it_could_not_count_is_read_through_one_cursor() {
    const MANY: u64 = 20_000;
    let accounts = Accounts::new(5, MANY);
    let mongo = MongoDb::create("merge_uncounted_run");
    let roles: Vec<RawDocumentBuf> = (0..50).map(|i| raw(&accounts.role(i))).collect();
    let orgs: Vec<RawDocumentBuf> = (0..1_000).map(|i| raw(&accounts.org(i))).collect();
    let users: Vec<RawDocumentBuf> = (0..MANY).map(|i| raw(&accounts.user(i).0)).collect();
    mongo.insert("roles", &roles);
    mongo.insert("orgs", &orgs);
    for chunk in users.chunks(5_000) {
        mongo.insert("users", chunk);
    }
    let schema = schema::accounts::schema().expect("the accounts schema");
    let db = TestDb::create("merge_uncounted_run");
    let mut config = db.config();
    config.adaptive_partitions = true;
    config.jobs = 2;
    // No server reads 20,000 users in a millisecond; whether the orgs' and roles' counts are
    // stopped too depends on the machine's load, and does not matter: each collection not
    // counted is planned, and says why.
    let source = mongo.source().with_count_limit(Duration::from_millis(1));
    let listed = source.collections().expect("listed");
    let uncounted: Vec<String> = listed
        .iter()
        .filter(|c| c.estimated_documents.is_none())
        .map(|c| c.name.clone())
        .collect();
    assert!(uncounted.contains(&"users".to_string()), "{listed:?}");
    let report = db
        .run(&schema, Arc::new(source), config)
        .expect("the run completes");
    assert_eq!(report.outcome, Outcome::Completed);
    assert_eq!(report.collections["users"].documents, MANY);
    for name in &uncounted {
        let split = report.collections[name]
            .split
            .as_deref()
            .unwrap_or_default();
        assert!(
            split.starts_with("one cursor: the server had not counted the collection after"),
            "`{name}`: {split:?}"
        );
    }
    assert_eq!(db.number("SELECT count(*) FROM users"), MANY as i64);
}

#[test]
fn the_planner_weighs_a_measured_cost_of_reading_a_document() {
    let mongo = MongoDb::create("merge_measured");
    for name in ["first", "second"] {
        let docs: Vec<RawDocumentBuf> = (0..4_000)
            .map(|i| bson::rawdoc! {"_id": ObjectId::new(), "n": i, "pad": "y".repeat(200)})
            .collect();
        mongo.insert(name, &docs);
    }
    let ample = Budget {
        fixed: Duration::from_secs(60),
        per_document: Duration::ZERO,
    };
    let source = mongo
        .source()
        .with_count_limit(Duration::from_secs(60))
        .with_split_budget(ample)
        .with_batch_size(500);
    source.collections().expect("listed");
    // Nothing read yet: the planner times a first batch of the collection.
    source.partitions("first", 4).expect("planned");
    let reason = source.split_reason("first").expect("a reason");
    assert!(
        reason.contains("4000 documents x ")
            && reason.contains(" µs (measured on a first batch of 256 documents) over "),
        "{reason}"
    );
    // Once the run has read enough, what its readers waited is the figure.
    let read = ids_of(&source, "first", &Partition::whole());
    assert_eq!(read.len(), 4_000);
    source.partitions("second", 4).expect("planned");
    let reason = source.split_reason("second").expect("a reason");
    // 8 batches of 500; the first answer of the query pays for starting it too.
    assert!(
        reason.contains(" µs (measured over 3500 documents read) over "),
        "{reason}"
    );
    // A figure given is taken as given.
    let given = mongo
        .source()
        .with_count_limit(Duration::from_secs(60))
        .with_split_budget(ample)
        .with_read_cost(Duration::from_millis(1));
    given.collections().expect("listed");
    given.partitions("second", 4).expect("planned");
    let reason = given.split_reason("second").expect("a reason");
    assert!(
        reason.contains("x 1000.0 µs (assumed) over 4 readers"),
        "{reason}"
    );
}
