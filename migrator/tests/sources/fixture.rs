//! Building the same data as every kind of source.

use std::io::Write;
use std::path::Path;

use bson::oid::ObjectId;
use bson::RawDocumentBuf;
use migrator::source::dump::BsonFileReader;
use migrator::source::mongo::SplitMethod;
use migrator::source::{
    ArchiveCollection, ArchiveSource, ArchiveWriter, DumpSource, ExportSource, MongoSource,
    Partition, Position, Positioned, Source,
};

pub const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data");

/// (folder, collection) of the real files used; `empty` is added to every source.
pub const REAL: [(&str, &str); 4] = [
    ("sample_mflix", "users"),
    ("sample_mflix", "theaters"),
    ("sample_analytics", "accounts"),
    ("sample_analytics", "customers"),
];

pub struct Collection {
    pub name: &'static str,
    pub folder: &'static str,
    /// In file order.
    pub docs: Vec<RawDocumentBuf>,
}

pub fn load() -> Vec<Collection> {
    let mut collections: Vec<Collection> = REAL
        .iter()
        .map(|(folder, name)| {
            let path = Path::new(DATA).join(folder).join(format!("{name}.bson"));
            let docs = BsonFileReader::open(&path)
                .unwrap_or_else(|e| panic!("the shared test data is missing: {e}"))
                .map(|d| d.expect("the shared data reads").doc)
                .collect();
            Collection { name, folder, docs }
        })
        .collect();
    collections.push(Collection {
        name: "empty",
        folder: "",
        docs: Vec::new(),
    });
    collections
}

pub fn gzip(bytes: &[u8], to: &Path) {
    let mut encoder = flate2::write::GzEncoder::new(
        std::fs::File::create(to).expect("create"),
        flate2::Compression::fast(),
    );
    encoder.write_all(bytes).expect("gzip");
    encoder.finish().expect("gzip");
}

/// Copies `<name><suffix>` of every real collection (gzipped with `gz`), and writes an empty
/// data file for `empty`.
pub fn copy_files(into: &Path, data: &[Collection], suffixes: &[&str], gz: bool) {
    std::fs::create_dir_all(into).expect("mkdir");
    for c in data {
        for suffix in suffixes {
            let to = into.join(format!("{}{suffix}{}", c.name, if gz { ".gz" } else { "" }));
            let bytes = if c.folder.is_empty() {
                if suffix.starts_with(".metadata") {
                    continue;
                }
                Vec::new()
            } else {
                std::fs::read(
                    Path::new(DATA)
                        .join(c.folder)
                        .join(format!("{}{suffix}", c.name)),
                )
                .expect("read")
            };
            if gz {
                gzip(&bytes, &to);
            } else {
                std::fs::write(&to, bytes).expect("write");
            }
        }
    }
}

/// An archive of database `fixture`, collections interleaved in runs of 97 documents.
pub fn write_archive(out: impl Write, data: &[Collection]) {
    let prelude: Vec<ArchiveCollection> = data
        .iter()
        .map(|c| {
            let mut meta = ArchiveCollection::new("fixture", c.name);
            if !c.folder.is_empty() {
                let path = Path::new(DATA)
                    .join(c.folder)
                    .join(format!("{}.metadata.json", c.name));
                meta.metadata = std::fs::read_to_string(path).expect("metadata");
            }
            meta.size = c.docs.iter().map(|d| d.as_bytes().len() as i64).sum();
            meta
        })
        .collect();
    let mut writer = ArchiveWriter::new(out, &prelude).expect("prelude");
    let longest = data.iter().map(|c| c.docs.len()).max().unwrap_or(0);
    for start in (0..longest).step_by(97) {
        for c in data {
            for doc in c.docs.iter().skip(start).take(97) {
                writer.write("fixture", c.name, doc).expect("write");
            }
        }
    }
    writer.finish().expect("finish");
}

pub struct Files {
    _dir: tempfile::TempDir,
    pub sources: Vec<(&'static str, Box<dyn Source>)>,
}

pub fn file_sources(data: &[Collection]) -> Files {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    copy_files(&d.join("dump"), data, &[".bson", ".metadata.json"], false);
    copy_files(&d.join("dump_gz"), data, &[".bson", ".metadata.json"], true);
    copy_files(&d.join("export"), data, &[".json"], false);
    copy_files(&d.join("export_gz"), data, &[".json"], true);
    write_archive(
        std::fs::File::create(d.join("plain.archive")).expect("create"),
        data,
    );
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(d.join("gzip.archive")).expect("create"),
        flate2::Compression::fast(),
    );
    write_archive(&mut gz, data);
    gz.finish().expect("gzip");
    let sources: Vec<(&'static str, Box<dyn Source>)> = vec![
        (
            "dump",
            Box::new(DumpSource::open(&d.join("dump")).expect("dump")),
        ),
        (
            "dump gz",
            Box::new(DumpSource::open(&d.join("dump_gz")).expect("dump gz")),
        ),
        (
            "archive",
            Box::new(ArchiveSource::open(&d.join("plain.archive")).expect("archive")),
        ),
        (
            "archive gz",
            Box::new(ArchiveSource::open(&d.join("gzip.archive")).expect("archive gz")),
        ),
        (
            "export",
            Box::new(ExportSource::open(&d.join("export")).expect("export")),
        ),
        (
            "export gz",
            Box::new(ExportSource::open(&d.join("export_gz")).expect("export gz")),
        ),
    ];
    Files { _dir: dir, sources }
}

/// A database of its own on the Mongo-wire server, dropped at the end of the test.
pub struct TestDatabase {
    pub runtime: tokio::runtime::Runtime,
    client: mongodb::Client,
    name: String,
    uri: String,
}

impl TestDatabase {
    pub fn new(test: &str) -> TestDatabase {
        let uri = std::env::var("MIGRATOR_TEST_MONGO_URI").unwrap_or_else(|_| {
            panic!("MIGRATOR_TEST_MONGO_URI is not set: run `bash .ci/test`, or start the Mongo-wire server and export it")
        });
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let client = runtime
            .block_on(async {
                let mut options = mongodb::options::ClientOptions::parse(&uri).await?;
                options
                    .server_selection_timeout
                    .get_or_insert(std::time::Duration::from_secs(10));
                mongodb::Client::with_options(options)
            })
            .unwrap_or_else(|e| panic!("bad MIGRATOR_TEST_MONGO_URI {uri}: {e}"));
        let name = format!("migrator_sources_{test}_{}", std::process::id());
        let db = client.database(&name);
        runtime
            .block_on(async { db.drop().await })
            .unwrap_or_else(|e| panic!("the Mongo-wire server at {uri} does not answer: {e}"));
        TestDatabase {
            runtime,
            client,
            name,
            uri,
        }
    }

    pub fn insert(&self, collection: &str, docs: &[RawDocumentBuf]) {
        let db = self.client.database(&self.name);
        self.runtime
            .block_on(async {
                if docs.is_empty() {
                    db.create_collection(collection).await
                } else {
                    db.collection::<RawDocumentBuf>(collection)
                        .insert_many(docs)
                        .await
                        .map(drop)
                }
            })
            .unwrap_or_else(|e| panic!("cannot insert into {collection}: {e}"));
    }

    pub fn source(&self) -> MongoSource {
        MongoSource::connect(&self.uri, &self.name)
            .unwrap_or_else(|e| panic!("cannot reach the Mongo-wire server at {}: {e}", self.uri))
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let db = self.client.database(&self.name);
        let _ = self.runtime.block_on(async { db.drop().await });
    }
}

/// The data loaded into a fresh database, read in batches of 100 to cross batch boundaries.
pub fn mongo_with(test: &str, data: &[Collection]) -> (TestDatabase, MongoSource) {
    let db = TestDatabase::new(test);
    for c in data {
        db.insert(c.name, &c.docs);
    }
    // Split points whatever they cost: the ranges are what these tests are about.
    let source = db
        .source()
        .with_batch_size(100)
        .with_split(SplitMethod::Edges);
    (db, source)
}

pub fn read(
    source: &dyn Source,
    collection: &str,
    partition: &Partition,
    from: &Position,
) -> Vec<Positioned> {
    source
        .read(collection, partition, from)
        .unwrap_or_else(|e| panic!("{}: {e}", source.describe()))
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{}: {e}", source.describe()))
}

pub fn read_all(source: &dyn Source, collection: &str) -> Vec<Positioned> {
    read(source, collection, &Partition::whole(), &Position::Start)
}

pub fn oid(doc: &RawDocumentBuf) -> ObjectId {
    doc.get_object_id("_id")
        .expect("the real data has ObjectId `_id`s")
}

pub fn by_id(docs: &[RawDocumentBuf]) -> Vec<RawDocumentBuf> {
    let mut sorted = docs.to_vec();
    sorted.sort_by_key(oid);
    sorted
}

/// Byte equality, reporting the first difference by position and `_id` (not megabytes of bytes).
pub fn assert_same<'a>(
    what: &str,
    got: impl IntoIterator<Item = &'a RawDocumentBuf>,
    expected: &[RawDocumentBuf],
) {
    let got: Vec<&RawDocumentBuf> = got.into_iter().collect();
    for (i, (g, e)) in got.iter().zip(expected).enumerate() {
        assert!(
            g.as_bytes() == e.as_bytes(),
            "{what}: document {i} differs: got _id {:?}, expected _id {:?}",
            g.get("_id"),
            e.get("_id")
        );
    }
    assert_eq!(got.len(), expected.len(), "{what}: document count");
}

pub fn docs(read: &[Positioned]) -> impl Iterator<Item = &RawDocumentBuf> {
    read.iter().map(|p| &p.doc)
}
