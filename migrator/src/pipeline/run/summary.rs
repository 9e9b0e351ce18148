//! The run's last word: the dead letters exported to their file and the report of the whole
//! migration so far, read from the state tables.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use sqlx::{PgConnection, Row};

use super::Shared;
use crate::report::{CollectionReport, ErrorGroup, Outcome, RunReport};
use crate::run_error::RunError;
use crate::schema::{ModelHandle, Schema};
use crate::sink::sql;
use crate::state::StateStore;

/// Makes the dead-letter file (if any) hold exactly the state schema's table.
pub(super) async fn export_dead_letters(
    shared: &Shared,
    state: &StateStore,
    control: &mut PgConnection,
) -> Result<(), RunError> {
    let Some(file) = &shared.dead_file else {
        return Ok(());
    };
    if state.current(control).await?.is_none() {
        return Ok(());
    }
    let letters = crate::dead_letter::load_all(control, state.schema())
        .await
        .map_err(RunError::db("reading dead letters"))?;
    file.rewrite(&letters)
        .map(|_| ())
        .map_err(|e| RunError::Io {
            path: file.path().display().to_string(),
            source: e,
        })
}

/// The report of the whole migration so far, from the state tables.
pub(super) async fn summarize(
    schema: &Schema,
    shared: &Arc<Shared>,
    state: &StateStore,
    control: &mut PgConnection,
    outcome: Outcome,
    elapsed: Duration,
) -> Result<RunReport, RunError> {
    let checkpoints = state.checkpoints(control).await?;
    let dead: BTreeMap<String, i64> = sqlx::query(&sql::count_dead_letters(state.schema()))
        .fetch_all(&mut *control)
        .await
        .map_err(RunError::db("counting dead letters"))?
        .into_iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let ns = sql::Namespace(Some(shared.config.target_schema.as_str()));
    let written: BTreeMap<String, i64> = if shared.rows_as_written.load(Ordering::SeqCst) {
        state.table_rows(control).await?.into_iter().collect()
    } else {
        BTreeMap::new()
    };
    let mut collections = BTreeMap::new();
    for model in schema.models() {
        let mut report = CollectionReport::default();
        for c in checkpoints
            .iter()
            .filter(|c| c.collection == model.collection())
        {
            report.documents += u64::try_from(c.documents).unwrap_or(0);
            report.batches += u64::try_from(c.batches).unwrap_or(0);
            report.seconds += c.seconds;
        }
        report.split = shared.source.split_reason(model.collection());
        report.dead_letters = dead
            .get(model.collection())
            .map_or(0, |n| u64::try_from(*n).unwrap_or(0));
        for table in &model.def().tables {
            // The rows that are there now (rejections and skips after the load removed some).
            let n: i64 = match written.get(&table.name) {
                Some(n) => *n,
                None => sqlx::query_scalar(&sql::count_rows(ns, &table.name))
                    .fetch_one(&mut *control)
                    .await
                    .map_err(RunError::db(format!("counting the rows of {}", table.name)))?,
            };
            report
                .rows
                .insert(table.name.clone(), u64::try_from(n).unwrap_or(0));
        }
        collections.insert(model.collection().to_string(), report);
    }
    let error_groups = error_groups(state, control, 10).await?;
    let references = crate::references::counts(control, state.schema())
        .await
        .map_err(RunError::db("reading the reference counts"))?;
    let stage_seconds = shared
        .stage_seconds
        .lock()
        .map(|m| m.clone())
        .unwrap_or_default();
    // Allowed to be absent, and never planned: absent from the source.
    let absent = schema
        .models()
        .iter()
        .filter(|m| m.def().may_be_absent)
        .map(ModelHandle::collection)
        .filter(|c| !checkpoints.iter().any(|k| k.collection == *c))
        .map(str::to_string)
        .collect();
    Ok(RunReport {
        outcome,
        absent,
        collections,
        error_groups,
        references,
        stage_seconds,
        seconds: elapsed.as_secs_f64(),
        keys: None,
        adaptations: shared
            .adaptations
            .lock()
            .map(|a| a.clone())
            .unwrap_or_default(),
    })
}

/// The largest groups of dead letters by (collection, class, field pattern).
pub async fn error_groups(
    state: &StateStore,
    conn: &mut PgConnection,
    limit: i64,
) -> Result<Vec<ErrorGroup>, RunError> {
    let rows = sqlx::query(&sql::group_dead_letters(state.schema()))
        .bind(limit)
        .fetch_all(&mut *conn)
        .await
        .map_err(RunError::db("grouping dead letters"))?;
    Ok(rows
        .into_iter()
        .map(|r| ErrorGroup {
            collection: r.get(0),
            class: r.get(1),
            field: r.get(2),
            count: u64::try_from(r.get::<i64, _>(3)).unwrap_or(0),
            example_id: r.get(4),
            example_message: r.get(5),
        })
        .collect())
}
