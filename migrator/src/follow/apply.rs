//! One follow transaction: the last change of each document applied through its model (its
//! rows replaced: the collection's row and every child and junction row), dead letters for the
//! documents that no longer fit, then the references the changes may have left dangling.

use std::collections::BTreeMap;

use bson::{doc, Bson, RawDocumentBuf};
use sqlx::PgConnection;

use super::stream::{Change, What};
use super::OnInvalid;
use crate::dead_letter::DeadLetter;
use crate::references::targeted::{self, Acted, Touched};
use crate::references::KeyTypes;
use crate::run_error::RunError;
use crate::schema::{ModelHandle, Schema};
use crate::sink::copy::CopyEncoder;
use crate::sink::sql::{self, Namespace};
use crate::source::Source;
use crate::state::StateStore;

/// What a follow transaction applies with.
pub(super) struct Context<'a> {
    pub schema: &'a Schema,
    pub ns: Namespace<'a>,
    pub state: &'a StateStore,
    pub source: &'a dyn Source,
    pub on_invalid: OnInvalid,
    /// The target's key and reference column types, read once.
    pub types: KeyTypes,
    /// An oplog replay: the documents as it left them (`<state>.oplog_documents`) come before
    /// the source's (see [`super::restore`]).
    pub kept_documents: bool,
}

/// What one transaction applied.
#[derive(Debug, Default)]
pub(super) struct Applied {
    pub upserted: u64,
    pub deleted: u64,
    pub dead_letters: Vec<DeadLetter>,
    pub references: Acted,
}

/// Applies `changes` (in stream order) inside the caller's transaction.
pub(super) async fn apply(
    conn: &mut PgConnection,
    cx: &Context<'_>,
    changes: &[&Change],
) -> Result<Applied, RunError> {
    // In one transaction only the last change of a document counts: it carries the document as
    // it is now.
    let models = cx.schema.models();
    let mut last: BTreeMap<usize, BTreeMap<String, &Change>> = BTreeMap::new();
    for change in changes {
        let (collection, id) = match &change.what {
            What::Upsert { collection, id, .. } | What::Delete { collection, id } => {
                (collection, id)
            }
            What::Stop { .. } | What::Nothing => continue,
        };
        let Some(index) = models.iter().position(|m| m.collection() == collection) else {
            continue;
        };
        let id_text = id.clone().into_relaxed_extjson().to_string();
        last.entry(index).or_default().insert(id_text, change);
    }
    let mut applied = Applied::default();
    let mut touched = Touched::default();
    for (index, documents) in last {
        let model = &models[index];
        let written = apply_model(conn, cx, model, &documents, &mut applied, &mut touched).await?;
        if !written.is_empty() {
            touched.written.insert(index, written);
        }
    }
    // Documents a reference's policy removed or changed while their target was missing come
    // back as the source has them now, if the rows written hold what they miss.
    let written = touched.written.clone();
    super::restore::restore(conn, cx, written, &mut applied, &mut touched).await?;
    applied.references = targeted::resolve_touched(
        conn, cx.schema, cx.source, cx.state, cx.ns, &cx.types, touched,
    )
    .await?;
    Ok(applied)
}

/// The changed documents of one model: returns the keys of the documents whose rows were
/// written. Records the dead letters of `applied` that are this model's.
pub(super) async fn apply_model(
    conn: &mut PgConnection,
    cx: &Context<'_>,
    model: &ModelHandle,
    documents: &BTreeMap<String, &Change>,
    applied: &mut Applied,
    touched: &mut Touched,
) -> Result<Vec<String>, RunError> {
    let def = model.def();
    let collection = model.collection();
    let mut encoder = CopyEncoder::new(def.tables.len());
    let (mut gone, mut replaced, mut judged) = (Vec::new(), Vec::new(), Vec::new());
    for (id_text, change) in documents {
        judged.push(id_text.clone());
        // A dead letter recorded while the document was already gone from the source (a
        // referrer rejected by a follow behind the source) names it by its stored key instead.
        if let What::Upsert { id, .. } | What::Delete { id, .. } = &change.what {
            if let Some(key) = key_of(model, id, id_text).ok().filter(|k| k != id_text) {
                judged.push(key);
            }
        }
        match &change.what {
            What::Upsert { id, doc, .. } => match model.encode(doc, &mut encoder) {
                Ok(()) => {
                    replaced.push(key_of(model, id, id_text)?);
                    applied.upserted += 1;
                }
                Err(error) => {
                    let mut letter = DeadLetter::from_transform(&error, doc);
                    if let Some(time) = change.cluster_time {
                        letter.message =
                            format!("{} (change at cluster time {time})", letter.message);
                    }
                    applied.dead_letters.push(letter);
                    if cx.on_invalid == OnInvalid::Delete {
                        gone.push(key_of(model, id, id_text)?);
                    }
                }
            },
            What::Delete { id, .. } => {
                gone.push(key_of(model, id, id_text)?);
                applied.deleted += 1;
            }
            What::Stop { .. } | What::Nothing => {}
        }
    }
    // What other collections may reference in the rows about to go: the keys of the documents
    // gone, the natural keys of those replaced (their key stays).
    for (keys, with_key) in [(&gone, true), (&replaced, false)] {
        for (target, values) in
            targeted::referenced_values(conn, cx.schema, cx.ns, &cx.types, model, keys, with_key)
                .await?
        {
            touched.removed.entry(target).or_default().extend(values);
        }
    }
    let all: Vec<String> = gone.iter().chain(&replaced).cloned().collect();
    if !all.is_empty() {
        crate::references::delete_rows(conn, cx.ns, &cx.types, def, 0, None, &all).await?;
        // Their rows are written anew: what `skip`/`null` did to the old ones no longer holds
        // (`validate` reads these actions), and the references resolved below record again.
        sqlx::query(&sql::delete_document_reference_issues(cx.state.schema()))
            .bind(collection)
            .bind(&all)
            .execute(&mut *conn)
            .await
            .map_err(RunError::db(format!(
                "forgetting the reference actions of changed documents of `{collection}`"
            )))?;
        super::restore::forget(conn, cx, collection, &all).await?;
    }
    for (index, table) in def.tables.iter().enumerate() {
        let Some(payload) = encoder.take(index) else {
            continue;
        };
        let failed = || {
            RunError::db(format!(
                "writing the changed documents of `{collection}` into {}",
                table.name
            ))
        };
        let mut copy = conn
            .copy_in_raw(&sql::copy_in(cx.ns, table))
            .await
            .map_err(failed())?;
        copy.send(payload.as_slice()).await.map_err(failed())?;
        copy.finish().await.map_err(failed())?;
    }
    // A document changed or deleted is judged again: its earlier dead letters go (by `_id`, or
    // by key, see above).
    sqlx::query(&sql::delete_document_dead_letters(cx.state.schema()))
        .bind(collection)
        .bind(&judged)
        .execute(&mut *conn)
        .await
        .map_err(RunError::db(format!(
            "forgetting the dead letters of changed documents of `{collection}`"
        )))?;
    let letters: Vec<DeadLetter> = applied
        .dead_letters
        .iter()
        .filter(|l| l.collection == collection)
        .cloned()
        .collect();
    crate::dead_letter::insert(conn, cx.state.schema(), &letters)
        .await
        .map_err(RunError::db(format!(
            "recording the changed documents of `{collection}` that no longer fit"
        )))?;
    Ok(replaced)
}

/// The stored key of the document with `_id` `id`.
fn key_of(model: &ModelHandle, id: &Bson, id_text: &str) -> Result<String, RunError> {
    let doc = RawDocumentBuf::try_from(&doc! {"_id": id.clone()}).ok();
    doc.as_deref()
        .and_then(|d| model.key_text(d))
        .ok_or_else(|| {
            RunError::Internal(format!(
                "a change of `{}` has an `_id` its model cannot read: {id_text}",
                model.collection()
            ))
        })
}
