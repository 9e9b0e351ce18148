//! The replay of a mongodump `oplog.bson` (see `crate::follow::oplog`): where it stands, and
//! the documents it touches as the replay has made them so far (kept once it is done: what
//! `validate` reads over the dump's files).

use bson::Bson;

use crate::naming::quote_ident;

/// The replay's position (the byte offset of the next entry in the file) and what it applied;
/// the documents its entries touch (`doc` NULL: not there), as of the last committed entry.
pub fn create_oplog_replay(state: &str) -> [String; 2] {
    let s = quote_ident(state);
    [
        format!(
            "CREATE TABLE IF NOT EXISTS {s}.oplog_replay (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    file text NOT NULL,
    file_bytes bigint NOT NULL,
    documents bigint NOT NULL,
    next_offset bigint NOT NULL DEFAULT 0,
    last_ts bigint,
    entries bigint NOT NULL DEFAULT 0,
    upserted bigint NOT NULL DEFAULT 0,
    deleted bigint NOT NULL DEFAULT 0,
    dead_letters bigint NOT NULL DEFAULT 0,
    references_acted bigint NOT NULL DEFAULT 0,
    done boolean NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL DEFAULT now()
)"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {s}.oplog_documents (
    collection text NOT NULL,
    id text NOT NULL,
    doc bytea,
    PRIMARY KEY (collection, id)
)"
        ),
    ]
}

/// Begins a replay of file `$1` (`$2` bytes) touching `$3` documents.
pub fn insert_oplog_replay(state: &str) -> String {
    format!(
        "INSERT INTO {}.oplog_replay (file, file_bytes, documents) VALUES ($1, $2, $3)",
        quote_ident(state)
    )
}

/// The replay's row.
pub fn select_oplog_replay(state: &str) -> String {
    format!(
        "SELECT file, file_bytes, documents, next_offset, last_ts, entries, upserted, deleted, \
         dead_letters, references_acted, done FROM {}.oplog_replay",
        quote_ident(state)
    )
}

/// Adds documents of collection `$1`: ids `$2` (canonical Extended JSON), BSON `$3` (NULL: not
/// there).
pub fn insert_oplog_documents(state: &str) -> String {
    format!(
        "INSERT INTO {}.oplog_documents (collection, id, doc) \
         SELECT $1, i, d FROM unnest($2::text[], $3::bytea[]) AS v(i, d) \
         ON CONFLICT (collection, id) DO NOTHING",
        quote_ident(state)
    )
}

/// The documents `$2` of collection `$1`.
pub fn select_oplog_documents(state: &str) -> String {
    format!(
        "SELECT id, doc FROM {}.oplog_documents WHERE collection = $1 AND id = ANY($2)",
        quote_ident(state)
    )
}

/// Sets documents `$2` of collection `$1` to `$3`.
pub fn update_oplog_documents(state: &str) -> String {
    format!(
        "UPDATE {}.oplog_documents AS d SET doc = v.doc \
         FROM unnest($2::text[], $3::bytea[]) AS v(id, doc) \
         WHERE d.collection = $1 AND d.id = v.id",
        quote_ident(state)
    )
}

/// Every kept document of collection `$1`: id, BSON (NULL: not there).
pub fn select_collection_oplog_documents(state: &str) -> String {
    format!(
        "SELECT id, doc FROM {}.oplog_documents WHERE collection = $1",
        quote_ident(state)
    )
}

/// The (collection, id) of every document the replay keeps.
pub fn select_oplog_document_ids(state: &str) -> String {
    format!(
        "SELECT collection, id FROM {}.oplog_documents",
        quote_ident(state)
    )
}

/// The stored `id` of an `_id` in `oplog_documents`: canonical Extended JSON, so `1` and `1L`
/// differ as they do in the dump's files.
pub fn oplog_document_key(id: &Bson) -> String {
    id.clone().into_canonical_extjson().to_string()
}

/// Moves the replay from offset `$1` to `$2` (last entry's time `$3`), adding `$4`..`$8`
/// (entries, upserted, deleted, dead letters, references acted on), done `$9`, only while the
/// run's epoch `$10` holds the target. Returns whether it moved and whether the epoch holds.
pub fn record_oplog_replay(state: &str) -> String {
    let s = quote_ident(state);
    format!(
        "WITH fence AS (SELECT epoch FROM {s}.fence WHERE epoch = $10 FOR KEY SHARE), \
         moved AS (UPDATE {s}.oplog_replay SET next_offset = $2, last_ts = coalesce($3, last_ts), \
         entries = entries + $4, upserted = upserted + $5, deleted = deleted + $6, \
         dead_letters = dead_letters + $7, references_acted = references_acted + $8, done = $9, \
         updated_at = now() WHERE next_offset = $1 AND NOT done AND EXISTS (SELECT 1 FROM fence) \
         RETURNING 1) \
         SELECT (SELECT count(*) FROM moved), EXISTS (SELECT 1 FROM fence)"
    )
}
