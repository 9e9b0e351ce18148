//! `follow --recopy`: after a follow stopped at a collection dropped or renamed (or the database
//! dropped, the stream invalidated), the collections concerned are copied again from the live
//! source through the follow's own path, then the follow goes on.
//!
//! Every document the source holds now is written (its rows replaced, its earlier dead letters
//! judged again), then the rows of the documents it no longer holds are deleted, the references
//! other collections hold to them resolved with their `on_missing` policies. The follow then
//! resumes right after the change that stopped it: the changes made since to the collections
//! copied again are applied once more on top of the copy (each carries the whole document, so
//! applying one again converges), and no change of the other collections is missed. After an
//! invalidated stream (it cannot be resumed) every collection is copied again and the follow
//! starts from a point of the stream taken before the copy began.
//!
//! Each chunk of documents commits on its own; the follow's position moves only with the last
//! transaction. A re-copy stopped anywhere is run again from its beginning: writing a document
//! again changes nothing.

use std::collections::HashSet;

use bson::{Bson, RawDocumentBuf};
use sqlx::{Connection, PgConnection};

use super::apply::{self, Context};
use super::stream::{Change, What};
use super::{FollowError, FollowState};
use crate::references::targeted::{self, Touched};
use crate::run_error::RunError;
use crate::schema::ModelHandle;
use crate::sink::sql;
use crate::source::{Partition, Position, SourceError};

/// Documents written per transaction.
const CHUNK: usize = 1000;

/// The collections to copy again, as a follow's stop recorded them (`*`: all).
pub(super) const ALL: &str = "*";

/// What a re-copy did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Recopied {
    pub collections: Vec<String>,
    pub written: u64,
    pub deleted: u64,
    pub dead_letters: u64,
}

/// Copies the collections the recorded stop names again; returns the token to resume after.
pub(super) async fn recopy(
    conn: &mut PgConnection,
    cx: &Context<'_>,
    epoch: i64,
    recorded: &FollowState,
    fresh_start: impl std::future::Future<Output = Result<serde_json::Value, FollowError>>,
) -> Result<(serde_json::Value, Recopied), FollowError> {
    let (Some(stop_token), Some(names)) = (&recorded.stop_token, &recorded.recopy) else {
        return Err(FollowError::Unsupported {
            what: format!(
                "--recopy here: the follow in `{}` did not stop at a collection dropped or renamed \
                 (run `follow` without --recopy)",
                cx.state.schema()
            ),
        });
    };
    let all = names.iter().any(|n| n == ALL);
    // Taken before anything is read: the copy covers every change after it.
    let resume = if all {
        fresh_start.await?
    } else {
        stop_token.clone()
    };
    let models: Vec<&ModelHandle> = cx
        .schema
        .models()
        .iter()
        .filter(|m| all || names.iter().any(|n| n == m.collection()))
        .collect();
    let mut done = Recopied::default();
    for model in models {
        copy_again(conn, cx, epoch, model, &mut done).await?;
        done.collections.push(model.collection().to_string());
    }
    let mut tx = conn
        .begin()
        .await
        .map_err(RunError::db("finishing a re-copy"))?;
    let (moved, ours): (i64, bool) = sqlx::query_as(&sql::record_recopy(cx.state.schema()))
        .bind(&recorded.token)
        .bind(&resume)
        .bind(epoch)
        .fetch_one(&mut *tx)
        .await
        .map_err(RunError::db(
            "recording the follow's position after a re-copy",
        ))?;
    if !ours || moved != 1 {
        return Err(RunError::TakenOver {
            state: cx.state.schema().to_string(),
        }
        .into());
    }
    tx.commit()
        .await
        .map_err(RunError::db("finishing a re-copy"))?;
    Ok((resume, done))
}

/// One collection copied again: every document the source holds written, the rows of those it
/// no longer holds deleted.
async fn copy_again(
    conn: &mut PgConnection,
    cx: &Context<'_>,
    epoch: i64,
    model: &ModelHandle,
    done: &mut Recopied,
) -> Result<(), FollowError> {
    let collection = model.collection();
    let source_error = |e: SourceError| FollowError::Source {
        source_name: cx.source.describe(),
        reason: format!("copying `{collection}` again: {e}"),
    };
    // Every document is judged anew: the dead letters of those gone go too.
    let mut tx = begin(conn, cx, epoch).await?;
    sqlx::query(&sql::delete_collection_dead_letters(cx.state.schema()))
        .bind(collection)
        .execute(&mut *tx)
        .await
        .map_err(RunError::db(format!(
            "forgetting the dead letters of `{collection}`"
        )))?;
    tx.commit().await.map_err(RunError::db(format!(
        "forgetting the dead letters of `{collection}`"
    )))?;
    let mut seen: HashSet<String> = HashSet::new();
    let docs = match cx
        .source
        .read(collection, &Partition::whole(), &Position::Start)
    {
        Ok(docs) => Some(docs),
        // Dropped and not made again: every row goes.
        Err(SourceError::MissingCollection { .. }) => None,
        Err(e) => return Err(source_error(e)),
    };
    let mut chunk: Vec<Change> = Vec::with_capacity(CHUNK);
    if let Some(docs) = docs {
        for item in docs {
            let item = item.map_err(source_error)?;
            chunk.push(upsert(collection, item.doc)?);
            if chunk.len() >= CHUNK {
                write_chunk(conn, cx, epoch, &mut chunk, &mut seen, model, done).await?;
            }
        }
    }
    write_chunk(conn, cx, epoch, &mut chunk, &mut seen, model, done).await?;
    // The rows of the documents the source no longer holds.
    let table = model.def().table();
    let keys: Vec<String> =
        sqlx::query_scalar(&sql::select_keys(cx.ns, &table.name, table.key_column()))
            .fetch_all(&mut *conn)
            .await
            .map_err(RunError::db(format!("reading the keys of {}", table.name)))?;
    let gone: Vec<String> = keys.into_iter().filter(|k| !seen.contains(k)).collect();
    for part in gone.chunks(CHUNK) {
        let mut tx = begin(conn, cx, epoch).await?;
        let mut touched = Touched::default();
        for (target, values) in
            targeted::referenced_values(&mut tx, cx.schema, cx.ns, &cx.types, model, part, true)
                .await?
        {
            touched.removed.entry(target).or_default().extend(values);
        }
        done.deleted +=
            crate::references::delete_rows(&mut tx, cx.ns, &cx.types, model.def(), 0, None, part)
                .await?;
        targeted::resolve_touched(
            &mut tx, cx.schema, cx.source, cx.state, cx.ns, &cx.types, touched,
        )
        .await?;
        tx.commit().await.map_err(RunError::db(format!(
            "deleting rows of `{collection}` again"
        )))?;
    }
    Ok(())
}

fn upsert(collection: &str, doc: RawDocumentBuf) -> Result<Change, FollowError> {
    let id = match doc.get("_id") {
        Ok(Some(id)) => Bson::try_from(id).map_err(|e| RunError::Internal(e.to_string()))?,
        _ => {
            return Err(RunError::Internal(format!(
                "a document of `{collection}` read again has no `_id`"
            ))
            .into())
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

/// A transaction of the re-copy: foreign-key triggers off, fenced by the run's epoch.
async fn begin<'c>(
    conn: &'c mut PgConnection,
    cx: &Context<'_>,
    epoch: i64,
) -> Result<sqlx::Transaction<'c, sqlx::Postgres>, FollowError> {
    let mut tx = conn
        .begin()
        .await
        .map_err(RunError::db("starting a re-copy transaction"))?;
    sqlx::query(sql::FOLLOW_REPLICA_ROLE)
        .execute(&mut *tx)
        .await
        .map_err(RunError::db("preparing a re-copy transaction"))?;
    let held: Option<i64> = sqlx::query_scalar(&sql::hold_fence(cx.state.schema()))
        .bind(epoch)
        .fetch_optional(&mut *tx)
        .await
        .map_err(RunError::db("holding the run's fence"))?;
    if held.is_none() {
        return Err(RunError::TakenOver {
            state: cx.state.schema().to_string(),
        }
        .into());
    }
    Ok(tx)
}

#[allow(clippy::too_many_arguments)]
async fn write_chunk(
    conn: &mut PgConnection,
    cx: &Context<'_>,
    epoch: i64,
    chunk: &mut Vec<Change>,
    seen: &mut HashSet<String>,
    model: &ModelHandle,
    done: &mut Recopied,
) -> Result<(), FollowError> {
    if chunk.is_empty() {
        return Ok(());
    }
    for change in chunk.iter() {
        if let What::Upsert { doc, .. } = &change.what {
            if let Some(key) = model.key_text(doc) {
                seen.insert(key);
            }
        }
    }
    let refs: Vec<&Change> = chunk.iter().collect();
    let mut tx = begin(conn, cx, epoch).await?;
    let applied = match apply::apply(&mut tx, cx, &refs).await {
        Ok(applied) => applied,
        Err(RunError::Database { source, .. }) if super::is_data_error(&source) => {
            drop(tx);
            tx = begin(conn, cx, epoch).await?;
            super::one_by_one(&mut tx, cx, &refs).await?
        }
        Err(e) => return Err(e.into()),
    };
    tx.commit().await.map_err(RunError::db(format!(
        "writing documents of `{}` again",
        model.collection()
    )))?;
    done.written += applied.upserted;
    done.dead_letters += applied.dead_letters.len() as u64;
    chunk.clear();
    Ok(())
}
