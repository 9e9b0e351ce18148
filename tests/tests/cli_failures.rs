//! What the binary says, and the code it exits with, when `migrate` cannot go on as asked:
//! counts of zero, an unreachable server, Ctrl+C once the load is over.

use std::time::{Duration, Instant};

use migrator_e2e::cli::{Cli, SchemaChoice};
use migrator_e2e::data::Dataset;
use migrator_e2e::expect::RealOutcome;
use migrator_e2e::fixture;
use migrator_e2e::pg::{TestDb, TARGET};
use sqlx::Executor;

const BIN: &str = env!("CARGO_BIN_EXE_e2e-migrate");

fn fixture_dump() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    Dataset::from_documents(fixture::clean()).write_dump(dir.path());
    dir
}

/// `--batch-size 0` and its kin, from a flag or from the `--config` file, are usage errors
/// naming the option, and nothing is written.
#[test]
fn counts_of_zero_are_usage_errors() {
    let db = TestDb::create("zero_counts");
    let dir = fixture_dump();
    let cli = Cli::new(BIN, SchemaChoice::Fixture, db.url());
    let source = dir.path().display().to_string();
    for flag in ["--batch-size", "--batch-bytes", "--jobs", "--partitions"] {
        let refused = cli.run(&["migrate", "--source", &source, flag, "0"]);
        refused.expect_code(2);
        assert!(refused.stderr.contains(flag), "{flag}: {}", refused.stderr);
    }
    let config = cli.dir().join("zero.toml");
    std::fs::write(&config, "jobs = 0\n").expect("write the config file");
    let config = config.display().to_string();
    let refused = cli.run(&["--config", &config, "migrate", "--source", &source]);
    refused.expect_code(2);
    assert!(
        refused.stderr.contains("`jobs` must be at least 1, not 0"),
        "{}",
        refused.stderr
    );
    assert_eq!(db.stage(), None, "nothing was written");
    assert!(db.tables(TARGET).is_empty());
}

/// A server that refuses the connection: the cause is said once, and the message says what to
/// do next.
#[test]
fn an_unreachable_server_is_said_once() {
    let dir = fixture_dump();
    let cli = Cli::new(
        BIN,
        SchemaChoice::Fixture,
        "postgres://postgres@127.0.0.1:1/nowhere",
    );
    let source = dir.path().display().to_string();
    let failed = cli.run(&["migrate", "--source", &source]);
    failed.expect_code(1);
    let error = failed
        .stderr
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("no error line: {}", failed.stderr));
    assert!(
        error.contains("connecting to PostgreSQL at postgres://postgres@127.0.0.1:1/nowhere"),
        "{error}"
    );
    assert_eq!(error.matches("Connection refused").count(), 1, "{error}");
    assert!(
        failed.stderr.contains("run the same command to resume"),
        "{}",
        failed.stderr
    );
}

/// Ctrl+C once the load is over (the constraints held back by a lock the test takes on every
/// table): the run says it finishes its last stage, and does, exit 0.
#[test]
fn ctrl_c_after_the_load_finishes_the_last_stage_and_says_so() {
    let db = TestDb::create("ctrl_c_last_stage");
    let dir = tempfile::tempdir().expect("temp dir");
    Dataset::real().write_dump(dir.path());
    let cli = Cli::new(BIN, SchemaChoice::Real, db.url());
    let source = dir.path().display().to_string();
    // The real data's known rejections are accepted: the exit code says how the stage ended.
    let accepted = RealOutcome::of(&Dataset::real()).rejected().to_string();
    let mut running = cli.spawn(&[
        "migrate",
        "--source",
        &source,
        "--batch-size",
        "5",
        "--accept-rejected",
        &accepted,
    ]);
    let stderr = cli.dir().join("run-1.stderr");
    let deadline = Instant::now() + Duration::from_secs(120);
    let wait = |what: &str, running: &mut migrator_e2e::cli::Running, ready: &dyn Fn() -> bool| {
        while !ready() {
            if let Some(done) = running.try_finish() {
                panic!(
                    "the run ended before {what}: {:?}\n{}",
                    done.code, done.stderr
                );
            }
            assert!(Instant::now() < deadline, "{what}: not within two minutes");
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    wait("its tables exist", &mut running, &|| {
        db.stage().as_deref() == Some("loading") && db.tables(TARGET).len() == 13
    });
    let mut holder = db.connect();
    let tables: Vec<String> = db
        .tables(TARGET)
        .iter()
        .map(|t| format!("{TARGET}.{t}"))
        .collect();
    db.block_on(holder.execute("BEGIN")).expect("begin");
    db.block_on(
        holder.execute(format!("LOCK TABLE {} IN ACCESS SHARE MODE", tables.join(", ")).as_str()),
    )
    .expect("hold the tables");
    wait("the last stage", &mut running, &|| {
        std::fs::read_to_string(&stderr).is_ok_and(|t| t.contains("stage: references"))
    });
    running.signal("INT");
    wait("the message", &mut running, &|| {
        std::fs::read_to_string(&stderr)
            .is_ok_and(|t| t.contains("the load is done: finishing its last stage"))
    });
    db.block_on(holder.execute("ROLLBACK"))
        .expect("release the tables");
    running
        .wait_at_most(Duration::from_secs(120))
        .expect_code(0);
    assert_eq!(db.stage().as_deref(), Some("done"));
}
