//! `mongodump --archive` files, plain or gzip (recognised by their first bytes, not their name).
//!
//! The format (mongo-tools' `common/archive/spec.md`): the magic number `0x8199e26d` (little
//! endian), a prelude header document, one metadata document per collection (`db`,
//! `collection`, `metadata` as Extended JSON text, `size`, `type`) and a terminator
//! `ff ff ff ff`; then blocks, each a namespace header `{db, collection, EOF, CRC}` followed by
//! that collection's documents and a terminator. Blocks of different collections interleave; a
//! header with `EOF: true` (and no documents) ends a collection and carries the CRC-64 of all of
//! its documents.
//!
//! The first read indexes the archive in one pass (`index`: where each namespace's blocks are;
//! a gzip archive is decompressed once, into a temporary file), then each collection is read
//! from its own blocks only, one document in memory at a time. Positions are byte offsets in the
//! uncompressed archive, like the other file sources: `Position::Offset` is the end of the last
//! document read, always inside a block of that collection, so a resume continues in that block.
//! The CRC is checked when a collection is read from the start.

mod crc;
mod index;
mod reader;
#[cfg(test)]
mod tests;
mod writer;

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bson::{Bson, RawBsonRef, RawDocument, RawDocumentBuf};

use self::index::ArchiveIndex;
use self::reader::NamespaceReader;
pub use self::writer::ArchiveWriter;
use super::fetch::IdSet;
use super::framing::{BsonStream, Frame};
use super::metadata::{self, UniqueIndex};
use super::{CollectionInfo, DocStream, Partition, Position, Source, SourceError, SourceStamp};

/// The first four bytes of an archive (`0x8199e26d`, little endian).
pub(crate) const MAGIC: [u8; 4] = 0x8199_e26d_u32.to_le_bytes();
/// Ends the prelude and every block.
pub(crate) const TERMINATOR: [u8; 4] = [0xff; 4];

/// The oplog's collection name (of the database `""`).
const OPLOG: &str = "oplog";

/// One collection listed in an archive's prelude.
#[derive(Debug, Clone, PartialEq)]
pub struct ArchiveCollection {
    pub db: String,
    pub collection: String,
    /// The collection's metadata as Extended JSON text (what `<collection>.metadata.json` holds).
    pub metadata: String,
    /// The uncompressed size of the collection's documents in bytes, as the writer recorded it.
    pub size: i64,
    /// `collection`, `view` or `timeseries`.
    pub kind: String,
}

impl ArchiveCollection {
    /// A plain collection with only the `_id` index.
    pub fn new(db: &str, collection: &str) -> Self {
        let metadata = serde_json::json!({
            "options": {},
            "indexes": [{"v": {"$numberInt": "2"}, "key": {"_id": {"$numberInt": "1"}}, "name": "_id_"}],
            "collectionName": collection,
            "type": "collection",
        });
        ArchiveCollection {
            db: db.to_string(),
            collection: collection.to_string(),
            metadata: metadata.to_string(),
            size: 0,
            kind: "collection".to_string(),
        }
    }

    fn from_prelude(doc: &RawDocument) -> Result<Self, String> {
        let text = |key: &str, required: bool| match doc.get(key) {
            Ok(Some(RawBsonRef::String(s))) => Ok(s.to_string()),
            Ok(None) if !required => Ok(String::new()),
            _ => Err(format!("collection metadata has no string `{key}`")),
        };
        let size = match doc.get("size") {
            Ok(Some(RawBsonRef::Int32(n))) => i64::from(n),
            Ok(Some(RawBsonRef::Int64(n))) => n,
            _ => 0,
        };
        let kind = text("type", false)?;
        Ok(ArchiveCollection {
            db: text("db", true)?,
            collection: text("collection", true)?,
            metadata: text("metadata", false)?,
            size,
            kind: if kind.is_empty() {
                "collection".into()
            } else {
                kind
            },
        })
    }

    /// Collections with data of their own: not views, not time series (stored as
    /// `system.buckets.*`), not `system.*`, not the oplog.
    fn holds_documents(&self) -> bool {
        self.kind == "collection" && !self.collection.starts_with("system.") && !self.is_oplog()
    }

    /// The oplog `mongodump --archive --oplog` writes: the namespace `oplog` of no database,
    /// listed in the prelude without metadata and written in blocks like a collection's.
    fn is_oplog(&self) -> bool {
        self.db.is_empty() && self.collection == OPLOG
    }
}

/// Opens an archive behind a read buffer, and says whether it is gzip (it starts with gzip's
/// magic bytes `1f 8b`, whatever its name).
pub(crate) fn open_buffered(path: &Path) -> Result<(BufReader<File>, bool), SourceError> {
    let file = File::open(path).map_err(|e| SourceError::io(path, e))?;
    let mut reader = BufReader::with_capacity(256 * 1024, file);
    let head = reader.fill_buf().map_err(|e| SourceError::io(path, e))?;
    let gzip = head.starts_with(&[0x1f, 0x8b]);
    Ok((reader, gzip))
}

/// Opens an archive, decompressing it if it is gzip.
pub(crate) fn open_stream(path: &Path) -> Result<BsonStream, SourceError> {
    let (reader, gzip) = open_buffered(path)?;
    if gzip {
        Ok(BsonStream::new(
            path,
            Box::new(flate2::bufread::MultiGzDecoder::new(reader)),
        ))
    } else {
        Ok(BsonStream::new(path, Box::new(reader)))
    }
}

/// A `mongodump --archive` file.
#[derive(Debug)]
pub struct ArchiveSource {
    path: PathBuf,
    collections: Vec<ArchiveCollection>,
    /// Where the first block starts (right after the prelude).
    data_start: u64,
    database: Option<String>,
    /// Where a gzip archive's decompressed copy goes.
    temp_dir: PathBuf,
    /// Built by the first read (or listing) and shared by all that follow.
    index: Mutex<Option<Arc<ArchiveIndex>>>,
}

impl ArchiveSource {
    /// Reads the archive's prelude. Collections are named `<collection>` when the archive
    /// holds one database, `<db>.<collection>` otherwise (see [`ArchiveSource::with_database`]).
    pub fn open(path: &Path) -> Result<Self, SourceError> {
        let mut stream = open_stream(path)?;
        let mut magic = [0u8; 4];
        let got = stream.fill(&mut magic)?;
        if got < 4 || magic != MAGIC {
            return Err(stream.corrupt_at(
                0,
                format!(
                    "not a mongodump archive: it starts with {:02x?}",
                    &magic[..got]
                ),
            ));
        }
        let header = stream.next_frame(true)?;
        if !matches!(header, Frame::Document { .. }) {
            return Err(stream.corrupt_at(4, "the archive has no prelude header"));
        }
        stream.read_document(header)?;
        let mut collections = Vec::new();
        loop {
            let frame = stream.next_frame(true)?;
            match frame {
                Frame::Terminator => break,
                Frame::End => {
                    return Err(
                        stream.corrupt_at(stream.offset(), "the archive ends inside its prelude")
                    )
                }
                Frame::Document { start, .. } => {
                    let doc = stream.read_document(frame)?;
                    let collection = ArchiveCollection::from_prelude(&doc)
                        .map_err(|e| stream.corrupt_at(start, e))?;
                    collections.push(collection);
                }
            }
        }
        Ok(ArchiveSource {
            path: path.to_path_buf(),
            collections,
            data_start: stream.offset(),
            database: None,
            temp_dir: std::env::temp_dir(),
            index: Mutex::new(None),
        })
    }

    /// Only this database's collections, named without the database.
    pub fn with_database(mut self, database: &str) -> Self {
        self.database = Some(database.to_string());
        self
    }

    /// Where a gzip archive is decompressed to (once, into an unnamed file as large as the
    /// uncompressed archive) instead of `TMPDIR`.
    pub fn with_temp_dir(mut self, dir: &Path) -> Self {
        self.temp_dir = dir.to_path_buf();
        self
    }

    /// Everything the prelude lists, views and `system.*` included.
    pub fn archived_collections(&self) -> &[ArchiveCollection] {
        &self.collections
    }

    /// The collections this source reads, with their names.
    fn visible(&self) -> impl Iterator<Item = (String, &ArchiveCollection)> {
        let mut databases = self
            .collections
            .iter()
            .filter(|c| !c.is_oplog())
            .map(|c| &c.db);
        let first_db = databases.next();
        let qualified = self.database.is_none() && databases.any(|db| Some(db) != first_db);
        self.collections
            .iter()
            .filter(|c| c.holds_documents() && self.database.as_ref().is_none_or(|db| *db == c.db))
            .map(move |c| {
                let name = if qualified {
                    format!("{}.{}", c.db, c.collection)
                } else {
                    c.collection.clone()
                };
                (name, c)
            })
    }

    fn find(&self, collection: &str) -> Result<&ArchiveCollection, SourceError> {
        self.visible()
            .find(|(name, _)| name == collection)
            .map(|(_, c)| c)
            .ok_or_else(|| SourceError::MissingCollection {
                collection: collection.to_string(),
                source_name: self.describe(),
            })
    }

    /// The unique indexes in a collection's metadata (the implicit one on `_id` is not listed).
    pub fn unique_indexes(&self, collection: &str) -> Result<Vec<UniqueIndex>, SourceError> {
        let found = self.find(collection)?;
        if found.metadata.is_empty() {
            return Ok(Vec::new());
        }
        metadata::unique_indexes(&found.metadata).map_err(|e| SourceError::Json {
            file: self.path.clone(),
            offset: 0,
            line: e.line,
            reason: format!(
                "metadata of `{}.{}`: {}",
                found.db, found.collection, e.reason
            ),
        })
    }

    /// The `2dsphere` index keys in a collection's metadata.
    pub fn geo_indexes(&self, collection: &str) -> Result<Vec<String>, SourceError> {
        let found = self.find(collection)?;
        if found.metadata.is_empty() {
            return Ok(Vec::new());
        }
        metadata::geo_indexes(&found.metadata).map_err(|e| SourceError::Json {
            file: self.path.clone(),
            offset: 0,
            line: e.line,
            reason: format!(
                "metadata of `{}.{}`: {}",
                found.db, found.collection, e.reason
            ),
        })
    }

    /// The archive's index, built on first use (a failed build is tried again next time).
    fn index(&self) -> Result<Arc<ArchiveIndex>, SourceError> {
        let mut slot = self
            .index
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(index) = &*slot {
            return Ok(index.clone());
        }
        let index = Arc::new(ArchiveIndex::build(
            &self.path,
            self.data_start,
            &self.temp_dir,
        )?);
        *slot = Some(index.clone());
        Ok(index)
    }

    fn invalid(&self, reason: String) -> SourceError {
        SourceError::Invalid {
            source_name: self.describe(),
            reason,
        }
    }
}

impl Source for ArchiveSource {
    fn geo_indexes(&self, collection: &str) -> Result<Vec<String>, SourceError> {
        ArchiveSource::geo_indexes(self, collection)
    }

    fn unique_indexes(&self, collection: &str) -> Result<Vec<UniqueIndex>, SourceError> {
        ArchiveSource::unique_indexes(self, collection)
    }

    fn describe(&self) -> String {
        format!("mongodump archive {}", self.path.display())
    }

    fn kind(&self) -> &'static str {
        "archive"
    }

    /// In name order, like the other sources, with the counts and sizes the index found (a
    /// collection the archive's damage cut short has no count).
    fn collections(&self) -> Result<Vec<CollectionInfo>, SourceError> {
        let index = self.index()?;
        let mut infos: Vec<CollectionInfo> = self
            .visible()
            .map(|(name, c)| {
                let found = index.namespace(&c.db, &c.collection);
                CollectionInfo {
                    name,
                    estimated_documents: found.eof.map(|_| found.documents),
                    bytes_on_disk: Some(found.bytes),
                }
            })
            .collect();
        infos.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(infos)
    }

    /// A large collection in up to `max` runs of its blocks (`max` 1, or a collection in one
    /// block: whole).
    fn partitions(&self, collection: &str, max: usize) -> Result<Vec<Partition>, SourceError> {
        let found = self.find(collection)?;
        let ranges = if max > 1 {
            self.index()?.ranges(&found.db, &found.collection, max)
        } else {
            Vec::new()
        };
        Ok(Partition::from_byte_ranges(ranges))
    }

    fn read(
        &self,
        collection: &str,
        partition: &Partition,
        from: &Position,
    ) -> Result<DocStream, SourceError> {
        let found = self.find(collection)?;
        let Some(range) = partition.byte_range() else {
            return Err(self.invalid(format!(
                "reads `{collection}` by runs of its blocks, not by `_id` range (partition {})",
                partition.index
            )));
        };
        let resume = match from {
            Position::Start => None,
            Position::Offset { offset } if *offset >= self.data_start => Some(*offset),
            Position::Offset { offset } => {
                return Err(self.invalid(format!(
                    "cannot resume `{collection}` at byte {offset}: the prelude ends at byte {}",
                    self.data_start
                )))
            }
            Position::AfterId { .. } => {
                return Err(self.invalid(format!(
                    "cannot resume `{collection}` after an `_id`: archives resume at a byte offset"
                )))
            }
        };
        let reader =
            NamespaceReader::open(self.index()?, &found.db, &found.collection, range, resume)?;
        Ok(DocStream::owned(reader))
    }

    fn fetch(&self, collection: &str, ids: &[Bson]) -> Result<Vec<RawDocumentBuf>, SourceError> {
        let wanted = IdSet::new(ids);
        wanted.scan(self.read(collection, &Partition::whole(), &Position::Start)?)
    }

    /// Where the collection's blocks are, what they hold and the CRC its EOF header gives.
    fn stamp(&self, collection: &str) -> Result<Option<SourceStamp>, SourceError> {
        let found = self.find(collection)?;
        let namespace = self.index()?.namespace(&found.db, &found.collection);
        let blocks: Vec<String> = namespace
            .spans
            .iter()
            .map(|s| format!("{}-{}", s.start, s.end))
            .collect();
        Ok(Some(SourceStamp::Archive {
            path: self.path.display().to_string(),
            blocks: crate::state::stable_hash(&blocks.join(",")),
            documents: namespace.documents,
            bytes: namespace.bytes,
            crc: namespace.eof.map(|e| e.crc),
        }))
    }

    /// Blocks are read at their offsets in the archive (or in its decompressed copy).
    fn rereadable(&self) -> bool {
        true
    }

    /// With an oplog: the database of its collections (the replay applies that database's
    /// entries); an archive of several databases is refused.
    fn oplog_database(&self) -> Result<Option<String>, SourceError> {
        if !self.collections.iter().any(ArchiveCollection::is_oplog) {
            return Ok(None);
        }
        let mut databases: Vec<&str> = self
            .collections
            .iter()
            .filter(|c| !c.is_oplog() && self.database.as_ref().is_none_or(|db| *db == c.db))
            .map(|c| c.db.as_str())
            .collect();
        databases.sort_unstable();
        databases.dedup();
        match databases.as_slice() {
            [one] => Ok(Some((*one).to_string())),
            [] => {
                Err(self.invalid("its oplog has no database's collections to replay over".into()))
            }
            many => Err(self.invalid(format!(
                "its oplog cannot be replayed over {} databases ({}): dump one database",
                many.len(),
                many.join(", ")
            ))),
        }
    }

    /// The oplog's entries in archive order, from the start (`from` 0) or after the entry
    /// that ends at byte `from` of the (uncompressed) archive.
    fn read_oplog(&self, from: u64) -> Result<DocStream, SourceError> {
        if !self.collections.iter().any(ArchiveCollection::is_oplog) {
            return Err(self.invalid(
                "it carries no oplog (it was not written by `mongodump --archive --oplog`)".into(),
            ));
        }
        let reader =
            NamespaceReader::open(self.index()?, "", OPLOG, None, (from > 0).then_some(from))?;
        Ok(DocStream::owned(reader))
    }
}
