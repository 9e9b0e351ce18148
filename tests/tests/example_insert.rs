//! The generator's inserter against the Mongo-wire server: a database that already holds the
//! example is refused before anything is written, `replace` starts it over, and the documents
//! on the server are the dump's, byte for byte, in `_id` order.

use std::sync::Arc;

use migrator::source::{DumpSource, Partition, Position, Source};
use migrator_e2e::example;
use migrator_e2e::mongo::MongoDb;
use schema::generator::mongo::{InsertError, InsertOptions, MongoTarget};
use schema::generator::{Collection, FaultConfig};

/// Every document of a collection, in `_id` order, as bytes.
fn read_all(source: &dyn Source, collection: &str) -> Vec<Vec<u8>> {
    source
        .read(collection, &Partition::whole(), &Position::Start)
        .unwrap_or_else(|e| panic!("reading {collection}: {e}"))
        .map(|d| {
            d.unwrap_or_else(|e| panic!("reading {collection}: {e}"))
                .doc
                .into_bytes()
        })
        .collect()
}

#[test]
fn inserting_twice_is_refused_replacing_starts_over_and_the_documents_are_the_dumps() {
    let faults = FaultConfig {
        per_kind: 2,
        oversized: 0,
    };
    let generator = example::generator(11, 0.005, faults);
    let dir = tempfile::tempdir().expect("temp dir");
    let manifest = example::write_dump(&generator, dir.path());
    let mongo = MongoDb::create("example_insert");
    // Batches of 7: most collections take several, and the last of each is partial.
    assert_eq!(example::insert(&generator, &mongo, 7), manifest);

    let target = MongoTarget::connect(mongo.uri(), Some(mongo.name())).expect("connects");
    assert_eq!(target.database(), mongo.name());
    match target.insert(&generator, &InsertOptions::default(), |_| {}) {
        Err(InsertError::NotEmpty {
            collection,
            documents,
            ..
        }) => {
            assert_eq!(collection, Collection::Plans.name());
            assert_eq!(documents, 8);
        }
        other => panic!("a second insertion must be refused, got {other:?}"),
    }

    let mut seen = Vec::new();
    let replace = InsertOptions {
        replace: true,
        ..InsertOptions::default()
    };
    let again = target
        .insert(&generator, &replace, |stats| {
            seen.push((stats.collection, stats.documents))
        })
        .unwrap_or_else(|e| panic!("replacing: {}", example::chain(&e)));
    assert_eq!(again, manifest);
    let expected: Vec<(Collection, u64)> = generator.collections().collect();
    assert_eq!(
        seen, expected,
        "progress once per collection, in load order"
    );

    let dump: Arc<dyn Source> = Arc::new(DumpSource::open(dir.path()).expect("the dump opens"));
    let live = mongo.source();
    for c in Collection::ALL {
        let want = read_all(dump.as_ref(), c.name());
        let got = read_all(&live, c.name());
        assert_eq!(
            got.len() as u64,
            manifest.collections[c.name()].documents,
            "{c}"
        );
        assert!(
            got == want,
            "the documents of {c} on the server differ from the dump's"
        );
    }
}
