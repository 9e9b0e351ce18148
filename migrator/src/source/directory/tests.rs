use std::io::Write;

use bson::rawdoc;

use super::layout::common_database;
use super::*;
use crate::source::{DumpSource, ExportSource, Source};

fn bson_file(path: &Path, ids: &[i32]) {
    let bytes: Vec<u8> = ids
        .iter()
        .flat_map(|i| rawdoc! {"_id": *i, "v": "x"}.into_bytes())
        .collect();
    if path.extension().is_some_and(|e| e == "gz") {
        let mut gz = flate2::write::GzEncoder::new(
            std::fs::File::create(path).expect("create"),
            flate2::Compression::fast(),
        );
        gz.write_all(&bytes).expect("write");
        gz.finish().expect("gzip");
    } else {
        std::fs::write(path, bytes).expect("write");
    }
}

fn ids(source: &dyn Source, collection: &str, from: &Position) -> Vec<(i32, Position)> {
    source
        .read(collection, &Partition::whole(), from)
        .expect("read")
        .map(|p| {
            let p = p.expect("doc");
            (p.doc.get_i32("_id").expect("_id"), p.next)
        })
        .collect()
}

fn names(source: &dyn Source) -> Vec<(String, Option<u64>)> {
    let infos = source.collections().expect("collections");
    infos
        .into_iter()
        .map(|c| (c.name, c.estimated_documents))
        .collect()
}

#[test]
fn dump_directory_lists_reads_resumes_and_refuses() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    bson_file(&d.join("a.bson"), &[1, 2, 3]);
    bson_file(&d.join("b.bson.gz"), &[7, 8]);
    bson_file(&d.join("empty.bson"), &[]);
    bson_file(&d.join("we%2Fird.bson"), &[5]);
    bson_file(&d.join("system.views.bson"), &[9]);
    std::fs::write(
        d.join("a.metadata.json"),
        r#"{"indexes":[{"unique":true,"key":{"k":1},"name":"k_1"}]}"#,
    )
    .expect("write");
    std::fs::write(d.join("notes.txt"), "not a collection").expect("write");
    let source = DumpSource::open(d).expect("open");
    let expected = [
        ("a", Some(3)),
        ("b", Some(2)),
        ("empty", Some(0)),
        ("we/ird", Some(1)),
    ];
    let expected: Vec<(String, Option<u64>)> =
        expected.iter().map(|(n, c)| (n.to_string(), *c)).collect();
    assert_eq!(names(&source), expected);

    let all = ids(&source, "b", &Position::Start);
    assert_eq!(all.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [7, 8]);
    let rest = ids(&source, "b", &all[0].1);
    assert_eq!(rest.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [8]);
    assert!(ids(&source, "b", &all[1].1).is_empty());
    assert!(ids(&source, "empty", &Position::Start).is_empty());
    assert_eq!(ids(&source, "we/ird", &Position::Start)[0].0, 5);

    let found = source
        .fetch("a", &[Bson::Int32(3), Bson::Int32(4)])
        .expect("fetch");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].get_i32("_id").expect("_id"), 3);
    assert_eq!(source.unique_indexes("a").expect("metadata")[0].keys, ["k"]);
    assert!(source
        .unique_indexes("b")
        .expect("no metadata file")
        .is_empty());

    let second = Partition {
        index: 1,
        ..Partition::whole()
    };
    let refusals = [
        (
            "a",
            second.clone(),
            Position::Start,
            "reads `a` whole or by byte range, not by `_id` range (partition 1)",
        ),
        (
            "a",
            Partition::whole(),
            Position::after_id(&Bson::Int32(1)),
            "files resume at a byte offset",
        ),
        (
            "a",
            Partition::whole(),
            Position::Offset { offset: 999 },
            "cannot resume at byte 999",
        ),
        (
            "system.views",
            Partition::whole(),
            Position::Start,
            "collection `system.views` is not in mongodump directory",
        ),
        (
            "c",
            Partition::whole(),
            Position::Start,
            "collection `c` is not in mongodump directory",
        ),
    ];
    for (collection, partition, from, expected) in refusals {
        let err = source
            .read(collection, &partition, &from)
            .expect_err(expected)
            .to_string();
        assert!(err.contains(expected), "{err} should contain {expected}");
    }
    assert!(matches!(
        source.partitions("c", 4),
        Err(SourceError::MissingCollection { .. })
    ));
    assert!(matches!(
        source.fetch("c", &[]),
        Err(SourceError::MissingCollection { .. })
    ));
    assert_eq!(
        source.partitions("a", 4).expect("partitions"),
        [Partition::whole()]
    );
}

#[test]
fn a_compass_export_names_collections_after_the_database() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    std::fs::write(d.join("shop.orders.json"), "{\"_id\": 1}\n{\"_id\": 2}\n").expect("write");
    std::fs::write(d.join("shop.users.json"), "[{\"_id\": 3}]").expect("write");
    let source = ExportSource::open(d).expect("open");
    assert_eq!(
        names(&source),
        [
            ("orders".to_string(), Some(2)),
            ("users".to_string(), Some(1))
        ]
    );
    assert_eq!(ids(&source, "users", &Position::Start)[0].0, 3);
    let err = source
        .read("carts", &Partition::whole(), &Position::Start)
        .expect_err("no carts")
        .to_string();
    assert!(
        err.contains(
            "shop.orders.json (collection `orders`), shop.users.json (collection `users`)"
        ),
        "{err}"
    );

    // Not one database for all: the names are the files' own.
    std::fs::write(d.join("carts.json"), "{\"_id\": 4}\n").expect("write");
    let mixed = ExportSource::open(d).expect("open");
    let listed: Vec<String> = names(&mixed).into_iter().map(|(n, _)| n).collect();
    assert_eq!(listed, ["carts", "shop.orders", "shop.users"]);
}

#[test]
fn the_database_is_what_every_name_starts_with() {
    let names = |list: &[&str]| list.iter().map(|n| n.to_string()).collect::<Vec<_>>();
    for (list, database) in [
        (names(&["db.a", "db.b.c"]), Some("db")),
        (names(&["db.a", "other.b"]), None),
        (names(&["db.a", "b"]), None),
        (names(&[".a"]), None),
        (names(&["db."]), None),
        (names(&[]), None),
    ] {
        assert_eq!(common_database(&list), database, "{list:?}");
    }
}

#[test]
fn one_collection_in_two_files_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    bson_file(&dir.path().join("a.bson"), &[1]);
    bson_file(&dir.path().join("a.bson.gz"), &[1]);
    let err = DumpSource::open(dir.path())
        .expect_err("ambiguous")
        .to_string();
    assert!(err.contains("collection `a` is in two files"), "{err}");
}

#[test]
fn the_directory_above_the_databases_is_refused_with_their_names() {
    let dir = tempfile::tempdir().expect("temp dir");
    for db in ["shop", "crm"] {
        std::fs::create_dir(dir.path().join(db)).expect("mkdir");
        bson_file(&dir.path().join(db).join("a.bson"), &[1]);
    }
    std::fs::create_dir(dir.path().join("other")).expect("mkdir");
    let err = DumpSource::open(dir.path()).expect_err("root").to_string();
    assert!(
        err.contains("open one database directory: crm, shop"),
        "{err}"
    );
    let empty = tempfile::tempdir().expect("temp dir");
    let source = DumpSource::open(empty.path()).expect("an empty dump is not an error");
    assert!(source.collections().expect("collections").is_empty());
}

#[test]
fn export_files_skip_metadata_and_name_collections_after_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    std::fs::write(d.join("users.json"), "{\"_id\": 1}\n{\"_id\": 2}\n").expect("write");
    std::fs::write(d.join("users.metadata.json"), r#"{"indexes":[]}"#).expect("write");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(d.join("items.json.gz")).expect("create"),
        flate2::Compression::fast(),
    );
    gz.write_all(b"[{\"_id\": {\"$numberInt\": \"3\"}}, {\"_id\": 4}]")
        .expect("write");
    gz.finish().expect("gzip");
    std::fs::write(d.join("empty.json"), "").expect("write");

    let source = ExportSource::open(d).expect("open");
    let expected = [("empty", Some(0)), ("items", Some(2)), ("users", Some(2))];
    let expected: Vec<(String, Option<u64>)> =
        expected.iter().map(|(n, c)| (n.to_string(), *c)).collect();
    assert_eq!(names(&source), expected);
    let items = ids(&source, "items", &Position::Start);
    assert_eq!(items.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [3, 4]);
    assert_eq!(ids(&source, "items", &items[0].1)[0].0, 4);
    assert!(ids(&source, "empty", &Position::Start).is_empty());

    let listed = ExportSource::from_files(&[d.join("users.json")]).expect("from files");
    assert_eq!(names(&listed), [("users".to_string(), Some(2))]);
    let err = ExportSource::from_files(&[d.join("users.metadata.json")])
        .expect_err("metadata")
        .to_string();
    assert!(
        err.contains(
            "users.metadata.json is not named `<collection>.json` or `<collection>.json.gz`"
        ),
        "{err}"
    );
}

/// `n` documents of about 1 KiB each, ids 0..n.
fn big_bson_file(path: &Path, n: i32) {
    let pad = "x".repeat(1000);
    let bytes: Vec<u8> = (0..n)
        .flat_map(|i| rawdoc! {"_id": i, "pad": pad.as_str()}.into_bytes())
        .collect();
    std::fs::write(path, bytes).expect("write");
}

#[test]
fn a_plain_bson_file_splits_into_byte_ranges_that_read_every_document_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    big_bson_file(&dir.path().join("big.bson"), 300);
    bson_file(
        &dir.path().join("gz.bson.gz"),
        &(0..5000).collect::<Vec<_>>(),
    );
    let source = DumpSource::open(dir.path()).expect("open");
    let parts = source.partitions("big", 4).expect("partitions");
    assert_eq!(parts.len(), 4, "{parts:?}");
    let mut seen = Vec::new();
    let mut previous_end = 0;
    for (i, part) in parts.iter().enumerate() {
        assert_eq!(part.index as usize, i);
        let range = part.bytes.expect("a byte range");
        assert_eq!(range.start, previous_end, "ranges are contiguous");
        assert!(range.end > range.start);
        previous_end = range.end;
        let docs: Vec<i32> = source
            .read("big", part, &Position::Start)
            .expect("read")
            .map(|p| p.expect("doc").doc.get_i32("_id").expect("_id"))
            .collect();
        assert!(docs.len() > 60, "partition {i} is about a quarter");
        seen.extend(docs);
    }
    assert_eq!(seen, (0..300).collect::<Vec<_>>());
    assert_eq!(source.partitions("big", 4).expect("again"), parts, "stable");

    // Resuming inside a range continues to its end and no further.
    let second = &parts[1];
    let mut docs = source.read("big", second, &Position::Start).expect("read");
    let first = docs.next().expect("one").expect("doc");
    let rest = source
        .read("big", second, &first.next)
        .expect("resume")
        .count();
    assert_eq!(rest, docs.count());
    let outside = Position::Offset {
        offset: parts[2].bytes.expect("range").end,
    };
    let err = source
        .read("big", second, &outside)
        .expect_err("outside")
        .to_string();
    assert!(err.contains("partition 1 holds bytes"), "{err}");

    // One partition asked, a file too small to split, or a compressed one: read whole.
    assert_eq!(
        source.partitions("big", 1).expect("one"),
        [Partition::whole()]
    );
    bson_file(&dir.path().join("small.bson"), &[1, 2, 3]);
    let source = DumpSource::open(dir.path()).expect("open");
    assert_eq!(
        source.partitions("small", 4).expect("small"),
        [Partition::whole()]
    );
    assert_eq!(
        source.partitions("gz", 4).expect("gz"),
        [Partition::whole()]
    );
}
