//! A skewed plan (`users` in two ranges, the first holding 9 users) is cut as reading goes:
//! every user read once, and a run stopped right at a cut or a few batches after it resumes
//! exactly.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use bson::oid::ObjectId;
use bson::{Bson, RawDocumentBuf};
use migrator::progress::{Event, Observer};
use migrator::report::Outcome;
use migrator::source::mongo::SplitMethod;
use migrator::source::{
    DumpSource, Partition, Position, RangeClaim, RestSplit, Source, SourceError,
};
use migrator_e2e::mongo::MongoDb;
use migrator_e2e::pg::TestDb;
use schema::accounts::generator::Accounts;

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
