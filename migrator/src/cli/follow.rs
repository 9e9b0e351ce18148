//! `follow` and `migrate --follow`: the live source's changes applied to a finished target,
//! progress lines on stderr, the final resume token on stdout.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use super::commands::{merge_source, without_source, Target};
use super::options::{exit, FileConfig, FollowFlags, OnInvalidArg, SourceArgs};
use crate::follow::{FollowError, FollowOptions, FollowProgress, OnInvalid};
use crate::schema::Schema;

/// Runs a follow; the exit code says how it ended.
pub(super) async fn follow(
    source_args: &SourceArgs,
    flags: &FollowFlags,
    recopy: bool,
    jobs: Option<usize>,
    file: &FileConfig,
    target: &Target,
    schema: &Schema,
) -> anyhow::Result<u8> {
    let source_args = merge_source(source_args, file);
    if let Some(code) = without_source(&source_args) {
        return Ok(code);
    }
    let spec = source_args.source.clone().unwrap_or_default();
    if !(spec.starts_with("mongodb://") || spec.starts_with("mongodb+srv://")) {
        eprintln!("error: follow reads a live source's change stream: --source must be a mongodb:// URI (a replica set or a sharded cluster)");
        return Ok(exit::USAGE);
    }
    let database = super::source::database_of(&source_args)?;
    let source = super::source::open(&source_args)?;
    let options = FollowOptions {
        pg_url: target.pg_url.clone(),
        target_schema: target.target_schema.clone(),
        state_schema: target.state_schema.clone(),
        uri: spec,
        database,
        max_batch: flags.follow_batch.max(1),
        max_wait: Duration::from_millis(100),
        on_invalid: match flags.on_invalid {
            OnInvalidArg::Keep => OnInvalid::Keep,
            OnInvalidArg::Delete => OnInvalid::Delete,
        },
        until_caught_up: flags.until_caught_up.map(Duration::from_millis),
        progress_every: Duration::from_secs(2),
        recopy,
        jobs: jobs.or(file.jobs).unwrap_or(2).max(1),
    };
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = Arc::clone(&stop);
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("\nstopping after the current transaction commits (Ctrl+C again to abort now)...");
                stop.store(true, Ordering::SeqCst);
                if tokio::signal::ctrl_c().await.is_ok() {
                    eprintln!("aborted; every committed change is kept, `follow` resumes after it");
                    std::process::exit(i32::from(exit::INTERRUPTED));
                }
            }
        });
    }
    let recopy_said = std::sync::atomic::AtomicBool::new(false);
    let print = |p: &FollowProgress| {
        if let Some(r) = p
            .recopied
            .as_ref()
            .filter(|_| !recopy_said.swap(true, Ordering::SeqCst))
        {
            eprintln!(
                "re-copied {} ({} ranges, {} at a time): {} documents written, {} rows of documents \
                 no longer there deleted, {} dead letters; following from the change that stopped \
                 the follow",
                r.collections.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", "),
                r.ranges,
                r.jobs,
                r.written,
                r.deleted,
                r.dead_letters
            );
        }
        eprintln!(
            "follow: {} changes applied ({} upserted, {} deleted, {} dead letters, {} references acted on), {:.0}/s, lag {} ms{}",
            p.applied,
            p.upserted,
            p.deleted,
            p.dead_letters,
            p.references_acted,
            p.rate,
            p.lag_ms,
            if p.caught_up { ", caught up" } else { "" }
        );
    };
    let result = crate::follow::follow(schema, source, &options, Arc::clone(&stop), &print).await;
    match result {
        Ok(progress) => {
            say!("final resume token: {}", progress.token);
            if options.until_caught_up.is_some() && !stop.load(Ordering::SeqCst) {
                eprintln!(
                    "caught up (lag {} ms): stop the application's writes, run `follow --until-caught-up` \
                     once more to drain, then switch it to PostgreSQL",
                    progress.lag_ms
                );
                Ok(exit::OK)
            } else {
                eprintln!(
                    "follow stopped: every committed change is kept; `follow` resumes after it"
                );
                Ok(exit::INTERRUPTED)
            }
        }
        Err(FollowError::Run(e)) => Err(e).context("while following the source's changes"),
        Err(e) => {
            eprintln!("error: {e}");
            Ok(exit::FAILED)
        }
    }
}

/// What `status` says of the follow.
pub(super) fn status_lines(follow: &crate::follow::FollowState) -> String {
    if follow.applied == 0 && follow.token == follow.start.get("token").cloned().unwrap_or_default()
    {
        let at = follow
            .cluster_time
            .map_or_else(String::new, |t| format!(" (cluster time {t})"));
        return format!(
            "follow: start point recorded before the copy{at}; nothing applied yet (`follow` applies the changes since)"
        );
    }
    let at = follow.cluster_time.map_or_else(String::new, |t| {
        format!(", last change at cluster time {t}")
    });
    let mut text = format!(
        "follow: {} changes applied ({} upserted, {} deleted, {} dead letters, {} references acted on, {} transactions){at}\n\
         follow: {:.0} changes/s, lag {} ms at the last commit, {:.1} s ago ({})",
        follow.applied,
        follow.upserted,
        follow.deleted,
        follow.dead_letters,
        follow.references_acted,
        follow.transactions,
        follow.rate.unwrap_or(0.0),
        follow.lag_ms.unwrap_or(0),
        follow.seconds_since_update,
        follow.updated_at
    );
    if let Some(stopped) = &follow.stopped {
        text.push_str(&format!("\nfollow: stopped: {stopped}"));
    }
    text
}
