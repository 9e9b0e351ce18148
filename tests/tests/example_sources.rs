//! The example application's 26 collections at a small scale, with every kind of fault, through
//! a mongodump directory and through the Mongo-wire server (inserted by the generator itself):
//! both runs end with exactly the rows the generator's manifest expects in every table, the
//! injected faults as dead letters (and nothing else), the kept references, no orphaned
//! reference, a passing `validate`, and the same rows as each other.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

use migrator::report::Outcome;
use migrator::source::mongo::SplitMethod;
use migrator::source::{DumpSource, Source};
use migrator_e2e::example::{self, every_fault};
use migrator_e2e::mongo::MongoDb;
use migrator_e2e::pg::{TableHashes, TestDb};
use schema::generator::{FaultKind, Manifest, Stage};

const SEED: u64 = 0x0065_7861_6d70;
const SCALE: f64 = 0.02;

/// What a run leaves behind that must not depend on the source.
#[derive(Debug, PartialEq)]
struct Landed {
    tables: TableHashes,
    dead_letters: Vec<[String; 6]>,
    reference_issues: Vec<[String; 6]>,
}

/// Migrates `source` into a fresh database, checks it against the manifest and validates it.
fn migrate_and_check(name: &str, source: Arc<dyn Source>, manifest: &Manifest) -> Landed {
    let schema = example::schema();
    let db = TestDb::create(&format!("example_{name}"));
    let mut config = db.config();
    config.batch_documents = 200;
    config.partitions = 4;
    let started = Instant::now();
    let report = db
        .run(&schema, Arc::clone(&source), config)
        .unwrap_or_else(|e| panic!("the run from the {name} failed: {}", example::chain(&e)));
    assert_eq!(report.outcome, Outcome::Completed, "{name}");
    eprintln!(
        "example from the {name}: migrated in {:.1}s",
        started.elapsed().as_secs_f64()
    );

    let problems = example::differences(&db, &schema, manifest);
    assert!(
        problems.is_empty(),
        "the {name} run differs from the manifest:\n  {}",
        problems.join("\n  ")
    );
    // The comparison sees a row too many, a dead letter nobody announced and a lost kept
    // reference.
    let mut wrong = manifest.clone();
    *wrong.tables.entry("tasks".into()).or_default() += 1;
    let announced = wrong
        .faults
        .iter()
        .position(|f| f.stage == Stage::Transform)
        .expect("a transform fault");
    wrong.faults.remove(announced);
    for kept in wrong.kept_references.values_mut() {
        *kept += 1;
    }
    let caught = example::differences(&db, &schema, &wrong).join("\n");
    for expected in [
        "table `tasks`",
        "a dead letter no fault explains",
        "kept references",
        "orphaned row(s)",
    ] {
        assert!(
            caught.contains(expected),
            "{name}: `{expected}` not in:\n{caught}"
        );
    }
    assert!(
        !db.foreign_keys().is_empty(),
        "{name}: the constraints stage added no foreign key"
    );
    let validation = example::validate(&db, &schema, source.as_ref(), 20);
    assert!(
        validation.passed(),
        "validate fails after the {name} run:\n  {}",
        validation.problems().join("\n  ")
    );
    assert_eq!(validation.collections.len(), 26, "{name}: validated");
    Landed {
        tables: db.table_hashes(),
        dead_letters: db.dead_letters(),
        reference_issues: db.reference_issues(),
    }
}

#[test]
fn the_example_from_a_dump_and_from_the_mongo_wire_server_is_what_the_generator_says() {
    let generator = example::generator(SEED, SCALE, every_fault());
    let dir = tempfile::tempdir().expect("temp dir");
    let manifest = example::write_dump(&generator, dir.path());

    // Every kind of fault is in the data, at both stages, with kept references.
    let kinds: BTreeSet<FaultKind> = manifest.faults.iter().map(|f| f.kind).collect();
    assert_eq!(kinds, FaultKind::ALL.into_iter().collect(), "fault kinds");
    assert!(manifest.rejected_at(Stage::Transform).count() >= 8);
    assert!(manifest.rejected_at(Stage::Reference).count() >= 3);
    assert!(manifest.kept_references.values().sum::<u64>() > 0);
    assert_eq!(manifest.tables.len(), 43);

    // Small batches: most collections take several `insert_many`s, the 16 MB documents one each.
    let mongo = MongoDb::create("example_sources");
    let started = Instant::now();
    let inserted = example::insert(&generator, &mongo, 50);
    eprintln!(
        "example inserted into the Mongo-wire server in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(
        inserted, manifest,
        "inserting gives the manifest writing the dump gives"
    );
    // Split points whatever they cost (SecantusDB reads the collection to find them, and the
    // default would read `tasks` through one cursor): the ranges are what this test is about.
    let mongo_source = mongo.source().with_split(SplitMethod::Edges);
    let held: BTreeMap<String, u64> = mongo_source
        .collections()
        .expect("the Mongo-wire server lists the collections")
        .into_iter()
        .map(|c| (c.name, c.estimated_documents.unwrap_or(0)))
        .collect();
    let generated: BTreeMap<String, u64> = manifest
        .collections
        .iter()
        .map(|(name, c)| (name.clone(), c.documents))
        .collect();
    assert_eq!(held, generated, "documents per collection on the server");
    let split = mongo_source.partitions("tasks", 4).expect("partitions");
    assert!(split.len() > 1, "tasks is read in partitions: {split:?}");

    let sources: Vec<(&str, Arc<dyn Source>)> = vec![
        (
            "dump",
            Arc::new(DumpSource::open(dir.path()).expect("the dump opens")),
        ),
        ("mongo", Arc::new(mongo_source)),
    ];
    let landed: Vec<(&str, Landed)> = std::thread::scope(|scope| {
        let runs: Vec<_> = sources
            .into_iter()
            .map(|(name, source)| {
                let manifest = &manifest;
                (
                    name,
                    scope.spawn(move || migrate_and_check(name, source, manifest)),
                )
            })
            .collect();
        runs.into_iter()
            .map(|(name, run)| {
                (
                    name,
                    run.join().unwrap_or_else(|e| std::panic::resume_unwind(e)),
                )
            })
            .collect()
    });
    let (_, dump) = &landed[0];
    let (_, live) = &landed[1];
    assert_eq!(dump.tables.len(), 43);
    for (table, hash) in &dump.tables {
        assert_eq!(
            live.tables.get(table),
            Some(hash),
            "table {table} from the Mongo-wire server differs from the dump's"
        );
    }
    assert_eq!(live.tables.len(), dump.tables.len(), "tables");
    assert_eq!(live.dead_letters, dump.dead_letters, "dead letters");
    assert_eq!(
        live.reference_issues, dump.reference_issues,
        "reference issues"
    );
}
