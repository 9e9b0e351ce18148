//! Reference resolution restricted to what one follow transaction touched (see
//! `crate::follow`): the references held by the documents it wrote, and those pointing at the
//! keys and values it removed. The policies are the load's; a skip or a rejection at a
//! collection's table removes documents, whose own referrers are resolved in the next round.

use std::collections::BTreeMap;

use sqlx::{PgConnection, Row};

use super::reject::{reject_all, Roots};
use super::{delete_rows, links_to_root, Dangling, KeyTypes};
use crate::model::{MissingPolicy, ModelDef, RefTarget};
use crate::run_error::RunError;
use crate::schema::{ModelHandle, Schema};
use crate::sink::sql::{self, Namespace};
use crate::source::Source;
use crate::state::StateStore;

/// Rounds of removals feeding removals (a rejection's referrers rejected in turn) before the
/// follow gives up on the transaction.
const MAX_ROUNDS: usize = 64;

/// The most rows of one reference acted on at once.
const CHUNK: i64 = 1_000_000;

/// What a follow transaction touched.
#[derive(Debug, Default)]
pub struct Touched {
    /// Per model (its index in [`Schema::models`]): the keys of the documents whose rows were
    /// written.
    pub written: BTreeMap<usize, Vec<String>>,
    /// Per referenced (table, column): the values that rows removed held.
    pub removed: BTreeMap<(String, String), Vec<String>>,
}

impl Touched {
    fn is_empty(&self) -> bool {
        self.written.is_empty() && self.removed.is_empty()
    }
}

/// What [`resolve_touched`] did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Acted {
    /// Rows whose reference was set to NULL, skipped or rejected.
    pub rows: u64,
    /// Documents rejected (dead letters added).
    pub rejected: u64,
}

/// The values other collections may reference in the documents `keys` of `model`: per
/// referenced (table, column) of its collection table, the values those rows hold now. Read
/// before the rows are deleted or replaced. `with_key`: the key column's too (the documents go;
/// a document replaced keeps its key).
pub async fn referenced_values(
    conn: &mut PgConnection,
    schema: &Schema,
    ns: Namespace<'_>,
    types: &KeyTypes,
    model: &ModelHandle,
    keys: &[String],
    with_key: bool,
) -> Result<Vec<((String, String), Vec<String>)>, RunError> {
    let def = model.def();
    let root = def.table();
    let mut out = Vec::new();
    if keys.is_empty() {
        return Ok(out);
    }
    let mut columns: Vec<&str> = Vec::new();
    for other in schema.models() {
        for table in &other.def().tables {
            for reference in &table.references {
                let Some(target) = schema.resolve(other.def(), &reference.target) else {
                    continue;
                };
                if matches!(reference.target, RefTarget::Model { .. })
                    && target.table == root.name
                    && !columns.contains(&target.column)
                {
                    columns.push(target.column);
                }
            }
        }
    }
    let key = root.key_column();
    for column in columns {
        if column == key && !with_key {
            continue;
        }
        let values = if column == key {
            keys.to_vec()
        } else {
            let key_sql_type = types.get(conn, ns, root, key).await?;
            sqlx::query_scalar(&sql::select_column_of_keys(
                ns,
                &root.name,
                column,
                key,
                &key_sql_type,
            ))
            .bind(keys)
            .fetch_all(&mut *conn)
            .await
            .map_err(RunError::db(format!(
                "reading {}.{column} of the changed documents",
                root.name
            )))?
        };
        out.push(((root.name.clone(), column.to_string()), values));
    }
    Ok(out)
}

/// Resolves the references `touched` may have left dangling, inside the caller's transaction,
/// with each reference's policy; records them like the load does.
#[allow(clippy::too_many_arguments)]
pub async fn resolve_touched(
    conn: &mut PgConnection,
    schema: &Schema,
    source: &dyn Source,
    state: &StateStore,
    ns: Namespace<'_>,
    types: &KeyTypes,
    mut touched: Touched,
) -> Result<Acted, RunError> {
    let mut acted = Acted::default();
    let mut roots = Roots::default();
    let numbers = SetNumbers::of(schema);
    for _ in 0..MAX_ROUNDS {
        if touched.is_empty() {
            return Ok(acted);
        }
        clear_sets(conn).await?;
        let mut written_sets = BTreeMap::new();
        for (model, keys) in &touched.written {
            let set = numbers.written(*model);
            store_set(conn, set, keys).await?;
            written_sets.insert(*model, set);
        }
        let mut removed_sets = BTreeMap::new();
        for (target, values) in &touched.removed {
            let set = numbers.removed(target);
            store_set(conn, set, values).await?;
            removed_sets.insert(target.clone(), set);
        }
        let mut next = Touched::default();
        for (model_index, model) in schema.models().iter().enumerate() {
            let def = model.def();
            for (index, table) in def.tables.iter().enumerate() {
                for reference in &table.references {
                    if !matches!(reference.target, RefTarget::Model { .. })
                        || reference.on_missing == MissingPolicy::Keep
                    {
                        continue;
                    }
                    let Some(target) = schema.resolve(def, &reference.target) else {
                        continue;
                    };
                    let mut restrictions = Vec::new();
                    if let Some(set) = written_sets.get(&model_index) {
                        restrictions.push(documents_of(conn, ns, types, def, index, *set).await?);
                    }
                    let removed = (target.table.to_string(), target.column.to_string());
                    if let Some(set) = removed_sets.get(&removed) {
                        let column_type = types.get(conn, ns, table, &reference.column).await?;
                        restrictions.push(sql::restrict_to_values(
                            &reference.column,
                            &column_type,
                            *set,
                        ));
                    }
                    if restrictions.is_empty() {
                        continue;
                    }
                    let dangling = Dangling {
                        ns,
                        types,
                        model,
                        def,
                        table,
                        reference,
                        qualified: ns.qualify(&table.name),
                        links: links_to_root(ns, def, index),
                        condition: format!(
                            "{} AND ({})",
                            sql::dangling(ns, &reference.column, target.table, target.column),
                            restrictions.join(" OR ")
                        ),
                        target: format!("{}.{}", target.table, target.column),
                    };
                    let (rows, values) = dangling.count(conn).await?;
                    if rows == 0 {
                        continue;
                    }
                    acted.rows += rows;
                    let removed_documents = act(
                        conn, schema, source, state, &dangling, index, &mut roots, &mut next,
                    )
                    .await?;
                    if reference.on_missing == MissingPolicy::Reject {
                        acted.rejected += removed_documents;
                    }
                    dangling
                        .add_counts(conn, state, (rows, values, removed_documents), false)
                        .await?;
                }
            }
        }
        touched = next;
    }
    Err(RunError::Internal(format!(
        "references kept dangling after {MAX_ROUNDS} rounds of removals in one follow transaction"
    )))
}

/// Applies the reference's policy to its dangling rows; documents removed whole are added to
/// `next` (their values, for their own referrers). Returns the documents removed.
#[allow(clippy::too_many_arguments)]
async fn act(
    conn: &mut PgConnection,
    schema: &Schema,
    source: &dyn Source,
    state: &StateStore,
    dangling: &Dangling<'_>,
    index: usize,
    roots: &mut Roots,
    next: &mut Touched,
) -> Result<u64, RunError> {
    let table = dangling.table;
    let column = &dangling.reference.column;
    if dangling.reference.on_missing != MissingPolicy::Keep {
        dangling.remember(conn, state).await?;
    }
    match dangling.reference.on_missing {
        MissingPolicy::Keep => Ok(0),
        MissingPolicy::SetNull => {
            dangling.record(conn, state, None).await?;
            sqlx::query(&sql::set_null_where(
                dangling.ns,
                &table.name,
                column,
                &dangling.condition,
            ))
            .execute(&mut *conn)
            .await
            .map_err(RunError::db(format!(
                "setting dangling {}.{column} to NULL",
                table.name
            )))?;
            Ok(0)
        }
        MissingPolicy::Skip => {
            dangling.record(conn, state, None).await?;
            let documents = if index == 0 {
                removing(conn, schema, dangling, next).await?
            } else {
                0
            };
            delete_rows(
                conn,
                dangling.ns,
                dangling.types,
                dangling.def,
                index,
                Some(&dangling.condition),
                &[],
            )
            .await?;
            Ok(documents)
        }
        MissingPolicy::Reject => {
            removing(conn, schema, dangling, next).await?;
            reject_all(conn, dangling, schema, source, state, None, roots).await
        }
    }
}

/// Notes the documents `dangling` is about to remove whole (the roots of its rows) in `next`.
async fn removing(
    conn: &mut PgConnection,
    schema: &Schema,
    dangling: &Dangling<'_>,
    next: &mut Touched,
) -> Result<u64, RunError> {
    let found = sqlx::query(&sql::select_dangling(
        &dangling.qualified,
        &dangling.links,
        dangling.root_key(),
        &dangling.reference.column,
        &dangling.condition,
        CHUNK,
    ))
    .fetch_all(&mut *conn)
    .await
    .map_err(RunError::db(format!(
        "finding dangling references in {}.{}",
        dangling.table.name, dangling.reference.column
    )))?;
    let mut keys: Vec<String> = found.iter().map(|row| row.get::<String, _>(0)).collect();
    keys.sort();
    keys.dedup();
    for (target, values) in referenced_values(
        conn,
        schema,
        dangling.ns,
        dangling.types,
        dangling.model,
        &keys,
        true,
    )
    .await?
    {
        next.removed.entry(target).or_default().extend(values);
    }
    Ok(keys.len() as u64)
}

/// The restriction to the rows of table `index` that belong to the documents of set `set`.
async fn documents_of(
    conn: &mut PgConnection,
    ns: Namespace<'_>,
    types: &KeyTypes,
    def: &ModelDef,
    index: usize,
    set: i32,
) -> Result<String, RunError> {
    let root = def.table();
    let chain: Vec<(String, String, String)> = def
        .parent_chain(index)
        .into_iter()
        .map(|(parent, column)| {
            let parent = &def.tables[parent];
            (
                ns.qualify(&parent.name),
                parent.key_column().to_string(),
                column.to_string(),
            )
        })
        .collect();
    let key_sql_type = types.get(conn, ns, root, root.key_column()).await?;
    Ok(sql::restrict_to_documents(
        &chain,
        root.key_column(),
        &key_sql_type,
        set,
    ))
}

/// The numbers of the sets a round stores: the same for the same model or referenced column in
/// every transaction, so the statements that read them are the same text each time (prepared
/// once per connection, not parsed and planned again per transaction).
struct SetNumbers {
    models: usize,
    /// Every (table, column) a reference points at, in order.
    targets: Vec<(String, String)>,
}

impl SetNumbers {
    fn of(schema: &Schema) -> SetNumbers {
        let mut targets = Vec::new();
        for model in schema.models() {
            let def = model.def();
            for table in &def.tables {
                for reference in &table.references {
                    if let Some(t) = schema.resolve(def, &reference.target) {
                        targets.push((t.table.to_string(), t.column.to_string()));
                    }
                }
            }
        }
        targets.sort();
        targets.dedup();
        SetNumbers {
            models: schema.models().len(),
            targets,
        }
    }

    fn written(&self, model: usize) -> i32 {
        i32::try_from(model + 1).unwrap_or(i32::MAX)
    }

    /// After the models' numbers; a column no reference points at (none is expected) last.
    fn removed(&self, target: &(String, String)) -> i32 {
        let at = self
            .targets
            .binary_search(target)
            .unwrap_or(self.targets.len());
        i32::try_from(self.models + 1 + at).unwrap_or(i32::MAX)
    }
}

/// Empties the session's sets (a round's sets replace the previous round's).
async fn clear_sets(conn: &mut PgConnection) -> Result<(), RunError> {
    sqlx::query(sql::CLEAR_FOLLOW_SETS)
        .execute(&mut *conn)
        .await
        .map_err(RunError::db(
            "emptying the keys a follow transaction touched",
        ))?;
    Ok(())
}

async fn store_set(conn: &mut PgConnection, set: i32, values: &[String]) -> Result<(), RunError> {
    sqlx::query(sql::INSERT_FOLLOW_SET)
        .bind(set)
        .bind(values)
        .execute(&mut *conn)
        .await
        .map_err(RunError::db("noting the keys a follow transaction touched"))?;
    Ok(())
}
