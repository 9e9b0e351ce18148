//! One function per command; each returns the exit code.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Context;
use sqlx::Row;

use super::failure::{self, UsageError};
use super::options::{
    exit, Cli, Command, ErrorsCommand, FileConfig, MigrateArgs, SchemaModeArg, SourceArgs,
    ValidateArgs, DEFAULT_PG_URL,
};
use super::progress::Display;
use super::summary;
use crate::dead_letter::DeadLetterFile;
use crate::pipeline::config::{ErrorLimit, RunConfig, SchemaMode};
use crate::plan::LoadPlan;
use crate::report::Outcome;
use crate::schema::Schema;
use crate::sink::ddl::Ddl;
use crate::sink::sql;
use crate::state::{connect, StateStore};

/// Connection settings shared by every command.
struct Target {
    pg_url: String,
    target_schema: String,
    state_schema: String,
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

    fn state(&self) -> StateStore {
        StateStore::new(self.state_schema.clone())
    }
}

fn merge_source(args: &SourceArgs, file: &FileConfig) -> SourceArgs {
    SourceArgs {
        source: args.source.clone().or_else(|| file.source.clone()),
        source_kind: args.source_kind.or(file.source_kind),
        database: args.database.clone().or_else(|| file.database.clone()),
        limit: args.limit,
        split: args.split.or(file.split),
    }
}

/// A command that reads the source, given none: a usage error (exit 2), like clap's own.
fn without_source(args: &SourceArgs) -> Option<u8> {
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

async fn migrate(
    args: &MigrateArgs,
    file: &FileConfig,
    target: &Target,
    schema: &Schema,
) -> anyhow::Result<u8> {
    let source_args = merge_source(&args.source, file);
    if let Some(code) = without_source(&source_args) {
        return Ok(code);
    }
    let source = super::source::open(&source_args)?;
    let display = Arc::new(Display::new());
    if args.dry_run {
        let source = Arc::clone(&source);
        let schema_for_task = schema.clone();
        let observer = Arc::clone(&display);
        let report = tokio::task::spawn_blocking(move || {
            crate::pipeline::dry_run::dry_run(&schema_for_task, source.as_ref(), observer.as_ref())
        })
        .await
        .context("the dry run stopped unexpectedly")??;
        display.finish();
        if args.json {
            say!("{}", serde_json::to_string_pretty(&report)?);
        } else {
            say!("(dry run: nothing was written)");
            let spec = source_args.source.as_deref().unwrap_or_default();
            say!("{}", summary::render_dry_run(&report, spec, &target.pg_url));
        }
        return Ok(exit::OK);
    }
    let accept = args
        .accept_rejected
        .clone()
        .or_else(|| file.accept_rejected.clone())
        .map(|t| ErrorLimit::parse(&t))
        .transpose()
        .map_err(anyhow::Error::msg)
        .context("--accept-rejected")?
        .unwrap_or(ErrorLimit::Count(0));
    let max_errors = args
        .max_errors
        .clone()
        .or_else(|| file.max_errors.clone())
        .map(|t| ErrorLimit::parse(&t))
        .transpose()
        .map_err(anyhow::Error::msg)
        .context("--max-errors")?;
    let mut config = RunConfig::new(target.pg_url.clone());
    config.target_schema.clone_from(&target.target_schema);
    config.state_schema.clone_from(&target.state_schema);
    config.schema_mode = match args.schema_mode.or(file.schema_mode) {
        Some(SchemaModeArg::Existing) => SchemaMode::Existing,
        _ => SchemaMode::Create,
    };
    if let Some(n) = at_least_one("batch-size", args.batch_size.or(file.batch_size))? {
        config.batch_documents = n;
    }
    if let Some(n) = at_least_one("batch-bytes", args.batch_bytes.or(file.batch_bytes))? {
        config.batch_bytes = n;
    }
    if let Some(n) = at_least_one("jobs", args.jobs.or(file.jobs))? {
        config.jobs = n;
    }
    match at_least_one("partitions", args.partitions.or(file.partitions))? {
        Some(n) => config.partitions = n,
        None => config.adaptive_partitions = true,
    }
    config.restart = args.restart;
    config.max_errors = max_errors;
    config.dead_letter_file = Some(
        args.dead_letters
            .clone()
            .or_else(|| file.dead_letters.clone())
            .unwrap_or_else(|| "migrator-dead-letters.jsonl".into()),
    );
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = Arc::clone(&stop);
        let display = Arc::clone(&display);
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                // The runtime has one thread: the run is between two awaits here, so the stage
                // it reported is the stage it is in. A load stops after its batches commit (and
                // a stop asked before the last stage begins stops there); the last stage (keys,
                // references, constraints) reads no more documents and is left to finish.
                if display.past_the_load() {
                    eprintln!(
                        "\nthe load is done: finishing its last stage (keys, references and \
                         constraints); Ctrl+C again to stop now (the next run resumes that stage)"
                    );
                } else {
                    eprintln!(
                        "\nstopping after the current batches commit (Ctrl+C again to abort now)..."
                    );
                    stop.store(true, Ordering::SeqCst);
                }
                if tokio::signal::ctrl_c().await.is_ok() {
                    eprintln!(
                        "aborted; committed batches are kept, run the same command to resume"
                    );
                    std::process::exit(i32::from(exit::INTERRUPTED));
                }
            }
        });
    }
    let dead_file = config.dead_letter_file.clone();
    let report =
        crate::pipeline::run::run(schema, Arc::clone(&source), config, display.clone(), stop).await;
    display.finish();
    let mut report = report?;
    super::coverage::add_findings(&mut report, &target.pg_url, &target.state_schema, schema)
        .await?;
    let finished = matches!(
        report.outcome,
        Outcome::Completed | Outcome::AlreadyComplete
    );
    // With `--json` and `--validate`, stdout holds one JSON document with both reports.
    if !(args.json && args.validate && finished) {
        print_report(args.json, &report, target)?;
    }
    if let Some(path) = dead_file.filter(|_| report.dead_letters() > 0) {
        if report.outcome != Outcome::AlreadyComplete {
            eprintln!(
                "rejected documents were also appended to {}",
                path.display()
            );
        }
    }
    match report.outcome {
        Outcome::Interrupted => {
            eprintln!(
                "interrupted: everything committed is kept; run the same command again to resume"
            );
            return Ok(exit::INTERRUPTED);
        }
        Outcome::TooManyErrors => return Ok(exit::TOO_MANY_ERRORS),
        Outcome::Completed | Outcome::AlreadyComplete => {}
    }
    let mut code = exit::OK;
    if args.validate {
        let validation = validation(source.as_ref(), target, schema, args.sample).await?;
        if args.json {
            say!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({
                    "run": report,
                    "validation": validation,
                }))?
            );
        } else {
            say!("{}", summary::render_validation(&validation));
        }
        if !validation.passed() {
            code = exit::VALIDATION_FAILED;
        }
    }
    let (rejected, read) = (report.dead_letters(), report.documents());
    if code == exit::OK && !accept.accepts(rejected, read) {
        eprintln!(
            "{rejected} of {read} documents were rejected (`{} errors list` shows why); \
             exit code {}: pass `--accept-rejected {rejected}` (a count, or a share like `2%`) \
             when that many are expected",
            super::program_name(),
            exit::REJECTED
        );
        code = exit::REJECTED;
    }
    Ok(code)
}

/// Validates the target against the source.
async fn validation(
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

/// A count from the command line or the `--config` file, which must be at least 1 (the flags'
/// parser refuses 0 already; a file's value is checked here).
fn at_least_one(key: &str, value: Option<usize>) -> Result<Option<usize>, UsageError> {
    match value {
        Some(0) => Err(UsageError(format!("`{key}` must be at least 1, not 0"))),
        other => Ok(other),
    }
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

fn print_report(
    json: bool,
    report: &crate::report::RunReport,
    target: &Target,
) -> anyhow::Result<()> {
    if json {
        say!("{}", serde_json::to_string_pretty(report)?);
    } else {
        say!(
            "{}",
            summary::render(report, &target.pg_url, &target.state_schema)
        );
    }
    Ok(())
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

async fn status(target: &Target, schema: &Schema) -> anyhow::Result<u8> {
    let mut conn = connect(&target.pg_url).await?;
    let state = target.state();
    let Some((_, stage)) = state.current(&mut conn).await? else {
        say!(
            "no migration has started in this target (state schema `{}`)",
            target.state_schema
        );
        return Ok(exit::OK);
    };
    let checkpoints = state.checkpoints(&mut conn).await?;
    let dead: std::collections::BTreeMap<String, i64> =
        sqlx::query(&sql::count_dead_letters(&target.state_schema))
            .fetch_all(&mut conn)
            .await
            .context("counting dead letters")?
            .into_iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
    say!("stage: {}", stage.as_str());
    say!(
        "{:<24} {:>12} {:>9} {:>11}",
        "collection",
        "documents",
        "rejected",
        "partitions"
    );
    for model in schema.models() {
        let mine: Vec<_> = checkpoints
            .iter()
            .filter(|c| c.collection == model.collection())
            .collect();
        let docs: i64 = mine.iter().map(|c| c.documents).sum();
        let rejected = dead.get(model.collection()).copied().unwrap_or(0);
        let done = mine.iter().filter(|c| c.done).count();
        let progress = if mine.is_empty() {
            "not started".to_string()
        } else {
            format!("{done}/{} done", mine.len())
        };
        say!(
            "{:<24} {:>12} {:>9} {:>11}",
            model.collection(),
            docs,
            rejected,
            progress
        );
    }
    let coverage = super::coverage::stored(&mut conn, &target.state_schema, schema).await?;
    let section = super::coverage::status_section(&coverage);
    if !section.is_empty() {
        say!("{}", section.trim_end());
    }
    Ok(exit::OK)
}

async fn coverage(json: bool, target: &Target, schema: &Schema) -> anyhow::Result<u8> {
    let mut conn = connect(&target.pg_url).await?;
    let coverage = super::coverage::stored(&mut conn, &target.state_schema, schema).await?;
    if json {
        say!("{}", serde_json::to_string_pretty(&coverage)?);
    } else {
        say!("{}", super::coverage::render(&coverage).trim_end());
    }
    Ok(exit::OK)
}

async fn errors(command: &ErrorsCommand, target: &Target) -> anyhow::Result<u8> {
    let mut conn = connect(&target.pg_url).await?;
    let state = target.state();
    if state.current(&mut conn).await?.is_none() {
        say!(
            "no migration has started in this target (state schema `{}`)",
            target.state_schema
        );
        return Ok(exit::OK);
    }
    match command {
        ErrorsCommand::List {
            collection,
            class,
            limit,
        } => {
            let groups = crate::pipeline::run::error_groups(&state, &mut conn, 10).await?;
            if groups.is_empty() {
                say!("no rejected documents");
                return Ok(exit::OK);
            }
            say!(
                "{:>8}  {:<20} {:<28} {:<22} example",
                "count",
                "collection",
                "field",
                "class"
            );
            for g in &groups {
                say!(
                    "{:>8}  {:<20} {:<28} {:<22} _id {}: {}",
                    g.count,
                    g.collection,
                    g.field,
                    g.class,
                    g.example_id,
                    g.example_message
                );
            }
            let rows = sqlx::query(&sql::select_dead_letters_filtered(&target.state_schema))
                .bind(collection)
                .bind(class)
                .bind(i64::try_from(*limit).unwrap_or(i64::MAX))
                .fetch_all(&mut conn)
                .await
                .context("reading dead letters")?;
            say!("\nlatest {}:", rows.len());
            for row in &rows {
                let (id, l) = crate::dead_letter::from_row(row);
                for (n, e) in l.issues().iter().enumerate() {
                    let head = if n == 0 {
                        format!(
                            "  #{id} {} _id {} [{}]",
                            l.collection,
                            l.document_id,
                            l.stage.as_str()
                        )
                    } else {
                        "      and".to_string()
                    };
                    say!("{head} {} {}: {}", e.field, e.class, e.message);
                }
            }
            say!("\n(`errors show ID` prints one with its document; `errors export FILE` writes them all)");
        }
        ErrorsCommand::Show { id } => {
            let row = sqlx::query(&sql::select_dead_letter(&target.state_schema))
                .bind(id)
                .fetch_optional(&mut conn)
                .await
                .context("reading the dead letter")?;
            let Some(row) = row else {
                eprintln!("error: no rejected document #{id}");
                return Ok(exit::FAILED);
            };
            let (_, l) = crate::dead_letter::from_row(&row);
            say!("collection: {}\n_id:        {}\nstage:      {}\nfield:      {}\nclass:      {}\nreason:     {}", l.collection, l.document_id, l.stage.as_str(), l.field, l.class, l.message);
            if let Some(root) = &l.root_id {
                say!("root:       _id {root} (the rejected document the chain starts at)");
            }
            if !l.errors.is_empty() {
                say!("errors:     {}", l.errors.len());
                for e in &l.errors {
                    say!("  {} {}: {}", e.field, e.class, e.message);
                }
            }
            if let Some(doc) = &l.document {
                let pretty = serde_json::from_str::<serde_json::Value>(doc)
                    .and_then(|v| serde_json::to_string_pretty(&v))
                    .unwrap_or_else(|_| doc.clone());
                say!("document:\n{pretty}");
            }
        }
        ErrorsCommand::Export { file } => {
            let letters = crate::dead_letter::load_all(&mut conn, &target.state_schema)
                .await
                .context("reading dead letters")?;
            DeadLetterFile::new(file.clone())
                .rewrite(&letters)
                .with_context(|| format!("writing {}", file.display()))?;
            say!(
                "wrote {} rejected documents to {}",
                letters.len(),
                file.display()
            );
        }
    }
    Ok(exit::OK)
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
