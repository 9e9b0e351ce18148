//! Following a live source: a change workload runs during the copy and during the follow; once
//! it stops and the follow has caught up, every table equals a fresh migration of the source's
//! final state, row by row, and the dead letters name the same documents. The same with the
//! follow killed (`kill -9`) at many random moments.

use std::time::Duration;

use bson::Document;
use migrator_e2e::changes::Workload;
use migrator_e2e::cli::SchemaChoice;
use migrator_e2e::fixture;
use migrator_e2e::follow::{drain, kill_follows, source, Binary};
use migrator_e2e::mongo::MongoDb;
use migrator_e2e::pg::TestDb;

const BIN: &str = env!("CARGO_BIN_EXE_e2e-migrate");

/// The fixture's clean data, with more orders so the copy takes a moment.
fn seed(mongo: &MongoDb) {
    let mut data = fixture::clean();
    let orders = fixture::docs_mut(&mut data, "orders");
    for i in 31..=2_000 {
        let mut order: Document = orders[0].clone();
        order.insert("_id", i);
        order.insert("customer_id", 1 + i % 12);
        orders.push(order);
    }
    for (name, docs) in &data {
        let raw: Vec<bson::RawDocumentBuf> = docs
            .iter()
            .map(|d| bson::RawDocumentBuf::try_from(d).expect("a document"))
            .collect();
        mongo.insert(name, &raw);
    }
}

const FOLLOWED: Binary = Binary {
    exe: BIN,
    schema: SchemaChoice::Fixture,
};

#[test]
fn a_followed_target_equals_a_fresh_migration_of_the_final_state() {
    let mongo = MongoDb::create("follow");
    seed(&mongo);
    let db = TestDb::create("follow");
    let cli = FOLLOWED.cli(&db);
    let workload = Workload::start(mongo.uri(), mongo.name(), 7, Duration::from_millis(1));
    // The copy runs while the application writes.
    cli.run(&[
        "migrate",
        "--source",
        &source(&mongo),
        "--accept-rejected",
        "100%",
    ])
    .expect_code(0);
    let during_copy = workload.done();
    // The follow runs while it goes on writing.
    let follow = cli.spawn(&[
        "follow",
        "--source",
        &source(&mongo),
        "--on-invalid",
        "delete",
    ]);
    // Its PostgreSQL session dropped twice: it reconnects and resumes from its recorded point.
    let mut dropped = 0;
    for _ in 0..2 {
        std::thread::sleep(Duration::from_millis(700));
        dropped += db.terminate(migrator::follow::FOLLOW_APPLICATION);
    }
    std::thread::sleep(Duration::from_millis(700));
    let total = workload.stop();
    std::thread::sleep(Duration::from_millis(500));
    follow.signal("INT");
    let stopped = follow.wait_at_most(Duration::from_secs(60));
    assert_eq!(stopped.code, Some(130), "{}", stopped.stderr);
    assert!(dropped > 0, "no follow session was found to drop");
    let status = cli.run(&["status"]);
    assert!(
        status.stdout.contains("changes applied"),
        "status says nothing of the follow:\n{}",
        status.stdout
    );
    drain(&cli, &mongo);
    assert!(
        during_copy > 0 && total > during_copy,
        "the workload wrote {during_copy} changes during the copy and {total} in all"
    );
    FOLLOWED.assert_same(&db, &mongo);
}

#[test]
fn a_follow_killed_at_random_moments_loses_nothing_and_applies_nothing_twice() {
    let mongo = MongoDb::create("follow_kill");
    seed(&mongo);
    let db = TestDb::create("follow_kill");
    let cli = FOLLOWED.cli(&db);
    // The copy and a follow in one command: nothing writes yet, so it is caught up at once.
    let chained = cli.run(&[
        "migrate",
        "--source",
        &source(&mongo),
        "--accept-rejected",
        "100%",
        "--follow",
        "--until-caught-up",
        "0",
    ]);
    chained.expect_code(0);
    assert!(
        chained.stdout.contains("final resume token"),
        "migrate --follow printed no final token:\n{}",
        chained.stdout
    );
    let workload = Workload::start(mongo.uri(), mongo.name(), 11, Duration::from_millis(1));
    let killed = kill_follows(&cli, &mongo, 24, 0x2545_f491_4f6c_dd1d);
    let total = workload.stop();
    let stderr = drain(&cli, &mongo);
    eprintln!(
        "{} kills ({} attempts found the lock still held) over {:?}, {total} changes; last follow: {stderr}",
        killed.kills, killed.locked, killed.took
    );
    FOLLOWED.assert_same(&db, &mongo);
}
