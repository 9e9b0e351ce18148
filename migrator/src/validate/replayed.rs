//! After an oplog replay (see `crate::follow::oplog`) the target holds the source's final state,
//! not the dump's collection files: the documents the replay kept (`<state>.oplog_documents`,
//! as its last committed entry left them) stand in for the files' documents with the same `_id`,
//! those it deleted are absent and those it inserted are read after the files' documents.

use std::collections::BTreeMap;

use bson::{Bson, RawDocument, RawDocumentBuf};
use sqlx::PgConnection;

use crate::run_error::RunError;
use crate::sink::sql;
use crate::state::StateStore;

/// The replayed documents of one collection, by stored `_id` key (`None`: not there).
#[derive(Debug, Default)]
pub(super) struct Replayed {
    docs: BTreeMap<String, Option<RawDocumentBuf>>,
}

impl Replayed {
    /// The documents of `collection` a replay into this target kept (none without a replay).
    pub(super) async fn load(
        conn: &mut PgConnection,
        state: &StateStore,
        collection: &str,
    ) -> Result<Replayed, RunError> {
        let context = || format!("reading the replayed documents of `{collection}`");
        let exists: bool = sqlx::query_scalar(sql::TABLE_EXISTS)
            .bind(state.schema())
            .bind("oplog_documents")
            .fetch_one(&mut *conn)
            .await
            .map_err(RunError::db(context()))?;
        if !exists {
            return Ok(Replayed::default());
        }
        let rows: Vec<(String, Option<Vec<u8>>)> =
            sqlx::query_as(&sql::select_collection_oplog_documents(state.schema()))
                .bind(collection)
                .fetch_all(&mut *conn)
                .await
                .map_err(RunError::db(context()))?;
        let mut docs = BTreeMap::new();
        for (key, bytes) in rows {
            let doc = match bytes {
                Some(bytes) => Some(RawDocumentBuf::from_bytes(bytes).map_err(|e| {
                    RunError::Internal(format!(
                        "a replayed document of `{collection}` (`_id` {key}) is unreadable: {e}"
                    ))
                })?),
                None => None,
            };
            docs.insert(key, doc);
        }
        Ok(Replayed { docs })
    }

    /// Whether the replay's version of `doc` (or its absence) stands in for it.
    pub(super) fn replaces(&self, doc: &RawDocument) -> bool {
        if self.docs.is_empty() {
            return false;
        }
        let Ok(Some(id)) = doc.get("_id") else {
            return false;
        };
        Bson::try_from(id)
            .map(|id| self.docs.contains_key(&sql::oplog_document_key(&id)))
            .unwrap_or(false)
    }

    /// The replayed documents there at the end, in `_id` key order.
    pub(super) fn present(&self) -> impl Iterator<Item = &RawDocumentBuf> {
        self.docs.values().flatten()
    }
}
