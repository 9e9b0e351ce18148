//! A source file that changes between a run and its resume: the run that stopped on a damaged
//! file is resumed after the file is restored, and must end with every row of the example
//! application (checked against the generator's manifest), never fewer, and never resume in the
//! middle of a document.

use std::path::{Path, PathBuf};

use migrator_e2e::cli::{Cli, SchemaChoice};
use migrator_e2e::data::{read_file, Collection, Dataset};
use migrator_e2e::example;
use migrator_e2e::pg::TestDb;
use schema::generator::{FaultConfig, Manifest};

/// The example's migration binary (the `E2E_SCHEMA` the harness sets means nothing to it).
const BIN: &str = env!("CARGO_BIN_EXE_example-migrate");
const SEED: u64 = 42;
/// About 10,000 documents: `tasks.bson` is over a megabyte, split in four byte ranges.
const SCALE: f64 = 0.1;

/// The example's dump with one fault of each kind (nothing near 16 MB).
fn example_dump(dir: &Path) -> Manifest {
    let faults = FaultConfig {
        per_kind: 1,
        oversized: 0,
    };
    example::write_dump(&example::generator(SEED, SCALE, faults), dir)
}

/// Where each document of a `.bson` file starts.
fn document_starts(bytes: &[u8]) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut at = 0;
    while at + 4 <= bytes.len() {
        starts.push(at);
        let prefix = [bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]];
        at += usize::try_from(i32::from_le_bytes(prefix)).expect("a sound length prefix");
    }
    assert_eq!(at, bytes.len(), "the generated file is sound");
    starts
}

/// Asserts that the target holds exactly what the manifest says.
fn assert_like_manifest(db: &TestDb, manifest: &Manifest, what: &str) {
    let problems = example::differences(db, &example::schema(), manifest);
    assert!(
        problems.is_empty(),
        "{what}: the target differs from the manifest:\n  {}",
        problems.join("\n  ")
    );
    assert_eq!(db.stage().as_deref(), Some("done"), "{what}");
}

/// The run's arguments; `accepted`: the manifest's injected faults, rejected on purpose.
fn migrate<'a>(source: &'a str, accepted: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["migrate", "--source", source, "--partitions", "4"];
    args.extend_from_slice(&["--accept-rejected", accepted]);
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--batch-size", "100"]);
    args
}

/// `tasks.bson` cut inside a document at 90%: the run stops there; once the file is restored the
/// same command loads every task (before, the last byte range kept the truncated file's end and
/// the run completed without the tasks after it).
#[test]
fn a_truncated_file_restored_loads_every_document() {
    let dir = tempfile::tempdir().expect("temp dir");
    let manifest = example_dump(dir.path());
    let tasks = dir.path().join("tasks.bson");
    let whole = std::fs::read(&tasks).expect("tasks.bson");
    let starts = document_starts(&whole);
    let cut = starts[starts.len() * 9 / 10] + 10;
    std::fs::write(&tasks, &whole[..cut]).expect("truncate");

    let db = TestDb::create("truncated_restored");
    let cli = Cli::new(BIN, SchemaChoice::Real, db.url());
    let source = dir.path().display().to_string();
    let accepted = manifest.rejections().to_string();
    let args = migrate(&source, &accepted, &[]);
    let failed = cli.run(&args);
    failed.expect_code(1);
    assert!(
        failed.stderr.contains("file ends inside a document"),
        "{}",
        failed.stderr
    );
    assert!(
        failed.stderr.contains("run the same command to resume"),
        "{}",
        failed.stderr
    );
    let loaded = db.checkpoint_totals()["tasks"].1;
    assert!(loaded > 0, "some tasks were loaded before the cut");

    std::fs::write(&tasks, &whole).expect("restore");
    let resumed = cli.run(&args);
    resumed.expect_code(0);
    assert_like_manifest(&db, &manifest, "restored after a truncation");
    let said = format!(
        "`tasks`: {} changed since this run planned it",
        tasks.display()
    );
    assert!(resumed.stderr.contains(&said), "{}", resumed.stderr);
    assert!(
        resumed
            .stderr
            .contains(&format!("{loaded} documents had been loaded")),
        "{}",
        resumed.stderr
    );
}

/// A length prefix made shorter in the last byte range of `tasks.bson`: the frame it gives ends
/// inside the document, and the next "prefix" read there is not one, so the run stops; the
/// checkpoint recorded before that points into the middle of a document of the real file. Once
/// the file is restored the same command must load every task (before, every resume failed on
/// the recorded position).
#[test]
fn a_shifted_length_prefix_restored_loads_every_document() {
    let dir = tempfile::tempdir().expect("temp dir");
    let manifest = example_dump(dir.path());
    let tasks = dir.path().join("tasks.bson");
    let whole = std::fs::read(&tasks).expect("tasks.bson");
    let starts = document_starts(&whole);
    // A document whose prefix, shortened to `short`, leaves a frame that ends in a zero byte
    // (read as a document, malformed inside: a dead letter), followed by bytes that are no
    // length prefix.
    let (start, short) = starts[starts.len() * 9 / 10..]
        .iter()
        .find_map(|&start| {
            let len = usize::try_from(i32::from_le_bytes(
                whole[start..start + 4].try_into().expect("4 bytes"),
            ))
            .expect("a length");
            (8..len / 2).rev().find_map(|short| {
                let next = &whole[start + short..start + short + 4];
                let prefix = i32::from_le_bytes(next.try_into().expect("4 bytes"));
                let not_a_prefix = !(5..=16 * 1024 * 1024).contains(&prefix);
                (not_a_prefix && whole[start + short - 1] == 0).then_some((start, short))
            })
        })
        .expect("a document to corrupt");
    let mut corrupt = whole.clone();
    let short_prefix = i32::try_from(short).expect("small").to_le_bytes();
    corrupt[start..start + 4].copy_from_slice(&short_prefix);
    std::fs::write(&tasks, &corrupt).expect("corrupt");

    let db = TestDb::create("shifted_prefix_restored");
    let cli = Cli::new(BIN, SchemaChoice::Real, db.url());
    let source = dir.path().display().to_string();
    let accepted = manifest.rejections().to_string();
    let args = migrate(&source, &accepted, &[]);
    let failed = cli.run(&args);
    failed.expect_code(1);
    assert!(failed.stderr.contains("tasks.bson"), "{}", failed.stderr);
    assert_eq!(
        db.stage().as_deref(),
        Some("loading"),
        "stopped in the load"
    );
    // The frame read as a document was committed (a dead letter): the position after it is
    // inside a document of the real file.
    let inside = start + short;
    let positions =
        db.rows("SELECT position->>'offset' FROM _migrator.checkpoints WHERE collection = 'tasks'");
    assert!(
        positions
            .iter()
            .any(|p| p[0].as_deref() == Some(inside.to_string().as_str())),
        "a checkpoint at byte {inside}: {positions:?}"
    );

    std::fs::write(&tasks, &whole).expect("restore");
    let resumed = cli.run(&args);
    resumed.expect_code(0);
    assert_like_manifest(&db, &manifest, "restored after a shifted length prefix");
    assert!(
        resumed.stderr.contains("changed since this run planned it"),
        "{}",
        resumed.stderr
    );
}

/// The example's dump as a plain mongodump archive (the generated files' documents, as they
/// are).
fn write_archive(dump: &Path, archive: &Path) {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dump)
        .expect("the dump directory")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "bson"))
        .collect();
    files.sort();
    let collections = files
        .iter()
        .map(|path| Collection {
            name: path
                .file_stem()
                .and_then(|s| s.to_str())
                .expect("a collection name")
                .to_string(),
            docs: read_file(path),
            bson_file: None,
            json_file: None,
            metadata_file: None,
        })
        .collect();
    Dataset { collections }.write_archive(archive, false);
}

/// A plain archive cut at 60%: the run stops on the collections the cut left without an end;
/// once the archive is restored the same command loads every document (before, the collections
/// planned from the cut archive kept its blocks and ended short).
#[test]
fn a_truncated_archive_restored_loads_every_document() {
    let dir = tempfile::tempdir().expect("temp dir");
    let dump = dir.path().join("dump");
    let manifest = example_dump(&dump);
    let archive = dir.path().join("app.archive");
    write_archive(&dump, &archive);
    let whole = std::fs::read(&archive).expect("the archive");
    std::fs::write(&archive, &whole[..whole.len() * 6 / 10]).expect("truncate");

    let db = TestDb::create("archive_restored");
    let cli = Cli::new(BIN, SchemaChoice::Real, db.url());
    let source = archive.display().to_string();
    let accepted = manifest.rejections().to_string();
    let args = migrate(&source, &accepted, &["--source-kind", "archive"]);
    let failed = cli.run(&args);
    failed.expect_code(1);
    assert!(
        db.checkpoint_totals().values().any(|c| c.1 > 0),
        "something was loaded before the run stopped"
    );

    std::fs::write(&archive, &whole).expect("restore");
    let resumed = cli.run(&args);
    resumed.expect_code(0);
    assert_like_manifest(&db, &manifest, "restored after the archive was cut");
    assert!(
        resumed.stderr.contains("changed since this run planned it"),
        "{}",
        resumed.stderr
    );
}
