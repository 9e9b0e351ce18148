//! Rows encoded by `CopyEncoder` are loaded by the real PostgreSQL with
//! `COPY ... FROM STDIN (FORMAT binary)` and read back as text: every supported value type, its
//! edge cases, NULLs and arrays come back exactly as PostgreSQL prints the `Cell` they encode.
//!
//! Needs PostgreSQL at `MIGRATOR_TEST_PG_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`);
//! an unreachable server fails the test. The test works in a database of its own and drops it.

#[path = "copy_roundtrip/columns.rs"]
mod columns;
#[path = "copy_roundtrip/pg_text.rs"]
mod pg_text;

use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use bson::oid::ObjectId;
use migrator::naming::quote_ident;
use migrator::sink::copy::CopyEncoder;
use migrator::value::ObjectIdTextColumn;
use migrator::RowSink;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, Executor, PgConnection};

use columns::{columns, Column};
use pg_text::pg_text;

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const TABLE: &str = "every_type";

/// The server's URL, and options for a fresh database on it.
fn server() -> (String, PgConnectOptions) {
    let url = std::env::var("MIGRATOR_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_URL.to_string());
    let options = PgConnectOptions::from_str(&url)
        .unwrap_or_else(|e| panic!("bad MIGRATOR_TEST_PG_URL `{url}`: {e}"));
    (url, options)
}

async fn connect(url: &str, options: &PgConnectOptions) -> PgConnection {
    PgConnection::connect_with(options).await.unwrap_or_else(|e| {
        panic!(
            "PostgreSQL is not reachable at {url}: {e}\nthis test needs a running server: start it \
             (`pg_ctlcluster --skip-systemctl-redirect <version> main start`) or set MIGRATOR_TEST_PG_URL"
        )
    })
}

#[tokio::test]
async fn every_value_type_round_trips_through_binary_copy() {
    let columns = columns();
    for column in &columns {
        for (value, expected) in &column.values {
            assert_eq!(
                pg_text(&value.to_cell()),
                *expected,
                "text form of the cell in `{}`",
                column.name
            );
        }
    }

    let (url, admin_options) = server();
    let mut admin = connect(&url, &admin_options).await;
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let database = format!("migrator_copy_roundtrip_{}_{nanos}", std::process::id());
    admin
        .execute(format!("CREATE DATABASE {}", quote_ident(&database)).as_str())
        .await
        .expect("create the test database");

    let result =
        load_and_read_back(&url, &admin_options.clone().database(&database), &columns).await;

    admin
        .execute(
            format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                quote_ident(&database)
            )
            .as_str(),
        )
        .await
        .expect("drop the test database");
    let mismatches =
        result.unwrap_or_else(|e| panic!("PostgreSQL rejected the COPY or the query: {e}"));
    assert!(
        mismatches.is_empty(),
        "values that did not round-trip:\n{}",
        mismatches.join("\n")
    );
}

/// Creates the tables, loads them through two payloads each, and lists every value whose text
/// differs from the expected one.
async fn load_and_read_back(
    url: &str,
    options: &PgConnectOptions,
    columns: &[Column],
) -> Result<Vec<String>, sqlx::Error> {
    let mut conn = connect(url, options).await;
    conn.execute("SET TimeZone = 'UTC'; SET DateStyle = 'ISO, MDY'; SET extra_float_digits = 1")
        .await?;
    let defs: Vec<String> = columns
        .iter()
        .map(|c| format!("{} {}", quote_ident(c.name), c.sql))
        .collect();
    conn.execute(
        format!(
            "CREATE TABLE {TABLE} (row_no integer NOT NULL, {})",
            defs.join(", ")
        )
        .as_str(),
    )
    .await?;
    conn.execute("CREATE TABLE second (n bigint NOT NULL)")
        .await?;

    let rows = columns.iter().map(|c| c.values.len()).max().unwrap_or(0);
    let mut encoder = CopyEncoder::new(2);
    let mut loaded = 0;
    for row in 0..rows {
        encoder.begin_row(0);
        encoder.value(&(row as i32));
        for column in columns {
            match column.values.get(row) {
                Some((value, _)) => encoder.value(value.as_ref()),
                None => encoder.value(&None::<i32>),
            }
        }
        encoder.end_row();
        encoder.begin_row(1);
        encoder.value(&(row as i64));
        encoder.end_row();
        // Two payloads per table: every `take` starts a fresh, complete COPY stream.
        if row == rows / 2 || row + 1 == rows {
            loaded += copy(&mut conn, &mut encoder, 0, TABLE).await?;
            copy(&mut conn, &mut encoder, 1, "second").await?;
        }
    }
    assert_eq!(loaded, rows as u64, "rows reported by COPY");

    let mut mismatches = Vec::new();
    let second: Vec<i64> = sqlx::query_scalar("SELECT n FROM second ORDER BY n")
        .fetch_all(&mut conn)
        .await?;
    if second != (0..rows as i64).collect::<Vec<_>>() {
        mismatches.push(format!("second table: {second:?}"));
    }
    for column in columns {
        let sql = format!(
            "SELECT {}::text FROM {TABLE} ORDER BY row_no",
            quote_ident(column.name)
        );
        let texts: Vec<Option<String>> = sqlx::query_scalar(&sql).fetch_all(&mut conn).await?;
        for (row, text) in texts.iter().enumerate() {
            let expected = column.values.get(row).and_then(|(_, t)| t.clone());
            if *text != expected {
                mismatches.push(format!(
                    "{} row {row}: got {text:?}, expected {expected:?}",
                    column.name
                ));
            }
        }
    }
    conn.close().await?;
    Ok(mismatches)
}

async fn copy(
    conn: &mut PgConnection,
    encoder: &mut CopyEncoder,
    table: usize,
    name: &str,
) -> Result<u64, sqlx::Error> {
    let rows = encoder.rows(table);
    let Some(payload) = encoder.take(table) else {
        return Ok(0);
    };
    let mut copy_in = conn
        .copy_in_raw(&format!("COPY {name} FROM STDIN (FORMAT binary)"))
        .await?;
    copy_in.send(payload).await?;
    let copied = copy_in.finish().await?;
    assert_eq!(copied, rows, "rows COPY reports for `{name}`");
    Ok(copied)
}

#[test]
fn object_id_text_columns_are_text() {
    assert_eq!(
        <ObjectId as ObjectIdTextColumn>::text_column_type().0.sql(),
        "text"
    );
    assert_eq!(
        <Vec<ObjectId> as ObjectIdTextColumn>::text_column_type()
            .0
            .sql(),
        "text[]"
    );
}
