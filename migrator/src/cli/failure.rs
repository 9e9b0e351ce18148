//! How a command that failed reports it: the error and its causes, each said once, the exit
//! code its kind documents, and what to do next.

use super::options::exit;
use crate::run_error::RunError;
use crate::source::SourceError;

/// A value the command line cannot use (`--jobs 0`): exit code 2, like clap's own errors.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// The error and its causes, `: `-separated, leaving out a cause whose text the ones before
/// already hold (sqlx repeats its source in its own message, and a context repeats both).
pub fn render(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let part = cause.to_string();
        if part.is_empty() || text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}

/// The documented exit code of a failed command.
pub fn exit_code(error: &anyhow::Error) -> u8 {
    if error.downcast_ref::<UsageError>().is_some() {
        return exit::USAGE;
    }
    match error.downcast_ref::<RunError>() {
        Some(RunError::Locked { .. } | RunError::TakenOver { .. }) => exit::LOCKED,
        // Resuming with other settings is a usage error: the command line must change.
        Some(RunError::CheckpointMismatch { .. }) => exit::USAGE,
        Some(
            RunError::Memory { .. }
            | RunError::OutOfMemory { .. }
            | RunError::Source(SourceError::OutOfMemory { .. }),
        ) => exit::OUT_OF_MEMORY,
        _ => exit::FAILED,
    }
}

/// What a user does after `migrate` failed this way, when the error does not say it already:
/// a run that stopped on something passing (a server gone, a file unreadable) resumes where its
/// last commit left it.
pub fn resume_hint(error: &anyhow::Error) -> Option<&'static str> {
    let run = error.downcast_ref::<RunError>()?;
    match run {
        RunError::Database { .. }
        | RunError::Io { .. }
        | RunError::Internal(_)
        | RunError::OutOfMemory { .. }
        | RunError::Source(SourceError::OutOfMemory { .. }) => {
            Some("everything committed before this is kept: run the same command to resume")
        }
        RunError::Source(
            SourceError::Corrupt { .. }
            | SourceError::CorruptStream { .. }
            | SourceError::Json { .. }
            | SourceError::Io { .. },
        ) => Some(
            "everything committed before this is kept: fix the file, then run the same command \
             to resume",
        ),
        RunError::Source(SourceError::Server { .. } | SourceError::Spool { .. }) => {
            Some("everything committed before this is kept: run the same command to resume")
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cause_is_said_once() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "Connection refused");
        let error: anyhow::Error =
            RunError::db("connecting to PostgreSQL at postgres://h/db")(sqlx::Error::Io(io)).into();
        let chain: Vec<String> = error.chain().map(|c| c.to_string()).collect();
        assert!(
            chain.len() >= 3,
            "the test needs a repeating chain: {chain:?}"
        );
        assert_eq!(
            render(&error),
            "connecting to PostgreSQL at postgres://h/db: error communicating with database: \
             Connection refused"
        );
        assert_eq!(render(&error).matches("Connection refused").count(), 1);
    }

    #[test]
    fn distinct_causes_are_all_kept() {
        let error = anyhow::anyhow!("inner cause").context("outer step");
        assert_eq!(render(&error), "outer step: inner cause");
    }

    #[test]
    fn exit_codes_follow_the_kind() {
        let mismatch: anyhow::Error = RunError::CheckpointMismatch {
            state: "_migrator".into(),
            differences: vec!["--partitions was 8, now 4".into()],
        }
        .into();
        assert_eq!(exit_code(&mismatch), exit::USAGE);
        assert_eq!(
            exit_code(&UsageError("--jobs must be at least 1".into()).into()),
            exit::USAGE
        );
        let locked: anyhow::Error = RunError::Locked {
            state: "_migrator".into(),
        }
        .into();
        assert_eq!(exit_code(&locked), exit::LOCKED);
        let memory: anyhow::Error = RunError::OutOfMemory {
            collection: "tasks".into(),
            what: "a COPY buffer".into(),
            bytes: 17_025_537,
        }
        .into();
        assert_eq!(exit_code(&memory), exit::OUT_OF_MEMORY);
        assert_eq!(exit::OUT_OF_MEMORY, 7);
        assert_eq!(exit_code(&anyhow::anyhow!("other")), exit::FAILED);
    }

    #[test]
    fn a_stopped_load_says_how_to_resume() {
        let lost: anyhow::Error =
            RunError::db("writing a batch of `tasks`")(sqlx::Error::PoolTimedOut).into();
        assert!(resume_hint(&lost).is_some_and(|h| h.contains("run the same command")));
        let corrupt: anyhow::Error = RunError::Source(SourceError::Corrupt {
            file: "tasks.bson".into(),
            offset: 7,
            reason: "bad length prefix 2".into(),
        })
        .into();
        assert!(resume_hint(&corrupt).is_some_and(|h| h.contains("fix the file")));
        let mismatch: anyhow::Error = RunError::CheckpointMismatch {
            state: "_migrator".into(),
            differences: Vec::new(),
        }
        .into();
        assert_eq!(resume_hint(&mismatch), None);
    }
}
