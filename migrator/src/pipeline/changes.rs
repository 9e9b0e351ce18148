//! A source that changed between a run and its resume.
//!
//! A collection's partitions are planned once (byte ranges of its file, runs of an archive's
//! blocks) and each resumes from a byte offset. Both mean something only in the file they were
//! made from: after a truncated file is restored, the last range still ends where the truncated
//! file did (the resume would load less), and after a bad length prefix is fixed, the recorded
//! offset can point inside a document. So the plan records what the source was
//! ([`SourceStamp`]: a file's size, modification time and edges; an archived collection's
//! blocks, count and CRC), and a resumed load compares: a collection whose data changed is
//! loaded again from its start, its rows, dead letters and checkpoints forgotten in the
//! transaction that empties its tables. It is never resumed in the middle of what it was.

use std::sync::Arc;

use sqlx::{Connection, PgConnection};

use super::config::RunConfig;
use super::tables;
use crate::progress::{Event, Observer};
use crate::run_error::RunError;
use crate::schema::Schema;
use crate::sink::sql::{self, Namespace};
use crate::source::{Partition, Source, SourceStamp};
use crate::state::{Checkpoint, StateStore};

/// A collection's partitions and what its source was when they were made.
#[derive(Debug)]
pub(super) struct Planned {
    pub partitions: Vec<Partition>,
    pub stamp: Option<SourceStamp>,
}

/// Plans `collection`'s partitions (on a blocking thread). The stamp is taken first: a change
/// made while the plan is made is noticed by the next resume.
pub(super) fn plan(source: &dyn Source, collection: &str, max: usize) -> Result<Planned, RunError> {
    let stamp = source.stamp(collection)?;
    let partitions = source.partitions(collection, max)?;
    Ok(Planned { partitions, stamp })
}

/// A planned collection whose source changed since.
#[derive(Debug)]
struct Changed {
    collection: String,
    path: String,
    differences: Vec<String>,
}

/// Forgets the load of every planned collection whose source changed since it was planned, so
/// the load plans and reads it again from its start. Returns whether it forgot any (the caller
/// reads the checkpoints again).
pub(super) async fn forget_changed(
    schema: &Schema,
    source: &Arc<dyn Source>,
    config: &RunConfig,
    observer: &dyn Observer,
    state: &StateStore,
    control: &mut PgConnection,
    checkpoints: &[Checkpoint],
) -> Result<bool, RunError> {
    let stamps: Vec<(String, SourceStamp)> = state
        .source_stamps(control)
        .await?
        .into_iter()
        .filter(|(collection, _)| checkpoints.iter().any(|c| &c.collection == collection))
        .collect();
    if stamps.is_empty() {
        return Ok(false);
    }
    let source = Arc::clone(source);
    let changed = tokio::task::spawn_blocking(move || compare(source.as_ref(), stamps))
        .await
        .map_err(|e| RunError::Internal(format!("comparing the source with its plan: {e}")))??;
    if changed.is_empty() {
        return Ok(false);
    }
    let mut collections = Vec::new();
    let mut tables = Vec::new();
    for change in &changed {
        let Some(model) = schema
            .models()
            .iter()
            .find(|m| m.collection() == change.collection)
        else {
            continue;
        };
        let loaded: i64 = checkpoints
            .iter()
            .filter(|c| c.collection == change.collection)
            .map(|c| c.documents)
            .sum();
        observer.event(&Event::Note {
            message: format!(
                "`{}`: {} changed since this run planned it ({}); loading `{}` again from its \
                 start ({loaded} documents had been loaded from what it held before)",
                change.collection,
                change.path,
                change.differences.join("; "),
                change.collection,
            ),
        });
        collections.push(change.collection.clone());
        tables.extend(model.def().tables.iter().map(|t| t.name.clone()));
    }
    // Tables a resumed run has not created yet hold nothing to empty.
    let present = tables::existing(control, &config.target_schema, &tables).await?;
    let what = format!("emptying `{}` to load again", collections.join("`, `"));
    let mut tx = control.begin().await.map_err(RunError::db(what.clone()))?;
    if !present.is_empty() {
        let names: Vec<&str> = present.iter().map(String::as_str).collect();
        sqlx::query(&sql::truncate_tables(
            Namespace(Some(&config.target_schema)),
            &names,
        ))
        .execute(&mut *tx)
        .await
        .map_err(RunError::db(what.clone()))?;
    }
    state.forget_loads(&mut tx, &collections, &tables).await?;
    tx.commit().await.map_err(RunError::db(what))?;
    Ok(true)
}

/// The collections whose source is not what their stamp says.
fn compare(
    source: &dyn Source,
    stamps: Vec<(String, SourceStamp)>,
) -> Result<Vec<Changed>, RunError> {
    let mut changed = Vec::new();
    for (collection, then) in stamps {
        let Some(now) = source.stamp(&collection)? else {
            continue;
        };
        let differences = now.differences(&then);
        if !differences.is_empty() {
            changed.push(Changed {
                collection,
                path: now.path().to_string(),
                differences,
            });
        }
    }
    Ok(changed)
}
