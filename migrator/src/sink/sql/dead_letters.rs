//! Dead letters, in the state schema: recorded with their batch, read back, grouped and
//! counted.

use crate::naming::quote_ident;

/// Records dead letters, one per element of the arrays `$1`..`$9` (collection, document id,
/// stage, field, class, message, document, errors as JSON text, root id), in their order.
pub fn insert_dead_letters(state: &str) -> String {
    format!(
        "INSERT INTO {}.dead_letters (collection, document_id, stage, field, class, message, document, \
         errors, root_id) SELECT c, d, s, f, k, m, doc, e::jsonb, r FROM unnest($1::text[], \
         $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], \
         $9::text[]) AS u(c, d, s, f, k, m, doc, e, r)",
        quote_ident(state)
    )
}

pub fn select_dead_letters(state: &str) -> String {
    format!(
        "SELECT id, collection, document_id, stage, field, class, message, document, errors, \
         root_id FROM {}.dead_letters ORDER BY id",
        quote_ident(state)
    )
}

/// Dead letters grouped by collection, class and field pattern (`items[].price`), largest first.
pub fn group_dead_letters(state: &str) -> String {
    format!(
        "SELECT collection, e->>'class', regexp_replace(e->>'field', '\\[[0-9]+\\]', '[]', 'g') AS pattern, \
         count(*), min(document_id), min(e->>'message') FROM {}.dead_letters d, \
         LATERAL jsonb_array_elements(coalesce(d.errors, jsonb_build_array(jsonb_build_object(\
         'field', d.field, 'class', d.class, 'message', d.message)))) AS e GROUP BY 1, 2, 3 \
         ORDER BY 4 DESC, 1, 2, 3 LIMIT $1",
        quote_ident(state)
    )
}

/// Dead letters, newest first, optionally filtered by collection and class.
pub fn select_dead_letters_filtered(state: &str) -> String {
    format!(
        "SELECT id, collection, document_id, stage, field, class, message, document, errors, \
         root_id FROM {}.dead_letters WHERE ($1::text IS NULL OR collection = $1) \
         AND ($2::text IS NULL OR class = $2 \
         OR errors @> jsonb_build_array(jsonb_build_object('class', $2::text))) \
         ORDER BY id DESC LIMIT $3",
        quote_ident(state)
    )
}

/// One dead letter by id.
pub fn select_dead_letter(state: &str) -> String {
    format!(
        "SELECT id, collection, document_id, stage, field, class, message, document, errors, \
         root_id FROM {}.dead_letters WHERE id = $1",
        quote_ident(state)
    )
}

/// The distinct `_id`s (relaxed Extended JSON) of a collection's dead letters; `$1`: collection.
pub fn select_dead_letter_ids(state: &str) -> String {
    format!(
        "SELECT DISTINCT document_id FROM {}.dead_letters WHERE collection = $1",
        quote_ident(state)
    )
}

/// Dead letters per collection.
pub fn count_dead_letters(state: &str) -> String {
    format!(
        "SELECT collection, count(*) FROM {}.dead_letters GROUP BY collection",
        quote_ident(state)
    )
}

/// A collection's rejected documents: `_id` and the `_id` their rejection started at; `$1`:
/// collection.
pub fn select_dead_letter_roots(state: &str) -> String {
    format!(
        "SELECT document_id, coalesce(root_id, document_id) FROM {}.dead_letters WHERE collection = $1",
        quote_ident(state)
    )
}

/// A collection's rejected documents that kept their original: the `_id` their rejection started
/// at and the document (canonical Extended JSON), oldest first; `$1`: collection.
pub fn select_dead_letter_documents(state: &str) -> String {
    format!(
        "SELECT coalesce(root_id, document_id), document FROM {}.dead_letters \
         WHERE collection = $1 AND document IS NOT NULL ORDER BY id",
        quote_ident(state)
    )
}
