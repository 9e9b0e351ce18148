//! After the load: find every reference that points at nothing with set-based SQL and apply its
//! policy (reject the document, set NULL, skip the row, keep it), cascading to the rows that
//! hang off removed rows, until nothing changes. Every action is recorded.

use std::collections::BTreeMap;

use sqlx::{Connection, PgConnection, Row};

use crate::dead_letter::DeadLetterFile;
use crate::model::{MissingPolicy, ModelDef, RefTarget, TableDef};
use crate::pipeline::config::RunConfig;
use crate::run_error::RunError;
use crate::schema::{ModelHandle, Schema};
use crate::sink::sql::{self, Namespace};
use crate::source::Source;
use crate::state::StateStore;

mod reject;
pub mod targeted;

/// The most dangling references of one `keep` column recorded one by one in
/// `reference_issues` (all are counted in `reference_counts`). `null` and `skip` record every
/// one: `validate` reads them to know which rows the actions changed.
const MAX_KEPT_DETAIL: i64 = 10_000;

/// The most documents rejected in one step (their dead letters are built in memory).
const REJECT_CHUNK: i64 = 10_000;

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
    /// Whether a skip or a rejection removed rows (a NULL set or a kept value removes none).
    pub rows_removed: bool,
}

/// One reference being resolved: where it is and the SQL pieces that find its dangling values.
struct Dangling<'a> {
    ns: Namespace<'a>,
    types: &'a KeyTypes,
    model: &'a ModelHandle,
    def: &'a ModelDef,
    table: &'a TableDef,
    reference: &'a crate::model::ReferenceDef,
    qualified: String,
    links: Vec<sql::ParentLink>,
    condition: String,
    /// `table.column` it points at.
    target: String,
}

impl Dangling<'_> {
    fn root_key(&self) -> &str {
        self.def.tables[0].key_column()
    }

    /// Rows and distinct values that point at nothing, exactly.
    async fn count(&self, conn: &mut PgConnection) -> Result<(u64, u64), RunError> {
        let row = sqlx::query(&sql::count_dangling(
            &self.qualified,
            &self.reference.column,
            &self.condition,
        ))
        .fetch_one(&mut *conn)
        .await
        .map_err(RunError::db(format!(
            "counting dangling references in {}.{}",
            self.table.name, self.reference.column
        )))?;
        let n = |i: usize| u64::try_from(row.get::<i64, _>(i)).unwrap_or(0);
        Ok((n(0), n(1)))
    }

    /// Records the (document, value) pairs in `reference_issues`, at most `limit`.
    async fn record(
        &self,
        conn: &mut PgConnection,
        state: &StateStore,
        limit: Option<i64>,
    ) -> Result<(), RunError> {
        sqlx::query(&sql::record_dangling(
            state.schema(),
            &self.qualified,
            &self.links,
            self.root_key(),
            &self.reference.column,
            &self.condition,
            limit,
        ))
        .bind(self.model.collection())
        .bind(&self.table.name)
        .bind(&self.reference.column)
        .bind(self.reference.on_missing.as_str())
        .execute(&mut *conn)
        .await
        .map_err(RunError::db("recording the dangling references"))?;
        Ok(())
    }

    /// Remembers the documents about to be acted on (`null`, `skip`, `reject`) by the value they
    /// miss, in `awaiting_targets`: a follow that writes a row with that value brings them back
    /// as a fresh migration would have them.
    async fn remember(&self, conn: &mut PgConnection, state: &StateStore) -> Result<(), RunError> {
        let (target_table, target_column) =
            self.target.split_once('.').unwrap_or((&self.target, ""));
        sqlx::query(&sql::record_awaiting(
            state.schema(),
            &self.qualified,
            &self.links,
            self.root_key(),
            &self.reference.column,
            &self.condition,
        ))
        .bind(target_table)
        .bind(target_column)
        .bind(self.model.collection())
        .execute(&mut *conn)
        .await
        .map_err(RunError::db(format!(
            "remembering the documents of `{}` whose {}.{} points at nothing",
            self.model.collection(),
            self.table.name,
            self.reference.column
        )))?;
        Ok(())
    }

    /// Adds (or, `replace`, sets) the reference's counts in `reference_counts`.
    async fn add_counts(
        &self,
        conn: &mut PgConnection,
        state: &StateStore,
        (rows, values, documents_removed): (u64, u64, u64),
        replace: bool,
    ) -> Result<(), RunError> {
        let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        sqlx::query(&sql::add_reference_counts(state.schema()))
            .bind(self.model.collection())
            .bind(&self.table.name)
            .bind(&self.reference.column)
            .bind(&self.target)
            .bind(self.reference.on_missing.as_str())
            .bind(n(rows))
            .bind(n(values))
            .bind(n(documents_removed))
            .bind(replace)
            .execute(&mut *conn)
            .await
            .map_err(RunError::db("counting the dangling references"))?;
        Ok(())
    }
}

/// Resolves every dangling reference in `scope`. Each reference's action, its counts and its
/// recorded detail commit in one transaction, so a resumed stage counts nothing twice.
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
    let mut rows_removed = false;
    let mut first_pass = true;
    let mut roots = reject::Roots::default();
    let types = KeyTypes::default();
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
                    let dangling = Dangling {
                        ns,
                        types: &types,
                        model,
                        def,
                        table,
                        reference,
                        qualified: ns.qualify(&table.name),
                        links: links_to_root(ns, def, index),
                        condition: sql::dangling(
                            ns,
                            &reference.column,
                            target.table,
                            target.column,
                        ),
                        target: format!("{}.{}", target.table, target.column),
                    };
                    // Counted before the transaction: nothing else writes these tables now,
                    // and the transaction holds no lock while the keys are added beside it.
                    let (rows, values) = dangling.count(conn).await?;
                    if rows == 0 {
                        continue;
                    }
                    let mut tx = conn
                        .begin()
                        .await
                        .map_err(RunError::db("starting reference resolution"))?;
                    let keep = reference.on_missing == MissingPolicy::Keep;
                    if !keep {
                        dangling.remember(&mut tx, state).await?;
                    }
                    let removed = match reference.on_missing {
                        MissingPolicy::Keep => {
                            // Kept values are found again when this stage is resumed: replace
                            // what an interrupted earlier attempt recorded.
                            sqlx::query(&sql::delete_reference_issues(state.schema()))
                                .bind(model.collection())
                                .bind(&table.name)
                                .bind(&reference.column)
                                .bind(reference.on_missing.as_str())
                                .execute(&mut *tx)
                                .await
                                .map_err(RunError::db("replacing recorded dangling references"))?;
                            dangling
                                .record(&mut tx, state, Some(MAX_KEPT_DETAIL))
                                .await?;
                            0
                        }
                        MissingPolicy::SetNull => {
                            dangling.record(&mut tx, state, None).await?;
                            sqlx::query(&sql::set_null_where(
                                ns,
                                &table.name,
                                &reference.column,
                                &dangling.condition,
                            ))
                            .execute(&mut *tx)
                            .await
                            .map_err(RunError::db(format!(
                                "setting dangling {}.{} to NULL",
                                table.name, reference.column
                            )))?;
                            0
                        }
                        MissingPolicy::Skip => {
                            dangling.record(&mut tx, state, None).await?;
                            let deleted = delete_rows(
                                &mut tx,
                                ns,
                                &types,
                                def,
                                index,
                                Some(&dangling.condition),
                                &[],
                            )
                            .await?;
                            changed = true;
                            rows_removed |= deleted > 0;
                            if index == 0 {
                                deleted
                            } else {
                                0
                            }
                        }
                        MissingPolicy::Reject => {
                            let rejected = reject::reject_all(
                                &mut tx, &dangling, schema, source, state, dead_file, &mut roots,
                            )
                            .await?;
                            rows_removed |= rejected > 0;
                            changed = true;
                            rejected
                        }
                    };
                    dangling
                        .add_counts(&mut tx, state, (rows, values, removed), keep)
                        .await?;
                    tx.commit()
                        .await
                        .map_err(RunError::db("committing reference resolution"))?;
                }
            }
        }
        first_pass = false;
        if !changed {
            break;
        }
    }
    Ok(Resolved { rows_removed })
}

/// Every reference's counts as recorded in the state schema `state`.
pub async fn counts(
    conn: &mut PgConnection,
    state: &str,
) -> Result<Vec<crate::report::ReferenceCount>, sqlx::Error> {
    let rows = sqlx::query(&sql::select_reference_counts(state))
        .fetch_all(&mut *conn)
        .await?;
    let n = |r: &sqlx::postgres::PgRow, i: usize| u64::try_from(r.get::<i64, _>(i)).unwrap_or(0);
    Ok(rows
        .iter()
        .map(|r| crate::report::ReferenceCount {
            collection: r.get(0),
            table: r.get(1),
            column: r.get(2),
            target: r.get(3),
            action: r.get(4),
            rows: n(r, 5),
            distinct_values: n(r, 6),
            documents_removed: n(r, 7),
        })
        .collect())
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
pub(crate) async fn delete_rows(
    conn: &mut PgConnection,
    ns: Namespace<'_>,
    types: &KeyTypes,
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
            &types.get(conn, ns, table, table.key_column()).await?,
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
        let column_type = types.get(conn, ns, child, column).await?;
        let sql = sql::delete_by_keys(ns, &child.name, column, &column_type, returning);
        let rows = sqlx::query(&sql)
            .bind(&parent_keys)
            .fetch_all(&mut *conn)
            .await
            .map_err(RunError::db(format!("deleting rows of {}", child.name)))?;
        removed.insert(i, rows.iter().map(|r| r.get::<String, _>(0)).collect());
    }
    Ok(deleted)
}

/// The types of key and reference columns as the target has them, read from the catalog once
/// (a follow asked for them per reference per transaction).
#[derive(Debug, Default)]
pub struct KeyTypes(std::sync::Mutex<std::collections::HashMap<(String, String), String>>);

impl KeyTypes {
    /// [`key_type`], remembered.
    pub(crate) async fn get(
        &self,
        conn: &mut PgConnection,
        ns: Namespace<'_>,
        table: &TableDef,
        column: &str,
    ) -> Result<String, RunError> {
        let key = (table.name.clone(), column.to_string());
        if let Some(known) = self.lock().get(&key) {
            return Ok(known.clone());
        }
        let found = key_type(conn, ns, table, column).await?;
        self.lock().insert(key, found.clone());
        Ok(found)
    }

    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<(String, String), String>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The type of `table`'s key column `column` as the target has it: the model's, or in a user's
/// own table (`--schema-mode existing`) the column's own when the load adapted to it (a uuid
/// key in a `text` column), so the keys compare with the column's type.
async fn key_type(
    conn: &mut PgConnection,
    ns: Namespace<'_>,
    table: &TableDef,
    column: &str,
) -> Result<String, RunError> {
    let model = table
        .column(column)
        .map_or_else(|| "text".to_string(), |c| c.ty.sql());
    let Some(schema) = ns.0 else {
        return Ok(model);
    };
    let existing: Option<String> = sqlx::query_scalar(sql::COLUMN_TYPE)
        .bind(schema)
        .bind(&table.name)
        .bind(column)
        .fetch_optional(&mut *conn)
        .await
        .map_err(RunError::db(format!(
            "reading the type of {}.{column}",
            table.name
        )))?;
    Ok(existing.unwrap_or(model))
}
