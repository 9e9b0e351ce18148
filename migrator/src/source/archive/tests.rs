use std::io::Write;
use std::path::Path;

use bson::{rawdoc, Bson, RawDocumentBuf};

use super::*;
use crate::source::Positioned;

fn docs(prefix: &str, n: i32) -> Vec<RawDocumentBuf> {
    (0..n)
        .map(|i| rawdoc! {"_id": i, "name": format!("{prefix}{i}"), "tags": [prefix, i64::from(i)]})
        .collect()
}

/// Collection `a` (40 docs), `b` (25) and empty `c`, written in interleaved runs of 1 to 6.
fn fixture() -> Vec<(&'static str, Vec<RawDocumentBuf>)> {
    vec![
        ("a", docs("a", 40)),
        ("b", docs("b", 25)),
        ("c", Vec::new()),
    ]
}

fn write_archive(out: impl Write, db: &str, data: &[(&str, Vec<RawDocumentBuf>)]) {
    let prelude: Vec<ArchiveCollection> = data
        .iter()
        .map(|(c, _)| ArchiveCollection::new(db, c))
        .collect();
    let mut writer = ArchiveWriter::new(out, &prelude).expect("prelude");
    let mut next = vec![0usize; data.len()];
    let mut run = 1;
    while next.iter().zip(data).any(|(i, (_, d))| *i < d.len()) {
        for (k, (name, d)) in data.iter().enumerate() {
            let end = (next[k] + run).min(d.len());
            for doc in &d[next[k]..end] {
                writer.write(db, name, doc).expect("write");
            }
            next[k] = end;
            run = run % 6 + 1;
        }
    }
    writer.finish().expect("finish");
}

fn plain_archive(dir: &Path, data: &[(&str, Vec<RawDocumentBuf>)]) -> PathBuf {
    let path = dir.join("plain.archive");
    write_archive(std::fs::File::create(&path).expect("create"), "db", data);
    path
}

fn gzip_archive(dir: &Path, data: &[(&str, Vec<RawDocumentBuf>)]) -> PathBuf {
    // Named without `.gz`: gzip is recognised by its magic bytes.
    let path = dir.join("gzip.archive");
    let mut encoder = flate2::write::GzEncoder::new(
        std::fs::File::create(&path).expect("create"),
        flate2::Compression::fast(),
    );
    write_archive(&mut encoder, "db", data);
    encoder.finish().expect("gzip");
    path
}

fn read_all(
    source: &ArchiveSource,
    collection: &str,
    from: &Position,
) -> Result<Vec<Positioned>, SourceError> {
    source
        .read(collection, &Partition::whole(), from)?
        .collect()
}

fn bytes(docs: &[Positioned]) -> Vec<&[u8]> {
    docs.iter().map(|p| p.doc.as_bytes()).collect()
}

fn expected_bytes(docs: &[RawDocumentBuf]) -> Vec<&[u8]> {
    docs.iter().map(|d| d.as_bytes()).collect()
}

#[test]
fn reads_what_the_writer_wrote_plain_and_gzip() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = fixture();
    let plain = plain_archive(dir.path(), &data);
    let gzip = gzip_archive(dir.path(), &data);
    for path in [plain, gzip] {
        let source = ArchiveSource::open(&path).expect("open");
        let infos = source.collections().expect("collections");
        let names: Vec<&str> = infos.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        for ((_, docs), info) in data.iter().zip(&infos) {
            // Counted and measured by the index, for progress and scheduling.
            assert_eq!(info.estimated_documents, Some(docs.len() as u64));
            let size: usize = docs.iter().map(|d| d.as_bytes().len()).sum();
            assert_eq!(info.bytes_on_disk, Some(size as u64));
        }
        for (name, expected) in &data {
            let got = read_all(&source, name, &Position::Start).expect("read");
            assert_eq!(
                bytes(&got),
                expected_bytes(expected),
                "{} {name}",
                path.display()
            );
        }
    }
}

#[test]
fn resumes_at_every_position() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = fixture();
    let source = ArchiveSource::open(&plain_archive(dir.path(), &data)).expect("open");
    for (name, expected) in &data {
        let all = read_all(&source, name, &Position::Start).expect("read");
        for (k, doc) in all.iter().enumerate() {
            let rest = read_all(&source, name, &doc.next).expect("resume");
            assert_eq!(
                bytes(&rest),
                expected_bytes(&expected[k + 1..]),
                "{name} after {k}"
            );
        }
    }
    let err =
        read_all(&source, "a", &Position::Offset { offset: 3 }).expect_err("inside the prelude");
    assert!(
        err.to_string().contains("the prelude ends at byte"),
        "{err}"
    );
    let err = read_all(&source, "a", &Position::after_id(&Bson::Int32(1))).expect_err("after id");
    assert!(
        err.to_string().contains("archives resume at a byte offset"),
        "{err}"
    );
}

#[test]
fn truncated_archives_fail_with_file_and_offset() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = fixture();
    let full = std::fs::read(plain_archive(dir.path(), &data)).expect("read");
    let data_start = ArchiveSource::open(&dir.path().join("plain.archive"))
        .expect("open")
        .data_start as usize;
    let cut = dir.path().join("cut.archive");
    for len in (data_start..full.len()).step_by(3) {
        std::fs::write(&cut, &full[..len]).expect("write");
        let source = ArchiveSource::open(&cut).expect("the prelude is intact");
        let mut failures = 0;
        for (name, expected) in &data {
            match read_all(&source, name, &Position::Start) {
                Ok(got) => assert_eq!(
                    bytes(&got),
                    expected_bytes(expected),
                    "cut at {len}: {name}"
                ),
                Err(e) => {
                    failures += 1;
                    let text = e.to_string();
                    assert!(
                        text.contains(&cut.display().to_string()) && text.contains("at byte"),
                        "{text}"
                    );
                }
            }
        }
        // `c` is finished last, so every cut loses at least its EOF header.
        assert!(failures > 0, "cut at {len} read as complete");
    }
    let cases = [
        (
            data_start + 2,
            "file ends inside a length prefix (2 of 4 bytes)",
        ),
        (data_start + 30, "file ends inside a document of"),
        (
            data_start,
            "the archive ends before the end of `db.a` (no EOF header)",
        ),
        (
            full.len() - 4,
            "the EOF header of `db.c` is not followed by a terminator",
        ),
    ];
    for (len, expected) in cases {
        std::fs::write(&cut, &full[..len]).expect("write");
        let source = ArchiveSource::open(&cut).expect("open");
        let name = if len == full.len() - 4 { "c" } else { "a" };
        let err = read_all(&source, name, &Position::Start)
            .expect_err(expected)
            .to_string();
        assert!(err.contains(expected), "{err} should contain {expected}");
    }
    std::fs::write(&cut, &full[..10]).expect("write");
    let err = ArchiveSource::open(&cut)
        .expect_err("prelude cut")
        .to_string();
    assert!(
        err.contains("file ends inside a document") && err.contains("at byte 4"),
        "{err}"
    );
}

#[test]
fn corrupt_archives_fail_with_file_and_offset() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = fixture();
    let path = plain_archive(dir.path(), &data);
    let full = std::fs::read(&path).expect("read");
    let source = ArchiveSource::open(&path).expect("open");
    let first = read_all(&source, "a", &Position::Start).expect("read");
    // A document of `a` that directly follows another one (not a block terminator).
    let (k, second) = first
        .iter()
        .enumerate()
        .find_map(|(k, p)| match p.next {
            Position::Offset { offset }
                if full[offset as usize..offset as usize + 4] != TERMINATOR =>
            {
                Some((k + 1, offset as usize))
            }
            _ => None,
        })
        .expect("two documents of `a` in one block");
    let corrupt = dir.path().join("corrupt.archive");
    let mut bad_length = full.clone();
    bad_length[second..second + 4].copy_from_slice(&0x7fff_ffff_i32.to_le_bytes());
    let mut bad_value = full.clone();
    // That document's `name` ("a<k>" becomes "z<k>"): still valid BSON, different bytes.
    let len = first[k].doc.as_bytes().len();
    let name = format!("a{k}");
    let at = full[second..second + len]
        .windows(name.len())
        .position(|w| w == name.as_bytes())
        .expect("name");
    bad_value[second + at] = b'z';
    let cases = [
        (
            bad_length,
            format!("corrupt BSON at byte {second}: bad length prefix 2147483647"),
        ),
        (bad_value, "CRC mismatch for `db.a`".to_string()),
    ];
    for (bytes, expected) in cases {
        std::fs::write(&corrupt, bytes).expect("write");
        let source = ArchiveSource::open(&corrupt).expect("open");
        let err = read_all(&source, "a", &Position::Start)
            .expect_err(&expected)
            .to_string();
        assert!(
            err.contains(&expected) && err.contains(&corrupt.display().to_string()),
            "{err}"
        );
        // A resumed read, and a run of blocks, are checked too (the index checks the CRC).
        let err = read_all(&source, "a", &first[0].next)
            .expect_err(&expected)
            .to_string();
        assert!(err.contains(&expected), "resumed: {err}");
        let last = source
            .partitions("a", 2)
            .expect("partitions")
            .pop()
            .expect("a partition");
        let err = source
            .read("a", &last, &Position::Start)
            .and_then(|docs| docs.collect::<Result<Vec<_>, _>>())
            .expect_err(&expected)
            .to_string();
        assert!(err.contains(&expected), "last run of blocks: {err}");
    }
    std::fs::write(&corrupt, b"{\"_id\": 1}").expect("write");
    let err = ArchiveSource::open(&corrupt)
        .expect_err("not an archive")
        .to_string();
    assert!(
        err.contains("not a mongodump archive") && err.contains("at byte 0"),
        "{err}"
    );
}

#[test]
fn corrupt_gzip_fails_with_file_and_offset() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = vec![("a", docs("a", 2000))];
    let path = dir.path().join("a.archive.gz");
    let mut encoder = flate2::write::GzEncoder::new(
        std::fs::File::create(&path).expect("create"),
        flate2::Compression::fast(),
    );
    write_archive(&mut encoder, "db", &data);
    encoder.finish().expect("gzip");
    let mut bytes = std::fs::read(&path).expect("read");
    let middle = bytes.len() / 2;
    for b in &mut bytes[middle..middle + 16] {
        *b ^= 0x5a;
    }
    std::fs::write(&path, bytes).expect("write");
    let source = ArchiveSource::open(&path).expect("open");
    let err = read_all(&source, "a", &Position::Start)
        .expect_err("corrupt gzip")
        .to_string();
    // Nothing of a damaged gzip stream is read: what follows the damage is garbage.
    assert!(
        err.starts_with(&format!(
            "corrupt compressed stream in {} at byte ",
            path.display()
        )),
        "{err}"
    );
}

#[test]
fn names_metadata_and_fetch() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("two.archive");
    let mut users = ArchiveCollection::new("shop", "users");
    users.metadata = r#"{"indexes":[{"v":2,"key":{"_id":1},"name":"_id_"},{"v":2,"unique":true,"key":{"email":1},"name":"email_1"}]}"#.into();
    let mut view = ArchiveCollection::new("shop", "recent");
    view.kind = "view".into();
    let prelude = [
        users,
        ArchiveCollection::new("crm", "users"),
        view,
        ArchiveCollection::new("shop", "system.js"),
    ];
    let mut writer = ArchiveWriter::new(std::fs::File::create(&path).expect("create"), &prelude)
        .expect("prelude");
    for i in 0..5 {
        writer
            .write(
                "shop",
                "users",
                &rawdoc! {"_id": i, "email": format!("{i}@shop")},
            )
            .expect("write");
        writer
            .write("crm", "users", &rawdoc! {"_id": i, "crm": true})
            .expect("write");
    }
    writer.finish_collection("crm", "users").expect("finish");
    let err = writer
        .write("crm", "users", &rawdoc! {"_id": 9})
        .expect_err("finished");
    assert!(
        err.to_string().contains("`crm.users` is already finished"),
        "{err}"
    );
    let err = writer
        .write("crm", "nope", &rawdoc! {"_id": 9})
        .expect_err("unknown");
    assert!(
        err.to_string()
            .contains("`crm.nope` is not in the archive's prelude"),
        "{err}"
    );
    writer.finish().expect("finish");

    let both = ArchiveSource::open(&path).expect("open");
    let names: Vec<String> = both
        .collections()
        .expect("collections")
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["crm.users", "shop.users"]);
    assert_eq!(both.archived_collections().len(), 4);
    let shop = ArchiveSource::open(&path)
        .expect("open")
        .with_database("shop");
    let names: Vec<String> = shop
        .collections()
        .expect("collections")
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["users"]);
    let unique = shop.unique_indexes("users").expect("metadata");
    assert_eq!(unique.len(), 1);
    assert_eq!(
        (unique[0].name.as_str(), unique[0].keys.clone()),
        ("email_1", vec!["email".to_string()])
    );

    let found = both
        .fetch(
            "crm.users",
            &[Bson::Int32(3), Bson::Int32(1), Bson::Int32(42)],
        )
        .expect("fetch");
    let ids: Vec<i32> = found
        .iter()
        .map(|d| d.get_i32("_id").expect("_id"))
        .collect();
    assert_eq!(ids, [1, 3]);
    assert!(found.iter().all(|d| d.get_bool("crm").expect("crm")));

    for missing in ["users", "recent", "system.js"] {
        let err = both
            .read(missing, &Partition::whole(), &Position::Start)
            .expect_err("missing");
        assert!(
            matches!(err, SourceError::MissingCollection { .. }),
            "{err}"
        );
    }
}

#[test]
fn large_collections_are_read_in_runs_of_blocks_each_resumable() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = vec![
        ("a", docs("a", 400)),
        ("b", docs("b", 300)),
        ("c", Vec::new()),
    ];
    for path in [
        plain_archive(dir.path(), &data),
        gzip_archive(dir.path(), &data),
    ] {
        let source = ArchiveSource::open(&path).expect("open");
        let parts = source.partitions("a", 4).expect("partitions");
        assert!((2..=4).contains(&parts.len()), "{parts:?}");
        let mut all = Vec::new();
        let mut previous_end = 0;
        for (i, part) in parts.iter().enumerate() {
            assert_eq!(part.index as usize, i);
            let range = part.bytes.expect("a byte range");
            assert!(
                previous_end <= range.start && range.start < range.end,
                "{parts:?}"
            );
            previous_end = range.end;
            let got: Vec<Positioned> = source
                .read("a", part, &Position::Start)
                .expect("read")
                .collect::<Result<_, _>>()
                .expect("documents");
            assert!(!got.is_empty(), "partition {i} is empty");
            for (k, doc) in got.iter().enumerate() {
                let rest: Vec<Positioned> = source
                    .read("a", part, &doc.next)
                    .expect("resume")
                    .collect::<Result<_, _>>()
                    .expect("documents");
                assert_eq!(
                    bytes(&rest),
                    bytes(&got[k + 1..]),
                    "partition {i} after {k}"
                );
            }
            all.extend(got);
        }
        assert_eq!(
            bytes(&all),
            expected_bytes(&data[0].1),
            "{}",
            path.display()
        );
        assert_eq!(
            source.partitions("a", 1).expect("one"),
            [Partition::whole()]
        );
        assert_eq!(
            source.partitions("c", 4).expect("empty"),
            [Partition::whole()]
        );
        let by_id = Partition {
            min: Some(serde_json::json!(1)),
            ..Partition::whole()
        };
        let err = source
            .read("a", &by_id, &Position::Start)
            .expect_err("an _id range");
        assert!(err.to_string().contains("not by `_id` range"), "{err}");
    }
}

#[test]
fn the_archive_is_read_once_then_each_collection_from_its_own_blocks() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = fixture();
    for path in [
        plain_archive(dir.path(), &data),
        gzip_archive(dir.path(), &data),
    ] {
        let source = ArchiveSource::open(&path).expect("open");
        let first = read_all(&source, "a", &Position::Start).expect("read");
        assert_eq!(bytes(&first), expected_bytes(&data[0].1));
        // Gone from the directory: the index keeps the archive (or its decompressed copy) open,
        // and no other read opens it again.
        std::fs::remove_file(&path).expect("remove");
        for (name, expected) in &data {
            let got = read_all(&source, name, &Position::Start).expect("read after removal");
            assert_eq!(bytes(&got), expected_bytes(expected), "{name}");
        }
    }
}

#[test]
fn a_gzip_archive_without_room_for_its_copy_says_where() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = fixture();
    let missing = dir.path().join("no-such-dir");
    let gzip = ArchiveSource::open(&gzip_archive(dir.path(), &data))
        .expect("open")
        .with_temp_dir(&missing);
    let err = read_all(&gzip, "a", &Position::Start)
        .expect_err("no temp dir")
        .to_string();
    assert!(
        err.contains("gzip.archive")
            && err.contains(&missing.display().to_string())
            && err.contains("TMPDIR"),
        "{err}"
    );
    // A plain archive needs no copy.
    let plain = ArchiveSource::open(&plain_archive(dir.path(), &data))
        .expect("open")
        .with_temp_dir(&missing);
    let got = read_all(&plain, "a", &Position::Start).expect("plain");
    assert_eq!(bytes(&got), expected_bytes(&data[0].1));
}

/// `mongodump --archive --oplog`: the namespace `oplog` of no database is no collection; its
/// entries are read on their own, interleaved blocks and all, and resume at an offset.
#[test]
fn an_archives_oplog_is_read_apart_from_its_collections() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("oplog.archive");
    let mut prelude = vec![ArchiveCollection::new("shop", "a")];
    prelude.push(ArchiveCollection {
        db: String::new(),
        collection: OPLOG.into(),
        metadata: String::new(),
        size: 0,
        kind: String::new(),
    });
    let file = std::fs::File::create(&path).expect("create");
    let mut writer = ArchiveWriter::new(file, &prelude).expect("prelude");
    for i in 0..30 {
        writer
            .write("shop", "a", &rawdoc! {"_id": i})
            .expect("write");
        if i % 3 == 0 {
            let entry = rawdoc! {"op": "i", "ns": "shop.a", "o": {"_id": 100 + i}};
            writer.write("", OPLOG, &entry).expect("write");
        }
    }
    writer.finish().expect("finish");

    let source = ArchiveSource::open(&path).expect("open");
    let names: Vec<String> = source
        .collections()
        .expect("listed")
        .into_iter()
        .map(|c| c.name)
        .collect();
    // One database besides the oplog's: names stay unqualified.
    assert_eq!(names, ["a"]);
    assert_eq!(
        source.oplog_database().expect("a database"),
        Some("shop".into())
    );
    let read = |from: u64| -> Vec<(i32, u64)> {
        source
            .read_oplog(from)
            .expect("the oplog")
            .map(|p| {
                let p: Positioned = p.expect("an entry");
                let o = p.doc.get_document("o").expect("o");
                let Position::Offset { offset } = p.next else {
                    panic!("an offset");
                };
                (o.get_i32("_id").expect("_id"), offset)
            })
            .collect()
    };
    let all = read(0);
    assert_eq!(
        all.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        (0..30).step_by(3).map(|i| 100 + i).collect::<Vec<_>>()
    );
    let rest = read(all[3].1);
    assert_eq!(rest, all[4..]);

    // Without an oplog: none, and nothing to read.
    let plain = plain_archive(dir.path(), &fixture());
    let plain = ArchiveSource::open(&plain).expect("open");
    assert_eq!(plain.oplog_database().expect("no error"), None);
    assert!(plain.read_oplog(0).is_err());
}
