//! A memory limit (`ulimit -v` in a child process): below what the options need, the run stops
//! before it writes anything, with a message naming the limit, what needs the memory and the
//! options that bound it, and exit code 1 (it used to die with SIGABRT, "memory allocation of
//! 17025537 bytes failed"); at the minimum the README states, it completes.

use std::path::Path;
use std::process::{Command, Stdio};

use migrator_e2e::example::{self, every_fault};
use migrator_e2e::pg::TestDb;

const BIN: &str = env!("CARGO_BIN_EXE_example-migrate");

/// Runs `migrate` of the example under `ulimit -v kib`, returning the exit code (`None`: a
/// signal ended it) and stderr.
fn migrate_under_limit(
    kib: u64,
    db: &TestDb,
    dump: &Path,
    extra: &[&str],
) -> (Option<i32>, String) {
    let work = tempfile::tempdir().expect("a working directory");
    let output = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v {kib} && exec \"$0\" \"$@\""))
        .arg(BIN)
        .args(["migrate", "--pg-url", db.url(), "--source"])
        .arg(dump)
        .args(extra)
        .env_remove("MIGRATOR_BATCH_BYTES")
        .env_remove("MIGRATOR_JOBS")
        .env_remove("DATABASE_URL")
        .env_remove("MIGRATOR_CONFIG")
        .current_dir(work.path())
        .stdin(Stdio::null())
        .output()
        .expect("running the example binary under sh");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_memory_limit_below_the_need_is_a_clear_error_and_the_stated_minimum_runs() {
    let dir = tempfile::tempdir().expect("temp dir");
    // Two documents near 16 MiB among them: the largest buffers a run fills.
    let generator = example::generator(7, 0.05, every_fault());
    let manifest = example::write_dump(&generator, dir.path());

    let db = TestDb::create("memory_limit");
    let (code, stderr) = migrate_under_limit(128 * 1024, &db, dir.path(), &[]);
    assert_eq!(code, Some(1), "exit code under 128 MiB; stderr:\n{stderr}");
    for part in [
        "not enough memory for this run",
        "128 MiB (`ulimit -v`)",
        "may need 624 MiB",
        "12 batches in flight of `--batch-bytes` 8 MiB",
        "lower `--batch-bytes` or `--jobs`",
    ] {
        assert!(stderr.contains(part), "`{part}` in:\n{stderr}");
    }
    assert!(
        !stderr.contains("memory allocation of"),
        "an allocation failed:\n{stderr}"
    );
    // Refused before anything was written.
    assert!(db.tables("_migrator").is_empty() && db.tables("public").is_empty());

    // The README's minimum for `--jobs 1 --batch-bytes 1MiB`: 294 MiB of address space (the
    // manifest's injected faults are rejected on purpose, and accepted: exactly that many).
    let accepted = manifest.rejections().to_string();
    let (code, stderr) = migrate_under_limit(
        294 * 1024,
        &db,
        dir.path(),
        &[
            "--jobs",
            "1",
            "--batch-bytes",
            "1048576",
            "--accept-rejected",
            &accepted,
        ],
    );
    assert_eq!(code, Some(0), "exit code under 294 MiB; stderr:\n{stderr}");
    let expected: Vec<(String, i64)> = manifest
        .tables
        .iter()
        .map(|(t, n)| (t.clone(), i64::try_from(*n).expect("a row count")))
        .collect();
    let counts: Vec<(String, i64)> = db.table_counts().into_iter().collect();
    assert_eq!(counts, expected);
}
