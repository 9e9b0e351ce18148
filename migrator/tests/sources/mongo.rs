//! What only the live source does: `_id` partitions, mixed `_id` types, async callers.

use bson::oid::ObjectId;
use bson::{rawdoc, RawDocumentBuf};
use migrator::source::mongo::SplitMethod;
use migrator::source::{MongoSource, Partition, Position, Source};

use crate::fixture::*;

#[test]
fn mongo_partitions_cover_every_document_once() {
    let data = load();
    let (db, mongo) = mongo_with("partitions", &data);
    let all = read_all(&mongo, "theaters");
    assert_eq!(all.len(), 1564);
    let expected: Vec<RawDocumentBuf> = all.into_iter().map(|p| p.doc).collect();
    // Cut between the smallest and largest `_id` (ranges as uneven as the `_id`s' timestamps,
    // some maybe empty), and by `$bucketAuto` (ranges of equal size).
    for split in [SplitMethod::Edges, SplitMethod::BucketAuto] {
        let mongo = db.source().with_batch_size(100).with_split(split);
        let partitions = mongo.partitions("theaters", 4).expect("partitions");
        assert!(partitions.len() > 1, "{split:?}: {partitions:?}");
        assert_eq!(
            mongo.partitions("theaters", 4).expect("again"),
            partitions,
            "deterministic"
        );
        let last = partitions.len() - 1;
        assert!(partitions[0].min.is_none() && partitions[last].max.is_none());
        for (i, p) in partitions.iter().enumerate() {
            assert_eq!(p.index as usize, i);
            if i > 0 {
                assert_eq!(p.min, partitions[i - 1].max, "adjacent");
            }
        }
        let mut joined = Vec::new();
        for p in &partitions {
            let part = read(&mongo, "theaters", p, &Position::Start);
            if split == SplitMethod::BucketAuto {
                assert!(
                    part.len() >= 256,
                    "partition {} has {} documents",
                    p.index,
                    part.len()
                );
            }
            // Resuming inside a partition stays inside it.
            if part.len() > 10 {
                let rest = read(&mongo, "theaters", p, &part[9].next);
                let tail: Vec<RawDocumentBuf> = part[10..].iter().map(|p| p.doc.clone()).collect();
                assert_same(
                    &format!("{split:?} partition {} after 9", p.index),
                    docs(&rest),
                    &tail,
                );
            }
            joined.extend(part.into_iter().map(|p| p.doc));
        }
        assert_same(&format!("{split:?} partitions joined"), &joined, &expected);
    }

    assert_eq!(
        mongo.partitions("theaters", 1).expect("one"),
        [Partition::whole()]
    );
    assert_eq!(
        mongo.partitions("users", 4).expect("small"),
        [Partition::whole()],
        "185 documents"
    );
    assert_eq!(
        mongo.partitions("empty", 4).expect("empty"),
        [Partition::whole()]
    );
}

#[test]
fn mongo_collections_are_counted_once_per_source() {
    let data = load();
    let (db, mongo) = mongo_with("listed", &data);
    let count = |source: &MongoSource| {
        let listed = source.collections().expect("collections");
        let users = listed.iter().find(|c| c.name == "users").expect("users");
        (listed.len(), users.estimated_documents)
    };
    let first = count(&mongo);
    assert_eq!(first, (data.len(), Some(185)));
    db.insert(
        "users",
        &[rawdoc! { "_id": ObjectId::new(), "name": "late" }],
    );
    db.insert("late", &[rawdoc! { "_id": 1 }]);
    // The same source answers as it first did (the run and the CLI both ask); a new one counts.
    assert_eq!(count(&mongo), first);
    assert_eq!(count(&db.source()), (data.len() + 1, Some(186)));
}

#[test]
fn mongo_reads_mixed_id_types_in_bson_order() {
    let db = TestDatabase::new("mixed");
    let date = bson::DateTime::from_millis(0);
    let oid = ObjectId::parse_str("59a47286cfa9a3a73e51e72c").expect("oid");
    let inserted = [
        rawdoc! {"_id": "b"},
        rawdoc! {"_id": 2.5},
        rawdoc! {"_id": true},
        rawdoc! {"_id": oid},
        rawdoc! {"_id": 7_i64},
        rawdoc! {"_id": "a"},
        rawdoc! {"_id": date},
        rawdoc! {"_id": 1},
        rawdoc! {"_id": {"k": 1}},
    ];
    db.insert("mixed", &inserted);
    let mongo = db.source().with_batch_size(2);
    // Numbers, strings, objects, ObjectId, booleans, dates.
    let order = [7, 1, 4, 5, 0, 8, 3, 2, 6];
    let expected: Vec<RawDocumentBuf> = order.iter().map(|&i| inserted[i].clone()).collect();
    let all = read_all(&mongo, "mixed");
    assert_same("mixed", docs(&all), &expected);
    for k in 0..all.len() {
        let rest = read(&mongo, "mixed", &Partition::whole(), &all[k].next);
        assert_same(&format!("mixed after {k}"), docs(&rest), &expected[k + 1..]);
    }
    assert_eq!(
        mongo.partitions("mixed", 4).expect("partitions"),
        [Partition::whole()]
    );
}

#[test]
fn mongo_source_is_usable_inside_an_async_context() {
    let data = load();
    let (db, mongo) = mongo_with("async", &data[..1]);
    let count = db.runtime.block_on(async {
        let count = read_all(&mongo, "users").len();
        // Dropping the source (and its runtime) inside another runtime must not panic either.
        drop(mongo);
        count
    });
    assert_eq!(count, data[0].docs.len());
}

#[test]
fn mongo_refuses_file_positions_and_reports_unreachable_servers() {
    let db = TestDatabase::new("refuse");
    db.insert("c", &[rawdoc! {"_id": 1}]);
    let mongo = db.source();
    let err = mongo
        .read("c", &Partition::whole(), &Position::Offset { offset: 10 })
        .expect_err("offset");
    assert!(
        err.to_string()
            .contains("a live collection resumes after an `_id`"),
        "{err}"
    );
    let err = MongoSource::connect("mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300", "x")
        .expect_err("no server");
    assert!(err.to_string().contains("cannot connect"), "{err}");
}
