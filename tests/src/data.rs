//! Data sets written as every kind of source: mongodump directories, mongoexport directories,
//! mongodump archives (plain or gzip). The real data comes from `../shared/data` at test time.

use std::io::Write;
use std::path::{Path, PathBuf};

use bson::{Document, RawDocumentBuf};
use migrator::source::{ArchiveCollection, ArchiveWriter};

/// The shared real data (`../shared/data` from the project root).
pub const REAL_DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data");

/// Every real collection the real-data models cover, and the file it is read from.
pub const REAL_FILES: [(&str, &str); 9] = [
    ("accounts", "sample_analytics/accounts.bson"),
    ("customers", "sample_analytics/customers.bson"),
    ("users", "sample_mflix/users.bson"),
    ("theaters", "sample_mflix/theaters.bson"),
    ("sessions", "sample_mflix/sessions.bson"),
    ("movies", "sample_mflix_export/movies.json"),
    ("comments", "sample_mflix_export/comments.json"),
    ("mongomart_item", "mongomart/mongomart_item.bson"),
    ("mongomart_cart", "mongomart/mongomart_cart.bson"),
];

/// One collection of a data set.
#[derive(Debug, Clone)]
pub struct Collection {
    pub name: String,
    /// In file order.
    pub docs: Vec<RawDocumentBuf>,
    /// The original `.bson` file, copied as it is into dump directories.
    pub bson_file: Option<PathBuf>,
    /// The original Extended JSON twin, copied as it is into export directories.
    pub json_file: Option<PathBuf>,
    /// mongodump's `<collection>.metadata.json`, copied beside the data.
    pub metadata_file: Option<PathBuf>,
}

/// Collections of documents, in the order given.
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    pub collections: Vec<Collection>,
}

fn existing(path: PathBuf) -> Option<PathBuf> {
    path.is_file().then_some(path)
}

/// Reads a `.bson` or Extended JSON file whole.
pub fn read_file(path: &Path) -> Vec<RawDocumentBuf> {
    assert!(
        path.is_file(),
        "the shared test data is missing: {} (see ../shared/data/README.md)",
        path.display()
    );
    migrator::testing::read_documents(path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

impl Dataset {
    /// The real data: every collection of [`REAL_FILES`].
    pub fn real() -> Dataset {
        let root = Path::new(REAL_DATA);
        let collections = REAL_FILES
            .iter()
            .map(|(name, file)| {
                let path = root.join(file);
                let stem = path.with_extension("");
                let is_bson = path.extension().is_some_and(|e| e == "bson");
                Collection {
                    name: name.to_string(),
                    docs: read_file(&path),
                    bson_file: is_bson.then(|| path.clone()),
                    json_file: existing(stem.with_extension("json")),
                    metadata_file: existing(stem.with_extension("metadata.json")),
                }
            })
            .collect();
        Dataset { collections }
    }

    /// A data set from documents.
    pub fn from_documents<S: Into<String>>(collections: Vec<(S, Vec<Document>)>) -> Dataset {
        let collections = collections
            .into_iter()
            .map(|(name, docs)| Collection {
                name: name.into(),
                docs: docs
                    .iter()
                    .map(|d| RawDocumentBuf::try_from(d).expect("a test document serializes"))
                    .collect(),
                bson_file: None,
                json_file: None,
                metadata_file: None,
            })
            .collect();
        Dataset { collections }
    }

    pub fn get(&self, name: &str) -> &Collection {
        self.collections
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no collection `{name}` in the data set"))
    }

    pub fn docs(&self, name: &str) -> &[RawDocumentBuf] {
        &self.get(name).docs
    }

    /// Leaves a collection out.
    pub fn without(mut self, name: &str) -> Dataset {
        self.collections.retain(|c| c.name != name);
        self
    }

    /// A mongodump directory: `<collection>.bson` (the original file when there is one) and
    /// `<collection>.metadata.json` when the original has one.
    pub fn write_dump(&self, dir: &Path) {
        std::fs::create_dir_all(dir).expect("create the dump directory");
        for c in &self.collections {
            let to = dir.join(format!("{}.bson", c.name));
            match &c.bson_file {
                Some(from) => {
                    std::fs::copy(from, &to).expect("copy a .bson file");
                }
                None => write_bson(&to, &c.docs),
            }
            if let Some(meta) = &c.metadata_file {
                std::fs::copy(meta, dir.join(format!("{}.metadata.json", c.name)))
                    .expect("copy metadata");
            }
        }
    }

    /// A mongoexport directory: `<collection>.json` (the original twin when there is one,
    /// otherwise canonical Extended JSON, one document per line).
    pub fn write_export(&self, dir: &Path) {
        std::fs::create_dir_all(dir).expect("create the export directory");
        for c in &self.collections {
            let to = dir.join(format!("{}.json", c.name));
            match &c.json_file {
                Some(from) => {
                    std::fs::copy(from, &to).expect("copy a .json file");
                }
                None => std::fs::write(&to, canonical_lines(&c.docs)).expect("write .json"),
            }
        }
    }

    /// A mongodump `--archive` of database `e2e`, collections interleaved in runs of 97
    /// documents, gzipped if asked.
    pub fn write_archive(&self, path: &Path, gzip: bool) {
        let file = std::fs::File::create(path).expect("create the archive");
        if gzip {
            let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
            self.archive_into(&mut gz);
            gz.finish().expect("finish gzip");
        } else {
            self.archive_into(std::io::BufWriter::new(file));
        }
    }

    fn archive_into(&self, out: impl Write) {
        let prelude: Vec<ArchiveCollection> = self
            .collections
            .iter()
            .map(|c| {
                let mut meta = ArchiveCollection::new("e2e", &c.name);
                if let Some(path) = &c.metadata_file {
                    meta.metadata = std::fs::read_to_string(path).expect("metadata");
                }
                meta.size = c.docs.iter().map(|d| d.as_bytes().len() as i64).sum();
                meta
            })
            .collect();
        let mut writer = ArchiveWriter::new(out, &prelude).expect("archive prelude");
        let longest = self
            .collections
            .iter()
            .map(|c| c.docs.len())
            .max()
            .unwrap_or(0);
        for start in (0..longest).step_by(97) {
            for c in &self.collections {
                for doc in c.docs.iter().skip(start).take(97) {
                    writer.write("e2e", &c.name, doc).expect("archive write");
                }
            }
        }
        writer.finish().expect("finish the archive");
    }
}

/// Documents back to back, as mongodump writes them.
pub fn bson_bytes(docs: &[RawDocumentBuf]) -> Vec<u8> {
    docs.iter()
        .flat_map(|d| d.as_bytes().iter().copied())
        .collect()
}

pub fn write_bson(path: &Path, docs: &[RawDocumentBuf]) {
    std::fs::write(path, bson_bytes(docs)).expect("write a .bson file");
}

/// Canonical Extended JSON, one document per line.
pub fn canonical_lines(docs: &[RawDocumentBuf]) -> String {
    let mut out = String::new();
    for d in docs {
        let doc = Document::try_from(d.as_ref()).expect("a readable document");
        out.push_str(
            &bson::Bson::Document(doc)
                .into_canonical_extjson()
                .to_string(),
        );
        out.push('\n');
    }
    out
}
