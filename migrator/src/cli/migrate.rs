//! `migrate`: the run's settings from the flags and the `--config` file, Ctrl+C, the summary,
//! `--validate` and the exit code (rejected documents included).

use anyhow::Context;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::failure::UsageError;
use super::options::{exit, FileConfig, MigrateArgs, SchemaModeArg};
use super::progress::Display;
use super::summary;
use crate::pipeline::config::{ErrorLimit, RunConfig, SchemaMode};
use crate::report::Outcome;
use crate::schema::Schema;

use super::commands::{merge_source, validation, without_source, Target};

pub(super) async fn migrate(
    args: &MigrateArgs,
    file: &FileConfig,
    target: &Target,
    schema: &Schema,
) -> anyhow::Result<u8> {
    let source_args = merge_source(&args.source, file);
    if let Some(code) = without_source(&source_args) {
        return Ok(code);
    }
    // Said before the copy, not after it.
    #[cfg(not(feature = "live"))]
    if args.follow {
        return Err(super::source::without_live("--follow").into());
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
    // The replay first: validation compares the target with the source as the replay left it.
    let mut code = super::replay::replay_if_any(
        &source_args,
        args.no_oplog_replay,
        &args.follow_flags,
        target,
        schema,
        Arc::clone(&source),
        args.json,
    )
    .await?;
    if args.validate && code == exit::OK {
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
    #[cfg(feature = "live")]
    if args.follow && code == exit::OK {
        let followed = super::follow::follow(
            &args.source,
            &args.follow_flags,
            false,
            args.jobs,
            file,
            target,
            schema,
        )
        .await?;
        if followed != exit::OK {
            return Ok(followed);
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

/// A count from the command line or the `--config` file, which must be at least 1 (the flags'
/// parser refuses 0 already; a file's value is checked here).
pub(super) fn at_least_one(key: &str, value: Option<usize>) -> Result<Option<usize>, UsageError> {
    match value {
        Some(0) => Err(UsageError(format!("`{key}` must be at least 1, not 0"))),
        other => Ok(other),
    }
}

pub(super) fn print_report(
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
