//! Helpers for users' tests: the rows a document becomes, ready for an insta snapshot.
//!
//! ```ignore
//! insta::assert_yaml_snapshot!(migrator::testing::rows::<User>(&bson::doc! { "_id": 1, "name": "Ada" }));
//! ```

use serde::Serialize;

use crate::error::DocumentError;
use crate::sink::copy::CopyEncoder;
use crate::transform::{Migrate, RowSet, TableRows};

/// What one document becomes: its rows per table, or the reason it is rejected.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Transformed {
    Rows(Vec<TableRows>),
    Rejected { rejected: Rejection },
}

/// A rejected document, as the dead-letter store records it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rejection {
    pub collection: String,
    pub id: String,
    pub field: String,
    pub class: String,
    pub reason: String,
}

impl From<&DocumentError> for Rejection {
    fn from(e: &DocumentError) -> Self {
        Rejection {
            collection: e.collection.clone(),
            id: e.id.clone(),
            field: e.error.path(),
            class: e.error.kind().class().to_string(),
            reason: e.error.kind().to_string(),
        }
    }
}

/// Whether [`Migrate::transcode`], the one-pass reading a load runs, writes exactly the COPY
/// bytes that [`Migrate::decode`] then [`Migrate::emit`] write for `doc`, or rejects it as
/// `decode` does. `Err` says what differs.
pub fn check_transcode<T: Migrate>(doc: &bson::RawDocument) -> Result<(), String> {
    let model = T::model();
    let tables = model.tables.len();
    let mut fast = CopyEncoder::new(tables);
    let transcoded = T::transcode(doc, &mut fast);
    let mut slow = CopyEncoder::new(tables);
    let decoded = T::decode(doc).map(|value| value.emit(&mut slow));
    let rows = |read: fn(&bson::RawDocument, &mut RowSet) -> bool| {
        let mut set = RowSet::new(&model);
        read(doc, &mut set);
        set.to_tables()
    };
    match (transcoded, decoded) {
        (Ok(()), Ok(())) => {
            let same = (0..tables).all(|t| fast.take(t) == slow.take(t));
            if same {
                Ok(())
            } else {
                Err(format!(
                    "transcode and decode write different rows:\ntranscode: {:?}\ndecode: {:?}",
                    rows(|doc, set| T::transcode(doc, set).is_ok()),
                    rows(|doc, set| T::decode(doc).map(|v| v.emit(set)).is_ok()),
                ))
            }
        }
        (Err(_), Err(_)) => Ok(()),
        (Ok(()), Err(e)) => Err(format!(
            "transcode accepts a document that decode rejects: {e}"
        )),
        (Err(e), Ok(())) => Err(format!(
            "transcode rejects a document that decode accepts: {e}"
        )),
    }
}

/// Transforms one document as `T` and returns its rows (only tables that got rows) or the
/// rejection.
///
/// # Panics
///
/// If the one-pass reading a load runs and `decode` disagree on the document
/// ([`check_transcode`]): a bug in `migrator`, which the snapshot test then reports.
pub fn rows<T: Migrate>(doc: &bson::Document) -> Transformed {
    let model = T::model();
    let raw = match bson::RawDocumentBuf::try_from(doc) {
        Ok(raw) => raw,
        Err(e) => {
            return Transformed::Rejected {
                rejected: Rejection {
                    collection: model.collection.clone(),
                    id: "<unserializable>".into(),
                    field: String::new(),
                    class: "invalid".into(),
                    reason: e.to_string(),
                },
            }
        }
    };
    if let Err(difference) = check_transcode::<T>(&raw) {
        panic!("`{}`: {difference}", model.collection);
    }
    let mut set = RowSet::new(&model);
    match crate::transform::transform::<T, _>(&model.collection, &raw, &mut set) {
        Ok(()) => Transformed::Rows(set.to_tables()),
        Err(e) => Transformed::Rejected {
            rejected: Rejection::from(&e),
        },
    }
}

/// A PostgreSQL database of its own for one test, so tests run in parallel.
///
/// The server comes from `MIGRATOR_TEST_PG_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`).
/// An unreachable server is an error that says so: tests fail, they never skip.
#[derive(Debug)]
pub struct TestDatabase {
    admin_url: String,
    name: String,
    url: String,
}

/// The server tests use.
pub fn test_server_url() -> String {
    std::env::var("MIGRATOR_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

/// `base` with its database replaced by `db` (query parameters kept).
pub fn url_with_database(base: &str, db: &str) -> String {
    let (path, query) = base
        .split_once('?')
        .map_or((base, None), |(p, q)| (p, Some(q)));
    let scheme_end = path.find("://").map_or(0, |i| i + 3);
    let root = match path[scheme_end..].find('/') {
        Some(slash) => &path[..scheme_end + slash],
        None => path,
    };
    match query {
        Some(q) => format!("{root}/{db}?{q}"),
        None => format!("{root}/{db}"),
    }
}

impl TestDatabase {
    /// Creates `migrator_<label>_<pid>_<n>` on the test server.
    pub async fn create(label: &str) -> Result<TestDatabase, String> {
        use sqlx::{Connection, Executor};
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let admin_url = test_server_url();
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let label: String = crate::naming::plain_identifier(label)
            .chars()
            .take(30)
            .collect();
        let name = format!("migrator_{label}_{}_{n}_{nanos}", std::process::id());
        let mut admin = sqlx::PgConnection::connect(&admin_url).await.map_err(|e| {
            format!(
                "PostgreSQL is not reachable at {}: {e}; the tests need it (start it, or set MIGRATOR_TEST_PG_URL)",
                crate::state::redact_url(&admin_url)
            )
        })?;
        admin
            .execute(crate::sink::sql::create_database(&name).as_str())
            .await
            .map_err(|e| format!("creating test database {name}: {e}"))?;
        let url = url_with_database(&admin_url, &name);
        Ok(TestDatabase {
            admin_url,
            name,
            url,
        })
    }

    /// The database's connection URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// A new connection to the database.
    pub async fn connect(&self) -> Result<sqlx::PgConnection, String> {
        use sqlx::Connection;
        sqlx::PgConnection::connect(&self.url)
            .await
            .map_err(|e| format!("connecting to {}: {e}", self.name))
    }

    /// Drops the database, closing any connection still open to it.
    pub async fn drop_database(self) -> Result<(), String> {
        use sqlx::{Connection, Executor};
        let mut admin = sqlx::PgConnection::connect(&self.admin_url)
            .await
            .map_err(|e| format!("connecting to drop {}: {e}", self.name))?;
        admin
            .execute(crate::sink::sql::drop_database(&self.name).as_str())
            .await
            .map(|_| ())
            .map_err(|e| format!("dropping {}: {e}", self.name))
    }
}

/// Runs `body` with a database of its own and drops the database afterwards, also when `body`
/// panics (the panic is then resumed).
pub async fn with_test_database<F, Fut>(label: &str, body: F)
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let db = match TestDatabase::create(label).await {
        Ok(db) => db,
        Err(e) => panic!("{e}"),
    };
    let outcome = tokio::spawn(body(db.url().to_string())).await;
    if let Err(e) = db.drop_database().await {
        panic!("{e}");
    }
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// Every document of a `.bson`/`.bson.gz` file (mongodump) or an Extended JSON file
/// (mongoexport, lines or array), in file order, read whole: for tests on small files.
pub fn read_documents(
    path: &std::path::Path,
) -> Result<Vec<bson::RawDocumentBuf>, crate::source::SourceError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let docs: Vec<crate::source::SourceDoc> =
        if name.ends_with(".bson") || name.ends_with(".bson.gz") {
            crate::source::dump::BsonFileReader::open(path)?.collect::<Result<_, _>>()?
        } else {
            crate::source::ejson::ExtJsonReader::open(path)?.collect::<Result<_, _>>()?
        };
    Ok(docs.into_iter().map(|d| d.doc).collect())
}
