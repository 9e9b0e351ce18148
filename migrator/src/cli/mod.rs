//! The command-line framework a schema crate's binary runs:
//!
//! ```ignore
//! fn main() -> std::process::ExitCode {
//!     migrator::cli::main(my_schema::schema)
//! }
//! ```
//!
//! anyhow, tracing-subscriber and indicatif are used here only.

/// Prints a line on stdout like `println!`, but a closed pipe (`| head`) ends the program
/// quietly instead of panicking.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::cli::write_stdout(&format!($($arg)*))
    };
}

mod commands;
mod coverage;
mod errors;
mod failure;
#[cfg(feature = "live")]
mod follow;
mod migrate;
mod next;
pub mod options;
mod plan;
mod progress;
mod references;
mod replay;
pub mod scaffold;
mod scaffold_progress;
mod source;
mod status;
mod summary;

use std::process::ExitCode;

use clap::Parser;

use crate::schema::{Schema, SchemaError};
use options::{exit, Cli, FileConfig};

/// The program as it was started, for the hints the summary prints.
static PROGRAM: std::sync::OnceLock<String> = std::sync::OnceLock::new();

pub(crate) fn program_name() -> &'static str {
    PROGRAM.get().map_or("migrate", String::as_str)
}

/// Parses the command line, runs the command, and returns the documented exit code.
pub fn main(schema: impl FnOnce() -> Result<Schema, SchemaError>) -> ExitCode {
    main_from(std::env::args_os(), schema)
}

/// [`main`] with explicit arguments (the first one is the program name).
pub fn main_from<I, T>(args: I, schema: impl FnOnce() -> Result<Schema, SchemaError>) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let args: Vec<std::ffi::OsString> = args.into_iter().map(Into::into).collect();
    // As it was started (`./target/release/my-schema`), so that the hints run as printed.
    if let Some(program) = args.first() {
        let _ = PROGRAM.set(program.to_string_lossy().to_string());
    }
    // Under `ulimit -v` / `ulimit -d`, the address space must follow the options alone.
    if crate::pipeline::memory::limit().is_some() {
        crate::allocator::bound_arenas();
    }
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            });
        }
    };
    init_tracing(cli.verbose);
    // `scaffold` needs no models: it writes them (`--compare` compares them with this CLI's).
    if let options::Command::Scaffold(args) = &cli.command {
        if !args.compare {
            return ExitCode::from(scaffold::run(args, None));
        }
    }
    let schema = match schema() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: the schema is inconsistent: {e}");
            return ExitCode::from(exit::FAILED);
        }
    };
    let file = match cli.config.as_deref().map(FileConfig::load).transpose() {
        Ok(f) => f.unwrap_or_default(),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(exit::USAGE);
        }
    };
    // One thread for everything asynchronous: it only waits on PostgreSQL sessions (documents are
    // read and transformed on threads of their own, blocking work runs on the blocking pool), and
    // a single thread wakes far less often than a pool of workers stealing from each other (half
    // the context switches of a load, 5% less client CPU, measured at scale 1).
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::from(exit::FAILED);
        }
    };
    let code = run_to_end(runtime, commands::dispatch(cli, file, schema));
    ExitCode::from(code)
}

/// Runs the command's future to its end, then leaves behind whatever it gave up on.
///
/// Work still on the blocking pool once the command has returned is work nobody waits for: a
/// live source still counting its collections when PostgreSQL could not be reached, say.
/// Dropping the runtime would wait for it (minutes, on a large deployment whose server counts
/// by reading) before the process could exit; every write a command makes is awaited, so
/// nothing left there writes.
fn run_to_end<T>(
    runtime: tokio::runtime::Runtime,
    command: impl std::future::Future<Output = T>,
) -> T {
    let out = runtime.block_on(command);
    runtime.shutdown_background();
    out
}

/// Logs to stderr at the level of `-v`/`-vv`, or as `RUST_LOG` says (targets and levels:
/// `warn,migrator=debug,sqlx=info`).
fn init_tracing(verbose: u8) {
    use tracing::level_filters::LevelFilter;
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let level = match verbose {
        0 => LevelFilter::WARN,
        1 => LevelFilter::INFO,
        _ => LevelFilter::DEBUG,
    };
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|spec| spec.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(level));
    // Colour codes only for a terminal: a log file or a pipe gets plain text.
    let output = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(output)
        .try_init();
}

/// Writes one line to stdout; exits quietly if the reader went away.
pub(crate) fn write_stdout(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{text}").and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{mpsc, Arc};
    use std::time::Duration;

    use super::run_to_end;

    #[test]
    fn a_command_returns_without_waiting_for_work_it_gave_up_on() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime for the test");
        let (release, released) = mpsc::channel::<()>();
        let finished = Arc::new(AtomicBool::new(false));
        let done = Arc::clone(&finished);
        let answer = run_to_end(runtime, async move {
            // Like a listing still counting when the command fails: nobody awaits it. It ends
            // only when the test lets it (or after a minute, which the test would then see).
            drop(tokio::task::spawn_blocking(move || {
                let _ = released.recv_timeout(Duration::from_secs(60));
                done.store(true, Ordering::SeqCst);
            }));
            7
        });
        assert_eq!(answer, 7);
        assert!(
            !finished.load(Ordering::SeqCst),
            "the command waited for the abandoned task"
        );
        let _ = release.send(());
    }
}
