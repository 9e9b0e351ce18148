//! The migration's own state, in a schema of the target database (default `_migrator`): its
//! tables, the lock, the run and its stage, the checkpoints and the written-row counts.

use super::tables::create_schema;
use crate::naming::quote_ident;

/// Statements that create the state tables (idempotent).
pub fn create_state(state: &str) -> Vec<String> {
    let s = quote_ident(state);
    let mut statements = vec![
        create_schema(state),
        format!(
            "CREATE TABLE IF NOT EXISTS {s}.run (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    fingerprint jsonb NOT NULL,
    stage text NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
)"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {s}.checkpoints (
    collection text NOT NULL,
    partition integer NOT NULL,
    bounds jsonb NOT NULL,
    position jsonb NOT NULL,
    documents bigint NOT NULL DEFAULT 0,
    rows_written bigint NOT NULL DEFAULT 0,
    dead_letters bigint NOT NULL DEFAULT 0,
    batches bigint NOT NULL DEFAULT 0,
    done boolean NOT NULL DEFAULT false,
    seconds double precision NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (collection, partition)
)"
        ),
        // The epoch of the run that holds the target: each batch commits only while it is its
        // run's (see `take_over`), so a run that lost its control session cannot write after
        // another took over.
        format!("CREATE TABLE IF NOT EXISTS {s}.fence (epoch bigint PRIMARY KEY)"),
        // What each collection's source was when its partitions were planned (see
        // `crate::pipeline::changes`).
        format!(
            "CREATE TABLE IF NOT EXISTS {s}.sources (
    collection text PRIMARY KEY,
    stamp jsonb NOT NULL
)"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {s}.table_rows (
    table_name text PRIMARY KEY,
    rows_written bigint NOT NULL DEFAULT 0
)"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {s}.dead_letters (
    id bigserial PRIMARY KEY,
    collection text NOT NULL,
    document_id text NOT NULL,
    stage text NOT NULL,
    field text NOT NULL,
    class text NOT NULL,
    message text NOT NULL,
    document text,
    created_at timestamptz NOT NULL DEFAULT now()
)"
        ),
        // Added after the first release of the table: a state made before gains them.
        format!(
            "ALTER TABLE {s}.dead_letters ADD COLUMN IF NOT EXISTS errors jsonb, \
             ADD COLUMN IF NOT EXISTS root_id text"
        ),
        format!(
            "CREATE INDEX IF NOT EXISTS dead_letters_collection_idx ON {s}.dead_letters (collection, class)"
        ),
        // A follow forgets the dead letters of the documents each transaction changes.
        format!(
            "CREATE INDEX IF NOT EXISTS dead_letters_document_idx ON {s}.dead_letters (collection, document_id)"
        ),
        create_object_id_function(state),
        super::follow::create_follow(state),
        format!(
            "CREATE TABLE IF NOT EXISTS {s}.key_census (
    collection text NOT NULL,
    path text NOT NULL,
    documents bigint NOT NULL,
    types jsonb NOT NULL,
    example_id text,
    PRIMARY KEY (collection, path)
)"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {s}.reference_issues (
    id bigserial PRIMARY KEY,
    collection text NOT NULL,
    document_key text NOT NULL,
    table_name text NOT NULL,
    column_name text NOT NULL,
    value text NOT NULL,
    action text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
)"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {s}.reference_counts (
    collection text NOT NULL,
    table_name text NOT NULL,
    column_name text NOT NULL,
    target text NOT NULL,
    action text NOT NULL,
    rows bigint NOT NULL,
    distinct_values bigint NOT NULL,
    documents_removed bigint NOT NULL,
    PRIMARY KEY (table_name, column_name, action)
)"
        ),
        // The run's load time (`crate::load_time`), in milliseconds since the Unix epoch.
        format!(
            "CREATE TABLE IF NOT EXISTS {s}.load_time (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    unix_millis bigint NOT NULL
)"
        ),
    ];
    statements.extend(super::references::create_awaiting_targets(state));
    statements
}

/// Records the run's load time `$1` unless one is recorded, and returns the one recorded.
pub fn settle_load_time(state: &str) -> String {
    let s = quote_ident(state);
    format!(
        "WITH added AS (INSERT INTO {s}.load_time (unix_millis) VALUES ($1) \
         ON CONFLICT (singleton) DO NOTHING RETURNING unix_millis) \
         SELECT unix_millis FROM added UNION ALL SELECT unix_millis FROM {s}.load_time"
    )
}

/// The run's load time, if recorded.
pub fn select_load_time(state: &str) -> String {
    format!("SELECT unix_millis FROM {}.load_time", quote_ident(state))
}

/// SQL that creates `<schema>.object_id(uuid) RETURNS text`, the inverse of the ordered mapping
/// inside PostgreSQL (for example `SELECT _migrator.object_id(id) FROM users`). `{schema}` is
/// replaced by the quoted schema name.
const OBJECT_ID_SQL_FUNCTION: &str =
    "CREATE OR REPLACE FUNCTION {schema}.object_id(u uuid) RETURNS text \
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$ \
SELECT lpad(to_hex((('x' || substr(h, 1, 12))::bit(48)::bigint / 1000)), 8, '0') \
|| substr(h, 14, 3) || substr(h, 20, 13) \
FROM (SELECT replace(u::text, '-', '') AS h) AS s $$";

/// `CREATE OR REPLACE FUNCTION <state>.object_id(uuid) RETURNS text`: ordered UUID -> ObjectId hex.
pub fn create_object_id_function(state: &str) -> String {
    OBJECT_ID_SQL_FUNCTION.replace("{schema}", &quote_ident(state))
}

/// Drops the state schema and everything in it.
pub fn drop_state(state: &str) -> String {
    format!("DROP SCHEMA IF EXISTS {} CASCADE", quote_ident(state))
}

/// `SELECT pg_try_advisory_lock($1)`: one run per target at a time.
pub const TRY_ADVISORY_LOCK: &str = "SELECT pg_try_advisory_lock($1)";
/// `SELECT pg_advisory_unlock($1)`.
pub const ADVISORY_UNLOCK: &str = "SELECT pg_advisory_unlock($1)";

pub fn select_run(state: &str) -> String {
    format!("SELECT fingerprint, stage FROM {}.run", quote_ident(state))
}

pub fn insert_run(state: &str) -> String {
    format!(
        "INSERT INTO {}.run (fingerprint, stage) VALUES ($1, $2)",
        quote_ident(state)
    )
}

pub fn update_stage(state: &str) -> String {
    format!(
        "UPDATE {}.run SET stage = $1, updated_at = now()",
        quote_ident(state)
    )
}

pub fn select_checkpoints(state: &str) -> String {
    format!(
        "SELECT collection, partition, bounds, position, documents, rows_written, dead_letters, \
         batches, done, seconds FROM {}.checkpoints ORDER BY collection, partition",
        quote_ident(state)
    )
}

/// Records a partition before it starts (position `$4`, nothing done yet); a partition already
/// recorded is left as it is.
pub fn insert_planned_checkpoint(state: &str) -> String {
    format!(
        "INSERT INTO {}.checkpoints (collection, partition, bounds, position, batches) \
         VALUES ($1, $2, $3, $4, 0) ON CONFLICT (collection, partition) DO NOTHING",
        quote_ident(state)
    )
}

/// Cuts a partition short and records the partition cut off, in one statement: `$1`
/// collection, `$2` the partition and `$3` its new bounds (only while it is not done), `$4` the
/// new partition's index, `$5` its bounds and `$6` its position (nothing done yet). Returns a
/// row when both were recorded.
pub fn split_partition(state: &str) -> String {
    let s = quote_ident(state);
    format!(
        "WITH narrowed AS (UPDATE {s}.checkpoints SET bounds = $3, updated_at = now() \
         WHERE collection = $1 AND partition = $2 AND NOT done RETURNING 1) \
         INSERT INTO {s}.checkpoints (collection, partition, bounds, position, batches) \
         SELECT $1, $4, $5, $6, 0 WHERE EXISTS (SELECT 1 FROM narrowed) RETURNING 1"
    )
}

/// Merges partitions `$3` (not started: no batch) into partition `$2` of collection `$1`, whose
/// bounds become `$4`, while `$2` is not done and run epoch `$5` (NULL: unfenced) holds the
/// target; the fence row is locked until the commit, like a batch's. Returns how many
/// partitions were merged and whether `$2` was widened: the caller commits only if all were.
pub fn merge_partitions(state: &str) -> String {
    let s = quote_ident(state);
    format!(
        "WITH fence AS (SELECT epoch FROM {s}.fence WHERE epoch = $5 FOR KEY SHARE), \
         held AS (SELECT 1 WHERE $5::bigint IS NULL OR EXISTS (SELECT 1 FROM fence)), \
         widened AS (UPDATE {s}.checkpoints SET bounds = $4, updated_at = now() \
         WHERE collection = $1 AND partition = $2 AND NOT done AND EXISTS (SELECT 1 FROM held) \
         RETURNING 1), \
         merged AS (DELETE FROM {s}.checkpoints WHERE collection = $1 \
         AND partition = ANY($3::int[]) AND NOT done AND batches = 0 \
         AND EXISTS (SELECT 1 FROM widened) RETURNING 1) \
         SELECT (SELECT count(*) FROM merged), (SELECT count(*) FROM widened)"
    )
}

/// Records a committed batch in one statement; runs in the batch's transaction. The checkpoint
/// only moves if the partition is still where the batch started (`$10`): a batch never lands
/// twice, even if an earlier process's last commit arrived late. The written-row counts of the
/// tables grow by `$12` (counts) for the tables `$11` (names). Returns the number of checkpoints
/// moved (1, or 0 when the partition moved on without this batch) and whether the batch's run
/// (epoch `$13`) still holds the target.
pub fn record_batch(state: &str) -> String {
    let s = quote_ident(state);
    // `$13`: the writer's run epoch (NULL: unfenced). The fence row is locked until the commit,
    // so a take-over waits for this batch, and a batch after it finds no row and records nothing.
    format!(
        "WITH fence AS (SELECT epoch FROM {s}.fence WHERE epoch = $13 FOR KEY SHARE), \
         checkpoint AS (\
         INSERT INTO {s}.checkpoints AS c (collection, partition, bounds, position, documents, \
         rows_written, dead_letters, batches, done, seconds) \
         SELECT $1, $2, $3, $4, $5, $6, $7, 1, $8, $9 \
         WHERE $13::bigint IS NULL OR EXISTS (SELECT 1 FROM fence) \
         ON CONFLICT (collection, partition) DO UPDATE SET position = EXCLUDED.position, \
         documents = c.documents + EXCLUDED.documents, rows_written = c.rows_written + EXCLUDED.rows_written, \
         dead_letters = c.dead_letters + EXCLUDED.dead_letters, batches = c.batches + 1, \
         done = EXCLUDED.done, seconds = c.seconds + EXCLUDED.seconds, updated_at = now() \
         WHERE c.position = $10 RETURNING 1), \
         tables AS (\
         INSERT INTO {s}.table_rows AS t (table_name, rows_written) \
         SELECT * FROM unnest($11::text[], $12::bigint[]) \
         ON CONFLICT (table_name) DO UPDATE SET rows_written = t.rows_written + EXCLUDED.rows_written) \
         SELECT (SELECT count(*) FROM checkpoint), \
         $13::bigint IS NULL OR EXISTS (SELECT 1 FROM fence)"
    )
}

/// Records (or replaces) what a collection's source was when it was planned (`$1` collection,
/// `$2` stamp).
pub fn record_source_stamp(state: &str) -> String {
    format!(
        "INSERT INTO {}.sources (collection, stamp) VALUES ($1, $2) \
         ON CONFLICT (collection) DO UPDATE SET stamp = EXCLUDED.stamp",
        quote_ident(state)
    )
}

pub fn select_source_stamps(state: &str) -> String {
    format!(
        "SELECT collection, stamp FROM {}.sources ORDER BY collection",
        quote_ident(state)
    )
}

/// Locks the fence row of run epoch `$1` until the transaction ends (no row: another run took
/// the target over). A session of a run other than its writers (the early keys) runs each
/// statement after it, in one transaction: a take-over waits for that statement, and none
/// starts after it.
pub fn hold_fence(state: &str) -> String {
    format!(
        "SELECT epoch FROM {}.fence WHERE epoch = $1 FOR KEY SHARE",
        quote_ident(state)
    )
}

/// Makes the next run epoch the only one that may commit batches, and returns it: waits for the
/// batches that locked the fence to commit (see [`record_batch`]).
pub fn take_over(state: &str) -> String {
    let s = quote_ident(state);
    format!(
        "WITH old AS (DELETE FROM {s}.fence RETURNING epoch) \
         INSERT INTO {s}.fence (epoch) SELECT coalesce((SELECT max(epoch) FROM old), 0) + 1 \
         RETURNING epoch"
    )
}

pub fn select_table_rows(state: &str) -> String {
    format!(
        "SELECT table_name, rows_written FROM {}.table_rows ORDER BY table_name",
        quote_ident(state)
    )
}

/// Forgets what the load of some collections recorded (`$1`: collections), so it can run again
/// from the start: their checkpoints, dead letters, key census and source stamps.
pub fn forget_loads(state: &str) -> [String; 4] {
    let s = quote_ident(state);
    [
        format!("DELETE FROM {s}.checkpoints WHERE collection = ANY($1)"),
        format!("DELETE FROM {s}.dead_letters WHERE collection = ANY($1)"),
        format!("DELETE FROM {s}.key_census WHERE collection = ANY($1)"),
        format!("DELETE FROM {s}.sources WHERE collection = ANY($1)"),
    ]
}

/// Forgets the written-row counts of some tables (`$1`: tables).
pub fn forget_table_rows(state: &str) -> String {
    format!(
        "DELETE FROM {}.table_rows WHERE table_name = ANY($1)",
        quote_ident(state)
    )
}
