//! The follow of a live source's change stream (see `crate::follow`): where it stands, recorded
//! in the transaction of the changes it applied, and the statements that replace a document's
//! rows.

use super::Namespace;
use crate::naming::quote_ident;

/// The follow's position: the start point taken before the copy (recorded with the run), then
/// the resume token of the last change applied, with what was applied so far.
pub fn create_follow(state: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {}.follow (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    start jsonb NOT NULL,
    token jsonb NOT NULL,
    cluster_time bigint,
    change_wall_time timestamptz,
    applied bigint NOT NULL DEFAULT 0,
    upserted bigint NOT NULL DEFAULT 0,
    deleted bigint NOT NULL DEFAULT 0,
    dead_letters bigint NOT NULL DEFAULT 0,
    references_acted bigint NOT NULL DEFAULT 0,
    transactions bigint NOT NULL DEFAULT 0,
    lag_ms bigint,
    rate double precision,
    stopped text,
    updated_at timestamptz NOT NULL DEFAULT now(),
    stop_token jsonb,
    recopy text[]
)",
        quote_ident(state)
    )
}

/// The columns a follow table made before `follow --recopy` lacks: the token of the change
/// that stopped the follow and the collections to copy again (`*`: all).
pub fn add_follow_recopy(state: &str) -> String {
    format!(
        "ALTER TABLE {}.follow ADD COLUMN IF NOT EXISTS stop_token jsonb, \
         ADD COLUMN IF NOT EXISTS recopy text[]",
        quote_ident(state)
    )
}

/// After a re-copy: the follow resumes after token `$2` (from `$1`), its stop forgotten, only
/// while the run's epoch `$3` holds the target. Returns whether it moved and whether the epoch
/// holds.
pub fn record_recopy(state: &str) -> String {
    let s = quote_ident(state);
    format!(
        "WITH fence AS (SELECT epoch FROM {s}.fence WHERE epoch = $3 FOR KEY SHARE), \
         moved AS (UPDATE {s}.follow SET token = $2, stopped = NULL, stop_token = NULL, \
         recopy = NULL, lag_ms = NULL, updated_at = now() \
         WHERE token = $1 AND EXISTS (SELECT 1 FROM fence) RETURNING 1) \
         SELECT (SELECT count(*) FROM moved), EXISTS (SELECT 1 FROM fence)"
    )
}

/// The stored keys of every row of `table` (column `key`), as text.
pub fn select_keys(ns: Namespace<'_>, table: &str, key: &str) -> String {
    format!(
        "SELECT {}::text FROM {}",
        quote_ident(key),
        ns.qualify(table)
    )
}

/// Forgets every dead letter of collection `$1` (it is copied again and judged anew).
pub fn delete_collection_dead_letters(state: &str) -> String {
    format!(
        "DELETE FROM {}.dead_letters WHERE collection = $1",
        quote_ident(state)
    )
}

/// Records the start point (`$1`, also the first token); a point recorded already stays.
pub fn insert_follow_start(state: &str) -> String {
    format!(
        "INSERT INTO {}.follow (start, token, cluster_time) VALUES ($1, $1 -> 'token', $2) \
         ON CONFLICT (singleton) DO NOTHING",
        quote_ident(state)
    )
}

/// The follow's position and counters.
pub fn select_follow(state: &str) -> String {
    format!(
        "SELECT start, token, cluster_time, applied, upserted, deleted, dead_letters, \
         references_acted, lag_ms, rate, stopped, updated_at::text, \
         extract(epoch FROM now() - updated_at)::double precision, transactions, \
         to_jsonb(f) -> 'stop_token', to_jsonb(f) -> 'recopy' FROM {}.follow AS f",
        quote_ident(state)
    )
}

/// Moves the follow to token `$2` (cluster time `$3`, wall time `$4` in ms) from token `$1`,
/// adding `$5`..`$10` (applied, upserted, deleted, dead letters, references acted on,
/// transactions), with lag `$11` and rate `$12`, in the transaction of the changes, only while
/// the run's epoch `$13` holds the target. Returns whether it moved and whether the epoch holds.
pub fn record_follow(state: &str) -> String {
    let s = quote_ident(state);
    format!(
        "WITH fence AS (SELECT epoch FROM {s}.fence WHERE epoch = $13 FOR KEY SHARE), \
         moved AS (UPDATE {s}.follow SET token = $2, cluster_time = coalesce($3, cluster_time), \
         change_wall_time = coalesce(to_timestamp($4::double precision / 1000), change_wall_time), \
         applied = applied + $5, upserted = upserted + $6, deleted = deleted + $7, \
         dead_letters = dead_letters + $8, references_acted = references_acted + $9, \
         transactions = transactions + $10, lag_ms = $11, rate = $12, stopped = NULL, \
         updated_at = now() \
         WHERE token = $1 AND ($13::bigint IS NULL OR EXISTS (SELECT 1 FROM fence)) RETURNING 1) \
         SELECT (SELECT count(*) FROM moved), $13::bigint IS NULL OR EXISTS (SELECT 1 FROM fence)"
    )
}

/// Records why the follow stopped (`$1`), the token of the change that stopped it (`$2`) and
/// the collections to copy again (`$3`).
pub fn record_follow_stop(state: &str) -> String {
    format!(
        "UPDATE {}.follow SET stopped = $1, stop_token = $2, recopy = $3, updated_at = now()",
        quote_ident(state)
    )
}

/// Forgets the dead letters of the documents `$2` (`_id`s as relaxed Extended JSON) of
/// collection `$1`: a document changed or deleted is judged again.
pub fn delete_document_dead_letters(state: &str) -> String {
    format!(
        "DELETE FROM {}.dead_letters WHERE collection = $1 AND document_id = ANY($2)",
        quote_ident(state)
    )
}

/// The values of `column` in the rows of `table` whose `key` is one of `$1` (as text, the key
/// compared as `key_type`).
pub fn select_column_of_keys(
    ns: Namespace<'_>,
    table: &str,
    column: &str,
    key: &str,
    key_type: &str,
) -> String {
    format!(
        "SELECT DISTINCT {}::text FROM {} WHERE {} = ANY($1::{key_type}[]) AND {} IS NOT NULL",
        quote_ident(column),
        ns.qualify(table),
        quote_ident(key),
        quote_ident(column)
    )
}

/// The session's table of the keys and values one follow transaction touched, in numbered sets
/// (emptied at each commit): the restrictions below read them, so no value enters SQL text.
pub const CREATE_FOLLOW_SETS: &str = "CREATE TEMPORARY TABLE IF NOT EXISTS migrator_follow_sets \
     (set_id integer NOT NULL, v text NOT NULL) ON COMMIT DELETE ROWS";

/// Empties every set.
pub const CLEAR_FOLLOW_SETS: &str = "DELETE FROM pg_temp.migrator_follow_sets";

/// Adds values `$2` (text) to set `$1`.
pub const INSERT_FOLLOW_SET: &str =
    "INSERT INTO pg_temp.migrator_follow_sets (set_id, v) SELECT $1, unnest($2::text[])";

/// The values of set `set` as `value_type`, as an array (an index on the column compared with
/// it can be used).
fn set_array(set: i32, value_type: &str) -> String {
    format!("ARRAY(SELECT v::{value_type} FROM pg_temp.migrator_follow_sets WHERE set_id = {set})")
}

/// A restriction of a dangling-reference condition (alias `t`) to the rows whose `column` holds
/// a value of set `set` (compared as `column_type`).
pub fn restrict_to_values(column: &str, column_type: &str, set: i32) -> String {
    format!(
        "t.{} = ANY({})",
        quote_ident(column),
        set_array(set, column_type)
    )
}

/// A restriction of a dangling-reference condition (alias `t`) to the rows that belong to the
/// documents whose keys are set `set` (compared as `key_type`): `chain` leads from the table up
/// to the collection table, each step the (parent table qualified, parent key column, the
/// column of the level below holding it); empty for the collection table itself (key `key`).
pub fn restrict_to_documents(
    chain: &[(String, String, String)],
    key: &str,
    key_type: &str,
    set: i32,
) -> String {
    let documents = set_array(set, key_type);
    let Some((_, _, first_column)) = chain.first() else {
        return format!("t.{} = ANY({documents})", quote_ident(key));
    };
    // The keys of the rows of step `i`'s parent that belong to the documents: the collection
    // table's are the documents' own; a child table's are those whose parent column holds a key
    // of the step above.
    let mut keys = documents;
    for i in (0..chain.len().saturating_sub(1)).rev() {
        let (parent, parent_key, _) = &chain[i];
        let (_, _, column_to_above) = &chain[i + 1];
        keys = format!(
            "ARRAY(SELECT {} FROM {parent} WHERE {} = ANY({keys}))",
            quote_ident(parent_key),
            quote_ident(column_to_above)
        );
    }
    format!("t.{} = ANY({keys})", quote_ident(first_column))
}

/// `SET LOCAL session_replication_role = replica`: the foreign keys' triggers are off in the
/// follow's transaction; its own reference resolution leaves no dangling reference at commit.
pub const FOLLOW_REPLICA_ROLE: &str = "SET LOCAL session_replication_role = replica";

/// A follow transaction's settings, in one round trip: its commit does not wait for the WAL
/// flush; the foreign keys' triggers are off ([`FOLLOW_REPLICA_ROLE`]); and no hash or merge
/// join. Every statement of a follow transaction reads the rows of the few documents it
/// touched (restricted to the keys of its sets) and probes their targets by primary key: the
/// planner, which cannot see how few keys a set holds, otherwise hashes the whole target table
/// for each reference (measured: a seq scan of `tasks` per reference to it, 3-7 ms each at
/// scale 0.1, growing with the table).
pub const FOLLOW_TRANSACTION: &str = "SELECT set_config('synchronous_commit', 'off', true), \
     set_config('session_replication_role', 'replica', true), \
     set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true)";

#[cfg(test)]
mod tests {
    use super::*;

    type Step = (String, String, String);

    fn step(parent: &str, key: &str, column: &str) -> Step {
        (parent.to_string(), key.to_string(), column.to_string())
    }

    #[test]
    fn rows_of_documents_are_found_through_every_level_of_children() {
        let cases: [(&[Step], &str); 3] = [
            (
                &[],
                r#"t."id" = ANY(ARRAY(SELECT v::uuid FROM pg_temp.migrator_follow_sets WHERE set_id = 3))"#,
            ),
            (
                &[step("\"orders\"", "id", "order_id")],
                r#"t."order_id" = ANY(ARRAY(SELECT v::uuid FROM pg_temp.migrator_follow_sets WHERE set_id = 3))"#,
            ),
            (
                &[
                    step("\"lines\"", "line_id", "line_id"),
                    step("\"orders\"", "id", "order_id"),
                ],
                r#"t."line_id" = ANY(ARRAY(SELECT "line_id" FROM "lines" WHERE "order_id" = ANY(ARRAY(SELECT v::uuid FROM pg_temp.migrator_follow_sets WHERE set_id = 3))))"#,
            ),
        ];
        for (chain, expected) in cases {
            assert_eq!(restrict_to_documents(chain, "id", "uuid", 3), expected);
        }
    }

    #[test]
    fn values_are_read_from_their_set() {
        assert_eq!(
            restrict_to_values("customer_id", "integer", 7),
            r#"t."customer_id" = ANY(ARRAY(SELECT v::integer FROM pg_temp.migrator_follow_sets WHERE set_id = 7))"#
        );
    }
}
