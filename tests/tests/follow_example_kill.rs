//! The example application followed while its change workload runs, the follow killed
//! (`kill -9`) 24 times: each kill waits until the running follow has committed a position newer
//! than the last one (so it lands in a follow applying changes, on a quiet machine as under
//! load), then a random delay of up to a second. Transactions of 50 changes (`--follow-batch
//! 50`) put many commits, and many moments between them, in each run. Once the writes stop and
//! `follow --until-caught-up` has drained the stream, every table equals a fresh migration of
//! the source's final state row by row, and the dead letters name the same documents: nothing
//! lost, nothing applied twice.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use migrator_e2e::example_changes::ExampleChanges;
use migrator_e2e::example_follow::{binary, check_workload, seed};
use migrator_e2e::follow::{drain_within, kill_after_commits, source, Binary, KillPlan};
use migrator_e2e::mongo::MongoDb;
use migrator_e2e::pg::TestDb;
use schema::generator::changes::writer::Pace;

const FOLLOWED: Binary = binary(env!("CARGO_BIN_EXE_example-migrate"));
/// Changes per second: a steady stream for every run to apply, small enough a backlog for the
/// drain of a debug build on a loaded machine.
const RATE: f64 = 50.0;
const KILLS: u32 = 24;

#[test]
fn the_example_followed_and_killed_24_times_equals_a_fresh_migration_of_its_final_state() {
    let started = Instant::now();
    let mongo = MongoDb::create("follow_example_kill");
    let generator = seed(&mongo, 0x6b11_1ed0);
    let db = TestDb::create("follow_example_kill");
    let cli = FOLLOWED.cli(&db);
    let pace = Pace {
        count: None,
        rate: Some(RATE),
    };
    let workload = ExampleChanges::start(mongo.uri(), mongo.name(), &generator, 13, pace);
    // The copy runs while the application writes; the follows apply what it wrote meanwhile,
    // then what it goes on writing.
    cli.run(&[
        "migrate",
        "--source",
        &source(&mongo),
        "--accept-rejected",
        "100%",
    ])
    .expect_code(0);
    let during_copy = workload.done();
    let (killed, positions) = kill_after_commits(
        &cli,
        &db,
        &mongo,
        &KillPlan {
            kills: KILLS,
            seed: 0x9e37_79b9_7f4a_7c15,
            max_delay: Duration::from_millis(1000),
            args: &["--follow-batch", "50", "--on-invalid", "delete"],
            within: Duration::from_secs(1800),
        },
    );
    let (written, plan) = workload.stop();
    let stderr = drain_within(&cli, &mongo, Duration::from_secs(900));
    eprintln!(
        "{} kills ({} attempts found the lock still held) over {:?}; {} changes ({} during the \
         copy), {:?}; last follow: {stderr}",
        killed.kills,
        killed.locked,
        killed.took,
        written.changes,
        during_copy,
        plan.counts()
    );
    // Each kill came after a commit of its own run: as many positions as kills, all different.
    let distinct: BTreeSet<&String> = positions.iter().collect();
    assert_eq!(
        (killed.kills as usize, distinct.len()),
        (KILLS as usize, KILLS as usize),
        "kills and the positions committed before them"
    );
    check_workload(&db, &plan);
    FOLLOWED.assert_same(&db, &mongo);
    eprintln!("done in {:?}", started.elapsed());
}
