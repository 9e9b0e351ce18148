//! Settings of a run.

use std::path::PathBuf;

/// Create the tables from the models, or load into tables that already exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaMode {
    Create,
    Existing,
}

impl SchemaMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SchemaMode::Create => "create",
            SchemaMode::Existing => "existing",
        }
    }
}

/// When to give up on a run that is clearly wrong.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ErrorLimit {
    /// More than this many dead letters.
    Count(u64),
    /// More than this fraction of the documents read (checked once 1,000 were read).
    Rate(f64),
}

impl ErrorLimit {
    /// Parses `100` or `2.5%`.
    pub fn parse(text: &str) -> Result<ErrorLimit, String> {
        let t = text.trim();
        if let Some(pct) = t.strip_suffix('%') {
            let v: f64 = pct
                .trim()
                .parse()
                .map_err(|_| format!("`{text}` is not a percentage like `2.5%`"))?;
            if !(0.0..=100.0).contains(&v) {
                return Err(format!("`{text}` must be between 0% and 100%"));
            }
            Ok(ErrorLimit::Rate(v / 100.0))
        } else {
            t.parse()
                .map(ErrorLimit::Count)
                .map_err(|_| format!("`{text}` is not a count like `100` or a rate like `2.5%`"))
        }
    }

    /// Whether `dead` rejected documents out of `read` stay within this limit, exactly (for
    /// `--accept-rejected`; a rate is not waived for small runs).
    pub fn accepts(&self, dead: u64, read: u64) -> bool {
        match *self {
            ErrorLimit::Count(n) => dead <= n,
            ErrorLimit::Rate(r) => (dead as f64) <= r * read as f64,
        }
    }

    pub fn exceeded(&self, dead: u64, read: u64) -> bool {
        match *self {
            ErrorLimit::Count(n) => dead > n,
            ErrorLimit::Rate(r) => read >= 1000 && (dead as f64) > r * read as f64,
        }
    }
}

/// Everything a run needs besides the schema and the source.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub pg_url: String,
    /// PostgreSQL schema of the target tables.
    pub target_schema: String,
    /// PostgreSQL schema of the run's own state (checkpoints, dead letters).
    pub state_schema: String,
    pub schema_mode: SchemaMode,
    pub batch_documents: usize,
    pub batch_bytes: usize,
    /// Partitions loaded at the same time.
    pub jobs: usize,
    /// Most partitions a collection is split into (sources that can split).
    pub partitions: usize,
    /// Split a collection only as far as keeping every job busy needs. A file's byte ranges
    /// cost nothing extra: a file is cut into pieces of at most half a job's share of the data
    /// (by size), so the largest collection does not finish alone while the other jobs are idle.
    /// A live server's ranges each cost a query of its own (and a sort on a server without an
    /// `_id` index): only a collection holding more than a job's share (by documents) is split
    /// there. The CLI sets it unless `--partitions` is given.
    pub adaptive_partitions: bool,
    /// Drop all state and tables and start over.
    pub restart: bool,
    pub max_errors: Option<ErrorLimit>,
    /// Where dead letters are also appended as JSON lines.
    pub dead_letter_file: Option<PathBuf>,
    /// Skip resolving references and adding constraints (for benchmarks of the load alone).
    pub skip_finish: bool,
}

impl RunConfig {
    /// Most partitions for a collection of `weight` out of `total`; `cheap_ranges`: the source
    /// reads byte ranges of files (see [`RunConfig::adaptive_partitions`]). A `weight` of
    /// `None`: the source could not tell how large the collection is (a live server stopped
    /// its count at the limit); the most partitions, so that the source's planner, which knows
    /// why, decides and says why in the plan and the summary.
    pub fn partitions_for(&self, weight: Option<u64>, total: u64, cheap_ranges: bool) -> usize {
        let max = self.partitions.max(1);
        let Some(weight) = weight.filter(|_| self.adaptive_partitions) else {
            return max;
        };
        let jobs = self.jobs.max(1) as u128;
        let share = u128::from(total.max(1));
        if !cheap_ranges {
            return if u128::from(weight) * jobs > share {
                max
            } else {
                1
            };
        }
        // Pieces of at most total / (2 * jobs).
        let pieces = (u128::from(weight) * 2 * jobs).div_ceil(share).max(1);
        usize::try_from(pieces).unwrap_or(max).min(max)
    }

    pub fn new(pg_url: impl Into<String>) -> Self {
        RunConfig {
            pg_url: pg_url.into(),
            target_schema: "public".into(),
            state_schema: "_migrator".into(),
            schema_mode: SchemaMode::Create,
            batch_documents: 10_000,
            batch_bytes: 8 * 1024 * 1024,
            jobs: 2,
            partitions: 4,
            adaptive_partitions: false,
            restart: false,
            max_errors: None,
            dead_letter_file: None,
            skip_finish: false,
        }
    }
}

/// How much work each collection is, for the load's order and [`RunConfig::partitions_for`]:
/// its size on disk when the source knows every collection's (the second value is then
/// `true`), else its document count. A collection whose count the source does not know (a live
/// server that reads to count stopped its count at the limit, after the others finished) is
/// taken as larger than all it counted together: loaded first, and alone it holds more than a
/// job's share (see [`counted`] for what [`RunConfig::partitions_for`] is given for it).
pub fn weights(infos: &[crate::source::CollectionInfo]) -> (Vec<u64>, bool) {
    let by_size = infos.iter().all(|c| c.bytes_on_disk.is_some());
    let uncounted = infos
        .iter()
        .filter_map(|c| c.estimated_documents)
        .fold(1u64, u64::saturating_add);
    let weights = infos
        .iter()
        .map(|c| {
            if by_size {
                c.bytes_on_disk.unwrap_or(0)
            } else {
                c.estimated_documents.unwrap_or(uncounted)
            }
        })
        .collect();
    (weights, by_size)
}

/// What [`RunConfig::partitions_for`] is given for a collection of `weight` (from [`weights`])
/// and `estimated_documents` (as listed): `None` when the weights are counts and the source did
/// not count this one.
pub fn counted(weight: u64, by_size: bool, estimated_documents: Option<u64>) -> Option<u64> {
    (by_size || estimated_documents.is_some()).then_some(weight)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_limits_parse_and_apply() {
        assert_eq!(ErrorLimit::parse("100"), Ok(ErrorLimit::Count(100)));
        assert_eq!(ErrorLimit::parse("2.5%"), Ok(ErrorLimit::Rate(0.025)));
        assert!(ErrorLimit::parse("lots").is_err());
        assert!(ErrorLimit::parse("150%").is_err());
        assert!(ErrorLimit::Count(2).exceeded(3, 10));
        assert!(!ErrorLimit::Count(2).exceeded(2, 10));
        assert!(!ErrorLimit::Rate(0.01).exceeded(50, 999));
        assert!(ErrorLimit::Rate(0.01).exceeded(11, 1000));
    }

    #[test]
    fn accepted_rejections_are_exact_for_small_runs_too() {
        assert!(ErrorLimit::Count(0).accepts(0, 10));
        assert!(!ErrorLimit::Count(0).accepts(1, 10));
        assert!(ErrorLimit::Count(12).accepts(12, 10));
        assert!(!ErrorLimit::Count(12).accepts(13, 100));
        assert!(ErrorLimit::Rate(0.02).accepts(2, 100));
        assert!(!ErrorLimit::Rate(0.02).accepts(3, 100));
        // Unlike `--max-errors`, a share is applied below 1,000 documents read.
        assert!(!ErrorLimit::Rate(0.5).accepts(6, 10));
    }

    #[test]
    fn adaptive_partitions_cut_files_finely_and_live_servers_only_when_dominant() {
        let mut config = RunConfig::new("postgres://x");
        config.adaptive_partitions = true;
        config.jobs = 2;
        config.partitions = 4;
        // Half of the data on 2 jobs: two pieces of a quarter each.
        assert_eq!(config.partitions_for(Some(486), 1000, true), 2);
        assert_eq!(config.partitions_for(Some(250), 1000, true), 1);
        assert_eq!(config.partitions_for(Some(251), 1000, true), 2);
        assert_eq!(config.partitions_for(Some(0), 0, true), 1);
        // Never more than `partitions`.
        assert_eq!(config.partitions_for(Some(1000), 1000, true), 4);
        // A live server: only more than a job's share is split.
        assert_eq!(config.partitions_for(Some(486), 1000, false), 1);
        assert_eq!(config.partitions_for(Some(501), 1000, false), 4);
        config.jobs = 8;
        assert_eq!(config.partitions_for(Some(1000), 1000, true), 4);
        config.adaptive_partitions = false;
        assert_eq!(config.partitions_for(Some(1), 1000, true), 4);
        assert_eq!(config.partitions_for(Some(1), 1000, false), 4);
    }

    fn listed(name: &str, documents: Option<u64>) -> crate::source::CollectionInfo {
        crate::source::CollectionInfo {
            name: name.into(),
            estimated_documents: documents,
            bytes_on_disk: None,
        }
    }

    #[test]
    fn a_collection_the_server_did_not_count_goes_to_its_planner() {
        let mut config = RunConfig::new("postgres://x");
        config.adaptive_partitions = true;
        config.jobs = 2;
        config.partitions = 4;
        // The user directory at 300,000 users on a server that reads to count: the users'
        // count stopped at the limit, the orgs and roles counted.
        let infos = [
            listed("orgs", Some(1_000)),
            listed("roles", Some(50)),
            listed("users", None),
        ];
        let (weights, by_size) = weights(&infos);
        assert!(!by_size);
        // Larger than all counted together: loaded first, and more than a job's share.
        assert_eq!(weights, [1_000, 50, 1_051]);
        let total: u64 = weights.iter().sum();
        let max = |at: usize| {
            let weight = counted(weights[at], by_size, infos[at].estimated_documents);
            config.partitions_for(weight, total, by_size)
        };
        // The planner decides for the uncounted one (and says why: its count was stopped);
        // the counted ones hold less than a job's share and are read whole.
        assert_eq!([max(0), max(1), max(2)], [1, 1, 4]);
        // However many were stopped, each goes to the planner.
        let all = [listed("a", None), listed("b", None), listed("c", Some(5))];
        let (each, by_size) = super::weights(&all);
        assert_eq!(each, [6, 6, 5]);
        for (info, weight) in all.iter().zip(&each) {
            let weight = counted(*weight, by_size, info.estimated_documents);
            let expected = if info.estimated_documents.is_none() {
                4
            } else {
                1
            };
            assert_eq!(
                config.partitions_for(weight, 17, false),
                expected,
                "{info:?}"
            );
        }
        // With `--partitions N` every collection gets N, counted or not.
        config.adaptive_partitions = false;
        assert_eq!(config.partitions_for(None, 17, false), 4);
        // Sizes on disk known (files): nothing is uncounted.
        assert_eq!(counted(7, true, None), Some(7));
    }
}
