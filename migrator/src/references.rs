//! After the load: find every reference that points at nothing with set-based SQL and apply its
//! policy (reject the document, set NULL, skip the row, keep it), cascading to the rows that
//! hang off removed rows, until nothing changes. Every action is recorded.

use std::collections::{BTreeMap, HashSet};

use sqlx::{Connection, PgConnection, Row};

use crate::dead_letter::{DeadLetter, DeadLetterFile, Stage};
use crate::model::{MissingPolicy, ModelDef, RefTarget, TableDef};
use crate::pipeline::config::RunConfig;
use crate::run_error::RunError;
use crate::schema::{ModelHandle, Schema};
use crate::sink::sql::{self, Namespace};
use crate::source::{Position, Source};
use crate::state::StateStore;

/// The most dangling references of one column recorded one by one (all are counted).
const MAX_RECORDED: i64 = 10_000;

/// The links from table `index` up to the model's collection table, as SQL joins need them.
fn links_to_root(ns: Namespace<'_>, def: &ModelDef, index: usize) -> Vec<sql::ParentLink> {
    def.parent_chain(index)
        .into_iter()
        .map(|(parent, column)| sql::ParentLink {
            parent: ns.qualify(&def.tables[parent].name),
            key: def.tables[parent].key_column().to_string(),
            column: column.to_string(),
        })
        .collect()
}

/// Which references [`resolve`] looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every reference.
    All,
    /// Only those without a foreign key: the constraints of the others were added, which proves
    /// that none of their values dangles.
    Unenforced,
}

/// What [`resolve`] did.
#[derive(Debug, Default)]
pub struct Resolved {
    /// Counts per `table.column action`.
    pub actions: BTreeMap<String, u64>,
    /// Whether a skip or a rejection removed rows (a NULL set or a kept value removes none).
    pub rows_removed: bool,
}

/// Resolves every dangling reference in `scope`.
pub async fn resolve(
    schema: &Schema,
    source: &dyn Source,
    config: &RunConfig,
    state: &StateStore,
    conn: &mut PgConnection,
    dead_file: Option<&DeadLetterFile>,
    scope: Scope,
) -> Result<Resolved, RunError> {
    let ns = Namespace(Some(config.target_schema.as_str()));
    let mut actions: BTreeMap<String, u64> = BTreeMap::new();
    let mut rows_removed = false;
    let mut first_pass = true;
    loop {
        let mut changed = false;
        for model in schema.models() {
            let def = model.def();
            for (index, table) in def.tables.iter().enumerate() {
                for reference in &table.references {
                    let RefTarget::Model { .. } = reference.target else {
                        continue;
                    };
                    if reference.on_missing == MissingPolicy::Keep && !first_pass {
                        continue;
                    }
                    let Some(target) = schema.resolve(def, &reference.target) else {
                        continue;
                    };
                    if scope == Scope::Unenforced
                        && enforced(reference.on_missing, target.enforceable)
                    {
                        continue;
                    }
                    let condition =
                        sql::dangling(ns, &reference.column, target.table, target.column);
                    let found = sqlx::query(&sql::select_dangling(
                        &ns.qualify(&table.name),
                        &links_to_root(ns, def, index),
                        def.tables[0].key_column(),
                        &reference.column,
                        &condition,
                        MAX_RECORDED,
                    ))
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(RunError::db(format!(
                        "finding dangling references in {}.{}",
                        table.name, reference.column
                    )))?;
                    if found.is_empty() {
                        continue;
                    }
                    let pairs: Vec<(String, String)> =
                        found.iter().map(|r| (r.get(0), r.get(1))).collect();
                    let label = format!(
                        "{}.{} {}",
                        table.name,
                        reference.column,
                        reference.on_missing.as_str()
                    );
                    let target_name = format!("{}.{}", target.table, target.column);
                    let mut tx = conn
                        .begin()
                        .await
                        .map_err(RunError::db("starting reference resolution"))?;
                    let count = match reference.on_missing {
                        MissingPolicy::Keep => pairs.len() as u64,
                        MissingPolicy::SetNull => sqlx::query(&sql::set_null_where(
                            ns,
                            &table.name,
                            &reference.column,
                            &condition,
                        ))
                        .execute(&mut *tx)
                        .await
                        .map_err(RunError::db(format!(
                            "setting dangling {}.{} to NULL",
                            table.name, reference.column
                        )))?
                        .rows_affected(),
                        MissingPolicy::Skip => {
                            let deleted =
                                delete_rows(&mut tx, ns, def, index, Some(&condition), &[]).await?;
                            changed = true;
                            rows_removed |= deleted > 0;
                            deleted
                        }
                        MissingPolicy::Reject => {
                            let keys: Vec<String> = pairs
                                .iter()
                                .map(|(k, _)| k.clone())
                                .collect::<HashSet<_>>()
                                .into_iter()
                                .collect();
                            let letters = rejections(
                                model,
                                source,
                                &keys,
                                &pairs,
                                reference_source(table, &reference.column),
                                &target_name,
                            )?;
                            rows_removed |=
                                delete_rows(&mut tx, ns, def, 0, None, &keys).await? > 0;
                            crate::dead_letter::insert(&mut tx, state.schema(), &letters)
                                .await
                                .map_err(RunError::db("recording rejected documents"))?;
                            if let Some(file) = dead_file {
                                file.append(&letters).map_err(|e| RunError::Io {
                                    path: file.path().display().to_string(),
                                    source: e,
                                })?;
                            }
                            changed = true;
                            keys.len() as u64
                        }
                    };
                    if reference.on_missing == MissingPolicy::Keep {
                        // Kept values are found again when this stage is resumed: replace what an
                        // interrupted earlier attempt recorded instead of adding to it.
                        sqlx::query(&sql::delete_reference_issues(state.schema()))
                            .bind(model.collection())
                            .bind(&table.name)
                            .bind(&reference.column)
                            .bind(reference.on_missing.as_str())
                            .execute(&mut *tx)
                            .await
                            .map_err(RunError::db("replacing recorded dangling references"))?;
                    }
                    if reference.on_missing != MissingPolicy::Reject {
                        let (keys, values): (Vec<&str>, Vec<&str>) =
                            pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).unzip();
                        sqlx::query(&sql::insert_reference_issues(state.schema()))
                            .bind(model.collection())
                            .bind(keys)
                            .bind(&table.name)
                            .bind(&reference.column)
                            .bind(values)
                            .bind(reference.on_missing.as_str())
                            .execute(&mut *tx)
                            .await
                            .map_err(RunError::db("recording the dangling references"))?;
                    }
                    tx.commit()
                        .await
                        .map_err(RunError::db("committing reference resolution"))?;
                    *actions.entry(label).or_default() += count;
                }
            }
        }
        first_pass = false;
        if !changed {
            break;
        }
    }
    Ok(Resolved {
        actions,
        rows_removed,
    })
}

/// Whether a reference gets a foreign-key constraint (as [`crate::sink::ddl::Ddl`] decides).
pub fn enforced(policy: MissingPolicy, enforceable: bool) -> bool {
    policy != MissingPolicy::Keep && enforceable
}

/// Whether every reference that resolving could act on (all but `keep`) gets a foreign key, so
/// adding the constraints first can prove that none dangles ([`Scope::Unenforced`]).
pub fn all_actionable_enforced(schema: &Schema) -> bool {
    schema.models().iter().all(|model| {
        let def = model.def();
        def.tables.iter().all(|table| {
            table.references.iter().all(|r| {
                !matches!(r.target, RefTarget::Model { .. })
                    || r.on_missing == MissingPolicy::Keep
                    || schema
                        .resolve(def, &r.target)
                        .is_some_and(|t| enforced(r.on_missing, t.enforceable))
            })
        })
    })
}

fn reference_source(table: &TableDef, column: &str) -> String {
    table
        .column(column)
        .map_or_else(|| column.to_string(), |c| c.source.clone())
}

/// Deletes rows of table `index` (by `condition`, or whose primary key is in `keys`) and every row
/// that hangs off them in the model's junction and child tables. Returns rows deleted from `index`.
async fn delete_rows(
    conn: &mut PgConnection,
    ns: Namespace<'_>,
    def: &ModelDef,
    index: usize,
    condition: Option<&str>,
    keys: &[String],
) -> Result<u64, RunError> {
    let table = &def.tables[index];
    let is_junction = table.primary_key.len() > 1;
    let returning = (!is_junction).then(|| table.key_column());
    let sql = match condition {
        Some(c) => sql::delete_where(ns, &table.name, c, returning),
        None => sql::delete_by_keys(
            ns,
            &table.name,
            table.key_column(),
            &key_type(table),
            returning,
        ),
    };
    let failed = RunError::db(format!("deleting rows of {}", table.name));
    if is_junction {
        // Nothing hangs off a junction row, and it has no single key to return: count them.
        return match sqlx::query(&sql).bind(keys).execute(&mut *conn).await {
            Ok(done) => Ok(done.rows_affected()),
            Err(e) => Err(failed(e)),
        };
    }
    let rows = sqlx::query(&sql)
        .bind(keys)
        .fetch_all(&mut *conn)
        .await
        .map_err(failed)?;
    let deleted = rows.len() as u64;
    let mut removed: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    removed.insert(index, rows.iter().map(|r| r.get::<String, _>(0)).collect());
    // Descendants come after their parents in the model's table order.
    for (i, child) in def.tables.iter().enumerate().skip(index + 1) {
        let Some((parent, column)) = child.parent() else {
            continue;
        };
        let Some(parent_keys) = removed.get(&parent).filter(|k| !k.is_empty()).cloned() else {
            continue;
        };
        let returning = (child.primary_key.len() == 1).then(|| child.key_column());
        let sql = sql::delete_by_keys(
            ns,
            &child.name,
            column,
            &key_type(&def.tables[parent]),
            returning,
        );
        let rows = sqlx::query(&sql)
            .bind(&parent_keys)
            .fetch_all(&mut *conn)
            .await
            .map_err(RunError::db(format!("deleting rows of {}", child.name)))?;
        removed.insert(i, rows.iter().map(|r| r.get::<String, _>(0)).collect());
    }
    Ok(deleted)
}

fn key_type(table: &TableDef) -> String {
    table
        .column(table.key_column())
        .map_or_else(|| "text".to_string(), |c| c.ty.sql())
}

/// Dead letters for documents rejected for dangling references, with their original documents
/// found by scanning the source.
fn rejections(
    model: &ModelHandle,
    source: &dyn Source,
    keys: &[String],
    pairs: &[(String, String)],
    field: String,
    target: &str,
) -> Result<Vec<DeadLetter>, RunError> {
    let mut wanted: HashSet<&str> = keys.iter().map(String::as_str).collect();
    let mut documents: BTreeMap<String, (String, Option<String>)> = BTreeMap::new();
    let collection = model.collection();
    'partitions: for partition in source.partitions(collection, 1)? {
        for item in source.read(collection, &partition, &Position::Start)? {
            let doc = item?.doc;
            let Some(key) = model.key_text(&doc) else {
                continue;
            };
            if wanted.remove(key.as_str()) {
                documents.insert(
                    key,
                    (
                        crate::transform::describe_id(&doc),
                        crate::dead_letter::document_json(&doc),
                    ),
                );
                if wanted.is_empty() {
                    break 'partitions;
                }
            }
        }
    }
    Ok(keys
        .iter()
        .map(|key| {
            let values: Vec<String> = pairs
                .iter()
                .filter(|(k, _)| k == key)
                .map(|(_, v)| describe_value(v))
                .collect();
            let (id, document) = documents
                .get(key)
                .cloned()
                .unwrap_or_else(|| (key.clone(), None));
            DeadLetter {
                collection: collection.to_string(),
                document_id: id,
                stage: Stage::Reference,
                field: field.clone(),
                class: "missing_reference".into(),
                message: format!(
                    "references `{target}` = {}, which does not exist",
                    values.join(", ")
                ),
                document,
            }
        })
        .collect())
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
