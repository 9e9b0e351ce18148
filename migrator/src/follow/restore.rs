//! Referrers brought back when what they point at comes back.
//!
//! A reference's policy removes or changes a referring document when its target is missing:
//! `skip` deletes rows, `reject` makes the document a dead letter, `null` clears the column. The
//! load and the follow remember each such document by the value it missed
//! (`<state>.awaiting_targets`, written by `crate::references`). When a follow transaction writes
//! a row that holds such a value (the target inserted again, made valid again, or given that
//! natural key), the documents awaiting it are read as they are now (from the source, or, in an
//! oplog replay, as the replay left them) and applied again in the same transaction, as a fresh
//! migration of the source would have them: their rows written, their dead letters gone. What
//! they still miss is acted on again by the transaction's reference resolution, and remembered
//! again. Restored documents can be targets themselves: their own referrers follow, round by
//! round.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use bson::{Bson, RawDocumentBuf};
use sqlx::PgConnection;

use super::apply::{apply_model, Applied, Context};
use super::stream::{Change, What};
use crate::model::IdStrategy;
use crate::references::targeted::{self, Touched};
use crate::run_error::RunError;
use crate::schema::ModelHandle;
use crate::sink::sql;
use crate::source::{Partition, Position, SourceError};

/// Rounds of restored documents bringing back their own referrers before the follow gives up.
const MAX_ROUNDS: usize = 64;

/// Forgets what documents `keys` of `collection` awaited: their rows are written anew or gone.
pub(super) async fn forget(
    conn: &mut PgConnection,
    cx: &Context<'_>,
    collection: &str,
    keys: &[String],
) -> Result<(), RunError> {
    sqlx::query(&sql::delete_document_awaiting(cx.state.schema()))
        .bind(collection)
        .bind(keys)
        .execute(&mut *conn)
        .await
        .map_err(RunError::db(format!(
            "forgetting the targets changed documents of `{collection}` awaited"
        )))?;
    Ok(())
}

/// Brings back the documents awaiting a value the rows `written` (per model index, document
/// keys) now hold, and theirs in turn; adds what it wrote to `applied` and `touched`.
pub(super) async fn restore(
    conn: &mut PgConnection,
    cx: &Context<'_>,
    written: BTreeMap<usize, Vec<String>>,
    applied: &mut Applied,
    touched: &mut Touched,
) -> Result<(), RunError> {
    let models = cx.schema.models();
    let mut pending = written;
    for _ in 0..MAX_ROUNDS {
        let (mut tables, mut columns, mut values) = (Vec::new(), Vec::new(), Vec::new());
        for (index, keys) in &pending {
            let held = targeted::referenced_values(
                conn,
                cx.schema,
                cx.ns,
                &cx.types,
                &models[*index],
                keys,
                true,
            )
            .await?;
            for ((table, column), held) in held {
                for value in held {
                    tables.push(table.clone());
                    columns.push(column.clone());
                    values.push(value);
                }
            }
        }
        if values.is_empty() {
            return Ok(());
        }
        let awaiting: Vec<(String, String)> =
            sqlx::query_as(&sql::take_awaiting(cx.state.schema()))
                .bind(&tables)
                .bind(&columns)
                .bind(&values)
                .fetch_all(&mut *conn)
                .await
                .map_err(RunError::db(
                    "reading the documents awaiting the rows a follow transaction wrote",
                ))?;
        let mut by_collection: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (collection, key) in awaiting {
            by_collection.entry(collection).or_default().insert(key);
        }
        pending = BTreeMap::new();
        for (collection, keys) in by_collection {
            let Some(index) = models.iter().position(|m| m.collection() == collection) else {
                continue;
            };
            let model = &models[index];
            let changes: Vec<Change> = current_documents(conn, cx, model, &keys)
                .await?
                .into_iter()
                .map(|doc| upsert(&collection, doc))
                .collect::<Result<_, _>>()?;
            let documents: BTreeMap<String, &Change> = changes
                .iter()
                .filter_map(|change| match &change.what {
                    What::Upsert { id, .. } => {
                        Some((id.clone().into_relaxed_extjson().to_string(), change))
                    }
                    _ => None,
                })
                .collect();
            if documents.is_empty() {
                continue;
            }
            // Its own tally: `apply_model` records the dead letters of the tally it is given.
            let mut restored = Applied::default();
            let keys = apply_model(conn, cx, model, &documents, &mut restored, touched).await?;
            applied.upserted += restored.upserted;
            applied.dead_letters.extend(restored.dead_letters);
            if !keys.is_empty() {
                touched
                    .written
                    .entry(index)
                    .or_default()
                    .extend(keys.clone());
                pending.insert(index, keys);
            }
        }
    }
    Err(RunError::Internal(format!(
        "documents kept bringing back their referrers after {MAX_ROUNDS} rounds in one follow \
         transaction"
    )))
}

/// A document read again, as the change that writes it.
pub(super) fn upsert(collection: &str, doc: RawDocumentBuf) -> Result<Change, RunError> {
    let id = match doc.get("_id") {
        Ok(Some(id)) => Bson::try_from(id).map_err(|e| {
            RunError::Internal(format!(
                "a document of `{collection}` read again has an unreadable `_id`: {e}"
            ))
        })?,
        _ => {
            return Err(RunError::Internal(format!(
                "a document of `{collection}` read again has no `_id`"
            )))
        }
    };
    Ok(Change {
        token: serde_json::Value::Null,
        cluster_time: None,
        wall_ms: None,
        transaction: None,
        what: What::Upsert {
            collection: collection.to_string(),
            id,
            doc,
        },
    })
}

/// The documents of `model` with stored keys `keys` as they are now: an oplog replay's kept
/// documents first (one it deleted is gone), then the source's. A document no longer there is
/// left out (the change that deleted it comes, or came, on its own).
async fn current_documents(
    conn: &mut PgConnection,
    cx: &Context<'_>,
    model: &ModelHandle,
    keys: &BTreeSet<String>,
) -> Result<Vec<RawDocumentBuf>, RunError> {
    let collection = model.collection();
    let mut ids: Vec<Bson> = keys
        .iter()
        .flat_map(|key| crate::id::id_candidates(key))
        .collect();
    if model.def().id_strategy == IdStrategy::V5 {
        // Name-based keys do not map back: find the `_id`s by reading the collection.
        ids.extend(scan_ids(cx, model, keys)?);
    }
    let mut found: Vec<RawDocumentBuf> = Vec::new();
    if cx.kept_documents {
        let kept_keys: Vec<String> = ids.iter().map(sql::oplog_document_key).collect();
        let rows: Vec<(String, Option<Vec<u8>>)> =
            sqlx::query_as(&sql::select_oplog_documents(cx.state.schema()))
                .bind(collection)
                .bind(&kept_keys)
                .fetch_all(&mut *conn)
                .await
                .map_err(RunError::db(format!(
                    "reading the kept documents of `{collection}`"
                )))?;
        let kept: HashSet<&String> = rows.iter().map(|(key, _)| key).collect();
        ids.retain(|id| !kept.contains(&sql::oplog_document_key(id)));
        for (key, bytes) in &rows {
            let Some(bytes) = bytes else { continue };
            found.push(RawDocumentBuf::from_bytes(bytes.clone()).map_err(|e| {
                RunError::Internal(format!(
                    "a kept document of `{collection}` (`_id` {key}) is unreadable: {e}"
                ))
            })?);
        }
    }
    if !ids.is_empty() {
        match cx.source.fetch(collection, &ids) {
            Ok(docs) => found.extend(docs),
            Err(SourceError::MissingCollection { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let mut seen = HashSet::new();
    found.retain(|doc| {
        model
            .key_text(doc)
            .is_some_and(|key| keys.contains(&key) && seen.insert(key))
    });
    Ok(found)
}

/// The `_id`s of the documents of `model` whose stored keys are `keys`, by reading the
/// collection.
fn scan_ids(
    cx: &Context<'_>,
    model: &ModelHandle,
    keys: &BTreeSet<String>,
) -> Result<Vec<Bson>, RunError> {
    let collection = model.collection();
    let mut wanted: HashSet<&str> = keys.iter().map(String::as_str).collect();
    let mut ids = Vec::new();
    let docs = match cx
        .source
        .read(collection, &Partition::whole(), &Position::Start)
    {
        Ok(docs) => docs,
        Err(SourceError::MissingCollection { .. }) => return Ok(ids),
        Err(e) => return Err(e.into()),
    };
    for item in docs {
        let doc = item?.doc;
        let Some(key) = model.key_text(&doc) else {
            continue;
        };
        if wanted.remove(key.as_str()) {
            if let Ok(Some(id)) = doc.get("_id") {
                if let Ok(id) = Bson::try_from(id) {
                    ids.push(id);
                }
            }
            if wanted.is_empty() {
                break;
            }
        }
    }
    Ok(ids)
}
