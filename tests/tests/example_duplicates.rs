//! Repeated documents at the default batch size: a large collection of the example whose every
//! document appears twice in its `.bson` file. Its keys are refused after the load, the
//! collection is loaded again into tables with keys, and every batch is then split until each
//! repeat is alone: the writers must do that with a bounded number of locks (PostgreSQL's lock
//! table is shared by the whole server, `max_locks_per_transaction` times the connections), and
//! end with every document once and every repeat a dead letter.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use bson::RawDocumentBuf;
use migrator::report::Outcome;
use migrator::sink::isolate::KEPT_PIECES;
use migrator::source::DumpSource;
use migrator_e2e::data::{read_file, write_bson};
use migrator_e2e::example;
use migrator_e2e::pg::TestDb;
use schema::generator::FaultConfig;
use sqlx::{Connection, PgConnection};

/// The most `transactionid` locks one session of `db` holds, sampled until `stop`.
fn watch_locks(db: &TestDb, stop: Arc<AtomicBool>, most: Arc<AtomicI64>) -> thread::JoinHandle<()> {
    let url = db.url().to_string();
    let name = db.name().to_string();
    thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async {
            let mut conn = PgConnection::connect(&url)
                .await
                .unwrap_or_else(|e| panic!("connecting to {url}: {e}"));
            while !stop.load(Ordering::Relaxed) {
                let held: i64 = sqlx::query_scalar(
                    "SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM pg_locks l \
                     JOIN pg_stat_activity a USING (pid) WHERE a.datname = $1 \
                     AND l.locktype = 'transactionid' GROUP BY l.pid) held",
                )
                .bind(&name)
                .fetch_one(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("reading pg_locks: {e}"));
                most.fetch_max(held, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
    })
}

#[test]
fn a_collection_written_twice_loads_once_at_the_default_batch_size_with_bounded_locks() {
    let dir = tempfile::tempdir().expect("temp dir");
    let generator = example::generator(
        42,
        1.0,
        FaultConfig {
            per_kind: 0,
            oversized: 0,
        },
    );
    let manifest = example::write_dump(&generator, dir.path());
    let file = dir.path().join("memberships.bson");
    let docs = read_file(&file);
    assert!(
        docs.len() > 2 * KEPT_PIECES,
        "memberships holds {} documents",
        docs.len()
    );
    let doubled: Vec<RawDocumentBuf> = docs.iter().flat_map(|d| [d.clone(), d.clone()]).collect();
    write_bson(&file, &doubled);

    let db = TestDb::create("example_duplicates");
    let config = db.config();
    assert_eq!(config.batch_documents, 10_000, "the default batch size");
    let stop = Arc::new(AtomicBool::new(false));
    let most = Arc::new(AtomicI64::new(0));
    let watcher = watch_locks(&db, stop.clone(), most.clone());
    let source = Arc::new(DumpSource::open(dir.path()).expect("the dump opens"));
    let result = db.run(&example::schema(), source, config);
    stop.store(true, Ordering::Relaxed);
    watcher.join().expect("the lock watcher");
    let report = result.unwrap_or_else(|e| panic!("the run failed: {}", example::chain(&e)));
    assert_eq!(report.outcome, Outcome::Completed);

    // Every table as the generator says: the repeats add no row.
    let expected: BTreeMap<String, i64> = manifest
        .tables
        .iter()
        .map(|(t, n)| (t.clone(), i64::try_from(*n).expect("a row count")))
        .collect();
    assert_eq!(db.table_counts(), expected);
    // Each repeat is a dead letter naming its `_id` and the key, the first of each pair kept.
    let letters = db.dead_letters();
    assert_eq!(letters.len(), docs.len(), "one dead letter per repeat");
    let mut ids: Vec<&str> = letters
        .iter()
        .map(|[collection, id, stage, field, class, _]| {
            assert_eq!(
                (
                    collection.as_str(),
                    stage.as_str(),
                    field.as_str(),
                    class.as_str()
                ),
                ("memberships", "load", "id", "unique_violation")
            );
            id.as_str()
        })
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), docs.len(), "every repeat named once");

    let held = most.load(Ordering::Relaxed);
    assert!(
        held <= i64::try_from(KEPT_PIECES).expect("small") + 8,
        "a writer held {held} transaction locks"
    );
}
