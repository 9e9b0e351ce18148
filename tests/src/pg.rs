//! A PostgreSQL database of its own per test, dropped when the guard is (also on panic), and
//! what tests read back from it: every table's rows as a hash, the run's state, constraints.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use migrator::naming::{quote_ident, quote_qualified};
use migrator::pipeline::config::RunConfig;
use migrator::pipeline::run::run;
use migrator::progress::{Observer, Silent};
use migrator::report::RunReport;
use migrator::run_error::RunError;
use migrator::source::Source;
use migrator::Schema;
use sqlx::{Connection, Executor, PgConnection, Row};

/// Where the runs write their state.
pub const STATE: &str = "_migrator";
/// Where the runs write their tables.
pub const TARGET: &str = "public";

pub fn admin_url() -> String {
    migrator::testing::test_server_url()
}

/// `base` with its database replaced by `db`.
pub fn url_for(base: &str, db: &str) -> String {
    migrator::testing::url_with_database(base, db)
}

async fn admin() -> PgConnection {
    let url = admin_url();
    PgConnection::connect(&url).await.unwrap_or_else(|e| {
        panic!(
            "the end-to-end tests need PostgreSQL at {url} (start it, e.g. `bash .ci/test`, or set \
             MIGRATOR_TEST_PG_URL): {e}"
        )
    })
}

/// Every table's row count and the md5 of all its rows (as text, sorted).
pub type TableHashes = BTreeMap<String, (i64, String)>;

/// A database created for one test, with a runtime to talk to it. Dropped (`WITH (FORCE)`) when
/// the guard is dropped; set `E2E_KEEP_DATABASES=1` to keep it for a look after a failure.
#[derive(Debug)]
pub struct TestDb {
    runtime: tokio::runtime::Runtime,
    name: String,
    url: String,
    /// The connection the test's own queries use (reopened if it drops).
    probe: Mutex<Option<PgConnection>>,
}

impl TestDb {
    /// Creates `e2e_<test>_<pid>_<nanos>` (`E2E_DB_PREFIX` instead of `e2e` if set).
    pub fn create(test: &str) -> TestDb {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let short: String = test.chars().take(32).collect();
        // Engineers sharing a server each keep to their own prefix.
        let prefix = std::env::var("E2E_DB_PREFIX").unwrap_or_else(|_| "e2e".into());
        let name = format!("{prefix}_{short}_{}_{nanos}", std::process::id());
        runtime.block_on(async {
            let mut admin = admin().await;
            admin
                .execute(format!("CREATE DATABASE {}", quote_ident(&name)).as_str())
                .await
                .unwrap_or_else(|e| panic!("creating the test database {name}: {e}"));
        });
        let url = url_for(&admin_url(), &name);
        TestDb {
            runtime,
            name,
            url,
            probe: Mutex::new(None),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.runtime.block_on(f)
    }

    pub fn connect(&self) -> PgConnection {
        self.block_on(PgConnection::connect(&self.url))
            .unwrap_or_else(|e| panic!("connecting to {}: {e}", self.url))
    }

    /// A run configuration for this database (state `_migrator`, tables in `public`).
    pub fn config(&self) -> RunConfig {
        RunConfig::new(self.url.clone())
    }

    /// Runs (or resumes) a migration in-process.
    pub fn run(
        &self,
        schema: &Schema,
        source: Arc<dyn Source>,
        config: RunConfig,
    ) -> Result<RunReport, RunError> {
        self.run_observed(schema, source, config, Arc::new(Silent), Arc::default())
    }

    /// [`TestDb::run`] with an observer and a stop flag.
    pub fn run_observed(
        &self,
        schema: &Schema,
        source: Arc<dyn Source>,
        config: RunConfig,
        observer: Arc<dyn Observer>,
        stop: Arc<AtomicBool>,
    ) -> Result<RunReport, RunError> {
        self.block_on(run(schema, source, config, observer, stop))
    }

    /// The rows of a query, every column cast to text by the query itself.
    pub fn rows(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        self.block_on(async {
            let mut conn = PgConnection::connect(&self.url).await?;
            let rows = sqlx::query(sql).fetch_all(&mut conn).await?;
            Ok::<_, sqlx::Error>(
                rows.iter()
                    .map(|r| {
                        (0..r.len())
                            .map(|i| r.get::<Option<String>, _>(i))
                            .collect()
                    })
                    .collect(),
            )
        })
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// One text value.
    pub fn scalar(&self, sql: &str) -> Option<String> {
        self.rows(sql)
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next())
            .flatten()
    }

    /// The number a one-value query returns.
    pub fn number(&self, sql: &str) -> i64 {
        self.scalar(&format!("SELECT ({sql})::text"))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no number from {sql}"))
    }

    /// The rows a query returns.
    pub fn count(&self, sql: &str) -> i64 {
        self.scalar(&format!("SELECT count(*)::text FROM ({sql}) AS q"))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no count from {sql}"))
    }

    /// The tables of a schema, but not those an extension owns (PostGIS's `spatial_ref_sys`).
    pub fn tables(&self, schema: &str) -> Vec<String> {
        self.rows(&format!(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = '{schema}' \
             AND table_type = 'BASE TABLE' AND table_name NOT IN (SELECT c.relname FROM pg_depend d \
             JOIN pg_class c ON c.oid = d.objid JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE d.deptype = 'e' AND n.nspname = '{schema}') ORDER BY 1"
        ))
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .collect()
    }

    /// Rows of a table of the target schema.
    pub fn table_count(&self, table: &str) -> i64 {
        self.count(&format!(
            "SELECT 1 FROM {}",
            quote_qualified(Some(TARGET), table)
        ))
    }

    /// Every target table's row count.
    pub fn table_counts(&self) -> BTreeMap<String, i64> {
        self.tables(TARGET)
            .into_iter()
            .map(|t| {
                let n = self.table_count(&t);
                (t, n)
            })
            .collect()
    }

    /// Every target table's row count and the md5 of its rows, each row as text, sorted: two
    /// databases with the same hashes hold the same rows.
    pub fn table_hashes(&self) -> TableHashes {
        self.tables(TARGET)
            .into_iter()
            .map(|table| {
                let row = self.rows(&format!(
                    "SELECT count(*)::text, coalesce(md5(string_agg(t::text, E'\\n' ORDER BY t::text)), '') \
                     FROM {} AS t",
                    quote_qualified(Some(TARGET), &table)
                ));
                let count = row[0][0].as_deref().and_then(|n| n.parse().ok()).unwrap_or(-1);
                let hash = row[0][1].clone().unwrap_or_default();
                (table, (count, hash))
            })
            .collect()
    }

    /// The dead letters without volatile columns, sorted: (collection, _id, stage, field,
    /// class, message).
    pub fn dead_letters(&self) -> Vec<[String; 6]> {
        self.rows(&format!(
            "SELECT collection, document_id, stage, field, class, message FROM {}.dead_letters \
             ORDER BY 1, 2, 3, 4, 5, 6",
            quote_ident(STATE)
        ))
        .into_iter()
        .map(|r| {
            let mut it = r.into_iter().map(Option::unwrap_or_default);
            std::array::from_fn(|_| it.next().unwrap_or_default())
        })
        .collect()
    }

    /// The recorded dangling references, sorted: (collection, key, table, column, value, action).
    pub fn reference_issues(&self) -> Vec<[String; 6]> {
        self.rows(&format!(
            "SELECT collection, document_key, table_name, column_name, value, action \
             FROM {}.reference_issues ORDER BY 1, 2, 3, 4, 5, 6",
            quote_ident(STATE)
        ))
        .into_iter()
        .map(|r| {
            let mut it = r.into_iter().map(Option::unwrap_or_default);
            std::array::from_fn(|_| it.next().unwrap_or_default())
        })
        .collect()
    }

    /// The stored key census, sorted: (collection, path, documents, types as JSON).
    pub fn key_census(&self) -> Vec<[String; 4]> {
        self.rows(&format!(
            "SELECT collection, path, documents::text, types::text FROM {}.key_census ORDER BY 1, 2",
            quote_ident(STATE)
        ))
        .into_iter()
        .map(|r| {
            let mut it = r.into_iter().map(Option::unwrap_or_default);
            std::array::from_fn(|_| it.next().unwrap_or_default())
        })
        .collect()
    }

    /// Per collection: (partitions, documents, rows written, dead letters, all done).
    pub fn checkpoint_totals(&self) -> BTreeMap<String, (i64, i64, i64, i64, bool)> {
        self.rows(&format!(
            "SELECT collection, count(*)::text, sum(documents)::text, sum(rows_written)::text, \
             sum(dead_letters)::text, bool_and(done)::text FROM {}.checkpoints GROUP BY 1",
            quote_ident(STATE)
        ))
        .into_iter()
        .map(|r| {
            let n = |i: usize| r[i].as_deref().and_then(|v| v.parse().ok()).unwrap_or(-1);
            (
                r[0].clone().unwrap_or_default(),
                (n(1), n(2), n(3), n(4), r[5].as_deref() == Some("true")),
            )
        })
        .collect()
    }

    /// The run's stage (`loading`, ..., `done`), if a run started.
    pub fn stage(&self) -> Option<String> {
        let exists = self.scalar(&format!(
            "SELECT (to_regclass('{}.run') IS NOT NULL)::text",
            quote_ident(STATE)
        ));
        if exists.as_deref() != Some("true") {
            return None;
        }
        self.scalar(&format!("SELECT stage FROM {}.run", quote_ident(STATE)))
    }

    /// The foreign keys of the target schema: (constraint, table).
    pub fn foreign_keys(&self) -> Vec<(String, String)> {
        self.rows(&format!(
            "SELECT conname::text, conrelid::regclass::text FROM pg_constraint \
             WHERE contype = 'f' AND connamespace = '{TARGET}'::regnamespace ORDER BY 1"
        ))
        .into_iter()
        .map(|r| {
            (
                r[0].clone().unwrap_or_default(),
                r[1].clone().unwrap_or_default(),
            )
        })
        .collect()
    }

    /// Terminates this database's backends with this `application_name`; returns how many.
    pub fn terminate(&self, application: &str) -> usize {
        self.rows(&format!(
            "SELECT pg_terminate_backend(pid)::text FROM pg_stat_activity \
             WHERE datname = '{}' AND application_name = '{application}' AND pid <> pg_backend_pid()",
            self.name
        ))
        .len()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Ok(mut probe) = self.probe.lock() {
            if let Some(conn) = probe.take() {
                let _ = self.runtime.block_on(conn.close());
            }
        }
        if std::env::var_os("E2E_KEEP_DATABASES").is_some() {
            eprintln!("keeping test database {}", self.name);
            return;
        }
        let name = self.name.clone();
        let result = self.runtime.block_on(async move {
            let mut admin = PgConnection::connect(&admin_url()).await?;
            admin
                .execute(
                    format!(
                        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                        quote_ident(&name)
                    )
                    .as_str(),
                )
                .await
                .map(drop)
        });
        if let Err(e) = result {
            eprintln!("could not drop test database {}: {e}", self.name);
        }
    }
}
