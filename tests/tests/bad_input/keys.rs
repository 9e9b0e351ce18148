//! Keys built after the load: refused keys load their collection again (and resume), and a
//! collection's keys are built while the others still load.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use bson::doc;
use migrator::progress::{Event, Observer};
use migrator::report::{Outcome, RunReport};
use migrator::source::DumpSource;
use migrator_e2e::fixture::{self, docs_mut};
use migrator_e2e::pg::{TestDb, STATE, TARGET};

use super::{clean_counts, clean_hashes, config, dump, letter, letters, reported_rows, schema};

/// Records the events of a run and stops it when the collection `stop_on` starts loading again
/// (its keys were refused).
#[derive(Default)]
struct StopOnReload {
    stop_on: &'static str,
    stop: Arc<AtomicBool>,
    notes: Mutex<Vec<String>>,
    committed: Mutex<BTreeSet<String>>,
}

impl StopOnReload {
    /// Runs the dump in `dir` (batches of 5) watched by `self`, stopped by its flag.
    fn run(self: &Arc<Self>, db: &TestDb, dir: &Path) -> RunReport {
        let source = Arc::new(DumpSource::open(dir).expect("the dump opens"));
        db.run_observed(
            &schema(),
            source,
            config(db, 5),
            self.clone(),
            Arc::clone(&self.stop),
        )
        .unwrap_or_else(|e| panic!("the run failed: {e}"))
    }
}

impl Observer for StopOnReload {
    fn event(&self, event: &Event) {
        match event {
            Event::Note { message } => {
                if message.contains(&format!("loading `{}` again", self.stop_on)) {
                    self.stop.store(true, Ordering::SeqCst);
                }
                self.notes.lock().expect("notes").push(message.clone());
            }
            Event::BatchCommitted { collection, .. } => {
                self.committed
                    .lock()
                    .expect("collections")
                    .insert(collection.clone());
            }
            _ => {}
        }
    }
}

/// Keys are built after the load. A unique email that repeats makes PostgreSQL refuse the keys
/// of `customers` as a whole: `customers` alone is emptied and loaded again into its tables with
/// their keys, so the repeat is a dead letter naming its `_id` and column and the first document
/// stays. Stopped as that second load starts, the run resumes it (and reads nothing else again);
/// the rows and the summary are those of a load into keyed tables.
#[test]
fn refused_keys_load_their_collection_again_and_resume() {
    let db = TestDb::create("keys_refused");
    let mut data = fixture::clean();
    docs_mut(&mut data, "customers")
        .push(doc! {"_id": 13, "name": "copycat", "email": fixture::email(1)});
    let dir = dump(data);
    let observer = Arc::new(StopOnReload {
        stop_on: "customers",
        ..StopOnReload::default()
    });
    let stopped = observer.run(&db, dir.path());
    assert_eq!(stopped.outcome, Outcome::Interrupted);
    let notes = observer.notes.lock().expect("notes").clone();
    assert!(
        notes.iter().any(|n| n.contains("customers_email_key")),
        "the note names the refused key: {notes:?}"
    );
    // Forgotten and emptied together, with the stage that sends the run back to loading.
    assert_eq!(db.stage().as_deref(), Some("loading"));
    assert_eq!(db.table_counts().get("customers"), Some(&0));
    // Planned again as one partition (read in the file's order), none of it loaded.
    assert_eq!(
        db.scalar(&format!(
            "SELECT count(*)::text || ' ' || sum(documents)::text FROM {STATE}.checkpoints \
             WHERE collection = 'customers'"
        ))
        .as_deref(),
        Some("1 0")
    );
    assert!(letters(&db).iter().all(|l| l[0] != "customers"));

    let resumed = Arc::new(StopOnReload::default());
    let report = resumed.run(&db, dir.path());
    assert_eq!(report.outcome, Outcome::Completed);
    assert_eq!(
        *resumed.committed.lock().expect("collections"),
        BTreeSet::from(["customers".to_string()]),
        "only the collection whose keys were refused is read again"
    );
    assert_eq!(
        letters(&db),
        vec![letter(
            "customers",
            "13",
            "load",
            "email",
            "unique_violation"
        )]
    );
    assert_eq!(&db.table_hashes(), clean_hashes());
    let reported = reported_rows(&report);
    assert_eq!(reported, clean_counts());
    assert_eq!(
        db.scalar(&format!(
            "SELECT count(*)::text FROM pg_constraint WHERE conname = 'customers_email_key' \
             AND connamespace = '{TARGET}'::regnamespace"
        ))
        .as_deref(),
        Some("1")
    );
}

/// Holds the load back when the last collection finishes, until the keys of the first one to
/// finish exist (polled from a thread of its own, at most 20 s): they are built while the load
/// goes on, not after it.
struct HoldUntilEarlyKeys {
    url: String,
    finished: Mutex<Vec<String>>,
    /// Whether the first collection's primary key was there before the load ended.
    seen: AtomicBool,
}

impl Observer for HoldUntilEarlyKeys {
    fn event(&self, event: &Event) {
        let Event::CollectionFinished { collection } = event else {
            return;
        };
        let mut finished = self.finished.lock().expect("finished");
        finished.push(collection.clone());
        if finished.len() < fixture::COLLECTIONS.len() {
            return;
        }
        let first = finished[0].clone();
        let url = self.url.clone();
        let found = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async move {
                use sqlx::Connection;
                let mut conn = sqlx::PgConnection::connect(&url).await.expect("connect");
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
                while std::time::Instant::now() < deadline {
                    let keyed: bool = sqlx::query_scalar(
                        "SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE contype = 'p' \
                         AND conrelid = to_regclass($1))",
                    )
                    .bind(format!("public.{first}"))
                    .fetch_one(&mut conn)
                    .await
                    .expect("query");
                    if keyed {
                        return true;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                false
            })
        })
        .join()
        .expect("the polling thread");
        self.seen.store(found, Ordering::SeqCst);
    }
}

/// The keys (and indexes) of a collection are built as soon as its load is done, while the
/// other collections load; the run then ends as an uninterrupted one does.
#[test]
fn keys_of_loaded_collections_are_built_while_the_others_load() {
    let db = TestDb::create("early_keys");
    let dir = dump(fixture::clean());
    let observer = Arc::new(HoldUntilEarlyKeys {
        url: db.url().to_string(),
        finished: Mutex::new(Vec::new()),
        seen: AtomicBool::new(false),
    });
    let source = Arc::new(DumpSource::open(dir.path()).expect("the dump opens"));
    let report = db
        .run_observed(
            &schema(),
            source,
            config(&db, 5),
            observer.clone(),
            Arc::new(AtomicBool::new(false)),
        )
        .unwrap_or_else(|e| panic!("the run failed: {e}"));
    assert_eq!(report.outcome, Outcome::Completed);
    assert!(
        observer.seen.load(Ordering::SeqCst),
        "the first collection loaded had its primary key before the load ended"
    );
    assert_eq!(&db.table_hashes(), clean_hashes());
    assert!(db.dead_letters().is_empty());
}
