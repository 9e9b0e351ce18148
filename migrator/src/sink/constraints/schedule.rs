//! The scheduler: which statement starts next on which session.
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

use super::{Added, Busy, RefusedKeys};
use crate::run_error::RunError;

/// SQLSTATE `foreign_key_violation`: a foreign key refused because values point at nothing.
const FOREIGN_KEY_VIOLATION: &str = "23503";
/// SQLSTATE `unique_violation`: keys refused because values repeat.
const UNIQUE_VIOLATION: &str = "23505";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Kind {
    Keys,
    ForeignKey,
    Index,
}

#[derive(Debug)]
pub(super) struct Item {
    pub(super) what: String,
    pub(super) statement: String,
    pub(super) kind: Kind,
    /// Tables locked in SHARE ROW EXCLUSIVE or ACCESS EXCLUSIVE mode.
    pub(super) exclusive: Vec<String>,
    /// The table locked in SHARE mode.
    pub(super) shared: Option<String>,
    /// A table whose keys must exist first (the one a foreign key references).
    pub(super) after_keys_of: Option<String>,
    pub(super) size: i64,
    /// The constraints a `Keys` item adds.
    pub(super) names: Vec<String>,
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

pub(super) async fn run(
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
