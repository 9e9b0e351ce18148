//! Following a live source: a change workload runs during the copy and during the follow; once
//! it stops and the follow has caught up, every table equals a fresh migration of the source's
//! final state, row by row, and the dead letters name the same documents. The same with the
//! follow killed (`kill -9`) at many random moments.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use bson::Document;
use migrator_e2e::changes::Workload;
use migrator_e2e::cli::{Cli, SchemaChoice};
use migrator_e2e::fixture;
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

fn source(mongo: &MongoDb) -> String {
    format!("{}/{}", mongo.uri().trim_end_matches('/'), mongo.name())
}

/// Dead letters as (collection, `_id`): which documents are rejected.
fn rejected(db: &TestDb) -> BTreeSet<(String, String)> {
    db.dead_letters()
        .into_iter()
        .map(|[collection, id, ..]| (collection, id))
        .collect()
}

/// A fresh migration of the source as it is now: the oracle.
fn oracle(mongo: &MongoDb) -> TestDb {
    let db = TestDb::create("follow_oracle");
    let cli = Cli::new(BIN, SchemaChoice::Fixture, db.url());
    let done = cli.run(&[
        "migrate",
        "--source",
        &source(mongo),
        "--accept-rejected",
        "100%",
    ]);
    done.expect_code(0);
    db
}

fn assert_same(followed: &TestDb, mongo: &MongoDb) {
    let expected = oracle(mongo);
    assert_eq!(
        followed.table_hashes(),
        expected.table_hashes(),
        "the followed target differs from a fresh migration of the final state"
    );
    assert_eq!(
        rejected(followed),
        rejected(&expected),
        "the dead letters differ"
    );
}

/// Drains the changes left: `follow --until-caught-up` after the writes stopped.
fn drain(cli: &Cli, mongo: &MongoDb) -> String {
    let done = cli
        .spawn(&[
            "follow",
            "--source",
            &source(mongo),
            "--until-caught-up",
            "0",
            "--on-invalid",
            "delete",
        ])
        .wait_at_most(Duration::from_secs(60));
    done.expect_code(0);
    assert!(
        done.stdout.contains("final resume token"),
        "no final token printed:\n{}",
        done.stdout
    );
    done.stderr
}

#[test]
fn a_followed_target_equals_a_fresh_migration_of_the_final_state() {
    let mongo = MongoDb::create("follow");
    seed(&mongo);
    let db = TestDb::create("follow");
    let cli = Cli::new(BIN, SchemaChoice::Fixture, db.url());
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
    assert_same(&db, &mongo);
}

#[test]
fn a_follow_killed_at_random_moments_loses_nothing_and_applies_nothing_twice() {
    let mongo = MongoDb::create("follow_kill");
    seed(&mongo);
    let db = TestDb::create("follow_kill");
    let cli = Cli::new(BIN, SchemaChoice::Fixture, db.url());
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
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let started = Instant::now();
    let (mut kills, mut locked) = (0, 0);
    while kills < 24 {
        let mut follow = cli.spawn(&[
            "follow",
            "--source",
            &source(&mongo),
            "--on-invalid",
            "delete",
        ]);
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        std::thread::sleep(Duration::from_millis(150 + rng % 600));
        match follow.kill() {
            // The follow killed before still held the lock (its session not yet ended): exit 5,
            // as documented; the next attempt goes ahead.
            Some(done) if done.code == Some(5) => locked += 1,
            Some(done) => {
                assert_eq!(
                    done.code, None,
                    "the follow ended on its own:\n{}",
                    done.stderr
                );
                kills += 1;
            }
            None => kills += 1,
        }
        assert!(
            locked < 20,
            "the lock of a killed follow was never released"
        );
    }
    let total = workload.stop();
    let stderr = drain(&cli, &mongo);
    eprintln!(
        "{kills} kills ({locked} attempts found the lock still held) over {:?}, {total} changes; last follow: {stderr}",
        started.elapsed()
    );
    assert_same(&db, &mongo);
}
