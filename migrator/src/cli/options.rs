//! Command-line options, with values from flags, then the environment, then a TOML file.

use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Deserialize;

/// Exit codes (documented in the README).
pub mod exit {
    pub const OK: u8 = 0;
    pub const FAILED: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const VALIDATION_FAILED: u8 = 3;
    pub const TOO_MANY_ERRORS: u8 = 4;
    pub const LOCKED: u8 = 5;
    /// The run completed but rejected more documents than `--accept-rejected` allows.
    pub const REJECTED: u8 = 6;
    /// Not enough memory: refused up front, or an allocation failed (see
    /// [`crate::allocator`]).
    pub const OUT_OF_MEMORY: u8 = crate::allocator::EXIT_CODE;
    pub const INTERRUPTED: u8 = 130;
}

#[derive(Debug, Parser)]
#[command(
    version,
    about = "Migrate a MongoDB database into PostgreSQL through typed models."
)]
pub struct Cli {
    /// A TOML file with default values for any long option (`pg-url = "..."`, `batch-size = 5000`).
    #[arg(long, global = true, env = "MIGRATOR_CONFIG")]
    pub config: Option<PathBuf>,
    /// PostgreSQL connection URL.
    #[arg(long, global = true, env = "DATABASE_URL")]
    pub pg_url: Option<String>,
    /// PostgreSQL schema of the target tables.
    #[arg(long, global = true, env = "MIGRATOR_TARGET_SCHEMA")]
    pub target_schema: Option<String>,
    /// PostgreSQL schema of the run's state (checkpoints, dead letters).
    #[arg(long, global = true, env = "MIGRATOR_STATE_SCHEMA")]
    pub state_schema: Option<String>,
    /// More log output (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the migration, or resume it from its checkpoints.
    Migrate(MigrateArgs),
    /// Show the load order and what each collection becomes; with `--source`, also how each
    /// collection would be read (its ranges, and why).
    Plan(PlanArgs),
    /// Print the DDL the models generate.
    Ddl,
    /// Print the mapping as JSON: what every column of every table is made from, and the DDL.
    Mapping,
    /// Print the PostgreSQL `schema.prisma` matching the models (models, relations both ways,
    /// enums), for an application that reads the migrated data through Prisma Client.
    Prisma,
    /// Apply the live source's changes since the run's start point (taken before its copy) to
    /// the finished target, until Ctrl+C or, with `--until-caught-up`, until it is in step.
    Follow(FollowArgs),
    /// Show the progress recorded in the target's checkpoints.
    Status,
    /// Compare the source with the target after a run.
    Validate(ValidateArgs),
    /// Every key path the run found in the source, its types and what the models do with it
    /// (the column it lands in, or dropped).
    Coverage {
        /// Print it as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Inspect rejected documents.
    Errors {
        #[command(subcommand)]
        command: ErrorsCommand,
    },
    /// Dangling references the run set to NULL, skipped or kept (rejected ones are in `errors`):
    /// the counts per reference, then each one with the `_id` of the document holding it.
    References {
        #[arg(long)]
        collection: Option<String>,
        /// Only this action: `null`, `skip`, `keep` or `reject`.
        #[arg(long)]
        action: Option<String>,
        /// Most references listed one by one.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Print them as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write a schema crate from a source: a model per collection with the types, optional
    /// fields, child tables, references and junctions its documents show, each explained.
    Scaffold(super::scaffold::ScaffoldArgs),
    /// Forget the run's state so the next `migrate` starts over.
    Reset {
        /// Also drop the tables the models create.
        #[arg(long)]
        drop_tables: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ErrorsCommand {
    /// Rejected documents grouped by collection, class and field, then the latest ones.
    List {
        #[arg(long)]
        collection: Option<String>,
        #[arg(long)]
        class: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// One rejected document in full, with the original document.
    Show { id: i64 },
    /// Write every rejected document to a JSON-lines file.
    Export { file: PathBuf },
}

/// Where documents come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    /// A mongodump directory (`<collection>.bson[.gz]`).
    Dump,
    /// A mongodump `--archive` file (plain or gzip).
    Archive,
    /// A directory of mongoexport files (`<collection>.json[.gz]`).
    Export,
    /// A live deployment (`mongodb://...`).
    Mongo,
}

#[derive(Debug, Args, Clone, Default)]
pub struct SourceArgs {
    /// A mongodump directory, a mongodump archive, a mongoexport directory, or a mongodb:// URI.
    #[arg(long, env = "MIGRATOR_SOURCE")]
    pub source: Option<String>,
    /// The kind of source, when it cannot be told from `--source`.
    #[arg(long, value_enum, env = "MIGRATOR_SOURCE_KIND")]
    pub source_kind: Option<SourceKind>,
    /// The database to read, for a mongodb:// source (default: the URI's path).
    #[arg(long, env = "MIGRATOR_DATABASE")]
    pub database: Option<String>,
    /// Read only the first N documents of every collection: a sample for trying models (its
    /// run is not resumed by a run over the whole source; pass --restart).
    #[arg(long)]
    pub limit: Option<u64>,
    /// How a mongodb:// source's collections are cut into `_id` ranges [default: auto].
    #[arg(long, value_enum, env = "MIGRATOR_SPLIT")]
    pub split: Option<SplitArg>,
}

/// How a live collection is cut into `_id` ranges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SplitArg {
    /// Between the smallest and largest `_id`, when the server's first answers show it finds
    /// them cheaply (an `_id` index; a count within 50 ms); otherwise one cursor per collection.
    Auto,
    /// Between the smallest and largest `_id`, whatever finding them costs the server.
    Edges,
    /// Ranges of equal size from `$bucketAuto`: a sort of every `_id` on the server first.
    BucketAuto,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SchemaModeArg {
    /// Create the tables from the models.
    Create,
    /// Load into tables that exist already (checked before anything is written).
    Existing,
}

/// How a follow runs (`follow`, `migrate --follow`).
#[derive(Debug, Clone, Args)]
pub struct FollowFlags {
    /// Stop once the follow is at the head of the change stream with a lag under MS
    /// milliseconds (default 1000), printing the final resume token: the cutover's last step.
    #[arg(long, value_name = "MS", num_args = 0..=1, default_missing_value = "1000")]
    pub until_caught_up: Option<u64>,
    /// A changed document its model refuses: `keep` its rows' last valid version, or `delete`
    /// them (as a fresh migration would); a dead letter either way.
    #[arg(long, value_enum, default_value = "keep")]
    pub on_invalid: OnInvalidArg,
    /// Most changes per PostgreSQL transaction.
    #[arg(long, default_value_t = 1000, value_parser = at_least_one())]
    pub follow_batch: usize,
}

/// `--on-invalid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnInvalidArg {
    Keep,
    Delete,
}

#[derive(Debug, Args)]
pub struct FollowArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub flags: FollowFlags,
    /// After a follow stopped at a collection dropped or renamed (or the database dropped, the
    /// history lost): copy the collections concerned again from the source, then go on.
    #[arg(long)]
    pub recopy: bool,
    /// Ranges of a collection `--recopy` reads at the same time (as `migrate --jobs`; the ranges
    /// are those the run's `--partitions` allows) [default: 2].
    #[arg(long, env = "MIGRATOR_JOBS", value_parser = at_least_one())]
    pub jobs: Option<usize>,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// After the load and the constraints, follow the live source's changes (see `follow`).
    #[arg(long)]
    pub follow: bool,
    /// Load a mongodump directory as its files are, without replaying the `oplog.bson` that
    /// `mongodump --oplog` wrote beside it (replayed by default: see docs/usage.md).
    #[arg(long)]
    pub no_oplog_replay: bool,
    #[command(flatten)]
    pub follow_flags: FollowFlags,
    /// Documents per batch (each batch is one transaction).
    #[arg(long, env = "MIGRATOR_BATCH_SIZE", value_parser = at_least_one())]
    pub batch_size: Option<usize>,
    /// Bytes a batch holds, at most: its documents as read plus their encoded rows.
    #[arg(long, env = "MIGRATOR_BATCH_BYTES", value_parser = at_least_one())]
    pub batch_bytes: Option<usize>,
    /// Partitions loaded at the same time.
    #[arg(long, env = "MIGRATOR_JOBS", value_parser = at_least_one())]
    pub jobs: Option<usize>,
    /// Most ranges a collection is split into: `_id` ranges of a live source, byte ranges of a
    /// plain `.bson` file [default: 4; by default a file is cut into pieces of at most half a
    /// job's share of the data, a live collection split only if it holds more than a job's
    /// share].
    #[arg(long, env = "MIGRATOR_PARTITIONS", value_parser = at_least_one())]
    pub partitions: Option<usize>,
    /// Drop the previous run (its state and tables) and start over.
    #[arg(long)]
    pub restart: bool,
    /// Stop when rejected documents exceed a count (`100`) or a rate (`2%`).
    #[arg(long, env = "MIGRATOR_MAX_ERRORS")]
    pub max_errors: Option<String>,
    /// Rejected documents a completed run may have and still exit 0: a count (`12`) or a share
    /// of the documents read (`2%`) [default: 0; more exit with code 6].
    #[arg(long, env = "MIGRATOR_ACCEPT_REJECTED")]
    pub accept_rejected: Option<String>,
    /// Collections that may be absent from the source (comma-separated or repeated): reported
    /// absent and loaded as empty, like `#[migrate(optional)]` models.
    #[arg(long, value_delimiter = ',', env = "MIGRATOR_ABSENT_OK")]
    pub absent_ok: Vec<String>,
    /// Also append rejected documents to this JSON-lines file.
    #[arg(long, env = "MIGRATOR_DEAD_LETTERS")]
    pub dead_letters: Option<PathBuf>,
    /// Create the tables, or load into existing ones.
    #[arg(long, value_enum, env = "MIGRATOR_SCHEMA_MODE")]
    pub schema_mode: Option<SchemaModeArg>,
    /// Transform every document and report, writing nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Run `validate` after a completed migration.
    #[arg(long)]
    pub validate: bool,
    /// Documents compared in depth per collection by `--validate`.
    #[arg(long, default_value_t = 100)]
    pub sample: usize,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// Partitions loaded at the same time (as `migrate --jobs`).
    #[arg(long, env = "MIGRATOR_JOBS")]
    pub jobs: Option<usize>,
    /// Most ranges a collection is split into (as `migrate --partitions`).
    #[arg(long, env = "MIGRATOR_PARTITIONS")]
    pub partitions: Option<usize>,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// Documents compared column by column per collection.
    #[arg(long, default_value_t = 100)]
    pub sample: usize,
    /// Collections that may be absent from the source (as given to `migrate`).
    #[arg(long, value_delimiter = ',', env = "MIGRATOR_ABSENT_OK")]
    pub absent_ok: Vec<String>,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Counts that mean nothing at zero (`--jobs 0` would load nothing, `--batch-size 0` never
/// fill a batch): refused like any malformed value, with exit code 2.
fn at_least_one() -> clap::builder::RangedU64ValueParser<usize> {
    clap::builder::RangedU64ValueParser::<usize>::new().range(1..)
}

/// Defaults read from `--config` (every key optional; kebab-case like the flags).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct FileConfig {
    pub pg_url: Option<String>,
    pub target_schema: Option<String>,
    pub state_schema: Option<String>,
    pub source: Option<String>,
    pub source_kind: Option<SourceKind>,
    pub database: Option<String>,
    pub split: Option<SplitArg>,
    pub batch_size: Option<usize>,
    pub batch_bytes: Option<usize>,
    pub jobs: Option<usize>,
    pub partitions: Option<usize>,
    pub max_errors: Option<String>,
    pub accept_rejected: Option<String>,
    pub absent_ok: Option<Vec<String>>,
    pub dead_letters: Option<PathBuf>,
    pub schema_mode: Option<SchemaModeArg>,
}

impl FileConfig {
    pub fn load(path: &Path) -> Result<FileConfig, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("reading {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// The default PostgreSQL URL when none is given.
pub const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_files_reject_unknown_keys() {
        let ok: FileConfig =
            toml::from_str("pg-url = \"postgres://x\"\nbatch-size = 5\nsource-kind = \"dump\"")
                .expect("valid");
        assert_eq!(ok.batch_size, Some(5));
        assert_eq!(ok.source_kind, Some(SourceKind::Dump));
        let err = toml::from_str::<FileConfig>("batch_sise = 5").expect_err("unknown key");
        assert!(err.to_string().contains("batch_sise"), "{err}");
    }

    #[test]
    fn counts_of_zero_are_refused() {
        for flag in ["--batch-size", "--batch-bytes", "--jobs", "--partitions"] {
            let err = Cli::try_parse_from(["m", "migrate", flag, "0"]).expect_err(flag);
            assert_eq!(
                err.kind(),
                clap::error::ErrorKind::ValueValidation,
                "{flag}"
            );
            assert!(err.to_string().contains(flag), "{err}");
            let ok = Cli::try_parse_from(["m", "migrate", flag, "1"]);
            assert!(ok.is_ok(), "{flag} 1: {ok:?}");
        }
    }

    #[test]
    fn cli_parses() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
