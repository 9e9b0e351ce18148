//! Foreign keys and indexes added after the load, over several sessions at once.
//!
//! Two statements run together only when their locks do not conflict: `ADD FOREIGN KEY` takes
//! SHARE ROW EXCLUSIVE on its table and on the table it references, `CREATE INDEX` takes SHARE
//! on its table, and SHARE ROW EXCLUSIVE conflicts with both while SHARE only conflicts with
//! SHARE ROW EXCLUSIVE. A statement starts when it conflicts with none that is running, so the
//! sessions never wait for each other and cannot deadlock. The statements on the largest tables
//! start first.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use sqlx::{Executor, PgConnection};

use super::ddl::Ddl;
use super::sql;
use crate::run_error::RunError;
use crate::state::{connect_as, CONTROL_APPLICATION};

/// SQLSTATE `foreign_key_violation`: a foreign key refused because values point at nothing.
const FOREIGN_KEY_VIOLATION: &str = "23503";

/// What to add.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Work {
    pub foreign_keys: bool,
    pub indexes: bool,
}

/// How adding the foreign keys went.
#[derive(Debug)]
pub enum ForeignKeys {
    /// Every one exists now.
    Added,
    /// At least one was refused because values dangle (the first refusal); the others that were
    /// added stay.
    Refused(RunError),
}

#[derive(Debug)]
struct Item {
    what: String,
    statement: String,
    /// Tables locked in SHARE ROW EXCLUSIVE mode.
    exclusive: Vec<String>,
    /// The table locked in SHARE mode.
    shared: Option<String>,
    foreign_key: bool,
    size: i64,
}

impl Item {
    fn conflicts(&self, other: &Item) -> bool {
        let theirs: BTreeSet<&String> = other.exclusive.iter().chain(&other.shared).collect();
        self.exclusive.iter().any(|t| theirs.contains(t))
            || self
                .shared
                .as_ref()
                .is_some_and(|t| other.exclusive.contains(t))
    }
}

/// Adds the foreign keys that do not exist yet and/or every index (`IF NOT EXISTS`) of `ddl`
/// over `sessions` connections to `url`. Idempotent, so a resumed run calls it again.
pub async fn add(
    url: &str,
    target_schema: &str,
    ddl: &Ddl,
    sessions: usize,
    work: Work,
) -> Result<ForeignKeys, RunError> {
    let mut control = connect_as(url, CONTROL_APPLICATION).await?;
    let existing: BTreeSet<String> = sqlx::query_scalar(sql::CONSTRAINT_NAMES)
        .bind(target_schema)
        .fetch_all(&mut control)
        .await
        .map_err(RunError::db("listing existing constraints"))?
        .into_iter()
        .collect();
    let sizes: BTreeMap<String, i64> = sqlx::query_as(sql::TABLE_SIZES)
        .bind(target_schema)
        .fetch_all(&mut control)
        .await
        .map_err(RunError::db("reading table sizes"))?
        .into_iter()
        .collect();
    let mut items = Vec::new();
    if work.foreign_keys {
        for (i, (name, statement)) in ddl.foreign_keys.iter().enumerate() {
            let Some((table, target)) = ddl.foreign_key_tables.get(i) else {
                continue;
            };
            if existing.contains(name) {
                continue;
            }
            items.push(Item {
                what: format!("adding foreign key {name}"),
                statement: statement.clone(),
                exclusive: vec![table.clone(), target.clone()],
                shared: None,
                foreign_key: true,
                size: sizes.get(table).copied().unwrap_or(0),
            });
        }
    }
    if work.indexes {
        for (statement, table) in ddl.indexes.iter().zip(&ddl.index_tables) {
            items.push(Item {
                what: format!("creating index on {table}"),
                statement: sql::if_missing(statement),
                exclusive: Vec::new(),
                shared: Some(table.clone()),
                foreign_key: false,
                size: sizes.get(table).copied().unwrap_or(0),
            });
        }
    }
    // Largest tables first; a table's foreign keys before its indexes.
    items.sort_by_key(|i| (std::cmp::Reverse(i.size), !i.foreign_key));
    let sessions = sessions.max(1).min(items.len());
    let mut idle = vec![control];
    while idle.len() < sessions {
        idle.push(connect_as(url, CONTROL_APPLICATION).await?);
    }
    // Hundreds of short statements: none waits for its WAL flush (the run's next stage commit
    // waits for all of them, and a resume adds whatever a crash lost).
    for conn in &mut idle {
        conn.execute(sql::ASYNC_COMMIT)
            .await
            .map_err(RunError::db("setting up a constraint session"))?;
    }
    run(items.into(), idle).await
}

async fn run(
    mut pending: VecDeque<Item>,
    mut idle: Vec<PgConnection>,
) -> Result<ForeignKeys, RunError> {
    let mut running: BTreeMap<usize, Item> = BTreeMap::new();
    let mut tasks = tokio::task::JoinSet::new();
    let mut refused: Option<RunError> = None;
    let mut failure: Option<RunError> = None;
    let mut next_id = 0usize;
    loop {
        while failure.is_none() && !idle.is_empty() {
            // Once a foreign key is refused the others are of no use: they will be dropped.
            if refused.is_some() {
                pending.retain(|i| !i.foreign_key);
            }
            let Some(pos) = pending
                .iter()
                .position(|i| running.values().all(|r| !i.conflicts(r)))
            else {
                break;
            };
            let (Some(item), Some(mut conn)) = (pending.remove(pos), idle.pop()) else {
                break;
            };
            let id = next_id;
            next_id += 1;
            let statement = item.statement.clone();
            running.insert(id, item);
            tasks.spawn(async move {
                // Run once each: the simple protocol, nothing to prepare.
                let result = conn.execute(statement.as_str()).await;
                (id, conn, result)
            });
        }
        let Some(done) = tasks.join_next().await else {
            break;
        };
        let (id, conn, result) = match done {
            Ok(d) => d,
            Err(e) => {
                failure.get_or_insert(RunError::Internal(format!(
                    "a constraint session failed: {e}"
                )));
                continue;
            }
        };
        idle.push(conn);
        let Some(item) = running.remove(&id) else {
            continue;
        };
        match result {
            Ok(_) => {}
            Err(sqlx::Error::Database(db))
                if item.foreign_key && db.code().as_deref() == Some(FOREIGN_KEY_VIOLATION) =>
            {
                refused.get_or_insert(RunError::db(item.what)(sqlx::Error::Database(db)));
            }
            Err(e) => {
                failure.get_or_insert(RunError::db(item.what)(e));
            }
        }
    }
    match (failure, refused) {
        (Some(e), _) => Err(e),
        (None, Some(e)) => Ok(ForeignKeys::Refused(e)),
        (None, None) => Ok(ForeignKeys::Added),
    }
}

/// Drops every foreign key of `ddl` that exists (before resolving references, which may delete
/// rows they would protect).
pub async fn drop_foreign_keys(
    conn: &mut PgConnection,
    target_schema: &str,
    ddl: &Ddl,
) -> Result<(), RunError> {
    for (name, _) in &ddl.foreign_keys {
        let table: Option<(String, String)> = sqlx::query_as(sql::CONSTRAINT_TABLE)
            .bind(name)
            .bind(target_schema)
            .fetch_optional(&mut *conn)
            .await
            .map_err(RunError::db(format!(
                "finding the table of constraint {name}"
            )))?;
        if let Some((schema, table)) = table {
            sqlx::query(&sql::drop_constraint(&schema, &table, name))
                .execute(&mut *conn)
                .await
                .map_err(RunError::db(format!("dropping foreign key {name}")))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fk(table: &str, target: &str) -> Item {
        Item {
            what: String::new(),
            statement: String::new(),
            exclusive: vec![table.into(), target.into()],
            shared: None,
            foreign_key: true,
            size: 0,
        }
    }

    fn index(table: &str) -> Item {
        Item {
            what: String::new(),
            statement: String::new(),
            exclusive: Vec::new(),
            shared: Some(table.into()),
            foreign_key: false,
            size: 0,
        }
    }

    #[test]
    fn lock_conflicts_follow_postgres_modes() {
        let cases = [
            (fk("a", "b"), fk("c", "b"), true, "both lock b"),
            (fk("a", "b"), fk("c", "d"), false, "disjoint"),
            (
                fk("a", "b"),
                index("b"),
                true,
                "share against share row exclusive",
            ),
            (index("a"), fk("c", "a"), true, "the other way round"),
            (index("a"), index("a"), false, "two indexes on one table"),
            (index("a"), index("b"), false, "two tables"),
            (fk("a", "a"), fk("a", "b"), true, "a self-reference"),
        ];
        for (x, y, conflict, why) in cases {
            assert_eq!(x.conflicts(&y), conflict, "{why}");
            assert_eq!(y.conflicts(&x), conflict, "{why} (swapped)");
        }
    }
}
