//! A memory limit (`ulimit -v` in a child process): below what the options need, the run stops
//! before it writes anything, with a message naming the limit, what needs the memory and the
//! options that bound it, and exit code 7 (it used to die with SIGABRT, "memory allocation of
//! 17025537 bytes failed"); at the minimum the README states, it completes. Memory that runs out
//! in the middle of a run ends it with exit code 7 and a message too, and the same command
//! resumes.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bson::oid::ObjectId;
use bson::{Document, RawDocumentBuf};
use migrator::report::Outcome;
use migrator::source::DumpSource;
use migrator_e2e::data::{read_file, write_bson};
use migrator_e2e::example::{self, every_fault};
use migrator_e2e::pg::TestDb;

/// Copies of small wiki pages put before the large ones in the mid-run test.
const SMALL_PAGES_FIRST: usize = 3_000;

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
    let output = migrate_command(kib, db, dump, extra, work.path())
        .output()
        .expect("running the example binary under sh");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// `migrate` of the example under `ulimit -v kib` (the shell `exec`s it: same pid).
fn migrate_command(kib: u64, db: &TestDb, dump: &Path, extra: &[&str], work: &Path) -> Command {
    let mut command = Command::new("sh");
    command
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
        .current_dir(work)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

#[test]
fn a_memory_limit_below_the_need_is_a_clear_error_and_the_stated_minimum_runs() {
    let dir = tempfile::tempdir().expect("temp dir");
    // Two documents near 16 MiB among them: the largest buffers a run fills.
    let generator = example::generator(7, 0.05, every_fault());
    let manifest = example::write_dump(&generator, dir.path());

    let db = TestDb::create("memory_limit");
    let (code, stderr) = migrate_under_limit(128 * 1024, &db, dir.path(), &[]);
    assert_eq!(code, Some(7), "exit code under 128 MiB; stderr:\n{stderr}");
    for part in [
        "not enough memory for this run",
        "128 MiB (`ulimit -v`)",
        "may need 752 MiB",
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

    // The README's minimum for `--jobs 1 --batch-bytes 1MiB`: 358 MiB of address space (the
    // manifest's injected faults are rejected on purpose, and accepted: exactly that many).
    let accepted = manifest.rejections().to_string();
    let (code, stderr) = migrate_under_limit(
        358 * 1024,
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
    assert_eq!(code, Some(0), "exit code under 358 MiB; stderr:\n{stderr}");
    let expected: Vec<(String, i64)> = manifest
        .tables
        .iter()
        .map(|(t, n)| (t.clone(), i64::try_from(*n).expect("a row count")))
        .collect();
    let counts: Vec<(String, i64)> = db.table_counts().into_iter().collect();
    assert_eq!(counts, expected);
}

/// Waits until `ready` holds, for at most two minutes.
fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !ready() {
        assert!(Instant::now() < deadline, "{what}: not within two minutes");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The address space `pid` uses now, in bytes.
fn address_space(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("reading the status of process {pid}: {e}"));
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmSize:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmSize in:\n{status}"));
    kib * 1024
}

/// Sends `kill -<name>` to `pid`.
fn signal(pid: u32, name: &str) {
    let sent = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .expect("running kill");
    assert!(sent.success(), "kill -{name} {pid}");
}

/// Waits for a child at most `limit`, killing it after that.
fn finish(mut child: Child, limit: Duration) -> (Option<i32>, String) {
    let deadline = Instant::now() + limit;
    while child.try_wait().expect("the child's status").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the run did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().expect("the child's output");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Memory runs out in the middle of a run that passed the up-front check (the limit of the
/// running process is lowered to what it uses, as other processes or a container can take the
/// rest; documents near 16 MiB come later): the run stops with exit code 7 and a message naming
/// what could not be allocated and the options that bound memory, where it used to die with
/// SIGABRT (exit 134). The same command with enough memory then completes with exactly the
/// tables and dead letters of an uninterrupted run.
#[test]
fn memory_that_runs_out_mid_run_is_a_clear_error_and_the_same_command_resumes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let generator = example::generator(7, 0.05, every_fault());
    let manifest = example::write_dump(&generator, dir.path());
    // The documents near 16 MiB last in their file (the largest, loaded first): the run reaches
    // them only once the limit is lowered.
    let documents = dir.path().join("documents.bson");
    let mut docs = read_file(&documents);
    docs.sort_by_key(|d| d.as_bytes().len() > 1 << 20);
    assert!(docs.last().is_some_and(|d| d.as_bytes().len() > 16_000_000));
    // Small pages in front, under new `_id`s, so that the run is still reading small ones when
    // the test stops it: on a quiet machine the 100 pages of this scale were all committed
    // (one per batch) before the test's poll saw the first one.
    let small: Vec<RawDocumentBuf> = docs
        .iter()
        .filter(|d| d.as_bytes().len() < 64 * 1024)
        .cycle()
        .take(SMALL_PAGES_FIRST)
        .map(|d| {
            let mut page = Document::try_from(d.as_ref()).expect("a readable page");
            page.insert("_id", ObjectId::new());
            RawDocumentBuf::try_from(&page).expect("the page as BSON")
        })
        .collect();
    assert_eq!(small.len(), SMALL_PAGES_FIRST, "small pages to copy");
    let docs: Vec<RawDocumentBuf> = small.into_iter().chain(docs).collect();
    write_bson(&documents, &docs);

    let baseline = TestDb::create("memory_mid_run_baseline");
    let source = Arc::new(DumpSource::open(dir.path()).expect("the dump opens"));
    let report = baseline
        .run(&example::schema(), source, baseline.config())
        .unwrap_or_else(|e| panic!("the uninterrupted run: {}", example::chain(&e)));
    assert_eq!(report.outcome, Outcome::Completed);
    let want_tables = baseline.table_hashes();
    let want_letters = baseline.dead_letters();
    drop(baseline);

    let db = TestDb::create("memory_mid_run");
    let accepted = manifest.rejections().to_string();
    let args = [
        "--jobs",
        "1",
        "--batch-bytes",
        "1048576",
        "--batch-size",
        "1",
        "--partitions",
        "1",
        "--accept-rejected",
        &accepted,
    ];
    let work = tempfile::tempdir().expect("a working directory");
    // 358 MiB: what the up-front check asks of these options.
    let child = migrate_command(358 * 1024, &db, dir.path(), &args, work.path())
        .spawn()
        .expect("running the example binary under sh");
    let pid = child.id();

    // Once the first document of `documents` is committed (one per batch: the readers are a
    // few documents ahead), the process is stopped, its limit lowered to what it uses, and it
    // goes on.
    wait_until("the first document of `documents` is committed", || {
        db.stage().is_some()
            && db
                .checkpoint_totals()
                .get("documents")
                .is_some_and(|t| t.1 > 0)
    });
    signal(pid, "STOP");
    let limit = address_space(pid) + 6 * 1024 * 1024;

    let lowered = Command::new("prlimit")
        .arg(format!("--pid={pid}"))
        .arg(format!("--as={limit}:{limit}"))
        .status()
        .expect("running prlimit");
    signal(pid, "CONT");
    assert!(lowered.success(), "prlimit failed");

    let (code, stderr) = finish(child, Duration::from_secs(300));
    eprintln!("the run under the lowered limit:\n{stderr}");
    assert_eq!(
        code,
        Some(7),
        "exit code once memory ran out; stderr:\n{stderr}"
    );
    for part in [
        "out of memory",
        "`--batch-bytes`",
        "`--jobs`",
        "run the same command to resume",
    ] {
        assert!(stderr.contains(part), "`{part}` in:\n{stderr}");
    }
    assert!(
        !stderr.contains("memory allocation of"),
        "Rust's own abort:\n{stderr}"
    );

    // The same command with memory enough.
    let (code, stderr) = migrate_under_limit(4 * 1024 * 1024, &db, dir.path(), &args);
    assert_eq!(code, Some(0), "the resumed run; stderr:\n{stderr}");
    assert_eq!(db.table_hashes(), want_tables, "every row once");
    assert_eq!(db.dead_letters(), want_letters, "every dead letter once");
}
