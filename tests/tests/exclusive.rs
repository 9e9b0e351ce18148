//! One run per target at a time, and a resume only with the settings the run started with.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use migrator::progress::{Event, Observer};
use migrator::report::Outcome;
use migrator::run_error::RunError;
use migrator::source::DumpSource;
use migrator::state::{connect, StateStore};
use migrator_e2e::cli::{Cli, SchemaChoice};
use migrator_e2e::data::Dataset;
use migrator_e2e::expect::RealOutcome;
use migrator_e2e::fixture::{self, CLEAN_ROWS};
use migrator_e2e::pg::{TestDb, STATE, TARGET};

const BIN: &str = env!("CARGO_BIN_EXE_e2e-migrate");

fn fixture_dump() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    Dataset::from_documents(fixture::clean()).write_dump(dir.path());
    dir
}

/// While another session holds the run's advisory lock, a run is refused before it writes
/// anything: `RunError::Locked` in-process, exit code 5 from the binary.
#[test]
fn a_run_is_refused_while_another_holds_the_lock() {
    let db = TestDb::create("lock_held");
    let dir = fixture_dump();
    let state = StateStore::new(STATE);
    let mut holder = db
        .block_on(connect(db.url()))
        .unwrap_or_else(|e| panic!("{e}"));
    db.block_on(state.lock(&mut holder))
        .unwrap_or_else(|e| panic!("taking the lock: {e}"));

    let schema = fixture::schema().expect("schema");
    let source = Arc::new(DumpSource::open(dir.path()).expect("dump"));
    let err = db
        .run(&schema, source, db.config())
        .expect_err("the lock is held");
    assert!(
        matches!(&err, RunError::Locked { state } if state == STATE),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("another migration holds the lock on this target (state schema `_migrator`)"),
        "{err}"
    );

    let cli = Cli::new(BIN, SchemaChoice::Fixture, db.url());
    let source = dir.path().display().to_string();
    let accepted = RealOutcome::of(&Dataset::real()).rejected().to_string();
    let args = [
        "migrate",
        "--source",
        source.as_str(),
        "--accept-rejected",
        accepted.as_str(),
    ];
    let refused = cli.run(&args);
    refused.expect_code(5);
    assert!(
        refused.stderr.contains("another migration holds the lock"),
        "{}",
        refused.stderr
    );
    assert!(db.tables(TARGET).is_empty(), "nothing was written");
    assert_eq!(db.stage(), None);

    db.block_on(state.unlock(&mut holder))
        .unwrap_or_else(|e| panic!("releasing the lock: {e}"));
    cli.run(&args).expect_code(0);
    assert_eq!(db.stage().as_deref(), Some("done"));
}

/// Two processes started on one target: the second exits with code 5 while the first loads, and
/// the first finishes undisturbed.
#[test]
fn a_second_process_exits_with_code_5_while_the_first_runs() {
    let db = TestDb::create("two_processes");
    let dir = tempfile::tempdir().expect("temp dir");
    Dataset::real().write_dump(dir.path());
    let cli = Cli::new(BIN, SchemaChoice::Real, db.url());
    let source = dir.path().display().to_string();
    let accepted = RealOutcome::of(&Dataset::real()).rejected().to_string();
    let args = [
        "migrate",
        "--source",
        source.as_str(),
        "--batch-size",
        "20",
        "--accept-rejected",
        accepted.as_str(),
    ];

    let mut first = cli.spawn(&args);
    let deadline = Instant::now() + Duration::from_secs(60);
    while db.stage().as_deref() != Some("loading") {
        assert!(first.try_finish().is_none(), "the first run ended too soon");
        assert!(
            Instant::now() < deadline,
            "the first run never started loading"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let second = cli.run(&args);
    second.expect_code(5);
    assert!(
        second.stderr.contains("another migration holds the lock"),
        "{}",
        second.stderr
    );
    assert!(
        first.try_finish().is_none(),
        "the first run was still loading when the second was refused"
    );
    first.wait_at_most(Duration::from_secs(120)).expect_code(0);
    let tables = db.table_hashes();

    // Once the first is done, the same command finds nothing left to do, and says so.
    let again = cli.run(&args);
    again.expect_code(0);
    assert!(
        again.stdout.contains("Already complete"),
        "{}",
        again.stdout
    );
    assert_eq!(db.table_hashes(), tables);
}

/// Stops a run after its first committed batch.
struct StopAfterFirstBatch {
    stop: Arc<AtomicBool>,
    batches: AtomicU64,
}

impl Observer for StopAfterFirstBatch {
    fn event(&self, event: &Event) {
        if let Event::BatchCommitted { .. } = event {
            self.batches.fetch_add(1, Ordering::SeqCst);
            self.stop.store(true, Ordering::SeqCst);
        }
    }
}

/// A run interrupted with some settings refuses to resume with others (`--partitions`, another
/// kind of source), says what changed and how to start over, and touches nothing; `--restart`
/// starts over from scratch.
#[test]
fn resuming_with_other_settings_is_refused_unless_restarted() {
    let db = TestDb::create("other_settings");
    let dir = tempfile::tempdir().expect("temp dir");
    let data = Dataset::from_documents(fixture::clean());
    data.write_dump(&dir.path().join("dump"));
    data.write_export(&dir.path().join("export"));

    let schema = fixture::schema().expect("schema");
    let stop = Arc::new(AtomicBool::new(false));
    let observer = Arc::new(StopAfterFirstBatch {
        stop: Arc::clone(&stop),
        batches: AtomicU64::new(0),
    });
    let mut config = db.config();
    config.batch_documents = 5;
    let source = Arc::new(DumpSource::open(&dir.path().join("dump")).expect("dump"));
    let report = db
        .run_observed(&schema, source, config, observer.clone(), stop)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.outcome, Outcome::Interrupted);
    assert!(observer.batches.load(Ordering::SeqCst) >= 1);
    assert_eq!(db.stage().as_deref(), Some("loading"));
    let tables = db.table_hashes();
    let checkpoints = db.checkpoint_totals();

    let cli = Cli::new(BIN, SchemaChoice::Fixture, db.url());
    let dump = dir.path().join("dump").display().to_string();
    let export = dir.path().join("export").display().to_string();
    let refusals = [
        (
            vec!["migrate", "--source", dump.as_str(), "--partitions", "2"],
            "--partitions was 4, now 2",
        ),
        (
            vec!["migrate", "--source", export.as_str()],
            "the source kind was dump, now export",
        ),
    ];
    for (args, change) in &refusals {
        let refused = cli.run(args);
        // A usage error: the command line must change (or say --restart).
        refused.expect_code(2);
        let expected = format!(
            "the checkpoint in `{STATE}` was written with other settings: {change}; \
             run with --restart to start over"
        );
        assert!(refused.stderr.contains(&expected), "{}", refused.stderr);
        assert_eq!(
            db.table_hashes(),
            tables,
            "{change}: the tables are untouched"
        );
        assert_eq!(
            db.checkpoint_totals(),
            checkpoints,
            "{change}: checkpoints untouched"
        );
    }

    let mut args = refusals[1].0.clone();
    args.push("--restart");
    cli.run(&args).expect_code(0);
    let counts = db.table_counts();
    let want: BTreeMap<String, i64> = CLEAN_ROWS
        .iter()
        .map(|(t, n)| (t.to_string(), *n))
        .collect();
    assert_eq!(counts, want, "started over: every row once");
    let documents: BTreeMap<String, i64> = db
        .checkpoint_totals()
        .into_iter()
        .map(|(c, t)| (c, t.1))
        .collect();
    let want: BTreeMap<String, i64> = fixture::clean()
        .iter()
        .map(|(c, docs)| (c.to_string(), docs.len() as i64))
        .collect();
    assert_eq!(documents, want, "the checkpoints count each document once");
    assert_eq!(db.stage().as_deref(), Some("done"));
}
