//! Following the example application (26 collections, ten junctions, nested child tables,
//! references under every policy) while its change workload runs
//! ([`schema::generator::changes`]): during the copy and during the follow it inserts, pushes
//! and pops junction and child array elements, deletes referenced documents, makes documents
//! invalid (and some valid again) and writes multi-document transactions. Once it stops and
//! `follow --until-caught-up` has drained the stream, every table equals a fresh migration of the
//! source's final state, row by row, the dead letters name the same documents, and every
//! document the workload left invalid is one of them. The same with the follow killed (`kill -9`)
//! many times: tests/tests/follow_example_kill.rs.

use migrator_e2e::example_changes::ExampleChanges;
use migrator_e2e::example_follow::{binary, check_workload, copied, seed};
use migrator_e2e::follow::{drain, source, Binary};
use migrator_e2e::mongo::MongoDb;
use migrator_e2e::pg::TestDb;
use schema::generator::changes::writer::Pace;
use std::time::{Duration, Instant};

/// The example's migration binary (the `E2E_SCHEMA` the harness sets means nothing to it).
const FOLLOWED: Binary = binary(env!("CARGO_BIN_EXE_example-migrate"));
/// Changes per second: enough for every kind of change to occur many times, few enough for a
/// debug build of the follow on a loaded machine to keep up.
const RATE: f64 = 100.0;

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
