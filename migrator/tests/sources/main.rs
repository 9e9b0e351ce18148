//! The same real data through every source: a mongodump directory (plain and gzip), an archive
//! (plain and gzip, collections interleaved), mongoexport files (plain and gzip) and a live
//! Mongo-wire server. Every source must give byte-identical documents: in file order for files,
//! in `_id` order for the server.
//!
//! The server tests need `MIGRATOR_TEST_MONGO_URI` (`bash .ci/test` starts a server and sets it);
//! without it they fail, they never skip.
mod fixture;
mod mongo;

use std::path::{Path, PathBuf};

use bson::oid::ObjectId;
use bson::{Bson, RawDocumentBuf};
use migrator::source::{ArchiveSource, DumpSource, Partition, Position, Source, SourceError};

use fixture::*;

#[test]
fn every_source_gives_the_same_documents() {
    let data = load();
    let files = file_sources(&data);
    let (_db, mongo) = mongo_with("same", &data);
    let mut names: Vec<&str> = data.iter().map(|c| c.name).collect();
    names.sort_unstable();
    for (label, source) in &files.sources {
        let listed: Vec<String> = source
            .collections()
            .expect("collections")
            .into_iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(listed, names, "{label}");
        for c in &data {
            assert_same(
                &format!("{label} {}", c.name),
                docs(&read_all(source.as_ref(), c.name)),
                &c.docs,
            );
        }
    }
    let listed = mongo.collections().expect("collections");
    for c in &data {
        let info = listed.iter().find(|i| i.name == c.name).expect("listed");
        assert_eq!(
            info.estimated_documents,
            Some(c.docs.len() as u64),
            "{}",
            c.name
        );
        assert_same(
            &format!("mongo {}", c.name),
            docs(&read_all(&mongo, c.name)),
            &by_id(&c.docs),
        );
    }
    assert_eq!(listed.len(), data.len());
}

/// Every file source and the live one, labelled.
fn with_mongo<'a>(files: &'a Files, mongo: &'a dyn Source) -> Vec<(&'a str, &'a dyn Source)> {
    let mut sources: Vec<(&str, &dyn Source)> = files
        .sources
        .iter()
        .map(|(l, s)| (*l, s.as_ref()))
        .collect();
    sources.push(("mongo", mongo));
    sources
}

#[test]
fn every_source_resumes_with_exactly_the_rest() {
    let data = load();
    let files = file_sources(&data);
    let (_db, mongo) = mongo_with("resume", &data);
    let sources = with_mongo(&files, &mongo);
    for (label, source) in sources {
        for collection in ["theaters", "users"] {
            let all = read_all(source, collection);
            let n = all.len();
            for k in [0, 99, n / 3, n - 2, n - 1] {
                let rest = read(source, collection, &Partition::whole(), &all[k].next);
                let expected: Vec<RawDocumentBuf> =
                    all[k + 1..].iter().map(|p| p.doc.clone()).collect();
                assert_same(
                    &format!("{label} {collection} after {k}"),
                    docs(&rest),
                    &expected,
                );
            }
        }
    }
}

#[test]
fn missing_and_empty_collections() {
    let data = load();
    let files = file_sources(&data);
    let (_db, mongo) = mongo_with("missing", &data);
    let sources = with_mongo(&files, &mongo);
    for (label, source) in sources {
        assert!(read_all(source, "empty").is_empty(), "{label}");
        let missing = [
            source
                .read("nope", &Partition::whole(), &Position::Start)
                .err(),
            source.partitions("nope", 4).err(),
            source.fetch("nope", &[Bson::Int32(1)]).err(),
        ];
        for err in missing {
            match err {
                Some(SourceError::MissingCollection {
                    collection,
                    source_name,
                }) => {
                    assert_eq!(collection, "nope");
                    // File sources add what they hold.
                    assert!(
                        source_name.starts_with(&source.describe()),
                        "{label}: {source_name}"
                    );
                }
                other => panic!("{label}: expected a missing collection, got {other:?}"),
            }
        }
    }
}

#[test]
fn every_source_fetches_by_id() {
    let data = load();
    let files = file_sources(&data);
    let (_db, mongo) = mongo_with("fetch", &data);
    let theaters = &data[1].docs;
    let wanted = [&theaters[1500], &theaters[3], &theaters[700]];
    let mut ids: Vec<Bson> = wanted.iter().map(|d| Bson::ObjectId(oid(d))).collect();
    ids.push(Bson::ObjectId(ObjectId::new()));
    let expected = by_id(&wanted.map(|d| d.clone()));
    let sources = with_mongo(&files, &mongo);
    for (label, source) in sources {
        let found = source.fetch("theaters", &ids).expect("fetch");
        assert_same(label, &by_id(&found), &expected);
        assert!(
            source.fetch("theaters", &[]).expect("nothing").is_empty(),
            "{label}"
        );
    }
}

#[test]
fn unique_indexes_come_from_metadata() {
    let data = load();
    let dir = tempfile::tempdir().expect("temp dir");
    for gz in [false, true] {
        let dump = dir.path().join(format!("dump{gz}"));
        copy_files(&dump, &data, &[".bson", ".metadata.json"], gz);
        let dump = DumpSource::open(&dump).expect("dump");
        let users = dump.unique_indexes("users").expect("users");
        assert_eq!(users.len(), 1);
        assert_eq!(
            (users[0].name.as_str(), users[0].keys.as_slice()),
            ("email_1", ["email".to_string()].as_slice())
        );
        assert!(
            dump.unique_indexes("theaters")
                .expect("theaters")
                .is_empty(),
            "a geo index is not unique"
        );
    }
    let path = dir.path().join("a.archive");
    write_archive(std::fs::File::create(&path).expect("create"), &data);
    let archive = ArchiveSource::open(&path).expect("archive");
    assert_eq!(
        archive.unique_indexes("users").expect("users")[0].keys,
        ["email"]
    );
}

/// Paths used above, listed so a missing shared data folder fails with its name.
#[test]
fn shared_data_is_present() {
    for (folder, name) in REAL {
        for suffix in [".bson", ".json", ".metadata.json"] {
            let path: PathBuf = Path::new(DATA).join(folder).join(format!("{name}{suffix}"));
            assert!(path.is_file(), "missing {}", path.display());
        }
    }
}
