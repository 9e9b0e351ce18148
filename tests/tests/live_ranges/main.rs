//! A live collection split into `_id` ranges cut between its smallest and largest `_id`: every
//! document read exactly once, in `_id` order across the ranges; the planner's choice between
//! ranges and one cursor, and its reason; a run stopped in the middle of a range resumes from
//! that range's own checkpoint with the split points it recorded; a skewed plan is cut as reading
//! goes, every document read once, and a run stopped around a cut resumes exactly.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bson::oid::ObjectId;
use bson::{Bson, RawDocumentBuf};
use migrator::progress::{Event, Observer};
use migrator::report::Outcome;
use migrator::source::mongo::{Budget, SplitMethod};
use migrator::source::{
    DumpSource, Partition, Position, RangeClaim, RestSplit, Source, SourceError,
};
use migrator_e2e::mongo::MongoDb;
use migrator_e2e::pg::TestDb;
use schema::accounts::generator::Accounts;

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
    let source = mongo.source().with_split_budget(strict);
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
    let source = mongo.source().with_split_budget(strict);
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
            "SELECT partition::text, bounds::text, done::text FROM _migrator.checkpoints \
             WHERE collection = 'users' ORDER BY partition",
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
    let without_done = |rows: &[Vec<Option<String>>]| -> Vec<(Option<String>, Option<String>)> {
        rows.iter().map(|r| (r[0].clone(), r[1].clone())).collect()
    };
    assert_eq!(
        without_done(&resumed),
        without_done(&planned),
        "the same split points"
    );
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

/// The live source with `users` planned in two ranges, the first holding `first` users and the
/// second all the others: a plan as skewed as a first guess can be.
struct Skewed {
    inner: migrator::source::MongoSource,
    cut: Bson,
}

impl Source for Skewed {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }
    fn collections(&self) -> Result<Vec<migrator::source::CollectionInfo>, SourceError> {
        self.inner.collections()
    }
    fn partitions(&self, collection: &str, max: usize) -> Result<Vec<Partition>, SourceError> {
        if collection != "users" {
            return self.inner.partitions(collection, max);
        }
        let cut = Some(self.cut.clone().into_canonical_extjson());
        Ok(vec![
            Partition {
                max: cut.clone(),
                ..Partition::whole()
            },
            Partition {
                index: 1,
                min: cut,
                ..Partition::whole()
            },
        ])
    }
    fn split_reason(&self, collection: &str) -> Option<String> {
        self.inner.split_reason(collection)
    }
    fn read(
        &self,
        collection: &str,
        partition: &Partition,
        from: &Position,
    ) -> Result<migrator::source::DocStream, SourceError> {
        self.inner.read(collection, partition, from)
    }
    fn read_claimed(
        &self,
        collection: &str,
        partition: &Partition,
        from: &Position,
        claim: Arc<RangeClaim>,
    ) -> Result<migrator::source::DocStream, SourceError> {
        self.inner.read_claimed(collection, partition, from, claim)
    }
    fn claim_for(&self, partition: &Partition, from: &Position) -> Option<RangeClaim> {
        self.inner.claim_for(partition, from)
    }
    fn split_rest(
        &self,
        collection: &str,
        claim: &RangeClaim,
        readers: usize,
    ) -> Result<RestSplit, SourceError> {
        self.inner.split_rest(collection, claim, readers)
    }
    fn fetch(&self, collection: &str, ids: &[Bson]) -> Result<Vec<RawDocumentBuf>, SourceError> {
        self.inner.fetch(collection, ids)
    }
}

/// Users enough for a reader to be measured and cut more than once.
const SKEWED_USERS: u64 = 20_000;

/// The user directory with [`SKEWED_USERS`] users on the server, and the `_id` of its 10th user
/// (the skewed plan's cut).
fn skewed_accounts(test: &str) -> (MongoDb, Bson) {
    let dir = tempfile::tempdir().expect("temp dir");
    Accounts::new(7, SKEWED_USERS)
        .write_dump(dir.path())
        .expect("the dump is written");
    let mongo = MongoDb::create(test);
    let dump = DumpSource::open(dir.path()).expect("the dump opens");
    let mut tenth = None;
    for name in ["roles", "orgs", "users"] {
        let docs: Vec<RawDocumentBuf> = dump
            .read(name, &Partition::whole(), &Position::Start)
            .expect("read the dump")
            .map(|d| d.expect("a document").doc)
            .collect();
        if name == "users" {
            let mut ids: Vec<ObjectId> = docs
                .iter()
                .map(|d| d.get_object_id("_id").expect("an ObjectId"))
                .collect();
            ids.sort();
            tenth = Some(Bson::ObjectId(ids[9]));
        }
        for chunk in docs.chunks(5_000) {
            mongo.insert(name, chunk);
        }
    }
    (mongo, tenth.expect("users"))
}

/// Counts the ranges cut off as reading went, and stops the run `then` batches of `users`
/// after the first (never, if `then` is `None`).
struct Cuts {
    cuts: AtomicU64,
    after_cut: AtomicU64,
    then: Option<u64>,
    stop: Arc<AtomicBool>,
}

impl Observer for Cuts {
    fn event(&self, event: &Event) {
        match event {
            Event::Note { message } if message.contains("the rest is read as partition") => {
                self.cuts.fetch_add(1, Ordering::SeqCst);
                if self.then == Some(0) {
                    self.stop.store(true, Ordering::SeqCst);
                }
            }
            Event::BatchCommitted { collection, .. }
                if collection == "users" && self.cuts.load(Ordering::SeqCst) > 0 =>
            {
                let seen = self.after_cut.fetch_add(1, Ordering::SeqCst) + 1;
                if self.then.is_some_and(|then| seen >= then) {
                    self.stop.store(true, Ordering::SeqCst);
                }
            }
            _ => {}
        }
    }
}

fn skewed_config(db: &TestDb) -> migrator::pipeline::config::RunConfig {
    let mut config = db.config();
    config.batch_documents = 200;
    config.partitions = 4;
    config.jobs = 2;
    config
}

/// `users`' ranges as the state records them: (index, min bound, documents, done).
fn ranges(db: &TestDb) -> Vec<(String, Option<String>, i64, bool)> {
    db.rows(
        "SELECT partition::text, bounds->>'min', documents::text, done::text \
         FROM _migrator.checkpoints WHERE collection = 'users' ORDER BY partition",
    )
    .into_iter()
    .map(|r| {
        (
            r[0].clone().unwrap_or_default(),
            r[1].clone(),
            r[2].as_deref().and_then(|n| n.parse().ok()).unwrap_or(-1),
            r[3].as_deref() == Some("true"),
        )
    })
    .collect()
}

fn assert_every_user_once(db: &TestDb, report: &migrator::report::RunReport) {
    assert_eq!(db.number("SELECT count(*) FROM users"), SKEWED_USERS as i64);
    assert_eq!(
        db.number("SELECT count(DISTINCT id) FROM users"),
        SKEWED_USERS as i64,
        "no user twice"
    );
    let recorded: i64 = ranges(db).iter().map(|r| r.2).sum();
    assert_eq!(
        recorded, SKEWED_USERS as i64,
        "the ranges' checkpoints count every user once"
    );
    assert!(
        ranges(db).iter().all(|r| r.3),
        "every range done: {:?}",
        ranges(db)
    );
    assert_eq!(report.outcome, Outcome::Completed);
}

#[test]
fn a_skewed_plan_is_cut_as_reading_goes() {
    let (mongo, tenth) = skewed_accounts("ranges_skewed");
    let schema = schema::accounts::schema().expect("the accounts schema");
    let db = TestDb::create("ranges_skewed");
    let stop = Arc::new(AtomicBool::new(false));
    let cuts = Arc::new(Cuts {
        cuts: AtomicU64::new(0),
        after_cut: AtomicU64::new(0),
        then: None,
        stop: Arc::clone(&stop),
    });
    let source: Arc<dyn Source> = Arc::new(Skewed {
        inner: mongo
            .source()
            .with_split(SplitMethod::Edges)
            .with_batch_size(200),
        cut: tenth,
    });
    let report = db
        .run_observed(
            &schema,
            Arc::clone(&source),
            skewed_config(&db),
            cuts.clone(),
            stop,
        )
        .expect("the run completes");
    assert_every_user_once(&db, &report);
    let ranges = ranges(&db);
    assert!(
        cuts.cuts.load(Ordering::SeqCst) >= 1 && ranges.len() > 2,
        "the large range was cut: {ranges:?}"
    );
    // The first range holds its 9 users; the cut-off ranges share the rest.
    assert_eq!(ranges[0].2, 9, "{ranges:?}");
    assert!(ranges[2..].iter().all(|r| r.2 > 0), "{ranges:?}");
    let reason = source.split_reason("users").expect("a reason");
    assert!(
        reason.starts_with("as reading went: the rest of a range cut off"),
        "{reason}"
    );
    eprintln!("{ranges:?}\n{reason}");
}

#[test]
fn a_run_stopped_around_a_cut_resumes_exactly() {
    // Stopped right as the cut is recorded (the range cut off not started), and a few batches
    // after (both halves part read).
    for (test, then) in [("ranges_cut_stop_0", 0), ("ranges_cut_stop_6", 6)] {
        let (mongo, tenth) = skewed_accounts(test);
        let schema = schema::accounts::schema().expect("the accounts schema");
        let db = TestDb::create(test);
        let stop = Arc::new(AtomicBool::new(false));
        let cuts = Arc::new(Cuts {
            cuts: AtomicU64::new(0),
            after_cut: AtomicU64::new(0),
            then: Some(then),
            stop: Arc::clone(&stop),
        });
        let skewed: Arc<dyn Source> = Arc::new(Skewed {
            inner: mongo
                .source()
                .with_split(SplitMethod::Edges)
                .with_batch_size(200),
            cut: tenth,
        });
        let report = db
            .run_observed(&schema, skewed, skewed_config(&db), cuts, stop)
            .expect("the first run stops cleanly");
        assert_eq!(report.outcome, Outcome::Interrupted, "{test}");
        let stopped = ranges(&db);
        assert!(
            stopped.len() > 2,
            "{test}: a range was cut off: {stopped:?}"
        );
        let loaded = db.number("SELECT count(*) FROM users");
        assert!(
            loaded < SKEWED_USERS as i64,
            "{test}: stopped part way: {loaded}"
        );

        // The resume reads what the state says (another cut may follow).
        let source: Arc<dyn Source> = Arc::new(
            mongo
                .source()
                .with_split(SplitMethod::Edges)
                .with_batch_size(200),
        );
        let report = db
            .run(&schema, source, skewed_config(&db))
            .expect("the resume completes");
        assert_every_user_once(&db, &report);
        let resumed = ranges(&db);
        for (index, min, ..) in &stopped {
            assert!(
                resumed.iter().any(|r| &r.0 == index && &r.1 == min),
                "{test}: range {index} from {min:?} kept: {resumed:?}"
            );
        }
    }
}
