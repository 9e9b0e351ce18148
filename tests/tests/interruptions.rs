//! Runs of the real data that are killed, interrupted, or lose their PostgreSQL connections must
//! end with exactly the tables, dead letters, reference actions and checkpoint totals of an
//! uninterrupted run: every row compared by hash, nothing lost, nothing written twice.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use migrator::progress::{Event, Observer};
use migrator::report::Outcome;
use migrator::source::DumpSource;
use migrator_e2e::cli::{Cli, Running, SchemaChoice};
use migrator_e2e::data::Dataset;
use migrator_e2e::example::dead_letter_lines;
use migrator_e2e::expect::RealOutcome;
use migrator_e2e::kills::{self, committed, Kills, Moment};
use migrator_e2e::moments::Moments;
use migrator_e2e::mongo::MongoDb;
use migrator_e2e::pg::{TableHashes, TestDb};

const BIN: &str = env!("CARGO_BIN_EXE_e2e-migrate");
/// Small batches: many commits to interrupt.
const BATCH: usize = 50;
/// The dead-letter file a CLI run writes in its working directory.
const DEAD_LETTERS: &str = "migrator-dead-letters.jsonl";
/// Batches of the killed file-source runs.
const KILL_BATCH: usize = 10;

/// What an uninterrupted run leaves behind.
#[derive(Debug, PartialEq)]
struct Outcomes {
    tables: TableHashes,
    dead_letters: Vec<[String; 6]>,
    reference_issues: Vec<[String; 6]>,
    /// Per collection: (partitions, documents, rows written, dead letters, done).
    checkpoints: BTreeMap<String, (i64, i64, i64, i64, bool)>,
    stage: Option<String>,
    /// The key census: a resumed run counts every document once.
    census: Vec<[String; 4]>,
}

impl Outcomes {
    fn of(db: &TestDb) -> Outcomes {
        Outcomes {
            tables: db.table_hashes(),
            dead_letters: db.dead_letters(),
            reference_issues: db.reference_issues(),
            checkpoints: db.checkpoint_totals(),
            stage: db.stage(),
            census: db.key_census(),
        }
    }
}

struct Baseline {
    outcomes: Outcomes,
    /// Its dead-letter file's lines, sorted.
    dead_letter_file: Vec<String>,
    /// How long the uninterrupted run took, to scale the moments of interruption.
    elapsed: Duration,
}

/// One uninterrupted in-process run per test binary, shared by the tests.
fn baseline() -> &'static Baseline {
    static BASELINE: OnceLock<Baseline> = OnceLock::new();
    BASELINE.get_or_init(|| {
        let dir = dump();
        let db = TestDb::create("interrupt_baseline");
        let schema = schema::real_data::schema().expect("schema");
        let mut config = db.config();
        config.batch_documents = BATCH;
        let file = dir.path().join("baseline-dead-letters.jsonl");
        config.dead_letter_file = Some(file.clone());
        let started = Instant::now();
        let source = Arc::new(DumpSource::open(dir.path()).expect("dump"));
        let report = db.run(&schema, source, config).expect("the baseline run");
        let elapsed = started.elapsed();
        assert_eq!(report.outcome, Outcome::Completed);
        let outcomes = Outcomes::of(&db);
        assert_eq!(outcomes.stage.as_deref(), Some("done"));
        assert_eq!(outcomes.tables.len(), 13);
        let theaters = outcomes
            .census
            .iter()
            .find(|c| c[0] == "theaters" && c[1].is_empty());
        assert_eq!(
            theaters.map(|c| c[2].as_str()),
            Some("1564"),
            "the census counts every theater once"
        );
        assert!(
            outcomes.checkpoints.values().all(|c| c.4),
            "every partition done"
        );
        let dead_letter_file = dead_letter_lines(&file);
        assert!(!dead_letter_file.is_empty(), "the real data's rejections");
        Baseline {
            outcomes,
            dead_letter_file,
            elapsed,
        }
    })
}

fn dump() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    Dataset::real().write_dump(dir.path());
    dir
}

/// Compares `db` and its run's dead-letter file with the uninterrupted run: tables, dead letters
/// (table and file), reference actions, checkpoint totals, stage and key census.
fn assert_like_baseline(db: &TestDb, dead_letter_file: &Path, what: &str) {
    assert_eq!(
        dead_letter_lines(dead_letter_file),
        baseline().dead_letter_file,
        "{what}: the dead-letter file"
    );
    let got = Outcomes::of(db);
    let want = &baseline().outcomes;
    for (table, hash) in &want.tables {
        assert_eq!(got.tables.get(table), Some(hash), "{what}: table {table}");
    }
    assert_eq!(got.tables.len(), want.tables.len(), "{what}: tables");
    assert_eq!(got.dead_letters, want.dead_letters, "{what}: dead letters");
    assert_eq!(
        got.reference_issues, want.reference_issues,
        "{what}: reference issues"
    );
    // Documents, rows, dead letters and done flags; partition counts differ between sources.
    let totals = |c: &BTreeMap<String, (i64, i64, i64, i64, bool)>| -> BTreeMap<String, (i64, i64, i64, bool)> {
        c.iter()
            .map(|(name, t)| (name.clone(), (t.1, t.2, t.3, t.4)))
            .collect()
    };
    assert_eq!(
        totals(&got.checkpoints),
        totals(&want.checkpoints),
        "{what}: checkpoints"
    );
    assert_eq!(got.stage.as_deref(), Some("done"), "{what}: stage");
    let differ: Vec<_> = got
        .census
        .iter()
        .filter(|row| !want.census.contains(row))
        .chain(want.census.iter().filter(|row| !got.census.contains(row)))
        .collect();
    assert!(
        differ.is_empty(),
        "{what}: key census rows that differ: {differ:?}"
    );
}

/// A run of the real data, its known rejections accepted.
fn migrate_args(source: &str, batch: usize) -> Vec<String> {
    vec![
        "migrate".into(),
        "--source".into(),
        source.to_string(),
        "--batch-size".into(),
        batch.to_string(),
        "--accept-rejected".into(),
        RealOutcome::of(&Dataset::real()).rejected().to_string(),
    ]
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// Waits until the run has committed more than `after` documents and is still loading.
fn wait_for_progress(db: &TestDb, running: &mut Running, after: i64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(done) = running.try_finish() {
            panic!(
                "the run ended before it could be interrupted (code {:?})\n{}",
                done.code, done.stderr
            );
        }
        if db.stage().as_deref() == Some("loading") && committed(db) > after {
            return;
        }
        assert!(Instant::now() < deadline, "no progress within a minute");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// SIGKILLs runs of `args` until one finishes: until `min_kills` have died, one in five shortly
/// after the start and the others a little after committing something of their own; then a
/// little later each time, so the last ones reach reference resolution and the constraints.
fn kill_until_done(db: &TestDb, cli: &Cli, args: &[&str], seed: u64, min_kills: u32) -> Kills {
    let mut moments = Moments::new(seed);
    let whole = baseline().elapsed;
    kills::kill_until_done(db, cli, args, 400, |kills| {
        let late = i32::try_from(kills.saturating_sub(min_kills)).unwrap_or(i32::MAX);
        let growth = 1.25f64.powi(late);
        if moments.next_fraction() < 0.2 {
            Moment::AfterStart(moments.between(Duration::ZERO, Duration::from_millis(150)))
        } else {
            Moment::AfterProgress(whole.mul_f64(0.03 * growth * moments.next_fraction()))
        }
    })
}

/// SIGKILL at >= 20 seeded moments, each run resuming the last, until one finishes: the result
/// is the uninterrupted run's, row for row.
#[test]
fn kill_9_at_random_moments_then_resume() {
    let dir = dump();
    let db = TestDb::create("kill_9");
    let cli = Cli::new(BIN, SchemaChoice::Real, db.url());
    // Small batches: many commits, so the kills keep finding a load to interrupt.
    let args = migrate_args(&dir.path().display().to_string(), KILL_BATCH);
    let started = Instant::now();
    let killed = kill_until_done(&db, &cli, &strs(&args), 0x6b69_6c6c_2d39, 20);
    eprintln!(
        "kill -9 (dump): {killed:?} in {:.1}s (uninterrupted, in-process: {:.1}s)",
        started.elapsed().as_secs_f64(),
        baseline().elapsed.as_secs_f64()
    );
    assert!(
        killed.kills >= 20,
        "only {} kills before a run finished",
        killed.kills
    );
    assert!(
        killed.stages.get("loading").copied().unwrap_or(0) >= 5,
        "most kills fall in the load: {:?}",
        killed.stages
    );
    assert_like_baseline(&db, &cli.dir().join(DEAD_LETTERS), "after kill -9");
}

/// Kills a run of `source` split into up to 4 ranges loaded two at a time (`extra` arguments
/// added) at >= 10 seeded moments until one finishes, then compares with the baseline.
fn kill_ranges_until_done(
    db_name: &str,
    source: &str,
    batch: usize,
    extra: &[&str],
    seed: u64,
    what: &str,
) {
    let db = TestDb::create(db_name);
    let cli = Cli::new(BIN, SchemaChoice::Real, db.url());
    let mut args = migrate_args(source, batch);
    for arg in ["--partitions", "4", "--jobs", "2"].iter().chain(extra) {
        args.push(arg.to_string());
    }
    let killed = kill_until_done(&db, &cli, &strs(&args), seed, 10);
    eprintln!("kill -9 ({what}): {killed:?}");
    assert!(
        killed.kills >= 10,
        "{what}: only {} kills before a run finished",
        killed.kills
    );
    // `accounts` repeats an account_id: its keys are refused and it is loaded again as one
    // partition (the first repeat in the source's order is kept); the others keep their ranges.
    let totals = db.checkpoint_totals();
    assert_eq!(
        totals["accounts"].0, 1,
        "{what}: accounts is loaded again whole"
    );
    let split: Vec<&String> = totals
        .iter()
        .filter(|(_, t)| t.0 > 1)
        .map(|(c, _)| c)
        .collect();
    assert!(
        !split.is_empty(),
        "{what}: no collection was read in more than one partition: {totals:?}"
    );
    assert_like_baseline(
        &db,
        &cli.dir().join(DEAD_LETTERS),
        &format!("after kill -9 of {what}"),
    );
}

/// The same with the larger `.bson` files split into byte ranges loaded two at a time: each
/// range resumes at its own last committed byte offset.
#[test]
fn kill_9_while_reading_byte_ranges_of_a_dump() {
    let dir = dump();
    let source = dir.path().display().to_string();
    kill_ranges_until_done(
        "kill_9_ranges",
        &source,
        KILL_BATCH,
        &[],
        0x0062_7974_6573,
        "byte ranges",
    );
}

/// The same from a gzip mongodump archive, collections split into runs of their blocks loaded
/// two at a time: each run resumes at its own last committed offset in the decompressed archive,
/// which every resumed process decompresses again.
#[test]
fn kill_9_while_reading_runs_of_blocks_of_a_gzip_archive() {
    let dir = tempfile::tempdir().expect("temp dir");
    let archive = dir.path().join("real.archive.gz");
    Dataset::real().write_archive(&archive, true);
    kill_ranges_until_done(
        "kill_9_archive",
        &archive.display().to_string(),
        KILL_BATCH,
        &[],
        0x0061_7263_6876,
        "runs of blocks of a gzip archive",
    );
}

/// The same from the Mongo-wire server, collections split into `_id` ranges loaded two at a
/// time: runs resume after the last committed `_id` of every partition.
#[test]
fn kill_9_while_reading_partitions_of_a_live_source() {
    let mongo = MongoDb::create("kill_9");
    mongo.insert_all(&Dataset::real());
    kill_ranges_until_done(
        "kill_9_mongo",
        mongo.uri(),
        BATCH,
        &["--database", mongo.name(), "--split", "edges"],
        0x006d_6f6e_676f,
        "a live source",
    );
}

/// Ctrl+C stops after the current batches with exit code 130 and says how to resume; a second
/// Ctrl+C aborts at once; the same command then completes with the uninterrupted run's result.
#[test]
fn ctrl_c_stops_cleanly_and_the_same_command_resumes() {
    baseline();
    let dir = dump();
    let db = TestDb::create("ctrl_c");
    let cli = Cli::new(BIN, SchemaChoice::Real, db.url());
    let args = migrate_args(&dir.path().display().to_string(), 20);

    let mut running = cli.spawn(&strs(&args));
    wait_for_progress(&db, &mut running, 0);
    running.signal("INT");
    let done = running.wait_at_most(Duration::from_secs(60));
    done.expect_code(130);
    assert!(
        done.stderr.contains(
            "interrupted: everything committed is kept; run the same command again to resume"
        ),
        "{}",
        done.stderr
    );
    assert!(done.stdout.contains("interrupted"), "{}", done.stdout);
    assert_eq!(db.stage().as_deref(), Some("loading"));
    let first = committed(&db);
    assert!(first > 0);

    // Twice: the second Ctrl+C exits without waiting for the batches in flight.
    let mut running = cli.spawn(&strs(&args));
    wait_for_progress(&db, &mut running, first);
    running.signal("INT");
    std::thread::sleep(Duration::from_millis(30));
    running.signal("INT");
    running
        .wait_at_most(Duration::from_secs(60))
        .expect_code(130);
    assert!(committed(&db) >= first, "nothing committed was lost");

    let done = cli.run(&strs(&args));
    done.expect_code(0);
    assert!(
        done.stdout.contains("Migration completed"),
        "{}",
        done.stdout
    );
    assert_like_baseline(&db, &cli.dir().join(DEAD_LETTERS), "after Ctrl+C");
}

/// Counts the retries the writers report.
#[derive(Default)]
struct Retries(AtomicU64);

impl Observer for Retries {
    fn event(&self, event: &Event) {
        if let Event::BatchCommitted { retries, .. } = event {
            self.0.fetch_add(u64::from(*retries), Ordering::SeqCst);
        }
    }
}

/// The writers' connections are terminated again and again while the run loads: every batch is
/// retried on a new connection and lands exactly once.
#[test]
fn writer_connections_dropping_mid_run_are_retried() {
    baseline();
    let dir = dump();
    let db = TestDb::create("pg_drops");
    let schema = schema::real_data::schema().expect("schema");
    let mut config = db.config();
    // The smallest batches: a run long enough for several terminations on a fast machine.
    config.batch_documents = KILL_BATCH;
    let file = dir.path().join("dead-letters.jsonl");
    config.dead_letter_file = Some(file.clone());
    let source = Arc::new(DumpSource::open(dir.path()).expect("dump"));
    let retries = Arc::new(Retries::default());
    let mut moments = Moments::new(0x7465_726d);
    let mut terminated = 0;
    let report = std::thread::scope(|scope| {
        let run = scope.spawn(|| {
            db.run_observed(
                &schema,
                source,
                config,
                Arc::clone(&retries) as Arc<dyn Observer>,
                Arc::default(),
            )
        });
        while !run.is_finished() {
            std::thread::sleep(
                moments.between(Duration::from_millis(20), Duration::from_millis(120)),
            );
            if terminated < 8 && db.terminate("migrator-writer") > 0 {
                terminated += 1;
            }
        }
        run.join().unwrap_or_else(|e| std::panic::resume_unwind(e))
    });
    let report = report.unwrap_or_else(|e| panic!("the run gave up: {e}"));
    assert_eq!(report.outcome, Outcome::Completed);
    let retried = retries.0.load(Ordering::SeqCst);
    eprintln!("connection drops: {terminated} terminations, {retried} batch retries");
    assert!(terminated >= 3, "only {terminated} terminations happened");
    assert!(retried >= 1, "no batch was retried");
    assert_like_baseline(&db, &file, "after dropped connections");
}
