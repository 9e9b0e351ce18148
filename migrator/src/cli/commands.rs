//! The commands' dispatch and what they share: the target's settings, the source's arguments,
//! validation, and the small commands (`validate`, `reset`). Each command returns the exit code.

use super::errors::errors;
use super::failure;
use super::migrate::migrate;
use super::options::{exit, Cli, Command, FileConfig, SourceArgs, ValidateArgs, DEFAULT_PG_URL};
use super::status::{coverage, status};
use super::summary;
use crate::pipeline::config::SchemaMode;
use crate::plan::LoadPlan;
use crate::schema::Schema;
use crate::sink::ddl::Ddl;
use crate::sink::sql;
use crate::state::{connect, StateStore};

/// Connection settings shared by every command.
#[derive(Debug)]
pub(super) struct Target {
    pub(super) pg_url: String,
    pub(super) target_schema: String,
    pub(super) state_schema: String,
}

impl Target {
    fn new(cli: &Cli, file: &FileConfig) -> Target {
        Target {
            pg_url: cli
                .pg_url
                .clone()
                .or_else(|| file.pg_url.clone())
                .unwrap_or_else(|| DEFAULT_PG_URL.into()),
            target_schema: cli
                .target_schema
                .clone()
                .or_else(|| file.target_schema.clone())
                .unwrap_or_else(|| "public".into()),
            state_schema: cli
                .state_schema
                .clone()
                .or_else(|| file.state_schema.clone())
                .unwrap_or_else(|| "_migrator".into()),
        }
    }

    pub(super) fn state(&self) -> StateStore {
        StateStore::new(self.state_schema.clone())
    }
}

pub(super) fn merge_source(args: &SourceArgs, file: &FileConfig) -> SourceArgs {
    SourceArgs {
        source: args.source.clone().or_else(|| file.source.clone()),
        source_kind: args.source_kind.or(file.source_kind),
        database: args.database.clone().or_else(|| file.database.clone()),
        limit: args.limit,
        split: args.split.or(file.split),
    }
}

/// A command that reads the source, given none: a usage error (exit 2), like clap's own.
pub(super) fn without_source(args: &SourceArgs) -> Option<u8> {
    args.source.is_none().then(|| {
        eprintln!(
            "error: no source: pass --source (a dump directory, an archive, an export directory or \
             a mongodb:// URI), set MIGRATOR_SOURCE, or put `source = \"...\"` in --config"
        );
        exit::USAGE
    })
}

pub async fn dispatch(cli: Cli, file: FileConfig, mut schema: Schema) -> u8 {
    let target = Target::new(&cli, &file);
    // Collections that may be absent, from the command line (or the file) as from the models.
    let absent_ok = match &cli.command {
        Command::Migrate(args) => Some(&args.absent_ok),
        Command::Validate(args) => Some(&args.absent_ok),
        _ => None,
    }
    .filter(|list| !list.is_empty())
    .or(file.absent_ok.as_ref());
    if let Some(list) = absent_ok {
        if let Err(e) = schema.allow_absent(list) {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    }
    let result = match &cli.command {
        Command::Migrate(args) => migrate(args, &file, &target, &schema).await,
        Command::Plan(args) => {
            say!("{}", LoadPlan::new(&schema).to_markdown(&schema).trim_end());
            let source = merge_source(&args.source, &file);
            if source.source.is_none() {
                Ok(exit::OK)
            } else {
                let jobs = args.jobs.or(file.jobs);
                let partitions = args.partitions.or(file.partitions);
                super::plan::reading(&source, &schema, jobs, partitions)
                    .await
                    .map(|text| {
                        say!("\n{}", text.trim_end());
                        exit::OK
                    })
            }
        }
        Command::Ddl => {
            say!(
                "{}",
                Ddl::new(&schema, Some(&target.target_schema))
                    .to_sql()
                    .trim_end()
            );
            Ok(exit::OK)
        }
        Command::Prisma => {
            say!("{}", crate::prisma::schema_prisma(&schema).trim_end());
            Ok(exit::OK)
        }
        Command::Mapping => {
            let mapping = crate::mapping::mapping(&schema, Some(&target.target_schema));
            serde_json::to_string_pretty(&mapping)
                .map(|text| {
                    say!("{text}");
                    exit::OK
                })
                .map_err(anyhow::Error::from)
        }
        #[cfg(feature = "live")]
        Command::Follow(args) => {
            super::follow::follow(
                &args.source,
                &args.flags,
                args.recopy,
                args.jobs,
                &file,
                &target,
                &schema,
            )
            .await
        }
        #[cfg(not(feature = "live"))]
        Command::Follow(_) => Err(super::source::without_live("follow").into()),
        Command::Status => status(&target, &schema).await,
        Command::Coverage { json } => coverage(*json, &target, &schema).await,
        Command::Validate(args) => validate(args, &file, &target, &schema).await,
        Command::Errors { command } => errors(command, &target).await,
        Command::References {
            collection,
            action,
            limit,
            json,
        } => {
            let filter = super::references::Filter {
                collection: collection.clone(),
                action: action.clone(),
                limit: *limit,
            };
            super::references::show(&target.pg_url, &target.state(), &schema, &filter, *json).await
        }
        Command::Reset { drop_tables } => reset(*drop_tables, &target, &schema).await,
        Command::Scaffold(args) => Ok(super::scaffold::run(args, Some(&schema))),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", failure::render(&e));
            if let (Command::Migrate(_), Some(hint)) = (&cli.command, failure::resume_hint(&e)) {
                eprintln!("{hint}");
            }
            failure::exit_code(&e)
        }
    }
}

/// Validates the target against the source.
pub(super) async fn validation(
    source: &dyn crate::source::Source,
    target: &Target,
    schema: &Schema,
    sample: usize,
) -> anyhow::Result<crate::validate::ValidationReport> {
    let mut conn = connect(&target.pg_url).await?;
    Ok(crate::validate::validate(
        schema,
        source,
        &mut conn,
        &target.target_schema,
        &target.state(),
        sample,
    )
    .await?)
}

/// Validates the target against the source and prints the report; the exit code says whether it passed.
async fn run_validation(
    source: &dyn crate::source::Source,
    target: &Target,
    schema: &Schema,
    sample: usize,
    json: bool,
) -> anyhow::Result<u8> {
    let report = validation(source, target, schema, sample).await?;
    if json {
        say!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        say!("{}", summary::render_validation(&report));
    }
    Ok(if report.passed() {
        exit::OK
    } else {
        exit::VALIDATION_FAILED
    })
}

async fn validate(
    args: &ValidateArgs,
    file: &FileConfig,
    target: &Target,
    schema: &Schema,
) -> anyhow::Result<u8> {
    let source_args = merge_source(&args.source, file);
    if let Some(code) = without_source(&source_args) {
        return Ok(code);
    }
    let source = super::source::open(&source_args)?;
    run_validation(source.as_ref(), target, schema, args.sample, args.json).await
}

async fn reset(drop_tables: bool, target: &Target, schema: &Schema) -> anyhow::Result<u8> {
    let mut conn = connect(&target.pg_url).await?;
    let state = target.state();
    state.lock(&mut conn).await?;
    // One transaction: a reset killed halfway leaves the run as it was.
    let mut statements = if drop_tables {
        crate::pipeline::run::drop_tables(schema, &target.target_schema, SchemaMode::Create)
    } else {
        Vec::new()
    };
    statements.push(sql::drop_state(&target.state_schema));
    crate::sink::ddl::execute_all(&mut conn, "reset the run", &statements).await?;
    state.unlock(&mut conn).await?;
    say!(
        "reset: state schema `{}` dropped{}",
        target.state_schema,
        if drop_tables { ", tables dropped" } else { "" }
    );
    Ok(exit::OK)
}
