//! The memory a run needs, checked against the process's limits before anything starts.
//!
//! A Rust process that cannot allocate aborts (SIGABRT, "memory allocation of N bytes failed"),
//! with no word on why or what to change. What a run allocates is bounded by its options: the
//! batches in flight, at most `--batch-bytes` each, a few per job, and each job's threads. So a run whose limit (`ulimit -v`, `ulimit -d`) cannot hold them is
//! refused up front, naming what does not fit and the options that bound it.

use nix::sys::resource::{getrlimit, Resource, RLIM_INFINITY};

use super::config::RunConfig;
use crate::run_error::RunError;

const MIB: u64 = 1024 * 1024;

/// Address space of a run before its jobs: the program, the runtime, the control session.
const BASE: u64 = 48 * MIB;

/// Address space of a job besides its batches: its threads' stacks, the allocator's arenas of
/// those threads (glibc reserves 64 MiB of address space for each), and the buffers of a document
/// near the 16 MiB limit, which double as they grow.
const PER_JOB: u64 = 304 * MIB;

/// Batches a job can hold at once: one being filled and one waiting for the partition it reads,
/// as many for the next partition reading ahead, one being written, and one idle in the pool.
const BATCHES_PER_JOB: u64 = 6;

// Measured with the example (two documents near 16 MiB, which a run reads, encodes and, when
// refused, writes out as a dead letter): at scale 1 the defaults (`--jobs 2`, `--batch-bytes`
// 8 MiB) ran under `ulimit -v` 437 MiB and aborted under 384 MiB, `--batch-bytes 1MiB --jobs 1`
// ran under 192 MiB; at scale 0.05 (seed 7) `--batch-bytes 1MiB --jobs 1` aborted under 256 MiB
// and ran under 288 MiB. The constants cover the larger of those, with one more arena (64 MiB)
// per job: at 294 MiB that last run failed a 16 MiB allocation once in CI after the runtime grew
// (follow, nested paths, the allocator guard), so the margin is a whole arena, not 6 MiB.

/// What a run with `config` needs, and what it is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    pub bytes: u64,
    pub jobs: u64,
    pub batches: u64,
}

/// The address space a run with `config` may need at most.
pub fn need(config: &RunConfig) -> Need {
    let jobs = config.jobs.max(1) as u64;
    let batches = BATCHES_PER_JOB.saturating_mul(jobs);
    let bytes = BASE
        .saturating_add(PER_JOB.saturating_mul(jobs))
        .saturating_add(batches.saturating_mul(config.batch_bytes as u64));
    Need {
        bytes,
        jobs,
        batches,
    }
}

/// The smallest of the process's address-space and data limits, if it has one.
pub fn limit() -> Option<(u64, &'static str)> {
    [
        (Resource::RLIMIT_AS, "ulimit -v"),
        (Resource::RLIMIT_DATA, "ulimit -d"),
    ]
    .into_iter()
    .filter_map(|(resource, name)| {
        let (soft, _) = getrlimit(resource).ok()?;
        (soft != RLIM_INFINITY).then_some((soft, name))
    })
    .min_by_key(|(soft, _)| *soft)
}

/// Refuses a run whose batches do not fit the process's memory limit.
pub fn check(config: &RunConfig) -> Result<(), RunError> {
    match limit() {
        Some((limit, name)) => compare(config, limit, name),
        None => Ok(()),
    }
}

fn compare(config: &RunConfig, limit: u64, name: &str) -> Result<(), RunError> {
    let need = need(config);
    if limit >= need.bytes {
        return Ok(());
    }
    Err(RunError::Memory {
        limit: format!("{} MiB (`{name}`)", limit / MIB),
        need: format!(
            "{} MiB: {} MiB for the program, {} MiB for each of `--jobs` {}, and {} batches in \
             flight of `--batch-bytes` {} MiB",
            need.bytes.div_ceil(MIB),
            BASE / MIB,
            PER_JOB / MIB,
            need.jobs,
            need.batches,
            (config.batch_bytes as u64).div_ceil(MIB),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_need_grows_with_the_batch_size_and_the_jobs_and_is_refused_over_the_limit() {
        let mut config = RunConfig::new("postgres://unused");
        let defaults = need(&config);
        assert_eq!(defaults.bytes, 752 * MIB);
        config.batch_bytes = MIB as usize;
        config.jobs = 1;
        let small = need(&config);
        assert_eq!(small.bytes, 358 * MIB);

        assert!(compare(&config, small.bytes, "ulimit -v").is_ok());
        let refused = compare(&config, 128 * MIB, "ulimit -v")
            .expect_err("128 MiB is too little")
            .to_string();
        for part in [
            "128 MiB (`ulimit -v`)",
            "may need 358 MiB",
            "6 batches in flight of `--batch-bytes` 1 MiB",
            "`--jobs` 1",
            "lower `--batch-bytes` or `--jobs`",
        ] {
            assert!(refused.contains(part), "{part} in {refused}");
        }
    }
}
