//! Keys, foreign keys and indexes added after the load, over several sessions at once.
//!
//! Two statements run together only when their locks do not conflict: adding keys takes ACCESS
//! EXCLUSIVE on its table, `ADD FOREIGN KEY` SHARE ROW EXCLUSIVE on its table and on the table it
//! references, `CREATE INDEX` SHARE on its table; ACCESS EXCLUSIVE and SHARE ROW EXCLUSIVE
//! conflict with all three, SHARE only with those two. A statement starts when it conflicts with
//! none that is running, so the sessions never wait for each other and cannot deadlock. A
//! foreign key also waits for the keys of the table it references (PostgreSQL needs them). The
//! statements on the largest tables start first.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use sqlx::{Executor, PgConnection};

use super::ddl::Ddl;
use super::sql;
use crate::run_error::RunError;
use crate::state::{connect_as, CONTROL_APPLICATION};

/// SQLSTATE `foreign_key_violation`: a foreign key refused because values point at nothing.
const FOREIGN_KEY_VIOLATION: &str = "23503";
/// SQLSTATE `unique_violation`: keys refused because values repeat.
const UNIQUE_VIOLATION: &str = "23505";

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Keys,
    ForeignKey,
    Index,
}

#[derive(Debug)]
struct Item {
    what: String,
    statement: String,
    kind: Kind,
    /// Tables locked in SHARE ROW EXCLUSIVE or ACCESS EXCLUSIVE mode.
    exclusive: Vec<String>,
    /// The table locked in SHARE mode.
    shared: Option<String>,
    /// A table whose keys must exist first (the one a foreign key references).
    after_keys_of: Option<String>,
    size: i64,
    /// The constraints a `Keys` item adds.
    names: Vec<String>,
}

impl Item {
    /// Whether it locks `table`.
    fn touches(&self, table: &str) -> bool {
        self.exclusive.iter().any(|t| t == table) || self.shared.as_deref() == Some(table)
    }

    fn conflicts(&self, other: &Item) -> bool {
        let theirs: BTreeSet<&String> = other.exclusive.iter().chain(&other.shared).collect();
        self.exclusive.iter().any(|t| theirs.contains(t))
            || self
                .shared
                .as_ref()
                .is_some_and(|t| other.exclusive.contains(t))
    }
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
    run(items.into(), idle, busy).await
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

/// What the sessions have met so far.
#[derive(Debug, Default)]
struct Progress {
    /// Tables whose keys are pending or being added.
    unkeyed: BTreeSet<String>,
    refused_keys: Vec<RefusedKeys>,
    refused_foreign_key: Option<RunError>,
    failure: Option<RunError>,
}

impl Progress {
    /// Whether `item` may start next to `running`.
    fn ready(&self, item: &Item, running: &BTreeMap<usize, Item>) -> bool {
        let keyed = item
            .after_keys_of
            .as_ref()
            .is_none_or(|t| !self.unkeyed.contains(t));
        keyed && running.values().all(|r| !item.conflicts(r))
    }

    /// Takes in how `item` went.
    fn record(&mut self, item: Item, result: Result<(), sqlx::Error>) {
        if item.kind == Kind::Keys {
            for table in &item.exclusive {
                self.unkeyed.remove(table);
            }
        }
        let error = match result {
            Ok(()) => return,
            Err(e) => e,
        };
        let code = match &error {
            sqlx::Error::Database(db) => db.code().map(|c| c.to_string()),
            _ => None,
        };
        match (item.kind, code.as_deref()) {
            (Kind::Keys, Some(UNIQUE_VIOLATION)) => self.refused_keys.push(RefusedKeys {
                table: item.exclusive.first().cloned().unwrap_or_default(),
                error: RunError::db(item.what)(error),
            }),
            (Kind::ForeignKey, Some(FOREIGN_KEY_VIOLATION)) => {
                self.refused_foreign_key
                    .get_or_insert(RunError::db(item.what)(error));
            }
            _ => {
                self.failure.get_or_insert(RunError::db(item.what)(error));
            }
        }
    }

    /// Takes in that another session is done with `table`, having added the keys `added`:
    /// those are not added again.
    fn built_elsewhere(
        &mut self,
        table: &str,
        added: &BTreeSet<String>,
        pending: &mut VecDeque<Item>,
    ) {
        let keys_of_table = |i: &Item| i.kind == Kind::Keys && i.touches(table);
        pending.retain(|i| !(keys_of_table(i) && i.names.iter().all(|n| added.contains(n))));
        if !pending.iter().any(keys_of_table) {
            self.unkeyed.remove(table);
        }
    }

    /// Drops from `pending` what is of no use any more: everything but keys once keys are
    /// refused (the tables are loaded again), the foreign keys once one is refused (they will be
    /// dropped).
    fn prune(&self, pending: &mut VecDeque<Item>) {
        if !self.refused_keys.is_empty() {
            pending.retain(|i| i.kind == Kind::Keys);
        } else if self.refused_foreign_key.is_some() {
            pending.retain(|i| i.kind != Kind::ForeignKey);
        }
    }
}

/// What the scheduler waits for next.
enum Next<T> {
    /// The busy session ended, having added these keys.
    Busy(BTreeSet<String>),
    /// A statement ended (`None`: none is running).
    Statement(Option<T>),
}

async fn run(
    mut pending: VecDeque<Item>,
    mut idle: Vec<PgConnection>,
    mut busy: Option<Busy>,
) -> Result<Added, RunError> {
    let mut progress = Progress {
        unkeyed: pending
            .iter()
            .filter(|i| i.kind == Kind::Keys)
            .flat_map(|i| i.exclusive.iter().cloned())
            .collect(),
        ..Progress::default()
    };
    let mut running: BTreeMap<usize, Item> = BTreeMap::new();
    let mut tasks = tokio::task::JoinSet::new();
    let mut next_id = 0usize;
    loop {
        progress.prune(&mut pending);
        while progress.failure.is_none() && !idle.is_empty() {
            let free = |i: &Item| busy.as_ref().is_none_or(|b| !i.touches(&b.table));
            let Some(pos) = pending
                .iter()
                .position(|i| free(i) && progress.ready(i, &running))
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
                let result = conn.execute(statement.as_str()).await.map(|_| ());
                (id, conn, result)
            });
        }
        let next = match busy.as_mut() {
            Some(b) => tokio::select! {
                added = &mut b.done => Next::Busy(added.unwrap_or_default()),
                done = tasks.join_next(), if !tasks.is_empty() => Next::Statement(done),
            },
            None => Next::Statement(tasks.join_next().await),
        };
        let done = match next {
            Next::Busy(added) => {
                if let Some(b) = busy.take() {
                    progress.built_elsewhere(&b.table, &added, &mut pending);
                }
                continue;
            }
            Next::Statement(Some(done)) => done,
            Next::Statement(None) => break,
        };
        let (id, conn, result) = match done {
            Ok(d) => d,
            Err(e) => {
                progress.failure.get_or_insert(RunError::Internal(format!(
                    "a constraint session failed: {e}"
                )));
                continue;
            }
        };
        idle.push(conn);
        if let Some(item) = running.remove(&id) {
            progress.record(item, result);
        }
    }
    if progress.failure.is_none() {
        if let Some(stuck) = pending.front() {
            progress.failure = Some(RunError::Internal(format!(
                "{} could not start (it waits for keys that were never added)",
                stuck.what
            )));
        }
    }
    match progress {
        Progress {
            failure: Some(e), ..
        } => Err(e),
        Progress { refused_keys, .. } if !refused_keys.is_empty() => {
            Ok(Added::KeysRefused(refused_keys))
        }
        Progress {
            refused_foreign_key: Some(e),
            ..
        } => Ok(Added::ForeignKeyRefused(e)),
        _ => Ok(Added::All),
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
            kind: Kind::ForeignKey,
            exclusive: vec![table.into(), target.into()],
            shared: None,
            after_keys_of: Some(target.into()),
            size: 0,
            names: Vec::new(),
        }
    }

    fn index(table: &str) -> Item {
        Item {
            what: String::new(),
            statement: String::new(),
            kind: Kind::Index,
            exclusive: Vec::new(),
            shared: Some(table.into()),
            after_keys_of: None,
            size: 0,
            names: Vec::new(),
        }
    }

    fn keys(table: &str) -> Item {
        Item {
            what: String::new(),
            statement: String::new(),
            kind: Kind::Keys,
            exclusive: vec![table.into()],
            shared: None,
            after_keys_of: None,
            size: 0,
            names: vec![format!("{table}_pkey")],
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
            (
                keys("a"),
                index("a"),
                true,
                "access exclusive against share",
            ),
            (
                keys("a"),
                fk("b", "a"),
                true,
                "access exclusive against share row exclusive",
            ),
            (keys("a"), keys("b"), false, "keys of two tables"),
        ];
        for (x, y, conflict, why) in cases {
            assert_eq!(x.conflicts(&y), conflict, "{why}");
            assert_eq!(y.conflicts(&x), conflict, "{why} (swapped)");
        }
    }

    #[test]
    fn a_foreign_key_waits_for_the_keys_it_references() {
        let mut progress = Progress {
            unkeyed: ["a".to_string()].into(),
            ..Progress::default()
        };
        let running = BTreeMap::new();
        assert!(
            !progress.ready(&fk("b", "a"), &running),
            "a has no keys yet"
        );
        assert!(
            progress.ready(&fk("a", "c"), &running),
            "the referencing table's own keys are not needed"
        );
        assert!(progress.ready(&index("a"), &running));
        progress.record(keys("a"), Ok(()));
        assert!(progress.ready(&fk("b", "a"), &running));
        let busy = BTreeMap::from([(0, keys("b"))]);
        assert!(!progress.ready(&fk("b", "a"), &busy), "b is locked");
    }

    #[test]
    fn keys_another_session_added_are_not_added_again() {
        let mut progress = Progress {
            unkeyed: ["a".to_string(), "b".to_string()].into(),
            ..Progress::default()
        };
        let mut pending: VecDeque<Item> = [keys("a"), index("a"), fk("c", "a"), keys("b")].into();
        let running = BTreeMap::new();
        assert!(!progress.ready(&fk("c", "a"), &running));
        // The other session added b's keys, not a's: a's stay to be added.
        progress.built_elsewhere("a", &["b_pkey".to_string()].into(), &mut pending);
        assert_eq!(pending.len(), 4);
        assert!(progress.unkeyed.contains("a"));
        progress.built_elsewhere("a", &["a_pkey".to_string()].into(), &mut pending);
        assert_eq!(pending.len(), 3, "a's keys exist");
        assert!(pending
            .iter()
            .all(|i| !(i.kind == Kind::Keys && i.touches("a"))));
        assert!(
            progress.ready(&fk("c", "a"), &running),
            "its foreign keys may start"
        );
        assert!(progress.unkeyed.contains("b"));
    }
}
