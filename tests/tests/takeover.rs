//! A run's hold on its target when things go wrong around it: a kill inside `--restart` leaves
//! the previous run whole.

use std::time::{Duration, Instant};

use migrator_e2e::cli::{Cli, SchemaChoice};
use migrator_e2e::data::Dataset;
use migrator_e2e::fixture;
use migrator_e2e::pg::{TestDb, STATE};
use sqlx::Executor;

const BIN: &str = env!("CARGO_BIN_EXE_e2e-migrate");

/// Waits until `ready` holds, for at most a minute.
fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready() {
        assert!(Instant::now() < deadline, "{what}: not within a minute");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The sessions of this database with this `application_name`.
fn sessions(db: &TestDb, application: &str) -> i64 {
    db.count(&format!(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() \
         AND application_name = '{application}'"
    ))
}

/// `migrate --restart` killed while it drops the previous run (held at the state schema by a
/// lock the test takes): the previous run must still be there, stage and tables, never a `done`
/// state without its tables; the restart run again starts over and finishes.
#[test]
fn a_kill_inside_restart_leaves_the_previous_run_whole() {
    let db = TestDb::create("restart_killed");
    let dir = tempfile::tempdir().expect("temp dir");
    Dataset::from_documents(fixture::clean()).write_dump(dir.path());
    let cli = Cli::new(BIN, SchemaChoice::Fixture, db.url());
    let source = dir.path().display().to_string();
    cli.run(&["migrate", "--source", &source]).expect_code(0);
    let tables = db.table_hashes();
    assert!(!tables.is_empty());
    assert_eq!(db.stage().as_deref(), Some("done"));

    // The restart drops the tables and the state schema; the state's run table is locked here,
    // so the restart waits there with whatever it dropped before.
    let mut holder = db.connect();
    db.block_on(holder.execute("BEGIN")).expect("begin");
    db.block_on(
        holder.execute(format!("LOCK TABLE {STATE}.run IN ACCESS EXCLUSIVE MODE").as_str()),
    )
    .expect("lock the run table");
    let mut restart = cli.spawn(&["migrate", "--source", &source, "--restart"]);
    wait_until("the restart waits for the lock", || {
        if let Some(done) = restart.try_finish() {
            panic!("the restart ended: {:?}\n{}", done.code, done.stderr);
        }
        db.count(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() \
             AND application_name = 'migrator' AND wait_event_type = 'Lock'",
        ) > 0
    });
    // SIGKILL, and its session ended as a crash ends it (the server would otherwise notice the
    // dead client only once the lock is free and the statement done).
    restart.kill();
    assert!(db.terminate("migrator") > 0, "the restart's session");
    db.block_on(holder.execute("ROLLBACK"))
        .expect("release the lock");
    wait_until("the restart's sessions end", || {
        sessions(&db, "migrator") == 0
    });

    assert_eq!(
        db.stage().as_deref(),
        Some("done"),
        "the previous run's state"
    );
    assert_eq!(db.table_hashes(), tables, "the previous run's tables");

    cli.run(&["migrate", "--source", &source, "--restart"])
        .expect_code(0);
    assert_eq!(db.table_hashes(), tables, "started over: every row once");
    assert_eq!(db.stage().as_deref(), Some("done"));
}
