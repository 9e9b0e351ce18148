//! The example application's full schema (ten load phases, the organization/user cycle,
//! self-references, ten junctions, nested child tables, every kind of fault) migrated by its
//! binary with small batches and SIGKILLed at >= 20 seeded moments (while loading, while
//! resolving references, while adding constraints), each run resuming the last, until one
//! completes: every table must hold the uninterrupted run's rows, row for row, and every rejected
//! document must be a dead letter exactly once.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use migrator::report::Outcome;
use migrator::source::DumpSource;
use migrator_e2e::cli::{Cli, SchemaChoice};
use migrator_e2e::example::{self, every_fault};
use migrator_e2e::kills::{kill_until_done, Moment};
use migrator_e2e::moments::Moments;
use migrator_e2e::pg::{TableHashes, TestDb};

/// The example's migration binary (the `E2E_SCHEMA` the harness sets means nothing to it).
const BIN: &str = env!("CARGO_BIN_EXE_example-migrate");
const SEED: u64 = 0x006b_696c_6c65;
const SCALE: f64 = 0.02;
/// Small batches: many commits to interrupt.
const BATCH: usize = 10;
const MIN_KILLS: u32 = 20;

/// What a run leaves behind.
#[derive(Debug, PartialEq)]
struct Landed {
    tables: TableHashes,
    dead_letters: Vec<[String; 6]>,
    reference_issues: Vec<[String; 6]>,
    /// Per collection: (documents, rows written, dead letters, done).
    checkpoints: BTreeMap<String, (i64, i64, i64, bool)>,
    foreign_keys: Vec<(String, String)>,
    stage: Option<String>,
}

impl Landed {
    fn of(db: &TestDb) -> Landed {
        Landed {
            tables: db.table_hashes(),
            dead_letters: db.dead_letters(),
            reference_issues: db.reference_issues(),
            checkpoints: db
                .checkpoint_totals()
                .into_iter()
                .map(|(c, t)| (c, (t.1, t.2, t.3, t.4)))
                .collect(),
            foreign_keys: db.foreign_keys(),
            stage: db.stage(),
        }
    }
}

/// The moment of the next kill. Until `MIN_KILLS` have died: one in six shortly after the start,
/// the others a little after their first commit. Then one in each late stage, then later and
/// later after progress until a run completes.
fn next_moment(moments: &mut Moments, kills: u32, whole: Duration) -> Moment {
    if kills < MIN_KILLS {
        if moments.next_fraction() < 1.0 / 6.0 {
            return Moment::AfterStart(moments.between(Duration::ZERO, Duration::from_millis(250)));
        }
        return Moment::AfterProgress(whole.mul_f64(0.015 * moments.next_fraction()));
    }
    match kills - MIN_KILLS {
        0 => Moment::InStage(
            "references",
            moments.between(Duration::ZERO, Duration::from_millis(30)),
        ),
        1 => Moment::InStage(
            "constraints",
            moments.between(Duration::ZERO, Duration::from_millis(30)),
        ),
        late => {
            let growth = 1.4f64.powi(i32::try_from(late).unwrap_or(i32::MAX));
            Moment::AfterProgress(whole.mul_f64(0.05 * growth * moments.next_fraction()))
        }
    }
}

#[test]
fn kill_9_at_twenty_moments_then_resume_gives_the_uninterrupted_tables() {
    let schema = example::schema();
    let generator = example::generator(SEED, SCALE, every_fault());
    let dir = tempfile::tempdir().expect("temp dir");
    let manifest = example::write_dump(&generator, dir.path());

    // The uninterrupted run, in-process, with the same batches.
    let baseline_db = TestDb::create("example_kill_baseline");
    let mut config = baseline_db.config();
    config.batch_documents = BATCH;
    let baseline_file = dir.path().join("baseline-dead-letters.jsonl");
    config.dead_letter_file = Some(baseline_file.clone());
    let started = Instant::now();
    let source = Arc::new(DumpSource::open(dir.path()).expect("the dump opens"));
    let report = baseline_db
        .run(&schema, source, config)
        .unwrap_or_else(|e| panic!("the uninterrupted run: {}", example::chain(&e)));
    let whole = started.elapsed();
    assert_eq!(report.outcome, Outcome::Completed);
    let problems = example::differences(&baseline_db, &schema, &manifest);
    assert!(
        problems.is_empty(),
        "the uninterrupted run differs from the manifest:\n  {}",
        problems.join("\n  ")
    );
    let baseline = Landed::of(&baseline_db);
    drop(baseline_db);

    let db = TestDb::create("example_kill_9");
    let cli = Cli::new(BIN, SchemaChoice::Real, db.url());
    let source = dir.path().display().to_string();
    let batch = BATCH.to_string();
    // The example's deliberate faults are rejected: accepted, exactly as many as the manifest's.
    let accepted = report.dead_letters().to_string();
    let args = [
        "migrate",
        "--source",
        &source,
        "--batch-size",
        &batch,
        "--accept-rejected",
        &accepted,
    ];
    let started = Instant::now();
    let mut moments = Moments::new(SEED);
    let kills = kill_until_done(&db, &cli, &args, 300, |kills| {
        next_moment(&mut moments, kills, whole)
    });
    eprintln!(
        "example kill -9: {kills:?} in {:.1}s (uninterrupted, in-process: {:.1}s)",
        started.elapsed().as_secs_f64(),
        whole.as_secs_f64()
    );
    assert!(
        kills.kills >= MIN_KILLS,
        "only {} kills before a run finished",
        kills.kills
    );
    let at = |stage: &str| kills.stages.get(stage).copied().unwrap_or(0);
    assert!(
        at("loading") >= 5 && at("references") >= 1 && at("constraints") >= 1,
        "kills in the load, the reference stage and the constraints stage: {:?}",
        kills.stages
    );

    let landed = Landed::of(&db);
    assert_eq!(landed.tables.len(), 43);
    for (table, hash) in &baseline.tables {
        assert_eq!(
            landed.tables.get(table),
            Some(hash),
            "table {table} after the kills differs from the uninterrupted run's"
        );
    }
    assert_eq!(landed.tables.len(), baseline.tables.len(), "tables");
    assert_eq!(landed.dead_letters, baseline.dead_letters, "dead letters");
    assert_eq!(
        landed.reference_issues, baseline.reference_issues,
        "reference issues"
    );
    assert_eq!(landed.checkpoints, baseline.checkpoints, "checkpoints");
    assert_eq!(landed.foreign_keys, baseline.foreign_keys, "foreign keys");
    assert_eq!(landed.stage.as_deref(), Some("done"));

    // Every rejected document once in the dead letters, and nothing else.
    let problems = example::differences(&db, &schema, &manifest);
    assert!(
        problems.is_empty(),
        "after the kills the target differs from the manifest:\n  {}",
        problems.join("\n  ")
    );
    let letters: Vec<(String, String)> = landed
        .dead_letters
        .iter()
        .map(|l| (l[0].clone(), l[1].clone()))
        .collect();
    let distinct: BTreeSet<&(String, String)> = letters.iter().collect();
    assert_eq!(distinct.len(), letters.len(), "a dead letter is duplicated");
    assert_eq!(letters.len(), example::expected_rejections(&manifest).len());

    // The JSON-lines copy is appended as batches commit and rewritten from the table when a run
    // ends, so after the completing run it holds exactly the rejected documents, once each.
    let file = example::dead_letter_file(&cli.dir().join("migrator-dead-letters.jsonl"));
    let in_file: BTreeSet<&(String, String)> = file.iter().collect();
    assert_eq!(
        file.len(),
        in_file.len(),
        "a line of the dead-letter file is repeated"
    );
    assert_eq!(
        in_file, distinct,
        "the dead-letter file differs from the dead-letter table"
    );
    // ... and line for line the uninterrupted run's file.
    assert_eq!(
        example::dead_letter_lines(&cli.dir().join("migrator-dead-letters.jsonl")),
        example::dead_letter_lines(&baseline_file),
        "the dead-letter file differs from the uninterrupted run's"
    );
}
