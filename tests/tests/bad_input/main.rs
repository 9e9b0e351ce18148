//! Bad input through the fixture schema: each case names the file or collection, the `_id` and
//! the field, and loses nothing already written. Corrupt files stop the run after committing
//! what came before and resume once fixed; bad documents become dead letters and the run goes on.

mod documents;
mod files;
mod keys;
mod repeats;
mod target;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use bson::Document;
use migrator::pipeline::config::RunConfig;
use migrator::report::{Outcome, RunReport};
use migrator::run_error::RunError;
use migrator::source::DumpSource;
use migrator::Schema;
use migrator_e2e::data::Dataset;
use migrator_e2e::fixture::{self, CLEAN_ROWS};
use migrator_e2e::pg::{TableHashes, TestDb};

const BIN: &str = env!("CARGO_BIN_EXE_e2e-migrate");

fn schema() -> Schema {
    fixture::schema().expect("the fixture schema")
}

type Data = Vec<(&'static str, Vec<Document>)>;

fn dump(data: Data) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    Dataset::from_documents(data).write_dump(dir.path());
    dir
}

fn config(db: &TestDb, batch: usize) -> RunConfig {
    let mut config = db.config();
    config.batch_documents = batch;
    config
}

fn run_dump(db: &TestDb, dir: &Path, batch: usize) -> Result<RunReport, RunError> {
    let source = Arc::new(DumpSource::open(dir).expect("the dump opens"));
    db.run(&schema(), source, config(db, batch))
}

fn completed(db: &TestDb, dir: &Path, batch: usize) -> RunReport {
    let report = run_dump(db, dir, batch).unwrap_or_else(|e| panic!("the run failed: {e}"));
    assert_eq!(report.outcome, Outcome::Completed);
    report
}

fn clean_counts() -> BTreeMap<String, i64> {
    CLEAN_ROWS
        .iter()
        .map(|(t, n)| (t.to_string(), *n))
        .collect()
}

/// Every table of the clean data set after an uninterrupted run.
fn clean_hashes() -> &'static TableHashes {
    static CLEAN: OnceLock<TableHashes> = OnceLock::new();
    CLEAN.get_or_init(|| {
        let db = TestDb::create("bad_input_clean");
        let dir = dump(fixture::clean());
        completed(&db, dir.path(), 1000);
        assert_eq!(db.table_counts(), clean_counts());
        assert!(db.dead_letters().is_empty());
        assert!(db.reference_issues().is_empty());
        db.table_hashes()
    })
}

/// The rows per table a run's summary reports.
fn reported_rows(report: &RunReport) -> BTreeMap<String, i64> {
    report
        .collections
        .values()
        .flat_map(|c| c.rows.iter())
        .map(|(table, n)| (table.clone(), i64::try_from(*n).expect("a row count")))
        .collect()
}

/// (collection, `_id`, stage, field, class) of every dead letter.
fn letters(db: &TestDb) -> Vec<[String; 5]> {
    db.dead_letters()
        .into_iter()
        .map(|l| std::array::from_fn(|i| l[i].clone()))
        .collect()
}

fn letter(collection: &str, id: &str, stage: &str, field: &str, class: &str) -> [String; 5] {
    [collection, id, stage, field, class].map(str::to_string)
}

fn message_of(db: &TestDb, collection: &str, id: &str) -> String {
    db.dead_letters()
        .into_iter()
        .find(|l| l[0] == collection && l[1] == id)
        .map(|l| l[5].clone())
        .unwrap_or_else(|| panic!("no dead letter for {collection} {id}"))
}
