//! The census in the target, with the run's state: a batch's delta is merged by one statement
//! in the batch's own transaction, so a resumed run counts every document exactly once.

use sqlx::{PgConnection, Row};

use super::{Census, KeyCensus, KeyStats};
use crate::run_error::RunError;
use crate::sink::sql;

/// The path that stores a collection's document count.
const ROOT: &str = "";

/// Adds `delta` (a batch's documents) to the census of `collection`, in the caller's transaction.
pub async fn record(
    conn: &mut PgConnection,
    state: &str,
    collection: &str,
    delta: &KeyCensus,
) -> Result<(), sqlx::Error> {
    if delta.is_empty() {
        return Ok(());
    }
    let mut paths = vec![ROOT.to_string()];
    let mut documents = vec![i64::try_from(delta.documents).unwrap_or(i64::MAX)];
    let mut types = vec!["{}".to_string()];
    let mut examples: Vec<Option<String>> = vec![None];
    for (path, stats) in &delta.keys {
        paths.push(path.clone());
        documents.push(i64::try_from(stats.documents).unwrap_or(i64::MAX));
        types.push(serde_json::to_string(&stats.types).unwrap_or_else(|_| "{}".into()));
        examples.push(stats.example_id.clone());
    }
    sqlx::query(&sql::merge_census(state))
        .bind(collection)
        .bind(paths)
        .bind(documents)
        .bind(types)
        .bind(examples)
        .execute(conn)
        .await?;
    Ok(())
}

/// The census stored so far, per collection (empty if the target has none).
pub async fn load(conn: &mut PgConnection, state: &str) -> Result<Census, RunError> {
    let failed = RunError::db("reading the key census");
    let exists: bool = sqlx::query_scalar(sql::TABLE_EXISTS)
        .bind(state)
        .bind("key_census")
        .fetch_one(&mut *conn)
        .await
        .map_err(RunError::db("reading the key census"))?;
    if !exists {
        return Ok(Census::new());
    }
    let rows = sqlx::query(&sql::select_census(state))
        .fetch_all(&mut *conn)
        .await
        .map_err(failed)?;
    let mut census = Census::new();
    for row in rows {
        let read = |e| RunError::db("reading the key census")(e);
        let collection: String = row.try_get(0).map_err(read)?;
        let path: String = row.try_get(1).map_err(read)?;
        let documents: i64 = row.try_get(2).map_err(read)?;
        let types: serde_json::Value = row.try_get(3).map_err(read)?;
        let example_id: Option<String> = row.try_get(4).map_err(read)?;
        let entry = census.entry(collection).or_default();
        let documents = u64::try_from(documents).unwrap_or(0);
        if path == ROOT {
            entry.documents = documents;
            continue;
        }
        entry.keys.insert(
            path,
            KeyStats {
                documents,
                types: serde_json::from_value(types).unwrap_or_default(),
                example_id,
            },
        );
    }
    Ok(census)
}
