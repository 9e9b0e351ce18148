//! Running the `e2e-migrate` binary: to completion, or in the background to interrupt or kill.
//!
//! The binary's path is only known to integration tests (`env!("CARGO_BIN_EXE_e2e-migrate")`),
//! so they pass it in.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Which schema the binary runs (`E2E_SCHEMA`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaChoice {
    Real,
    Fixture,
    Keys,
}

impl SchemaChoice {
    fn as_str(self) -> &'static str {
        match self {
            SchemaChoice::Real => "real",
            SchemaChoice::Fixture => "fixture",
            SchemaChoice::Keys => "keys",
        }
    }
}

/// How a process ended.
#[derive(Debug, Clone)]
pub struct Finished {
    /// `None` when a signal ended it.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    /// Panics with the output unless the exit code is `code`.
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(code),
            "expected exit code {code}\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

/// The binary with a target database; runs in a temporary working directory (where the
/// dead-letter file goes) with a clean environment for the migrator's own variables.
#[derive(Debug)]
pub struct Cli {
    exe: PathBuf,
    schema: SchemaChoice,
    pg_url: String,
    dir: tempfile::TempDir,
    runs: std::cell::Cell<u32>,
}

/// Variables the binary reads that must not leak in from the developer's shell.
const CLEARED: &[&str] = &[
    "DATABASE_URL",
    "MIGRATOR_CONFIG",
    "MIGRATOR_TARGET_SCHEMA",
    "MIGRATOR_STATE_SCHEMA",
    "MIGRATOR_SOURCE",
    "MIGRATOR_SOURCE_KIND",
    "MIGRATOR_DATABASE",
    "MIGRATOR_BATCH_SIZE",
    "MIGRATOR_BATCH_BYTES",
    "MIGRATOR_JOBS",
    "MIGRATOR_PARTITIONS",
    "MIGRATOR_MAX_ERRORS",
    "MIGRATOR_DEAD_LETTERS",
    "MIGRATOR_SCHEMA_MODE",
    "RUST_LOG",
];

impl Cli {
    pub fn new(exe: &str, schema: SchemaChoice, pg_url: &str) -> Cli {
        Cli {
            exe: PathBuf::from(exe),
            schema,
            pg_url: pg_url.to_string(),
            dir: tempfile::tempdir().expect("a temporary working directory"),
            runs: std::cell::Cell::new(0),
        }
    }

    /// The working directory (holds `migrator-dead-letters.jsonl`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `<exe> --pg-url <url> <args>`.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.exe);
        for var in CLEARED {
            cmd.env_remove(var);
        }
        cmd.env("E2E_SCHEMA", self.schema.as_str())
            .current_dir(self.dir.path())
            .arg("--pg-url")
            .arg(&self.pg_url)
            .args(args)
            .stdin(Stdio::null());
        cmd
    }

    /// Runs to the end.
    pub fn run(&self, args: &[&str]) -> Finished {
        self.spawn(args).wait()
    }

    /// Starts in the background; stdout and stderr go to files read when it ends.
    pub fn spawn(&self, args: &[&str]) -> Running {
        let n = self.runs.get() + 1;
        self.runs.set(n);
        let out = self.dir.path().join(format!("run-{n}.stdout"));
        let err = self.dir.path().join(format!("run-{n}.stderr"));
        let child = self
            .command(args)
            .stdout(std::fs::File::create(&out).expect("stdout file"))
            .stderr(std::fs::File::create(&err).expect("stderr file"))
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", self.exe.display()));
        Running {
            child: Some(child),
            out,
            err,
            started: Instant::now(),
        }
    }
}

/// A process in the background, killed if still running when dropped.
#[derive(Debug)]
pub struct Running {
    child: Option<Child>,
    out: PathBuf,
    err: PathBuf,
    started: Instant,
}

impl Running {
    pub fn id(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Sends a signal by name (`INT`, `KILL`) with `kill(1)`.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.id().to_string())
            .status()
            .expect("kill(1) runs");
        assert!(status.success(), "kill -{name} {} failed", self.id());
    }

    /// The exit status if it has ended.
    pub fn try_finish(&mut self) -> Option<Finished> {
        let child = self.child.as_mut()?;
        match child.try_wait().expect("polling the child") {
            Some(status) => {
                self.child = None;
                Some(self.collect(status.code()))
            }
            None => None,
        }
    }

    /// Waits for the end.
    pub fn wait(mut self) -> Finished {
        let status = self
            .child
            .take()
            .expect("a running child")
            .wait()
            .expect("waiting for the child");
        self.collect(status.code())
    }

    /// Waits at most `limit`; kills it and panics with its output after that.
    pub fn wait_at_most(mut self, limit: Duration) -> Finished {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(done) = self.try_finish() {
                return done;
            }
            if Instant::now() > deadline {
                let done = self.kill().unwrap_or_else(|| self.collect(None));
                panic!(
                    "the run did not end within {limit:?}\n--- stdout\n{}\n--- stderr\n{}",
                    done.stdout, done.stderr
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL, then reaps it. The code is `None` if the signal ended it, or the exit code if
    /// it had ended on its own first.
    pub fn kill(&mut self) -> Option<Finished> {
        let mut child = self.child.take()?;
        let _ = child.kill();
        let code = child.wait().ok().and_then(|s| s.code());
        Some(self.collect(code))
    }

    fn collect(&self, code: Option<i32>) -> Finished {
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        Finished {
            code,
            stdout: read(&self.out),
            stderr: read(&self.err),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.kill();
    }
}
