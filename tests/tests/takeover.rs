//! A run's hold on its target when things go wrong around it: a kill inside `--restart` leaves
//! the previous run whole, and a run whose control session is terminated stops writing before a
//! second run takes the target over.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use migrator::report::Outcome;
use migrator::source::DumpSource;
use migrator_e2e::cli::{Cli, SchemaChoice};
use migrator_e2e::data::Dataset;
use migrator_e2e::expect::RealOutcome;
use migrator_e2e::fixture;
use migrator_e2e::kills::committed;
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

/// The control session of a loading run is terminated (`pg_terminate_backend`) and a second run
/// started: the first run's writers must not commit a batch once the second has taken the
/// target over, and the second ends with exactly the tables of an uninterrupted run.
#[test]
fn a_run_that_lost_its_control_session_stops_writing_before_another_takes_over() {
    let dir = tempfile::tempdir().expect("temp dir");
    Dataset::real().write_dump(dir.path());

    let baseline = TestDb::create("control_lost_baseline");
    let schema = schema::real_data::schema().expect("schema");
    let source = Arc::new(DumpSource::open(dir.path()).expect("dump"));
    let report = baseline
        .run(&schema, source, baseline.config())
        .unwrap_or_else(|e| panic!("the uninterrupted run: {e}"));
    assert_eq!(report.outcome, Outcome::Completed);
    let want_tables = baseline.table_hashes();
    let want_letters = baseline.dead_letters();
    drop(baseline);

    let db = TestDb::create("control_lost");
    let cli = Cli::new(BIN, SchemaChoice::Real, db.url());
    let source = dir.path().display().to_string();
    // Small batches: the load goes on long after the control session is gone. The real data's
    // known rejections are accepted (exactly that many).
    let accepted = RealOutcome::of(&Dataset::real()).rejected().to_string();
    let args = [
        "migrate",
        "--source",
        &source,
        "--batch-size",
        "5",
        "--jobs",
        "2",
        "--accept-rejected",
        &accepted,
    ];
    let mut first = cli.spawn(&args);
    wait_until("the first run loads", || {
        if let Some(done) = first.try_finish() {
            panic!("the first run ended: {:?}\n{}", done.code, done.stderr);
        }
        db.stage().as_deref() == Some("loading") && committed(&db) > 100
    });

    // Every checkpoint a batch commits, with the session that committed it and when.
    for statement in [
        "CREATE SCHEMA audit",
        "CREATE TABLE audit.commits (pid integer NOT NULL, at timestamptz NOT NULL)",
        "CREATE FUNCTION audit.log() RETURNS trigger LANGUAGE plpgsql AS \
         $$ BEGIN INSERT INTO audit.commits VALUES (pg_backend_pid(), clock_timestamp()); \
         RETURN NEW; END $$",
        "CREATE TRIGGER audit AFTER UPDATE ON _migrator.checkpoints \
         FOR EACH ROW EXECUTE FUNCTION audit.log()",
    ] {
        db.rows(statement);
    }
    let pids = |application: &str| -> BTreeSet<String> {
        db.rows(&format!(
            "SELECT pid::text FROM pg_stat_activity WHERE datname = current_database() \
             AND application_name = '{application}'"
        ))
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .collect()
    };
    let first_writers = pids("migrator-writer");
    assert!(!first_writers.is_empty(), "the first run's writers");
    // The control session is the one holding the run lock.
    let control = db
        .scalar(
            "SELECT pid::text FROM pg_locks WHERE locktype = 'advisory' AND granted \
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        )
        .expect("the first run's control session holds the lock");
    db.rows(&format!("SELECT pg_terminate_backend({control})::text"));
    wait_until("the control session ends", || {
        db.count(&format!(
            "SELECT 1 FROM pg_stat_activity WHERE pid = {control}"
        )) == 0
    });

    let second = cli.spawn(&args);
    let second = second.wait_at_most(Duration::from_secs(600));
    let first = first.wait_at_most(Duration::from_secs(120));
    // The first run's early keys are fenced like its writers: nothing of it stops the second.
    assert_eq!(
        second.code,
        Some(0),
        "the second run: {}\nthe first run: {}",
        second.stderr,
        first.stderr
    );
    assert_ne!(
        first.code,
        Some(0),
        "the first run cannot finish: {}",
        first.stderr
    );

    let commits = db.rows("SELECT pid::text, to_char(at, 'YYYYMMDDHH24MISSUS') FROM audit.commits");
    let commits: Vec<(String, String)> = commits
        .into_iter()
        .map(|r| {
            (
                r[0].clone().unwrap_or_default(),
                r[1].clone().unwrap_or_default(),
            )
        })
        .collect();
    let took_over = commits
        .iter()
        .filter(|(pid, _)| !first_writers.contains(pid))
        .map(|(_, at)| at.clone())
        .min()
        .expect("the second run committed batches");
    let late: Vec<&(String, String)> = commits
        .iter()
        .filter(|(pid, at)| first_writers.contains(pid) && *at >= took_over)
        .collect();
    assert!(
        late.is_empty(),
        "{} batches of the first run committed after the second run's first ({took_over}); \
         first run:\n{}",
        late.len(),
        first.stderr
    );
    if first.code == Some(5) {
        assert!(
            first.stderr.contains("another run took this target over"),
            "{}",
            first.stderr
        );
    }
    assert_eq!(db.table_hashes(), want_tables, "every row once");
    assert_eq!(db.dead_letters(), want_letters, "every dead letter once");
    assert_eq!(db.stage().as_deref(), Some("done"));
}
