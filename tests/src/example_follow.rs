//! What the follow tests on the example application share (tests/tests/follow_example*.rs): the
//! example at a tenth of its size in a test's database, the wait for its copy, and the checks
//! that the change workload made every kind of change and left its invalid documents as dead
//! letters.

use std::time::{Duration, Instant};

use schema::generator::changes::{ChangeKind, ChangePlan};
use schema::generator::{FaultConfig, Generator};

use crate::example;
use crate::follow::{rejected, Binary};
use crate::mongo::MongoDb;
use crate::pg::TestDb;

/// The example's migration binary, as a test of the tests crate names it
/// (`env!("CARGO_BIN_EXE_example-migrate")`), with the example's schema.
pub const fn binary(exe: &str) -> Binary<'_> {
    Binary {
        exe,
        schema: crate::cli::SchemaChoice::Real,
    }
}

/// A tenth of the example: about 10,000 documents.
pub const SCALE: f64 = 0.1;

/// The example at [`SCALE`], with a fault of each kind (no document near 16 MB), in the test's
/// database.
pub fn seed(mongo: &MongoDb, seed: u64) -> Generator {
    let generator = example::generator(
        seed,
        SCALE,
        FaultConfig {
            per_kind: 1,
            oversized: 0,
        },
    );
    example::insert(&generator, mongo, 1_000);
    generator
}

/// Waits until the run in `db` has finished its copy (a chained follow starts then).
pub fn copied(db: &TestDb, within: Duration) {
    let deadline = Instant::now() + within;
    while db.stage().as_deref() != Some("done") {
        assert!(
            Instant::now() < deadline,
            "the copy did not finish in {within:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The follow's recorded totals: (changes applied, MongoDB transactions among them).
pub fn follow_totals(db: &TestDb) -> (i64, i64) {
    let applied = db.number("SELECT applied FROM _migrator.follow");
    let transactions = db.number("SELECT transactions FROM _migrator.follow");
    (applied, transactions)
}

/// The workload made every kind of change, every document it left invalid is a dead letter,
/// and the follow applied changes and MongoDB transactions.
pub fn check_workload(db: &TestDb, plan: &ChangePlan) {
    for kind in ChangeKind::ALL {
        assert!(
            plan.counts().get(&kind).copied().unwrap_or(0) > 0,
            "the workload made no {} change: {:?}",
            kind.name(),
            plan.counts()
        );
    }
    let rejected = rejected(db);
    let invalid = plan.invalid_documents();
    assert!(!invalid.is_empty(), "the workload left no document invalid");
    for (collection, id) in invalid {
        let key = (
            collection.name().to_string(),
            format!("{{\"$oid\":\"{id}\"}}"),
        );
        assert!(
            rejected.contains(&key),
            "{} {id}, left invalid by the workload, is no dead letter",
            collection.name()
        );
    }
    let (applied, transactions) = follow_totals(db);
    assert!(
        applied > 0 && transactions > 0,
        "the follow applied {applied} changes, {transactions} transactions"
    );
}
