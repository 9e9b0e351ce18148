//! The PostgreSQL side: a fresh database per run, the tables' fingerprints, and the ceiling's
//! server-side binary COPY.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use migrator::naming::{quote_ident, quote_literal};
use serde::Serialize;
use sqlx::{Connection, PgConnection, Row};

/// The server and the database runs are created from.
#[derive(Debug, Clone)]
pub struct Server {
    /// A URL of the server (any database); runs get their own databases next to it.
    pub url: String,
}

impl Server {
    pub async fn connect(&self) -> anyhow::Result<PgConnection> {
        PgConnection::connect(&self.url)
            .await
            .with_context(|| format!("connecting to PostgreSQL at {}", self.url))
    }

    /// The URL of database `name` on this server.
    pub fn url_for(&self, name: &str) -> String {
        let (base, query) = match self.url.split_once('?') {
            Some((b, q)) => (b, Some(q)),
            None => (self.url.as_str(), None),
        };
        let prefix = match base.find("://").map(|i| i + 3) {
            Some(start) => match base[start..].find('/') {
                Some(slash) => &base[..start + slash],
                None => base,
            },
            None => base,
        };
        match query {
            Some(q) => format!("{prefix}/{name}?{q}"),
            None => format!("{prefix}/{name}"),
        }
    }

    /// Drops (if it exists) and creates database `name`, then has the server write every dirty
    /// page out (`CHECKPOINT`), so that no run pays for flushing what the one before it wrote;
    /// returns its URL.
    pub async fn fresh_database(&self, name: &str) -> anyhow::Result<String> {
        let mut conn = self.connect().await?;
        self.drop_in(&mut conn, name).await?;
        sqlx::query(&format!("CREATE DATABASE {}", quote_ident(name)))
            .execute(&mut conn)
            .await
            .with_context(|| format!("creating database {name}"))?;
        sqlx::query("CHECKPOINT")
            .execute(&mut conn)
            .await
            .context("CHECKPOINT before a run (the bench's user needs the pg_checkpoint role)")?;
        Ok(self.url_for(name))
    }

    pub async fn drop_database(&self, name: &str) -> anyhow::Result<()> {
        let mut conn = self.connect().await?;
        self.drop_in(&mut conn, name).await
    }

    async fn drop_in(&self, conn: &mut PgConnection, name: &str) -> anyhow::Result<()> {
        sqlx::query(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            quote_ident(name)
        ))
        .execute(conn)
        .await
        .with_context(|| format!("dropping database {name}"))?;
        Ok(())
    }

    /// The pid of a backend of this server (to find the postmaster) and the server's version.
    pub async fn backend_and_version(&self) -> anyhow::Result<(u32, String)> {
        let mut conn = self.connect().await?;
        let row = sqlx::query("SELECT pg_backend_pid(), version()")
            .fetch_one(&mut conn)
            .await
            .context("asking the server for its pid and version")?;
        let pid: i32 = row.get(0);
        Ok((u32::try_from(pid).unwrap_or(0), row.get(1)))
    }
}

/// What a finished database holds: every table's row count and hash, the foreign keys and the
/// indexes. Two contenders produced the same result exactly when their fingerprints are equal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fingerprint {
    /// table -> (rows, md5 of the sorted md5s of every row's text: one 32-byte string per row,
    /// so tables of tens of millions of rows fit in one aggregate).
    pub tables: BTreeMap<String, (i64, String)>,
    /// `table: definition` of every foreign key.
    pub foreign_keys: Vec<String>,
    /// Every index definition.
    pub indexes: Vec<String>,
}

impl Fingerprint {
    /// What differs from `reference`, in a few words per difference.
    pub fn differences(&self, reference: &Fingerprint) -> Vec<String> {
        let mut out = Vec::new();
        for (table, want) in &reference.tables {
            match self.tables.get(table) {
                None => out.push(format!("table {table} is missing")),
                Some(got) if got.0 != want.0 => {
                    out.push(format!("{table}: {} rows, expected {}", got.0, want.0))
                }
                Some(got) if got.1 != want.1 => out.push(format!("{table}: different values")),
                Some(_) => {}
            }
        }
        for table in self.tables.keys() {
            if !reference.tables.contains_key(table) {
                out.push(format!("unexpected table {table}"));
            }
        }
        if self.foreign_keys != reference.foreign_keys {
            out.push(format!(
                "{} foreign keys, expected {} identical ones",
                self.foreign_keys.len(),
                reference.foreign_keys.len()
            ));
        }
        if self.indexes != reference.indexes {
            out.push(format!(
                "{} indexes, expected {} identical ones",
                self.indexes.len(),
                reference.indexes.len()
            ));
        }
        out
    }
}

/// The tables of `schema`, by name.
async fn tables_of(conn: &mut PgConnection, schema: &str) -> anyhow::Result<Vec<String>> {
    sqlx::query_scalar("SELECT tablename::text FROM pg_tables WHERE schemaname = $1 ORDER BY 1")
        .bind(schema)
        .fetch_all(conn)
        .await
        .context("listing tables")
}

/// The fingerprint of the tables in `schema` of the database at `url`.
pub async fn fingerprint(url: &str, schema: &str) -> anyhow::Result<Fingerprint> {
    let mut conn = PgConnection::connect(url)
        .await
        .with_context(|| format!("connecting to {url}"))?;
    let tables = tables_of(&mut conn, schema).await?;
    let mut hashes = BTreeMap::new();
    for table in tables {
        let sql = format!(
            "SELECT count(*), coalesce(md5(string_agg(md5(t::text), '' ORDER BY md5(t::text))), '') FROM {}.{} AS t",
            quote_ident(schema),
            quote_ident(&table)
        );
        let row = sqlx::query(&sql)
            .fetch_one(&mut conn)
            .await
            .with_context(|| format!("hashing {table}"))?;
        hashes.insert(table, (row.get::<i64, _>(0), row.get::<String, _>(1)));
    }
    let foreign_keys: Vec<String> = sqlx::query_scalar(
        "SELECT conrelid::regclass::text || ': ' || pg_get_constraintdef(oid) FROM pg_constraint \
         WHERE contype = 'f' AND connamespace = $1::regnamespace ORDER BY 1",
    )
    .bind(schema)
    .fetch_all(&mut conn)
    .await
    .context("listing foreign keys")?;
    let indexes: Vec<String> =
        sqlx::query_scalar("SELECT indexdef FROM pg_indexes WHERE schemaname = $1 ORDER BY 1")
            .bind(schema)
            .fetch_all(&mut conn)
            .await
            .context("listing indexes")?;
    Ok(Fingerprint {
        tables: hashes,
        foreign_keys,
        indexes,
    })
}

/// Writes every table of `schema` to `dir/<table>.bin` with the server's binary COPY (the server
/// writes the files, so `dir` must be writable by it). Returns (table, file size) pairs.
pub async fn export_tables(
    url: &str,
    schema: &str,
    dir: &Path,
) -> anyhow::Result<Vec<(String, u64)>> {
    let mut conn = PgConnection::connect(url)
        .await
        .with_context(|| format!("connecting to {url}"))?;
    let tables = tables_of(&mut conn, schema).await?;
    let mut out = Vec::new();
    for table in tables {
        let file = dir.join(format!("{table}.bin"));
        let path = file.to_str().context("the export path is not UTF-8")?;
        sqlx::query(&format!(
            "COPY {}.{} TO {} (FORMAT binary)",
            quote_ident(schema),
            quote_ident(&table),
            quote_literal(path)
        ))
        .execute(&mut conn)
        .await
        .with_context(|| format!("exporting {table} to {path}"))?;
        let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
        out.push((table, size));
    }
    Ok(out)
}

/// Runs `statements` one after the other on a new connection to `url`.
pub async fn execute(url: &str, statements: &[String]) -> anyhow::Result<()> {
    let mut conn = PgConnection::connect(url)
        .await
        .with_context(|| format!("connecting to {url}"))?;
    for stmt in statements {
        sqlx::query(stmt)
            .execute(&mut conn)
            .await
            .with_context(|| format!("running {}", stmt.lines().next().unwrap_or(stmt)))?;
    }
    Ok(())
}

/// Runs `statements` over `sessions` connections, each taking the next statement when free.
pub async fn execute_parallel(
    url: &str,
    statements: Vec<String>,
    sessions: usize,
) -> anyhow::Result<()> {
    let queue = std::sync::Arc::new(std::sync::Mutex::new(statements.into_iter()));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..sessions.max(1) {
        let queue = std::sync::Arc::clone(&queue);
        let url = url.to_string();
        tasks.spawn(async move {
            let mut conn = PgConnection::connect(&url)
                .await
                .with_context(|| format!("connecting to {url}"))?;
            loop {
                let next = match queue.lock() {
                    Ok(mut q) => q.next(),
                    Err(_) => None,
                };
                let Some(stmt) = next else { break };
                sqlx::query(&stmt)
                    .execute(&mut conn)
                    .await
                    .with_context(|| format!("running {}", stmt.lines().next().unwrap_or(&stmt)))?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.context("a session task failed")??;
    }
    Ok(())
}

/// `COPY schema.table FROM 'file' (FORMAT binary)`.
pub fn copy_from_file(schema: &str, table: &str, file: &Path) -> anyhow::Result<String> {
    let path = file.to_str().context("the export path is not UTF-8")?;
    Ok(format!(
        "COPY {}.{} FROM {} (FORMAT binary)",
        quote_ident(schema),
        quote_ident(table),
        quote_literal(path)
    ))
}
