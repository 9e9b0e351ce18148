//! Following the example application (26 collections, ten junctions, nested child tables,
//! references under every policy) while its change workload runs
//! ([`schema::generator::changes`]): during the copy and during the follow it inserts, pushes
//! and pops junction and child array elements, deletes referenced documents, makes documents
//! invalid (and some valid again) and writes multi-document transactions. Once it stops and
//! `follow --until-caught-up` has drained the stream, every table equals a fresh migration of the
//! source's final state, row by row, the dead letters name the same documents, and every
//! document the workload left invalid is one of them. (The same with the follow killed at 20
//! moments is tests/tests/follow.rs's on the fixture; on the example it is not in yet.)

use migrator_e2e::cli::SchemaChoice;
use migrator_e2e::example;
use migrator_e2e::example_changes::ExampleChanges;
use migrator_e2e::follow::{drain, rejected, source, Binary};
use migrator_e2e::mongo::MongoDb;
use migrator_e2e::pg::TestDb;
use schema::generator::changes::writer::Pace;
use schema::generator::changes::{ChangeKind, ChangePlan};
use schema::generator::{FaultConfig, Generator};
use std::time::{Duration, Instant};

/// The example's migration binary (the `E2E_SCHEMA` the harness sets means nothing to it).
const BIN: &str = env!("CARGO_BIN_EXE_example-migrate");
const FOLLOWED: Binary = Binary {
    exe: BIN,
    schema: SchemaChoice::Real,
};
/// A tenth of the example: about 10,000 documents.
const SCALE: f64 = 0.1;
/// Changes per second: enough for every kind of change to occur many times, few enough for a
/// debug build of the follow on a loaded machine to keep up.
const RATE: f64 = 100.0;

/// The example at [`SCALE`], with a fault of each kind (no document near 16 MB), in the test's
/// database.
fn seed(mongo: &MongoDb, seed: u64) -> Generator {
    let generator = example::generator(
        seed,
        SCALE,
        FaultConfig {
            per_kind: 1,
            oversized: 0,
        },
    );
    example::insert(&generator, mongo, 1_000);
    generator
}

/// Waits until the run in `db` has finished its copy (the follow starts then).
fn copied(db: &TestDb, within: Duration) {
    let deadline = Instant::now() + within;
    while db.stage().as_deref() != Some("done") {
        assert!(
            Instant::now() < deadline,
            "the copy did not finish in {within:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The follow's recorded totals: (changes applied, MongoDB transactions among them).
fn follow_totals(db: &TestDb) -> (i64, i64) {
    let applied = db.number("SELECT applied FROM _migrator.follow");
    let transactions = db.number("SELECT transactions FROM _migrator.follow");
    (applied, transactions)
}

/// The workload made every kind of change, and every document it left invalid is a dead letter.
fn check_workload(db: &TestDb, plan: &ChangePlan) {
    for kind in ChangeKind::ALL {
        assert!(
            plan.counts().get(&kind).copied().unwrap_or(0) > 0,
            "the workload made no {} change: {:?}",
            kind.name(),
            plan.counts()
        );
    }
    let rejected = rejected(db);
    let invalid = plan.invalid_documents();
    assert!(!invalid.is_empty(), "the workload left no document invalid");
    for (collection, id) in invalid {
        let key = (
            collection.name().to_string(),
            format!("{{\"$oid\":\"{id}\"}}"),
        );
        assert!(
            rejected.contains(&key),
            "{} {id}, left invalid by the workload, is no dead letter",
            collection.name()
        );
    }
    let (applied, transactions) = follow_totals(db);
    assert!(
        applied > 0 && transactions > 0,
        "the follow applied {applied} changes, {transactions} transactions"
    );
}

#[test]
fn the_example_followed_while_it_changes_equals_a_fresh_migration_of_its_final_state() {
    let started = Instant::now();
    let mongo = MongoDb::create("follow_example");
    let generator = seed(&mongo, 0x00f0_110e);
    let db = TestDb::create("follow_example");
    let cli = FOLLOWED.cli(&db);
    let pace = Pace {
        count: None,
        rate: Some(RATE),
    };
    let workload = ExampleChanges::start(mongo.uri(), mongo.name(), &generator, 7, pace);
    // The copy and then the follow in one command, while the application writes.
    let follow = cli.spawn(&[
        "migrate",
        "--source",
        &source(&mongo),
        "--accept-rejected",
        "100%",
        "--follow",
        "--on-invalid",
        "delete",
    ]);
    copied(&db, Duration::from_secs(120));
    let during_copy = workload.done();
    std::thread::sleep(Duration::from_secs(6));
    let (written, plan) = workload.stop();
    follow.signal("INT");
    let stopped = follow.wait_at_most(Duration::from_secs(60));
    assert_eq!(stopped.code, Some(130), "{}", stopped.stderr);
    let stderr = drain(&cli, &mongo);
    eprintln!(
        "{} changes ({} writes, {during_copy} during the copy), {:?}; last follow: {stderr}",
        written.changes,
        written.writes,
        plan.counts()
    );
    assert!(
        during_copy > 0 && written.changes > during_copy,
        "the workload made {during_copy} changes during the copy and {} in all",
        written.changes
    );
    check_workload(&db, &plan);
    FOLLOWED.assert_same(&db, &mongo);
    eprintln!("done in {:?}", started.elapsed());
}
