//! The run's state in the target database: the lock, the settings fingerprint, and per-partition
//! checkpoints (written in the same transaction as the batch they record, see
//! [`crate::sink::postgres`]).

use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};
use sqlx::{Connection, PgConnection, Row};

use crate::run_error::RunError;
use crate::sink::sql;
use crate::source::{ChangeStart, ClusterTime, Partition, Position, SourceStamp};

mod ranges;

/// What must not change between a run and its resume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// A hash of the DDL the schema generates (tables, columns, keys, references).
    pub schema: String,
    /// The kind of source (`dump`, `archive`, `export`, `mongo`): positions mean different things.
    pub source_kind: String,
    /// The PostgreSQL schema the tables are in.
    pub target_schema: String,
    /// The maximum partitions per collection (the partition plan depends on it).
    pub partitions: usize,
    /// `create` or `existing`.
    pub schema_mode: String,
}

impl Fingerprint {
    /// What differs from `other`, in words.
    pub fn differences(&self, other: &Fingerprint) -> Vec<String> {
        let mut out = Vec::new();
        let mut cmp = |what: &str, a: &dyn std::fmt::Display, b: &dyn std::fmt::Display| {
            if a.to_string() != b.to_string() {
                out.push(format!("{what} was {b}, now {a}"));
            }
        };
        cmp("the schema's DDL hash", &self.schema, &other.schema);
        cmp("the source kind", &self.source_kind, &other.source_kind);
        cmp(
            "the target schema",
            &self.target_schema,
            &other.target_schema,
        );
        cmp("--partitions", &self.partitions, &other.partitions);
        cmp("--schema-mode", &self.schema_mode, &other.schema_mode);
        out
    }
}

/// A stable 64-bit FNV-1a hash, as hex, for fingerprints.
pub fn stable_hash(text: &str) -> String {
    stable_hash_bytes(text.as_bytes())
}

/// [`stable_hash`] of bytes.
pub fn stable_hash_bytes(bytes: &[u8]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// How far the run got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RunStage {
    /// Nothing yet (no run row).
    New,
    /// Tables created; documents being loaded.
    Loading,
    /// All partitions done; dangling references being resolved.
    References,
    /// Foreign keys and indexes being added.
    Constraints,
    /// Finished.
    Done,
}

impl RunStage {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStage::New => "new",
            RunStage::Loading => "loading",
            RunStage::References => "references",
            RunStage::Constraints => "constraints",
            RunStage::Done => "done",
        }
    }

    fn parse(s: &str) -> RunStage {
        match s {
            "loading" => RunStage::Loading,
            "references" => RunStage::References,
            "constraints" => RunStage::Constraints,
            "done" => RunStage::Done,
            _ => RunStage::New,
        }
    }
}

/// One partition's committed progress.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    pub collection: String,
    pub partition: Partition,
    pub position: Position,
    pub documents: i64,
    pub rows_written: i64,
    pub dead_letters: i64,
    pub batches: i64,
    pub done: bool,
    pub seconds: f64,
}

/// The state schema of one target.
#[derive(Debug, Clone)]
pub struct StateStore {
    schema: String,
    /// The run epoch this run took over the target with ([`StateStore::begin`]), shared by the
    /// clones its writers hold: their batches commit only while it is the target's.
    epoch: Arc<OnceLock<i64>>,
}

impl StateStore {
    pub fn new(schema: impl Into<String>) -> Self {
        StateStore {
            schema: schema.into(),
            epoch: Arc::default(),
        }
    }

    /// The epoch batches are fenced by (`None` before [`StateStore::begin`]: unfenced).
    pub fn epoch(&self) -> Option<i64> {
        self.epoch.get().copied()
    }

    pub fn schema(&self) -> &str {
        &self.schema
    }

    fn lock_key(&self) -> i64 {
        let hash = stable_hash(&format!("migrator:{}", self.schema));
        i64::from_str_radix(&hash[..15], 16).unwrap_or(0x6d69_6772)
    }

    /// Takes the run lock for this connection's session, or fails if another run holds it.
    pub async fn lock(&self, conn: &mut PgConnection) -> Result<(), RunError> {
        let got: bool = sqlx::query_scalar(sql::TRY_ADVISORY_LOCK)
            .bind(self.lock_key())
            .fetch_one(&mut *conn)
            .await
            .map_err(RunError::db("taking the run lock"))?;
        if got {
            Ok(())
        } else {
            Err(RunError::Locked {
                state: self.schema.clone(),
            })
        }
    }

    pub async fn unlock(&self, conn: &mut PgConnection) -> Result<(), RunError> {
        sqlx::query(sql::ADVISORY_UNLOCK)
            .bind(self.lock_key())
            .execute(&mut *conn)
            .await
            .map_err(RunError::db("releasing the run lock"))?;
        Ok(())
    }

    /// Creates the state tables if missing.
    pub async fn init(&self, conn: &mut PgConnection) -> Result<(), RunError> {
        let what = format!("create the state schema `{}`", self.schema);
        crate::sink::ddl::execute_all(conn, &what, &sql::create_state(&self.schema)).await
    }

    /// Drops all state (the tables stay; `--restart` and `reset --drop-tables` drop both in one
    /// transaction).
    pub async fn drop(&self, conn: &mut PgConnection) -> Result<(), RunError> {
        sqlx::query(&sql::drop_state(&self.schema))
            .execute(&mut *conn)
            .await
            .map_err(RunError::db("dropping the state schema"))?;
        Ok(())
    }

    /// Makes the run's load time (see [`crate::load_time`]) this process's: the one recorded,
    /// or this process's, recorded now. The state schema exists.
    pub async fn settle_load_time(&self, conn: &mut PgConnection) -> Result<(), RunError> {
        let millis: i64 = sqlx::query_scalar(&sql::settle_load_time(&self.schema))
            .bind(crate::load_time().timestamp_millis())
            .fetch_one(&mut *conn)
            .await
            .map_err(RunError::db("recording the load time"))?;
        crate::value::adopt_load_time(bson::DateTime::from_millis(millis));
        Ok(())
    }

    /// Makes the load time a run recorded this process's (for `validate`), if there is one.
    pub async fn adopt_load_time(&self, conn: &mut PgConnection) -> Result<(), RunError> {
        let exists: bool = sqlx::query_scalar(sql::TABLE_EXISTS)
            .bind(&self.schema)
            .bind("load_time")
            .fetch_one(&mut *conn)
            .await
            .map_err(RunError::db("reading the load time"))?;
        if !exists {
            return Ok(());
        }
        let millis: Option<i64> = sqlx::query_scalar(&sql::select_load_time(&self.schema))
            .fetch_optional(&mut *conn)
            .await
            .map_err(RunError::db("reading the load time"))?;
        if let Some(millis) = millis {
            crate::value::adopt_load_time(bson::DateTime::from_millis(millis));
        }
        Ok(())
    }

    /// The stage and fingerprint of the run in this target, if one started.
    pub async fn current(
        &self,
        conn: &mut PgConnection,
    ) -> Result<Option<(Fingerprint, RunStage)>, RunError> {
        let exists: bool = sqlx::query_scalar(sql::TABLE_EXISTS)
            .bind(&self.schema)
            .bind("run")
            .fetch_one(&mut *conn)
            .await
            .map_err(RunError::db("reading the run state"))?;
        if !exists {
            return Ok(None);
        }
        let row = sqlx::query(&sql::select_run(&self.schema))
            .fetch_optional(&mut *conn)
            .await
            .map_err(RunError::db("reading the run state"))?;
        let Some(row) = row else {
            return Ok(None);
        };
        let fp: serde_json::Value = row.get(0);
        let stage: String = row.get(1);
        let fp: Fingerprint = serde_json::from_value(fp)
            .map_err(|e| RunError::Internal(format!("unreadable run fingerprint: {e}")))?;
        Ok(Some((fp, RunStage::parse(&stage))))
    }

    /// Starts a run or checks that the existing one has the same fingerprint, then takes the
    /// target over (see [`StateStore::take_over`]). A new run records `start`, where the
    /// source's change stream stood before anything was read, in the run record's transaction.
    pub async fn begin(
        &self,
        conn: &mut PgConnection,
        fingerprint: &Fingerprint,
        start: Option<&ChangeStart>,
    ) -> Result<RunStage, RunError> {
        self.init(conn).await?;
        let stage = self.begin_run(conn, fingerprint, start).await?;
        self.take_over(conn).await?;
        Ok(stage)
    }

    /// Makes this run's epoch the target's: the batches of a previous run that are committing
    /// finish first, and none commits after (a run whose control session was terminated still
    /// has writers; they stop at their next batch). Called once the run lock is held.
    pub async fn take_over(&self, conn: &mut PgConnection) -> Result<i64, RunError> {
        let epoch: i64 = sqlx::query_scalar(&sql::take_over(&self.schema))
            .fetch_one(&mut *conn)
            .await
            .map_err(RunError::db("taking the target over from any previous run"))?;
        let _ = self.epoch.set(epoch);
        Ok(self.epoch().unwrap_or(epoch))
    }

    async fn begin_run(
        &self,
        conn: &mut PgConnection,
        fingerprint: &Fingerprint,
        start: Option<&ChangeStart>,
    ) -> Result<RunStage, RunError> {
        match self.current(conn).await? {
            Some((stored, stage)) => {
                let differences = fingerprint.differences(&stored);
                if differences.is_empty() {
                    Ok(stage)
                } else {
                    Err(RunError::CheckpointMismatch {
                        state: self.schema.clone(),
                        differences,
                    })
                }
            }
            None => {
                let fp = serde_json::to_value(fingerprint)
                    .map_err(|e| RunError::Internal(e.to_string()))?;
                let mut tx = conn
                    .begin()
                    .await
                    .map_err(RunError::db("recording the run"))?;
                sqlx::query(&sql::insert_run(&self.schema))
                    .bind(fp)
                    .bind(RunStage::New.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(RunError::db("recording the run"))?;
                if let Some(start) = start {
                    let point = serde_json::to_value(start)
                        .map_err(|e| RunError::Internal(format!("unwritable start point: {e}")))?;
                    sqlx::query(&sql::insert_follow_start(&self.schema))
                        .bind(point)
                        .bind(start.cluster_time.map(ClusterTime::packed))
                        .execute(&mut *tx)
                        .await
                        .map_err(RunError::db("recording the change stream's start point"))?;
                }
                tx.commit()
                    .await
                    .map_err(RunError::db("recording the run"))?;
                Ok(RunStage::New)
            }
        }
    }

    pub async fn set_stage(
        &self,
        conn: &mut PgConnection,
        stage: RunStage,
    ) -> Result<(), RunError> {
        sqlx::query(&sql::update_stage(&self.schema))
            .bind(stage.as_str())
            .execute(&mut *conn)
            .await
            .map_err(RunError::db("recording the run stage"))?;
        Ok(())
    }

    /// What each planned collection's source was when it was planned (collections planned by
    /// a version that recorded nothing, or from a source that cannot say, are not listed).
    pub async fn source_stamps(
        &self,
        conn: &mut PgConnection,
    ) -> Result<Vec<(String, SourceStamp)>, RunError> {
        let rows = sqlx::query(&sql::select_source_stamps(&self.schema))
            .fetch_all(&mut *conn)
            .await
            .map_err(RunError::db("reading what the sources were when planned"))?;
        rows.into_iter()
            .map(|row| {
                let collection: String = row.get(0);
                let stamp: serde_json::Value = row.get(1);
                let stamp = serde_json::from_value(stamp).map_err(|e| {
                    RunError::Internal(format!(
                        "unreadable source stamp of `{collection}` in {}.sources: {e}",
                        self.schema
                    ))
                })?;
                Ok((collection, stamp))
            })
            .collect()
    }

    /// Every partition's checkpoint.
    pub async fn checkpoints(&self, conn: &mut PgConnection) -> Result<Vec<Checkpoint>, RunError> {
        let rows = sqlx::query(&sql::select_checkpoints(&self.schema))
            .fetch_all(&mut *conn)
            .await
            .map_err(RunError::db("reading checkpoints"))?;
        rows.into_iter()
            .map(|row| {
                let collection: String = row.get(0);
                let bounds: serde_json::Value = row.get(2);
                let position: serde_json::Value = row.get(3);
                let partition_index: i32 = row.get(1);
                let bad = |e: serde_json::Error| {
                    RunError::Internal(format!(
                        "unreadable checkpoint of `{collection}` partition {partition_index} in {}.checkpoints: {e}",
                        self.schema
                    ))
                };
                let mut partition: Partition = serde_json::from_value(bounds).map_err(bad)?;
                partition.index = u32::try_from(partition_index).unwrap_or_default();
                let position = serde_json::from_value(position).map_err(bad)?;
                Ok(Checkpoint {
                    collection,
                    partition,
                    position,
                    documents: row.get(4),
                    rows_written: row.get(5),
                    dead_letters: row.get(6),
                    batches: row.get(7),
                    done: row.get(8),
                    seconds: row.get(9),
                })
            })
            .collect()
    }

    /// Forgets the load of `collections` (whose tables are `tables`): their checkpoints, dead
    /// letters and written-row counts, so the next load reads them again from the start. Runs
    /// in the caller's transaction, which empties the tables.
    pub async fn forget_loads(
        &self,
        conn: &mut PgConnection,
        collections: &[String],
        tables: &[String],
    ) -> Result<(), RunError> {
        let failed = || {
            RunError::db(format!(
                "forgetting the load of `{}`",
                collections.join("`, `")
            ))
        };
        for statement in sql::forget_loads(&self.schema) {
            sqlx::query(&statement)
                .bind(collections)
                .execute(&mut *conn)
                .await
                .map_err(failed())?;
        }
        sqlx::query(&sql::forget_table_rows(&self.schema))
            .bind(tables)
            .execute(&mut *conn)
            .await
            .map_err(failed())?;
        Ok(())
    }

    /// Rows written per table so far.
    pub async fn table_rows(
        &self,
        conn: &mut PgConnection,
    ) -> Result<Vec<(String, i64)>, RunError> {
        let rows = sqlx::query(&sql::select_table_rows(&self.schema))
            .fetch_all(&mut *conn)
            .await
            .map_err(RunError::db("reading table row counts"))?;
        Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
    }
}

/// The `application_name` of the run's control connection (lock, state, post-load stages).
pub const CONTROL_APPLICATION: &str = "migrator";
/// The `application_name` of connections that write batches.
pub const WRITER_APPLICATION: &str = "migrator-writer";

/// Opens a control connection, naming the URL's host in the error.
pub async fn connect(url: &str) -> Result<PgConnection, RunError> {
    connect_as(url, CONTROL_APPLICATION).await
}

/// Prepared statements kept per connection.
const STATEMENT_CACHE: usize = 1_000;

/// Opens a connection with an `application_name` (visible in `pg_stat_activity`).
pub async fn connect_as(url: &str, application: &str) -> Result<PgConnection, RunError> {
    let fail = RunError::db(format!("connecting to PostgreSQL at {}", redact_url(url)));
    let options: sqlx::postgres::PgConnectOptions = match url.parse() {
        Ok(o) => o,
        Err(e) => return Err(fail(e)),
    };
    // The follow and the reference resolution run more distinct statements than sqlx's default
    // cache of 100 holds: evicted ones are parsed and planned again at their next use.
    let options = options
        .application_name(application)
        .statement_cache_capacity(STATEMENT_CACHE);
    PgConnection::connect_with(&options).await.map_err(fail)
}

/// A connection URL without its password.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_differences_are_worded() {
        let a = Fingerprint {
            schema: "1".into(),
            source_kind: "dump".into(),
            target_schema: "public".into(),
            partitions: 4,
            schema_mode: "create".into(),
        };
        let mut b = a.clone();
        assert!(a.differences(&b).is_empty());
        b.partitions = 8;
        b.schema = "2".into();
        assert_eq!(
            a.differences(&b),
            vec![
                "the schema's DDL hash was 2, now 1",
                "--partitions was 8, now 4"
            ]
        );
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
    }
}
