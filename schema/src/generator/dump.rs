//! Writes what the generator makes as a mongodump directory: `<collection>.bson` (documents back
//! to back, each with its own length prefix), `<collection>.metadata.json` (the unique indexes,
//! and the `2dsphere` one of organizations) and `manifest.json`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use migrator::bson::RawDocumentBuf;

use super::manifest::{Manifest, ManifestBuilder};
use super::{Collection, Generator};

/// The name of the manifest in the dump directory.
pub const MANIFEST_FILE: &str = "manifest.json";

/// Why the dump could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DumpError {
    #[error("writing {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("encoding document {index} of `{collection}`: {source}")]
    Encode {
        collection: &'static str,
        index: u64,
        #[source]
        source: migrator::bson::error::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DumpError + '_ {
    move |source| DumpError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What writing one collection took.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CollectionStats {
    pub collection: Collection,
    pub documents: u64,
    pub bytes: u64,
    pub elapsed: Duration,
}

/// Writes every collection and the manifest into `dir` (created if needed) and returns the manifest.
pub fn write_dump(generator: &Generator, dir: &Path) -> Result<Manifest, DumpError> {
    write_dump_with(generator, dir, |_| {})
}

/// [`write_dump`], calling `progress` after each collection.
pub fn write_dump_with(
    generator: &Generator,
    dir: &Path,
    mut progress: impl FnMut(&CollectionStats),
) -> Result<Manifest, DumpError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut builder = ManifestBuilder::new(generator);
    for c in Collection::ALL {
        let stats = write_collection(generator, c, dir, &mut builder)?;
        progress(&stats);
    }
    let manifest = builder.finish();
    let path = dir.join(MANIFEST_FILE);
    let tmp = dir.join(format!("{MANIFEST_FILE}.tmp"));
    std::fs::write(&tmp, manifest.to_json()).map_err(io(&tmp))?;
    std::fs::rename(&tmp, &path).map_err(io(&path))?;
    Ok(manifest)
}

fn write_collection(
    generator: &Generator,
    c: Collection,
    dir: &Path,
    builder: &mut ManifestBuilder,
) -> Result<CollectionStats, DumpError> {
    let started = Instant::now();
    let path = dir.join(format!("{}.bson", c.name()));
    let file = File::create(&path).map_err(io(&path))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let mut stats = CollectionStats {
        collection: c,
        documents: 0,
        bytes: 0,
        elapsed: Duration::ZERO,
    };
    for generated in generator.documents(c) {
        let raw = RawDocumentBuf::try_from(&generated.doc).map_err(|source| DumpError::Encode {
            collection: c.name(),
            index: generated.index,
            source,
        })?;
        let bytes = raw.as_bytes();
        out.write_all(bytes).map_err(io(&path))?;
        builder.record(&generated, bytes.len() as u64);
        stats.documents += 1;
        stats.bytes += bytes.len() as u64;
    }
    out.flush().map_err(io(&path))?;
    let meta = dir.join(format!("{}.metadata.json", c.name()));
    std::fs::write(&meta, metadata(c)).map_err(io(&meta))?;
    stats.elapsed = started.elapsed();
    Ok(stats)
}

/// mongodump's `<collection>.metadata.json`: the `_id` index and the unique indexes.
pub fn metadata(c: Collection) -> String {
    let mut indexes = vec![serde_json::json!({ "v": 2, "key": { "_id": 1 }, "name": "_id_" })];
    for field in c.spec().unique {
        indexes.push(serde_json::json!({
            "v": 2,
            "unique": true,
            "key": { *field: 1 },
            "name": format!("{field}_1"),
        }));
    }
    // The head offices' GeoJSON points, indexed as the application queries them.
    if c == Collection::Organizations {
        indexes.push(serde_json::json!({
            "v": 2,
            "key": { "headquarters.location": "2dsphere" },
            "name": "headquarters.location_2dsphere",
            "2dsphereIndexVersion": 3,
        }));
    }
    serde_json::json!({
        "options": {},
        "indexes": indexes,
        "collectionName": c.name(),
        "type": "collection",
    })
    .to_string()
}
