//! Keys, foreign keys and indexes added after the load, over several sessions at once (see
//! `schedule.rs` for the order they run in).

mod schedule;

use std::collections::{BTreeMap, BTreeSet};

use sqlx::{Executor, PgConnection};

use self::schedule::{Item, Kind};
use super::ddl::Ddl;
use super::sql;
use crate::run_error::RunError;
use crate::state::{connect_as, CONTROL_APPLICATION};

/// What to add.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Work {
    /// Primary keys and unique constraints.
    pub keys: bool,
    pub foreign_keys: bool,
    pub indexes: bool,
}

impl Work {
    /// Keys, foreign keys and indexes.
    pub const ALL: Work = Work {
        keys: true,
        foreign_keys: true,
        indexes: true,
    };
}

/// How adding them went.
#[derive(Debug)]
pub enum Added {
    /// Every one asked for exists now.
    All,
    /// The keys of these tables were refused because values repeat. Every other table's keys
    /// were added; no foreign key or index was started after the first refusal.
    KeysRefused(Vec<RefusedKeys>),
    /// Every key was added, and at least one foreign key was refused because values dangle (the
    /// first refusal); the others that were added stay.
    ForeignKeyRefused(RunError),
}

/// The keys of a table that its rows do not allow.
#[derive(Debug)]
pub struct RefusedKeys {
    pub table: String,
    pub error: RunError,
}

/// A table another session is still building keys or indexes of (the load's early keys): its
/// statements here wait until that session is done, and do not add again the keys it added.
#[derive(Debug)]
pub struct Busy {
    pub table: String,
    /// Ends with the names of the keys that session added.
    pub done: tokio::task::JoinHandle<BTreeSet<String>>,
}

/// Connections ready for [`add_on`], opened ahead (while a load ends, say).
#[derive(Debug)]
pub struct Sessions(Vec<PgConnection>);

/// Opens `count` (at least one) sessions to `url` at once, none of them waiting for the WAL
/// flush of its commits: hundreds of short statements, and the run's next stage commit waits for
/// all of them (a resume adds whatever a crash lost).
pub async fn open(url: &str, count: usize) -> Result<Sessions, RunError> {
    let mut opening = tokio::task::JoinSet::new();
    for _ in 0..count.max(1) {
        let url = url.to_string();
        opening.spawn(async move { session(&url).await });
    }
    let mut sessions = Vec::with_capacity(count.max(1));
    while let Some(opened) = opening.join_next().await {
        let conn = opened
            .map_err(|e| RunError::Internal(format!("opening a constraint session: {e}")))??;
        sessions.push(conn);
    }
    Ok(Sessions(sessions))
}

/// [`open`], starting with `reused` connections that were set up the same way (the load's
/// writers, whose commits do not wait for their WAL flush either): no session to start, and
/// their caches already hold the tables. One that fails to answer is replaced.
pub async fn open_reusing(
    url: &str,
    count: usize,
    reused: Vec<PgConnection>,
) -> Result<Sessions, RunError> {
    let mut sessions = Vec::with_capacity(count.max(1));
    let rename = sql::set_application_name(CONTROL_APPLICATION);
    for mut conn in reused.into_iter().take(count.max(1)) {
        if conn.execute(rename.as_str()).await.is_ok() {
            sessions.push(conn);
        }
    }
    let missing = count.max(1) - sessions.len();
    if missing > 0 {
        sessions.extend(open(url, missing).await?.0);
    }
    Ok(Sessions(sessions))
}

/// One session for building keys and indexes: its commits do not wait for their WAL flush.
pub async fn session(url: &str) -> Result<PgConnection, RunError> {
    let mut conn = connect_as(url, CONTROL_APPLICATION).await?;
    conn.execute(sql::ASYNC_COMMIT)
        .await
        .map_err(RunError::db("setting up a constraint session"))?;
    Ok(conn)
}

/// Adds the keys and foreign keys that do not exist yet and/or every index (`IF NOT EXISTS`) of
/// `ddl` over `sessions` connections to `url`. Idempotent, so a resumed run calls it again.
pub async fn add(
    url: &str,
    target_schema: &str,
    ddl: &Ddl,
    sessions: usize,
    work: Work,
) -> Result<Added, RunError> {
    add_on(open(url, sessions).await?, target_schema, ddl, work, None).await
}

/// [`add`] over sessions opened before, next to a session still `busy` with one table, if any.
pub async fn add_on(
    sessions: Sessions,
    target_schema: &str,
    ddl: &Ddl,
    work: Work,
    busy: Option<Busy>,
) -> Result<Added, RunError> {
    let mut idle = sessions.0;
    let Some(control) = idle.first_mut() else {
        return Err(RunError::Internal("no constraint session".into()));
    };
    let existing = existing_names(control, target_schema).await?;
    let busy_table = busy.as_ref().map_or("", |b| b.table.as_str());
    let sizes: BTreeMap<String, i64> = sqlx::query_as(sql::TABLE_SIZES)
        .bind(target_schema)
        .bind(busy_table)
        .fetch_all(&mut *control)
        .await
        .map_err(RunError::db("reading table sizes"))?
        .into_iter()
        .collect();
    // The busy table was just loaded, and its statements wait: they go first once it is free.
    let size = |table: &str| match sizes.get(table) {
        Some(size) => *size,
        None if table == busy_table => i64::MAX,
        None => 0,
    };
    let mut items = Vec::new();
    if work.keys {
        for keys in &ddl.keys {
            if keys.exist_in(&existing) {
                continue;
            }
            items.push(Item {
                what: format!(
                    "adding the keys of {} ({})",
                    keys.table,
                    keys.names.join(", ")
                ),
                statement: keys.statement.clone(),
                kind: Kind::Keys,
                exclusive: vec![keys.table.clone()],
                shared: None,
                after_keys_of: None,
                size: size(&keys.table),
                names: keys.names.clone(),
            });
        }
    }
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
                kind: Kind::ForeignKey,
                exclusive: vec![table.clone(), target.clone()],
                shared: None,
                after_keys_of: Some(target.clone()),
                size: size(table),
                names: Vec::new(),
            });
        }
    }
    if work.indexes {
        for (statement, table) in ddl.indexes.iter().zip(&ddl.index_tables) {
            items.push(Item {
                what: format!("creating index on {table}"),
                statement: sql::if_missing(statement),
                kind: Kind::Index,
                exclusive: Vec::new(),
                shared: Some(table.clone()),
                after_keys_of: None,
                size: size(table),
                names: Vec::new(),
            });
        }
    }
    if items.is_empty() {
        if let Some(busy) = busy {
            let _ = busy.done.await;
        }
        return Ok(Added::All);
    }
    // Largest tables first; a table's keys, then its foreign keys, then its indexes.
    items.sort_by_key(|i| (std::cmp::Reverse(i.size), i.kind));
    idle.truncate(items.len());
    schedule::run(items.into(), idle, busy).await
}

/// The names of every constraint in `target_schema`.
pub async fn existing_names(
    conn: &mut PgConnection,
    target_schema: &str,
) -> Result<BTreeSet<String>, RunError> {
    Ok(sqlx::query_scalar(sql::CONSTRAINT_NAMES)
        .bind(target_schema)
        .fetch_all(conn)
        .await
        .map_err(RunError::db("listing existing constraints"))?
        .into_iter()
        .collect())
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
