//! The `reject` policy: the documents whose reference points at nothing become dead letters.
//!
//! A reference can dangle because its target was rejected itself (a manager whose own manager
//! does not exist, a task of that manager): such a document gets its own class,
//! [`CASCADE_CLASS`], naming the `_id` of the document whose rejection started the chain, which
//! keeps its true reason.

use std::collections::{BTreeMap, HashMap, HashSet};

use sqlx::{PgConnection, Row};

use super::{delete_rows, reference_source, Dangling, REJECT_CHUNK};
use crate::dead_letter::{DeadLetter, DeadLetterFile, Stage, CASCADE_CLASS};
use crate::model::RefTarget;
use crate::run_error::RunError;
use crate::schema::{ModelHandle, Schema};
use crate::sink::sql;
use crate::source::{Position, Source};
use crate::state::StateStore;

/// Rejected documents by collection: stored key -> the `_id` at the root of its rejection (its
/// own, or its root's for a cascade). Loaded from the dead letters the first time a collection
/// is asked for, and kept up to date as documents are rejected. The same by a natural key:
/// the key's value (as PostgreSQL prints it) -> root, read from the rejected documents
/// themselves and read again after the collection's next rejections.
#[derive(Debug, Default)]
pub(super) struct Roots {
    by_collection: HashMap<String, HashMap<String, String>>,
    /// (collection, natural key column) -> value -> root.
    by_natural_key: HashMap<(String, String), HashMap<String, String>>,
}

impl Roots {
    async fn of(
        &mut self,
        conn: &mut PgConnection,
        state: &StateStore,
        model: &ModelHandle,
    ) -> Result<&HashMap<String, String>, RunError> {
        let collection = model.collection().to_string();
        if !self.by_collection.contains_key(&collection) {
            let rows = sqlx::query(&sql::select_dead_letter_roots(state.schema()))
                .bind(&collection)
                .fetch_all(&mut *conn)
                .await
                .map_err(RunError::db(format!(
                    "reading the rejected documents of `{collection}`"
                )))?;
            let mut roots = HashMap::new();
            for row in rows {
                let id: String = row.get(0);
                let root: String = row.get(1);
                if let Some(key) = key_of_id(model, &id) {
                    roots.insert(key, root);
                }
            }
            self.by_collection.insert(collection.clone(), roots);
        }
        Ok(self.by_collection.entry(collection).or_default())
    }

    /// The rejected documents of `model` by the value of their natural key `column`.
    async fn of_natural_key(
        &mut self,
        conn: &mut PgConnection,
        state: &StateStore,
        model: &ModelHandle,
        column: &str,
    ) -> Result<&HashMap<String, String>, RunError> {
        let entry = (model.collection().to_string(), column.to_string());
        if !self.by_natural_key.contains_key(&entry) {
            let collection = model.collection();
            let rows = sqlx::query(&sql::select_dead_letter_documents(state.schema()))
                .bind(collection)
                .fetch_all(&mut *conn)
                .await
                .map_err(RunError::db(format!(
                    "reading the rejected documents of `{collection}`"
                )))?;
            let source = model.def().tables.first().and_then(|t| {
                t.columns
                    .iter()
                    .find(|c| c.name == column)
                    .map(|c| c.source.as_str())
            });
            let mut roots = HashMap::new();
            for row in rows {
                let root: String = row.get(0);
                let document: String = row.get(1);
                let value = source.and_then(|path| natural_key_text(&document, path));
                if let Some(value) = value {
                    roots.entry(value).or_insert(root);
                }
            }
            self.by_natural_key.insert(entry.clone(), roots);
        }
        Ok(self.by_natural_key.entry(entry).or_default())
    }

    fn add(&mut self, collection: &str, key: String, root: String) {
        if let Some(roots) = self.by_collection.get_mut(collection) {
            roots.insert(key, root);
        }
        // Read again, with the new dead letters, when next asked for.
        self.by_natural_key.retain(|(c, _), _| c != collection);
    }
}

/// The value at `path` (`code`, `meta.code`) of a rejected document (canonical Extended JSON) as
/// PostgreSQL prints a natural key column holding it: text, an integer, an ObjectId's hex, a
/// UUID. Other values are no natural key this can match.
fn natural_key_text(document: &str, path: &str) -> Option<String> {
    use bson::Bson;
    let json: serde_json::Value = serde_json::from_str(document).ok()?;
    let mut value = &Bson::try_from(json).ok()?;
    for key in path.split('.') {
        value = value.as_document()?.get(key)?;
    }
    match value {
        Bson::String(s) => Some(s.clone()),
        Bson::Int32(n) => Some(n.to_string()),
        Bson::Int64(n) => Some(n.to_string()),
        Bson::ObjectId(oid) => Some(oid.to_hex()),
        Bson::Binary(b) if b.subtype == bson::spec::BinarySubtype::Uuid => Some(
            uuid::Uuid::from_slice(&b.bytes)
                .ok()?
                .hyphenated()
                .to_string(),
        ),
        _ => None,
    }
}

/// The stored key of a document with this `_id` (relaxed Extended JSON, as dead letters hold it).
fn key_of_id(model: &ModelHandle, id: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(id).ok()?;
    let id = bson::Bson::try_from(value).ok()?;
    let doc = bson::RawDocumentBuf::try_from(&bson::doc! { "_id": id }).ok()?;
    model.key_text(&doc)
}

/// Rejects every document of `dangling`'s collection whose reference points at nothing, a chunk
/// at a time, inside the caller's transaction. Returns the documents rejected.
pub(super) async fn reject_all(
    conn: &mut PgConnection,
    dangling: &Dangling<'_>,
    schema: &Schema,
    source: &dyn Source,
    state: &StateStore,
    dead_file: Option<&DeadLetterFile>,
    roots: &mut Roots,
) -> Result<u64, RunError> {
    // The referenced model, and its natural key column if the reference is by one.
    let target_model = match &dangling.reference.target {
        RefTarget::Model { type_id, key, .. } => schema
            .models()
            .iter()
            .find(|m| m.def().type_id == *type_id)
            .map(|m| (m, key.as_deref())),
        RefTarget::Table(_) => None,
    };
    let field = reference_source(dangling.table, &dangling.reference.column);
    let collection = dangling.model.collection();
    let mut rejected = 0u64;
    loop {
        let found = sqlx::query(&sql::select_dangling(
            &dangling.qualified,
            &dangling.links,
            dangling.root_key(),
            &dangling.reference.column,
            &dangling.condition,
            REJECT_CHUNK,
        ))
        .fetch_all(&mut *conn)
        .await
        .map_err(RunError::db(format!(
            "finding dangling references in {}.{}",
            dangling.table.name, dangling.reference.column
        )))?;
        if found.is_empty() {
            break;
        }
        // Fewer than a chunk: every dangling pair was found, and their documents go below.
        let last = found.len() < usize::try_from(REJECT_CHUNK).unwrap_or(usize::MAX);
        let mut values: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for row in &found {
            values.entry(row.get(0)).or_default().push(row.get(1));
        }
        let causes = match target_model {
            Some((target, None)) => Some(roots.of(conn, state, target).await?),
            Some((target, Some(column))) => {
                Some(roots.of_natural_key(conn, state, target, column).await?)
            }
            None => None,
        };
        let letters = rejections(
            dangling.model,
            source,
            &values,
            &field,
            &dangling.target,
            causes,
        )?;
        let keys: Vec<String> = values.into_keys().collect();
        delete_rows(
            conn,
            dangling.ns,
            dangling.types,
            dangling.def,
            0,
            None,
            &keys,
        )
        .await?;
        let letters: Vec<DeadLetter> = keys
            .into_iter()
            .zip(letters)
            .map(|(key, letter)| {
                let root = letter
                    .root_id
                    .clone()
                    .unwrap_or_else(|| letter.document_id.clone());
                roots.add(collection, key, root);
                letter
            })
            .collect();
        crate::dead_letter::insert(conn, state.schema(), &letters)
            .await
            .map_err(RunError::db("recording rejected documents"))?;
        if let Some(file) = dead_file {
            file.append(&letters).map_err(|e| RunError::Io {
                path: file.path().display().to_string(),
                source: e,
            })?;
        }
        rejected += letters.len() as u64;
        if last {
            break;
        }
    }
    Ok(rejected)
}

/// Dead letters for documents rejected for dangling references (`values`: key -> the values it
/// holds that point at nothing), in key order, with their original documents found by scanning
/// the source. `causes`: the target's rejected documents by the key the reference holds.
fn rejections(
    model: &ModelHandle,
    source: &dyn Source,
    values: &BTreeMap<String, Vec<String>>,
    field: &str,
    target: &str,
    causes: Option<&HashMap<String, String>>,
) -> Result<Vec<DeadLetter>, RunError> {
    let mut documents: BTreeMap<String, (String, Option<String>)> = BTreeMap::new();
    let collection = model.collection();
    let mut found = |doc: &bson::RawDocument, wanted: &mut HashSet<&str>| {
        let Some(key) = model.key_text(doc) else {
            return;
        };
        if wanted.remove(key.as_str()) {
            documents.insert(
                key,
                (
                    crate::transform::describe_id(doc),
                    crate::dead_letter::document_json(doc),
                ),
            );
        }
    };
    // The documents whose `_id` the key gives back are fetched by it (a live source looks them
    // up; one not there is gone from the source); the others are found by scanning.
    let mut fetched: HashSet<&str> = HashSet::new();
    let mut ids = Vec::new();
    for key in values.keys() {
        let found_ids = preimages(model, key);
        if !found_ids.is_empty() {
            fetched.insert(key.as_str());
            ids.extend(found_ids);
        }
    }
    if !ids.is_empty() {
        for doc in source.fetch(collection, &ids)? {
            found(&doc, &mut fetched);
        }
    }
    let mut wanted: HashSet<&str> = values
        .keys()
        .map(String::as_str)
        .filter(|k| preimages(model, k).is_empty())
        .collect();
    'partitions: for partition in source.partitions(collection, 1)? {
        if wanted.is_empty() {
            break;
        }
        for item in source.read(collection, &partition, &Position::Start)? {
            found(&item?.doc, &mut wanted);
            if wanted.is_empty() {
                break 'partitions;
            }
        }
    }
    Ok(values
        .iter()
        .map(|(key, dangling)| {
            let (id, document) = documents
                .get(key)
                .cloned()
                .unwrap_or_else(|| (key.clone(), None));
            let described: Vec<String> = dangling.iter().map(|v| describe_value(v)).collect();
            // A cascade only when every value it misses belongs to a rejected document: one
            // that never existed is the document's own reason.
            let roots: Option<Vec<&String>> = causes.and_then(|causes| {
                dangling
                    .iter()
                    .map(|v| causes.get(v))
                    .collect::<Option<Vec<_>>>()
            });
            let (class, message, root_id) = match roots.as_deref() {
                Some([root, ..]) => (
                    CASCADE_CLASS,
                    format!(
                        "references `{target}` = {}, whose document was rejected itself \
                         (the rejections start at _id {root})",
                        described.join(", ")
                    ),
                    Some((*root).clone()),
                ),
                _ => (
                    "missing_reference",
                    format!(
                        "references `{target}` = {}, which does not exist",
                        described.join(", ")
                    ),
                    None,
                ),
            };
            DeadLetter {
                collection: collection.to_string(),
                document_id: id,
                stage: Stage::Reference,
                field: field.to_string(),
                class: class.into(),
                message,
                document,
                errors: Vec::new(),
                root_id,
            }
        })
        .collect())
}

/// The `_id`s whose stored key is `key` ([`crate::id::id_candidates`]: an ObjectId, a
/// UUID, an integer, the text itself): each is checked against the model's own key. Empty when
/// none is, as for an ObjectId's name-based UUID.
fn preimages(model: &ModelHandle, key: &str) -> Vec<bson::Bson> {
    crate::id::id_candidates(key)
        .into_iter()
        .filter(|id| {
            bson::RawDocumentBuf::try_from(&bson::doc! { "_id": id.clone() })
                .ok()
                .and_then(|doc| model.key_text(&doc))
                .is_some_and(|k| k == key)
        })
        .collect()
}

/// A stored key as a user knows it: ordered UUIDs also name the ObjectId they came from.
fn describe_value(value: &str) -> String {
    match uuid::Uuid::parse_str(value)
        .ok()
        .and_then(|u| crate::id::ordered_uuid_to_object_id(&u))
    {
        Some(oid) => format!("{value} (ObjectId {})", oid.to_hex()),
        None => value.to_string(),
    }
}
