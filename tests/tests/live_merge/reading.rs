//! Ranges merged as reading goes: `users` planned in 12 ranges cut evenly across a span its
//! `_id`s barely use (1,400 users in the first range, 1,580 in the last, the ten between them
//! empty or holding 4 users), read by 2 jobs. A reader goes on into the untouched ranges after
//! its own through one query, each merged in the state before it reads into it: fewer queries
//! than ranges, every user once; the first readers, started while the ranges are planned, do
//! too; a run killed (`SIGKILL`) right after a merge is recorded, or a few batches after,
//! resumes exactly.

use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use bson::oid::ObjectId;
use bson::{Bson, RawDocumentBuf};
use migrator::pipeline::config::RunConfig;
use migrator::progress::{Event, Observer};
use migrator::report::{Outcome, RunReport};
use migrator::source::mongo::SplitMethod;
use migrator::source::{
    CollectionInfo, DocStream, MongoSource, Partition, Position, RangeClaim, RestSplit, Source,
    SourceError,
};
use migrator_e2e::mongo::MongoDb;
use migrator_e2e::pg::TestDb;
use schema::accounts::generator::Accounts;

use super::raw;

const USERS: u64 = 3_000;
/// Ranges planned.
const RANGES: u32 = 12;
/// The planned cuts' timestamps: `BASE + k * STEP` seconds, k = 1..12.
const BASE: u32 = 1_600_000_000;
const STEP: u32 = 1_000_000;
/// Users in the first range; then 4 in each odd range between, none in the even ones.
const FIRST: u64 = 1_400;
const TINY: u64 = 4;

/// The range user `i` is put in, and its `_id`'s timestamp.
fn placed(i: u64) -> (u32, u32) {
    let tiny = FIRST + 5 * TINY;
    if i < FIRST {
        return (0, BASE - 10_000 + i as u32);
    }
    if i < tiny {
        let range = 1 + 2 * ((i - FIRST) / TINY) as u32;
        return (range, BASE + range * STEP + 1 + (i % TINY) as u32);
    }
    (RANGES - 1, BASE + (RANGES - 1) * STEP + 1 + i as u32)
}

/// The range user `i` is put in, and its `_id`'s timestamp, with the first range tiny: 4 users
/// in it and in each odd range up to the tenth, the rest in the last range.
fn placed_late(i: u64) -> (u32, u32) {
    if i < TINY {
        return (0, BASE - 10_000 + i as u32);
    }
    if i < 6 * TINY {
        let range = 1 + 2 * ((i - TINY) / TINY) as u32;
        return (range, BASE + range * STEP + 1 + (i % TINY) as u32);
    }
    (RANGES - 1, BASE + (RANGES - 1) * STEP + 1 + i as u32)
}

/// The user directory with its users placed by `place` ([`placed`], [`placed_late`]; the rest
/// of each `_id` kept).
fn clustered(test: &str, place: fn(u64) -> (u32, u32)) -> MongoDb {
    let accounts = Accounts::new(13, USERS);
    let mongo = MongoDb::create(test);
    let roles: Vec<RawDocumentBuf> = (0..50).map(|i| raw(&accounts.role(i))).collect();
    let orgs: Vec<RawDocumentBuf> = (0..1_000).map(|i| raw(&accounts.org(i))).collect();
    let users: Vec<RawDocumentBuf> = (0..USERS)
        .map(|i| {
            let (mut user, _) = accounts.user(i);
            let mut bytes = user.get_object_id("_id").expect("an ObjectId").bytes();
            bytes[..4].copy_from_slice(&place(i).1.to_be_bytes());
            user.insert("_id", ObjectId::from_bytes(bytes));
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

/// The live source with `users` planned in [`RANGES`] ranges cut at `BASE + k * STEP`, and the
/// readings of its ranges counted: each is one query (its cursor read to its end).
struct Forced {
    inner: MongoSource,
    readings: AtomicU64,
}

impl Forced {
    fn new(mongo_uri: &str, database: &str) -> Forced {
        let inner = MongoSource::connect(mongo_uri, database)
            .expect("the Mongo-wire server")
            .with_split(SplitMethod::Edges)
            .with_batch_size(100);
        Forced {
            inner,
            readings: AtomicU64::new(0),
        }
    }
}

impl Source for Forced {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }
    fn collections(&self) -> Result<Vec<CollectionInfo>, SourceError> {
        self.inner.collections()
    }
    fn partitions(&self, collection: &str, max: usize) -> Result<Vec<Partition>, SourceError> {
        if collection != "users" {
            return self.inner.partitions(collection, max);
        }
        let bound = |k: u32| {
            let mut bytes = [0u8; 12];
            bytes[..4].copy_from_slice(&(BASE + k * STEP).to_be_bytes());
            Some(Bson::ObjectId(ObjectId::from_bytes(bytes)).into_canonical_extjson())
        };
        Ok((0..RANGES)
            .map(|k| Partition {
                index: k,
                min: (k > 0).then(|| bound(k)).flatten(),
                max: (k + 1 < RANGES).then(|| bound(k + 1)).flatten(),
                bytes: None,
            })
            .collect())
    }
    fn split_reason(&self, collection: &str) -> Option<String> {
        self.inner.split_reason(collection)
    }
    fn read(
        &self,
        collection: &str,
        partition: &Partition,
        from: &Position,
    ) -> Result<DocStream, SourceError> {
        self.inner.read(collection, partition, from)
    }
    fn read_claimed(
        &self,
        collection: &str,
        partition: &Partition,
        from: &Position,
        claim: Arc<RangeClaim>,
    ) -> Result<DocStream, SourceError> {
        if collection == "users" {
            self.readings.fetch_add(1, Ordering::SeqCst);
        }
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
    fn note_merged(&self, collection: &str, merged: usize) {
        self.inner.note_merged(collection, merged);
    }
    fn fetch(&self, collection: &str, ids: &[Bson]) -> Result<Vec<RawDocumentBuf>, SourceError> {
        self.inner.fetch(collection, ids)
    }
}

/// Counts the merges and cuts of `users`' ranges as reading goes; with `kill_after`, the
/// process kills itself (`SIGKILL`) that many batches of `users` after the first merge.
struct Merges {
    merged: AtomicU64,
    cuts: AtomicU64,
    after_merge: AtomicU64,
    kill_after: Option<u64>,
}

impl Merges {
    fn new(kill_after: Option<u64>) -> Merges {
        Merges {
            merged: AtomicU64::new(0),
            cuts: AtomicU64::new(0),
            after_merge: AtomicU64::new(0),
            kill_after,
        }
    }

    fn kill_at(&self, batches: u64) {
        if self.kill_after == Some(batches) {
            let pid = std::process::id().to_string();
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
            // The signal is on its way.
            loop {
                std::thread::park();
            }
        }
    }
}

impl Observer for Merges {
    fn event(&self, event: &Event) {
        match event {
            Event::Note { message } if message.starts_with("`users`") => {
                if message.contains("(merged as reading went)") {
                    // "partition 2 read on into partitions 3, 4, 5 (...)"
                    let into = message.split(" into ").nth(1).unwrap_or_default();
                    let n = into
                        .split(" (")
                        .next()
                        .unwrap_or_default()
                        .split(',')
                        .count();
                    self.merged.fetch_add(n as u64, Ordering::SeqCst);
                    self.kill_at(0);
                }
                if message.contains("the rest is read as partition") {
                    self.cuts.fetch_add(1, Ordering::SeqCst);
                }
            }
            Event::BatchCommitted { collection, .. }
                if collection == "users" && self.merged.load(Ordering::SeqCst) > 0 =>
            {
                let seen = self.after_merge.fetch_add(1, Ordering::SeqCst) + 1;
                self.kill_at(seen);
            }
            _ => {}
        }
    }
}

fn config(url: &str) -> RunConfig {
    let mut config = RunConfig::new(url.to_string());
    config.batch_documents = 100;
    config.partitions = RANGES as usize;
    config.jobs = 2;
    config
}

/// `users`' ranges as the state records them: (index, documents, done).
fn ranges(db: &TestDb) -> Vec<(u32, i64, bool)> {
    db.rows(
        "SELECT partition::text, documents::text, done::text FROM _migrator.checkpoints \
         WHERE collection = 'users' ORDER BY checkpoints.partition",
    )
    .into_iter()
    .map(|r| {
        let text = |i: usize| r[i].as_deref().unwrap_or_default();
        (
            text(0).parse().unwrap_or(u32::MAX),
            text(1).parse().unwrap_or(-1),
            r[2].as_deref() == Some("true"),
        )
    })
    .collect()
}

fn assert_every_user_once(db: &TestDb, report: &RunReport) {
    assert_eq!(report.outcome, Outcome::Completed);
    assert_eq!(db.number("SELECT count(*) FROM users"), USERS as i64);
    assert_eq!(
        db.number("SELECT count(DISTINCT id) FROM users"),
        USERS as i64,
        "no user twice"
    );
    let recorded = ranges(db);
    let total: i64 = recorded.iter().map(|r| r.1).sum();
    assert_eq!(total, USERS as i64, "each user counted once: {recorded:?}");
    assert!(
        recorded.iter().all(|r| r.2),
        "every range done: {recorded:?}"
    );
}

/// Users clustered by `place` in a database of `test`, migrated with [`config`] through a
/// [`Forced`] source whose merges are counted; every user landed once. The source server's
/// database is returned too: it lives as long as the test uses the result.
fn merged_run(
    test: &str,
    place: fn(u64) -> (u32, u32),
) -> (MongoDb, TestDb, Arc<Forced>, Arc<Merges>, RunReport) {
    let mongo = clustered(test, place);
    let schema = schema::accounts::schema().expect("the accounts schema");
    let db = TestDb::create(test);
    let source = Arc::new(Forced::new(mongo.uri(), mongo.name()));
    let merges = Arc::new(Merges::new(None));
    let report = db
        .run_observed(
            &schema,
            Arc::clone(&source) as Arc<dyn Source>,
            config(db.url()),
            merges.clone(),
            Arc::default(),
        )
        .expect("the run completes");
    assert_every_user_once(&db, &report);
    (mongo, db, source, merges, report)
}

#[test]
fn ranges_that_turn_out_empty_or_tiny_are_merged_as_reading_goes() {
    let (_mongo, db, source, merges, report) = merged_run("merge_reading", placed);
    let recorded = ranges(&db);
    let (merged, cuts) = (
        merges.merged.load(Ordering::SeqCst),
        merges.cuts.load(Ordering::SeqCst),
    );
    let readings = source.readings.load(Ordering::SeqCst);
    eprintln!("{recorded:?}: {merged} merged, {cuts} cut off, {readings} queries");
    // The first two readers start while the ranges are planned, each with its share of the
    // ranges after it; those that start later take their share of what is left.
    assert!(merged >= 4, "{merged} ranges merged: {recorded:?}");
    assert_eq!(
        recorded.len() as u64,
        u64::from(RANGES) - merged + cuts,
        "the merged ranges' checkpoints are gone: {recorded:?}"
    );
    assert_eq!(
        readings,
        recorded.len() as u64,
        "one query per range recorded"
    );
    assert!(
        readings < u64::from(RANGES),
        "{readings} queries for {RANGES} ranges"
    );
    // The first range holds its users and those of the ranges read on into (its reserved
    // ranges not reached when a job fell free went back to the queue).
    assert_eq!(recorded[0].0, 0, "{recorded:?}");
    assert!(recorded[0].1 >= FIRST as i64, "{recorded:?}");
    let reason = source.split_reason("users").unwrap_or_default();
    assert!(
        reason.contains(&format!(
            "as reading went: {merged} ranges merged into the ones before them (read on by their \
             queries)"
        )),
        "{reason}"
    );
    assert_eq!(
        report
            .collections
            .get("users")
            .and_then(|c| c.split.clone()),
        Some(reason),
        "the summary and `--json` say it"
    );
}

#[test]
fn the_first_ranges_started_while_planned_read_on_into_the_ranges_after_them() {
    let (_mongo, db, source, merges, _) = merged_run("merge_first", placed_late);
    let recorded = ranges(&db);
    let readings = source.readings.load(Ordering::SeqCst);
    let merged = merges.merged.load(Ordering::SeqCst);
    eprintln!("{recorded:?}: {merged} merged, {readings} queries");
    // The first reader (range 0, started while `users` was planned) reserved its share of the
    // 11 ranges after it, 5 of them, and read on into them: its 4 users and the 4 of ranges
    // 1, 3 and 5. The second started after those, at range 6, and read on into 7 and 8.
    assert_eq!(recorded[0], (0, 16, true), "{recorded:?}");
    assert_eq!(recorded[1], (6, 4, true), "{recorded:?}");
    assert!(merged >= 7, "{merged} ranges merged: {recorded:?}");
    assert_eq!(
        readings,
        recorded.len() as u64,
        "one query per range recorded"
    );
}

/// The environment variables a killed run is told its databases by.
const CHILD_PG: &str = "LIVE_MERGE_CHILD_PG";
const CHILD_MONGO: &str = "LIVE_MERGE_CHILD_MONGO";
const CHILD_KILL_AFTER: &str = "LIVE_MERGE_CHILD_KILL_AFTER";

/// The run that kills itself: only when the test below starts this binary for it.
#[test]
fn killed_run() {
    let (Ok(url), Ok(database), Ok(after)) = (
        std::env::var(CHILD_PG),
        std::env::var(CHILD_MONGO),
        std::env::var(CHILD_KILL_AFTER),
    ) else {
        return;
    };
    let after: u64 = after.parse().expect("a number of batches");
    let schema = schema::accounts::schema().expect("the accounts schema");
    let source = Arc::new(Forced::new(&migrator_e2e::mongo::uri(), &database));
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let run = migrator::pipeline::run::run(
        &schema,
        source,
        config(&url),
        Arc::new(Merges::new(Some(after))),
        Arc::new(AtomicBool::new(false)),
    );
    let report = runtime.block_on(run);
    panic!("the run was to be killed, and ended: {report:?}");
}

#[test]
fn a_run_killed_around_a_merge_resumes_exactly() {
    // Killed right as a merge is recorded, and 3 batches of `users` later.
    for after in [0, 3] {
        let test = format!("merge_killed_{after}");
        let mongo = clustered(&test, placed);
        let schema = schema::accounts::schema().expect("the accounts schema");
        let db = TestDb::create(&test);
        let exe = std::env::current_exe().expect("this test binary");
        let out = Command::new(exe)
            .args([
                "--exact",
                "reading::killed_run",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env(CHILD_PG, db.url())
            .env(CHILD_MONGO, mongo.name())
            .env(CHILD_KILL_AFTER, after.to_string())
            .output()
            .expect("the run to kill starts");
        assert_eq!(
            out.status.signal(),
            Some(9),
            "{test}: killed: {:?}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let killed = ranges(&db);
        assert!(
            (killed.len() as u32) < RANGES,
            "{test}: a merge was recorded: {killed:?}"
        );
        let loaded = db.number("SELECT count(*) FROM users");
        assert!(loaded < USERS as i64, "{test}: killed part way: {loaded}");

        // The resume reads the ranges as recorded: those read in part keep their checkpoints
        // (untouched ones may be merged in turn).
        let source: Arc<dyn Source> = Arc::new(Forced::new(mongo.uri(), mongo.name()));
        let report = db
            .run(&schema, source, config(db.url()))
            .expect("the resume completes");
        assert_every_user_once(&db, &report);
        let resumed = ranges(&db);
        for (index, documents, _) in &killed {
            assert!(
                *documents == 0 || resumed.iter().any(|r| r.0 == *index && r.1 >= *documents),
                "{test}: range {index} kept: {resumed:?}"
            );
        }
        eprintln!("{test}: killed with {killed:?}, resumed to {resumed:?}");
    }
}
