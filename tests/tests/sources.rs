//! The same real data through every kind of source: a mongodump directory, a gzipped mongodump
//! archive, a mongoexport directory of the `.json` twins and the Mongo-wire server (read in
//! `_id` order, in partitions) must give the same rows in every table, row by row, and the same
//! dead letters and reference actions.

use std::sync::Arc;

use bson::oid::ObjectId;
use bson::Bson;
use migrator::report::Outcome;
use migrator::source::mongo::SplitMethod;
use migrator::source::{ArchiveSource, DumpSource, ExportSource, Source};
use migrator_e2e::data::Dataset;
use migrator_e2e::expect::RealOutcome;
use migrator_e2e::mongo::MongoDb;
use migrator_e2e::pg::{TableHashes, TestDb};

/// What a run leaves behind that must not depend on the source.
#[derive(Debug, PartialEq)]
struct Result {
    tables: TableHashes,
    dead_letters: Vec<[String; 6]>,
    reference_issues: Vec<[String; 6]>,
}

fn migrate(name: &str, source: Arc<dyn Source>, partitions: usize) -> Result {
    let schema = schema::real_data::schema().expect("the real-data schema");
    let db = TestDb::create(&format!("sources_{name}"));
    let mut config = db.config();
    config.partitions = partitions;
    config.batch_documents = 500;
    let report = db
        .run(&schema, source, config)
        .unwrap_or_else(|e| panic!("the run from the {name} failed: {e}"));
    assert_eq!(report.outcome, Outcome::Completed, "{name}");
    Result {
        tables: db.table_hashes(),
        dead_letters: db.dead_letters(),
        reference_issues: db.reference_issues(),
    }
}

#[test]
fn every_source_kind_gives_the_same_tables() {
    let data = Dataset::real();
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    data.write_dump(&d.join("dump"));
    data.write_export(&d.join("export"));
    data.write_archive(&d.join("real.archive.gz"), true);
    let mongo = MongoDb::create("sources");
    mongo.insert_all(&data);
    // Split points whatever they cost (the default may read through one cursor on a server
    // that reads to find them): the ranges are what this test is about.
    let mongo_source = mongo.source().with_split(SplitMethod::Edges);

    // The duplicate account_id keeps the first document in read order: the files list the two
    // in `_id` order, and the server reads them in one partition, so the same one wins.
    let expected = RealOutcome::of(&data);
    let partitions = mongo_source.partitions("accounts", 4).expect("partitions");
    assert!(partitions.len() > 1, "accounts is split: {partitions:?}");
    let twins: Vec<ObjectId> = data
        .docs("accounts")
        .iter()
        .filter(|d| d.get_i32("account_id").ok() == Some(627788))
        .map(|d| d.get_object_id("_id").expect("_id"))
        .collect();
    assert_eq!(twins.len(), 2);
    assert!(twins[0] < twins[1] && twins[1] == expected.duplicate_account);
    let partition_of = |id: ObjectId| {
        let bound = |b: &Option<serde_json::Value>| {
            b.clone().map(|v| match Bson::try_from(v) {
                Ok(Bson::ObjectId(o)) => o,
                other => panic!("an ObjectId bound, not {other:?}"),
            })
        };
        partitions.iter().position(|p| {
            bound(&p.min).is_none_or(|min| min <= id) && bound(&p.max).is_none_or(|max| id < max)
        })
    };
    assert_eq!(partition_of(twins[0]), partition_of(twins[1]));

    let sources: Vec<(&str, Arc<dyn Source>, usize)> = vec![
        (
            "dump",
            Arc::new(DumpSource::open(&d.join("dump")).expect("dump")),
            1,
        ),
        (
            "archive",
            Arc::new(ArchiveSource::open(&d.join("real.archive.gz")).expect("archive")),
            1,
        ),
        (
            "export",
            Arc::new(ExportSource::open(&d.join("export")).expect("export")),
            1,
        ),
        ("mongo", Arc::new(mongo_source), 4),
    ];
    let results: Vec<(&str, Result)> = std::thread::scope(|scope| {
        let handles: Vec<_> = sources
            .into_iter()
            .map(|(name, source, partitions)| {
                (name, scope.spawn(move || migrate(name, source, partitions)))
            })
            .collect();
        handles
            .into_iter()
            .map(|(name, h)| {
                (
                    name,
                    h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)),
                )
            })
            .collect()
    });
    let (_, dump) = &results[0];
    assert_eq!(dump.tables.len(), 13, "{:?}", dump.tables.keys());
    assert!(dump.tables.values().all(|(n, _)| *n > 0));
    assert_eq!(
        dump.dead_letters.len(),
        2 + expected.dangling_comments.len()
    );
    for (name, result) in &results[1..] {
        for (table, hash) in &dump.tables {
            assert_eq!(
                result.tables.get(table),
                Some(hash),
                "table {table} from the {name} differs from the dump's"
            );
        }
        assert_eq!(result.tables.len(), dump.tables.len(), "{name}: tables");
        assert_eq!(
            result.dead_letters, dump.dead_letters,
            "{name}: dead letters"
        );
        assert_eq!(
            result.reference_issues, dump.reference_issues,
            "{name}: reference issues"
        );
    }
}
