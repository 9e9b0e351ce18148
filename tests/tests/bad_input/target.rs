//! What the target holds: a table in the way, a run stopped while creating its tables or
//! resolving references, and a dry run that writes nothing.

use std::sync::Arc;

use migrator::report::Outcome;
use migrator::source::DumpSource;
use migrator_e2e::cli::{Cli, SchemaChoice};
use migrator_e2e::fixture::{self, doc_mut};
use migrator_e2e::pg::{TestDb, TARGET};

use super::{
    clean_counts, clean_hashes, completed, config, dump, reported_rows, run_dump, schema, BIN,
};

/// A table of the target already there (create mode): the run stops naming it before it writes
/// anything, not even its own state; once the table is gone the same run goes through.
#[test]
fn a_table_already_in_the_target_stops_the_run_before_any_row() {
    let db = TestDb::create("table_in_the_way");
    let dir = dump(fixture::clean());
    db.rows("CREATE TABLE public.shipments (stray integer)");
    let error = run_dump(&db, dir.path(), 5).expect_err("shipments exists");
    let message = error.to_string();
    assert!(
        message.contains("`public` already holds shipments, which this run creates"),
        "{message}"
    );
    assert_eq!(db.tables(TARGET), ["shipments"], "nothing else created");
    assert_eq!(db.table_count("shipments"), 0);
    assert_eq!(db.stage(), None, "no run recorded");

    db.rows("DROP TABLE public.shipments");
    completed(&db, dir.path(), 5);
    assert_eq!(&db.table_hashes(), clean_hashes());
}

/// A run stopped after creating some of its tables (here the name of the table created last is
/// taken by a type, which the check before creating does not look for) creates the rest when it
/// resumes, and ends with the tables of an uninterrupted run.
#[test]
fn a_run_stopped_while_creating_its_tables_creates_the_rest_on_resume() {
    let db = TestDb::create("tables_half_created");
    let dir = dump(fixture::clean());
    // The smallest collection loads last, so its table is created last.
    let mut sizes: Vec<(u64, String)> = std::fs::read_dir(dir.path())
        .expect("the dump")
        .filter_map(|e| {
            let path = e.ok()?.path();
            let name = path
                .file_name()?
                .to_str()?
                .strip_suffix(".bson")?
                .to_string();
            Some((std::fs::metadata(&path).ok()?.len(), name))
        })
        .collect();
    sizes.sort();
    assert!(sizes.len() > 2 && sizes[0].0 < sizes[1].0, "{sizes:?}");
    let last = sizes[0].1.clone();
    db.rows(&format!("CREATE TYPE public.{last} AS ENUM ('x')"));
    let error = run_dump(&db, dir.path(), 5).expect_err("the type is in the way");
    let message = error.to_string();
    assert!(
        message.contains(&format!("CREATE TABLE \"public\".\"{last}\""))
            && message.contains("already exists"),
        "{message}"
    );
    assert_eq!(db.stage().as_deref(), Some("loading"));
    let created = db.tables(TARGET);
    assert!(
        created.len() > 1 && !created.contains(&last),
        "the other tables exist: {created:?}"
    );

    db.rows(&format!("DROP TYPE public.{last}"));
    completed(&db, dir.path(), 5);
    assert_eq!(&db.table_hashes(), clean_hashes());
}

/// The summary's rows are the rows in the tables even when the references stage is resumed
/// after an attempt that removed some (a skip or a rejection commits before the stage ends): the
/// resumed run finds nothing left to remove, and counts the tables rather than trusting the
/// rows its batches wrote.
#[test]
fn a_resumed_references_stage_reports_the_rows_that_are_there() {
    let db = TestDb::create("references_resumed_rows");
    let dir = dump(fixture::clean());
    let source = Arc::new(DumpSource::open(dir.path()).expect("the dump opens"));
    let mut load_only = config(&db, 5);
    load_only.skip_finish = true;
    let loaded = db
        .run(&schema(), source, load_only)
        .unwrap_or_else(|e| panic!("the load failed: {e}"));
    assert_eq!(loaded.outcome, Outcome::Completed);
    assert_eq!(db.stage().as_deref(), Some("references"));
    // What the earlier attempt left: one junction row removed, committed.
    let removed = db.rows(&format!(
        "DELETE FROM {TARGET}.order_products WHERE ctid = \
         (SELECT min(ctid) FROM {TARGET}.order_products) RETURNING order_id::text"
    ));
    assert_eq!(removed.len(), 1);

    let report = completed(&db, dir.path(), 5);
    let reported = reported_rows(&report);
    let mut expected = clean_counts();
    *expected
        .get_mut("order_products")
        .expect("the junction table") -= 1;
    assert_eq!(db.table_counts(), expected);
    assert_eq!(reported, expected);
}

/// `--dry-run` reads and transforms everything, reports the rejections, and writes nothing:
/// no schema, no table, no dead-letter file.
#[test]
fn dry_run_writes_nothing() {
    let db = TestDb::create("dry_run");
    let mut data = fixture::clean();
    doc_mut(&mut data, "orders", 4).insert("customer_id", "four");
    let dir = dump(data);
    let cli = Cli::new(BIN, SchemaChoice::Fixture, db.url());
    let source = dir.path().display().to_string();
    let done = cli.run(&["migrate", "--dry-run", "--source", source.as_str()]);
    done.expect_code(0);
    assert!(
        done.stdout.contains("dry run: nothing was written"),
        "{}",
        done.stdout
    );
    assert!(done.stdout.contains("customer_id"), "{}", done.stdout);
    let schemas = db.rows(
        "SELECT nspname::text FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' \
         AND nspname <> 'information_schema' ORDER BY 1",
    );
    assert_eq!(schemas, vec![vec![Some("public".to_string())]]);
    assert!(db.tables(TARGET).is_empty());
    let files: Vec<_> = std::fs::read_dir(cli.dir())
        .expect("dir")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| !n.starts_with("run-"))
        .collect();
    assert!(files.is_empty(), "{files:?}");
}
