//! The key census in the state schema (see `crate::census`).

use crate::naming::quote_ident;

/// Adds a batch's key census to its collection's (`$1`), in one statement: paths `$2`, documents
/// `$3`, per-type counts as JSON objects `$4`, example `_id`s `$5`. Type counts are summed; the
/// first example stays.
pub fn merge_census(state: &str) -> String {
    let s = quote_ident(state);
    format!(
        "INSERT INTO {s}.key_census AS k (collection, path, documents, types, example_id) \
         SELECT $1, p, d, t::jsonb, e FROM unnest($2::text[], $3::bigint[], $4::text[], $5::text[]) AS u(p, d, t, e) \
         ON CONFLICT (collection, path) DO UPDATE SET documents = k.documents + EXCLUDED.documents, \
         types = (SELECT coalesce(jsonb_object_agg(key, n), '{{}}'::jsonb) FROM (SELECT key, sum(value::bigint) AS n \
         FROM (SELECT * FROM jsonb_each_text(k.types) UNION ALL SELECT * FROM jsonb_each_text(EXCLUDED.types)) AS both_types \
         GROUP BY key) AS summed), \
         example_id = coalesce(k.example_id, EXCLUDED.example_id)"
    )
}

/// The stored key census: collection, path, documents, types, example `_id`.
pub fn select_census(state: &str) -> String {
    format!(
        "SELECT collection, path, documents, types, example_id FROM {}.key_census ORDER BY collection, path",
        quote_ident(state)
    )
}

/// Forgets the census of collection `$1` (it is copied again and counted anew).
pub fn delete_collection_census(state: &str) -> String {
    format!(
        "DELETE FROM {}.key_census WHERE collection = $1",
        quote_ident(state)
    )
}
