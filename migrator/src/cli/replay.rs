//! `migrate` from a mongodump directory made with `--oplog`: the `oplog.bson` beside it replayed
//! after the load (see [`crate::follow::oplog`]), unless `--no-oplog-replay`.
//!
//! Automatic, unlike `mongorestore --oplogReplay`: a dump written while the application wrote
//! is only consistent with its oplog applied (its collections were read at different moments,
//! so references between them can point at documents read before they were made), and loading
//! it without saying so would give an inconsistent target silently. `mongorestore` writes into
//! a live server and also replays oplogs captured on their own, so it asks; here the target is
//! built from the dump, and the summary says that the oplog was replayed and to which moment.

use std::path::Path;
use std::sync::Arc;

use super::commands::Target;
use super::options::{exit, FollowFlags, SourceArgs, SourceKind};
use crate::schema::Schema;
use crate::source::Source;

/// The oplog a dump carries: what to call it, the database it is replayed over, where its
/// entries are (a build without `live` only names it).
#[cfg_attr(not(feature = "live"), allow(dead_code))]
pub(super) struct DumpOplog {
    pub label: String,
    pub database: String,
    pub path: std::path::PathBuf,
    /// Carried by the source (an archive's), not an `oplog.bson` file.
    pub carried: bool,
}

/// Replays the dump's oplog if it has one; the exit code says how it ended.
pub(super) async fn replay_if_any(
    source_args: &SourceArgs,
    skip: bool,
    flags: &FollowFlags,
    target: &Target,
    schema: &Schema,
    source: Arc<dyn Source>,
    json: bool,
) -> anyhow::Result<u8> {
    let Some(spec) = source_args.source.as_deref() else {
        return Ok(exit::OK);
    };
    let kind = match source_args.source_kind {
        Some(kind) => kind,
        None => super::source::detect(spec)?,
    };
    let oplog = match kind {
        SourceKind::Dump => {
            let dir = Path::new(spec);
            find_oplog(dir).map(|path| DumpOplog {
                label: path.display().to_string(),
                database: dir
                    .canonicalize()
                    .ok()
                    .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
                    .unwrap_or_default(),
                path,
                carried: false,
            })
        }
        // `mongodump --archive --oplog`: the oplog is a namespace of the archive.
        SourceKind::Archive => match source.oplog_database() {
            Ok(found) => found.map(|database| DumpOplog {
                label: format!("the oplog of {spec}"),
                database,
                path: Path::new(spec).to_path_buf(),
                carried: true,
            }),
            Err(e) if skip => {
                eprintln!("note: the archive's oplog was not replayed (--no-oplog-replay): {e}");
                return Ok(exit::OK);
            }
            Err(e) => {
                eprintln!("error: {e}");
                eprintln!(
                    "the load is kept; pass --no-oplog-replay to keep the archive's collections \
                     as they were read"
                );
                return Ok(exit::FAILED);
            }
        },
        SourceKind::Export | SourceKind::Mongo => None,
    };
    let Some(oplog) = oplog else {
        return Ok(exit::OK);
    };
    if skip {
        eprintln!(
            "note: {} was not replayed (--no-oplog-replay): the target holds the dump's \
             collection files as they were read",
            oplog.label
        );
        return Ok(exit::OK);
    }
    // With `--limit` the replay keeps to the sampled documents (see `follow::oplog`).
    replay(oplog, flags, target, schema, source, json).await
}

/// The `oplog.bson` (or `.bson.gz`) that `mongodump --oplog` wrote one level above the database
/// directory `dir`, if there is one.
fn find_oplog(dir: &Path) -> Option<std::path::PathBuf> {
    let dir = dir.canonicalize().ok()?;
    let parent = dir.parent()?;
    ["oplog.bson", "oplog.bson.gz"]
        .iter()
        .map(|name| parent.join(name))
        .find(|p| p.is_file())
}

/// Without the `live` feature there is no follow, so no replay: said, never silent.
#[cfg(not(feature = "live"))]
async fn replay(
    oplog: DumpOplog,
    _flags: &FollowFlags,
    _target: &Target,
    _schema: &Schema,
    _source: Arc<dyn Source>,
    _json: bool,
) -> anyhow::Result<u8> {
    eprintln!(
        "error: {} needs replaying after the load, which this build cannot do (migrator's \
         `live` feature is off: build with `--features schema/live`); the load is kept: pass \
         --no-oplog-replay to keep the dump as read",
        oplog.label
    );
    Ok(exit::FAILED)
}

#[cfg(feature = "live")]
async fn replay(
    oplog: DumpOplog,
    flags: &FollowFlags,
    target: &Target,
    schema: &Schema,
    source: Arc<dyn Source>,
    json: bool,
) -> anyhow::Result<u8> {
    use crate::follow::oplog::{self, OplogInput, ReplayOptions};
    use crate::follow::FollowError;
    use anyhow::Context;

    let DumpOplog {
        label,
        database,
        path,
        carried,
    } = oplog;
    let input = if carried {
        OplogInput::Carried {
            path,
            source: Arc::clone(&source),
        }
    } else {
        OplogInput::File(path)
    };
    let options = ReplayOptions {
        pg_url: target.pg_url.clone(),
        target_schema: target.target_schema.clone(),
        state_schema: target.state_schema.clone(),
        input,
        database: database.clone(),
        max_batch: flags.follow_batch.max(1),
    };
    match oplog::replay(schema, source, &options).await {
        Ok(report) => {
            let at = report
                .last_ts
                .map_or_else(String::new, |t| format!(", as of {t}"));
            let earlier = if report.earlier {
                " (by an earlier run)"
            } else {
                ""
            };
            let line = format!(
                "oplog: {} replayed{earlier}: {} entries, {} documents of database `{database}` \
                 touched ({} written, {} deleted, {} dead letters, {} references acted on){at}",
                label,
                report.entries,
                report.documents,
                report.upserted,
                report.deleted,
                report.dead_letters,
                report.references_acted
            );
            // With `--json`, stdout holds the JSON document only.
            if json {
                eprintln!("{line}");
            } else {
                say!("{line}");
            }
            Ok(exit::OK)
        }
        Err(FollowError::Run(e)) => Err(e).context(format!("while replaying {label}")),
        Err(e) => {
            eprintln!("error: {e}");
            eprintln!(
                "the load is kept; what the replay committed is kept: fix the cause and run the \
                 same command to resume it, or pass --no-oplog-replay to keep the dump as read"
            );
            Ok(exit::FAILED)
        }
    }
}

/// What `status` says of an oplog replay.
#[cfg(feature = "live")]
pub(super) fn status_line(replay: &crate::follow::oplog::ReplayStatus) -> String {
    let r = &replay.report;
    let at = r
        .last_ts
        .map_or_else(String::new, |t| format!(", last entry at {t}"));
    let state = if replay.done {
        "done".to_string()
    } else {
        format!(
            "in progress, resumes at byte {} of {} (run the same `migrate`)",
            replay.next_offset, replay.file_bytes
        )
    };
    format!(
        "oplog replay of {}: {state}; {} entries applied, {} documents touched ({} written, {} \
         deleted, {} dead letters, {} references acted on){at}",
        replay.file,
        r.entries,
        r.documents,
        r.upserted,
        r.deleted,
        r.dead_letters,
        r.references_acted
    )
}
