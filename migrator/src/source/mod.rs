//! Sources: streams of raw documents read from files or a live deployment.
//!
//! Every reader yields [`SourceDoc`]s carrying the position right after the document, so a run
//! can resume from a checkpoint, and every error names the file and where in it things went wrong.

pub mod archive;
mod blocks;
pub mod claim;
mod compressed;
mod directory;
pub mod dump;
pub mod ejson;
mod error;
mod fetch;
mod framing;
mod metadata;
#[cfg(feature = "live")]
pub mod mongo;
pub mod sample;
mod stamp;

pub use archive::{ArchiveCollection, ArchiveSource, ArchiveWriter};
pub use claim::{RangeClaim, Reserved};
pub use dump::DumpSource;
pub use ejson::ExportSource;
pub use error::SourceError;
pub use metadata::UniqueIndex;
#[cfg(feature = "live")]
pub use mongo::MongoSource;
pub use sample::SampleSource;
pub use stamp::SourceStamp;

use std::path::Path;

use bson::{Bson, RawDocument, RawDocumentBuf};
use serde::{Deserialize, Serialize};

/// BSON's document size limit (16 MiB); a length prefix above it means a corrupt file.
pub const MAX_DOCUMENT_SIZE: usize = 16 * 1024 * 1024;

/// One document read from a file.
#[derive(Debug, Clone)]
pub struct SourceDoc {
    pub doc: RawDocumentBuf,
    /// Where the next document starts (a byte offset in the uncompressed stream): resuming from
    /// here continues right after this document.
    pub next_position: u64,
}

/// Where a partition's reading resumes. Stored in the checkpoint as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Position {
    /// From the beginning.
    Start,
    /// A byte offset in the (uncompressed) file: the start of the next document.
    Offset { offset: u64 },
    /// After this `_id` (sources read in `_id` order), stored as canonical Extended JSON. Kept
    /// as BSON: a live source hands out one position per document, and only a batch's last is
    /// ever stored.
    AfterId {
        #[serde(with = "canonical_extjson")]
        id: Bson,
    },
}

impl Position {
    pub fn after_id(id: &Bson) -> Position {
        Position::AfterId { id: id.clone() }
    }
}

/// A BSON value as canonical Extended JSON in serde formats.
mod canonical_extjson {
    use bson::Bson;
    use serde::de::Error;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(value: &Bson, serializer: S) -> Result<S::Ok, S::Error> {
        value.clone().into_canonical_extjson().serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Bson, D::Error> {
        let json = serde_json::Value::deserialize(deserializer)?;
        Bson::try_from(json.clone())
            .map_err(|e| D::Error::custom(format!("`_id` {json} is not Extended JSON: {e}")))
    }
}

/// A document with the position right after it.
#[derive(Debug, Clone)]
pub struct Positioned {
    pub doc: RawDocumentBuf,
    pub next: Position,
}

/// A collection a source holds.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectionInfo {
    pub name: String,
    /// A cheap estimate of the number of documents (for progress), if known.
    pub estimated_documents: Option<u64>,
    /// The size of the collection's data on disk, if known: how much work it is next to the
    /// others (documents of one collection can be ten times the size of another's).
    pub bytes_on_disk: Option<u64>,
}

/// A part of a collection that can be read on its own: the whole collection, an `_id` range (a
/// live deployment) or a byte range (a plain `.bson` file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Partition {
    /// 0-based, stable for the same source and partition count.
    pub index: u32,
    /// `_id` bounds as canonical Extended JSON: `min` inclusive, `max` exclusive; `None` = unbounded.
    pub min: Option<serde_json::Value>,
    pub max: Option<serde_json::Value>,
    /// Bytes of the collection's file, both ends at document boundaries; `None` = the whole file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<ByteRange>,
}

impl Partition {
    /// The single partition covering a whole collection.
    pub fn whole() -> Partition {
        Partition {
            index: 0,
            min: None,
            max: None,
            bytes: None,
        }
    }
}

impl Partition {
    /// One partition per byte range, or the whole collection if there are fewer than two.
    pub(crate) fn from_byte_ranges(ranges: Vec<ByteRange>) -> Vec<Partition> {
        if ranges.len() < 2 {
            return vec![Partition::whole()];
        }
        ranges
            .into_iter()
            .enumerate()
            .map(|(i, range)| Partition {
                index: u32::try_from(i).unwrap_or(u32::MAX),
                bytes: Some(range),
                ..Partition::whole()
            })
            .collect()
    }

    /// What a file source reads of this partition: `Some(None)` the whole collection,
    /// `Some(Some(range))` a byte range, `None` an `_id` range (files cannot).
    pub(crate) fn byte_range(&self) -> Option<Option<ByteRange>> {
        match self {
            Partition {
                min: None,
                max: None,
                bytes,
                index,
            } if bytes.is_some() || *index == 0 => Some(*bytes),
            _ => None,
        }
    }
}

/// Byte offsets `[start, end)` in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ByteRange {
    pub start: u64,
    pub end: u64,
}

/// The documents of one partition, each with the position right after it.
///
/// A reader with a buffer of its own hands each document out borrowed ([`DocStream::next_doc`]),
/// with no allocation per document; a `DocStream` is also an iterator of owned [`Positioned`]
/// documents, for callers that keep them.
pub struct DocStream {
    inner: Docs,
}

enum Docs {
    Borrowed(Box<dyn ReadDocs>),
    Owned {
        docs: Box<dyn Iterator<Item = Result<Positioned, SourceError>> + Send>,
        /// The document `next_doc` handed out last.
        current: Option<RawDocumentBuf>,
    },
}

/// A reader of documents into a buffer of its own (see [`DocStream`]).
pub trait ReadDocs: Send {
    /// The next document (valid until the next call) and where the partition resumes after it;
    /// `None` at the end, and after an error.
    fn next_doc(&mut self) -> Option<Result<(&RawDocument, Position), SourceError>>;

    /// Checks the whole stream, if damage in it can pass for data until its end (a compressed
    /// file: see [`compressed`]); a reader calls it before a document it read becomes a dead
    /// letter, and before it reports a frame error. Once is enough.
    fn verify(&mut self) -> Result<(), SourceError> {
        Ok(())
    }
}

impl DocStream {
    /// The documents of `reader`, borrowed one at a time.
    pub fn new(reader: impl ReadDocs + 'static) -> Self {
        DocStream {
            inner: Docs::Borrowed(Box::new(reader)),
        }
    }

    /// The documents of a reader that makes an owned document each.
    pub fn owned(
        docs: impl Iterator<Item = Result<Positioned, SourceError>> + Send + 'static,
    ) -> Self {
        DocStream {
            inner: Docs::Owned {
                docs: Box::new(docs),
                current: None,
            },
        }
    }

    /// See [`ReadDocs::verify`].
    pub fn verify(&mut self) -> Result<(), SourceError> {
        match &mut self.inner {
            Docs::Borrowed(reader) => reader.verify(),
            Docs::Owned { .. } => Ok(()),
        }
    }

    /// The next document, borrowed until the next call, and where the partition resumes after it.
    pub fn next_doc(&mut self) -> Option<Result<(&RawDocument, Position), SourceError>> {
        match &mut self.inner {
            Docs::Borrowed(reader) => reader.next_doc(),
            Docs::Owned { docs, current } => match docs.next()? {
                Ok(Positioned { doc, next }) => {
                    let doc: &RawDocument = current.insert(doc);
                    Some(Ok((doc, next)))
                }
                Err(e) => Some(Err(e)),
            },
        }
    }
}

impl std::fmt::Debug for DocStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DocStream").finish_non_exhaustive()
    }
}

impl Iterator for DocStream {
    type Item = Result<Positioned, SourceError>;

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.inner {
            Docs::Owned { docs, .. } => docs.next(),
            Docs::Borrowed(reader) => Some(reader.next_doc()?.map(|(doc, next)| Positioned {
                doc: doc.to_owned(),
                next,
            })),
        }
    }
}

/// Where documents come from. Implementations are blocking: the pipeline reads each partition
/// on its own thread.
pub trait Source: Send + Sync {
    /// What the source is, for messages (`mongodump directory ./dump`).
    fn describe(&self) -> String;

    /// The kind of source (`dump`, `archive`, `export`, `mongo`): checkpoints written by one kind
    /// cannot be resumed by another, since positions mean different things.
    fn kind(&self) -> &'static str;

    /// The collections the source holds.
    fn collections(&self) -> Result<Vec<CollectionInfo>, SourceError>;

    /// Splits a collection into at most `max` partitions that can be read in parallel. Sources
    /// that cannot split return one. The result must be the same for the same data and `max`.
    fn partitions(&self, collection: &str, max: usize) -> Result<Vec<Partition>, SourceError>;

    /// The key paths of `collection`'s `2dsphere` indexes (from a dump's metadata or the live
    /// deployment's index list), for `plan` to point at `migrator::geo`; empty when the source
    /// cannot tell.
    fn geo_indexes(&self, _collection: &str) -> Result<Vec<String>, SourceError> {
        Ok(Vec::new())
    }

    /// `collection`'s unique indexes (from a dump's metadata or the live deployment's index
    /// list), for `scaffold` to mark natural keys; empty when the source cannot tell.
    fn unique_indexes(&self, _collection: &str) -> Result<Vec<UniqueIndex>, SourceError> {
        Ok(Vec::new())
    }

    /// Why [`Source::partitions`] split `collection` as it did, when the source had a choice
    /// (a live source weighs what finding split points costs the server).
    fn split_reason(&self, _collection: &str) -> Option<String> {
        None
    }

    /// Reads one partition from `from` on. A missing collection is [`SourceError::MissingCollection`].
    fn read(
        &self,
        collection: &str,
        partition: &Partition,
        from: &Position,
    ) -> Result<DocStream, SourceError>;

    /// Reads like [`Source::read`], claiming each document's `_id` through `claim` before
    /// handing it out, so that the rest of the range can be cut off while it is read
    /// ([`Source::split_rest`]). Sources that cannot cut a range being read ignore the claim.
    fn read_claimed(
        &self,
        collection: &str,
        partition: &Partition,
        from: &Position,
        claim: std::sync::Arc<RangeClaim>,
    ) -> Result<DocStream, SourceError> {
        let _ = claim;
        self.read(collection, partition, from)
    }

    /// The claim a [`Source::read_claimed`] of this partition from `from` is made with, if the
    /// source can cut a range being read.
    fn claim_for(&self, _partition: &Partition, _from: &Position) -> Option<RangeClaim> {
        None
    }

    /// Cuts the rest of a range being read (`claim`) in two, if it pays with `readers` ranges
    /// read at once: the cut is proposed to the claim and returned with the figures it was
    /// weighed on; the caller records it, then confirms or cancels it on the claim.
    fn split_rest(
        &self,
        _collection: &str,
        _claim: &RangeClaim,
        _readers: usize,
    ) -> Result<RestSplit, SourceError> {
        Ok(RestSplit::default())
    }

    /// `merged` ranges of `collection`, planned apart, were merged into the range before them
    /// as it was read (see [`RangeClaim::reserve`]): for [`Source::split_reason`] to report.
    fn note_merged(&self, _collection: &str, _merged: usize) {}

    /// The documents with these `_id`s (for dead letters found after the load, and validation
    /// samples), in any order; ids that are not found are left out.
    fn fetch(&self, collection: &str, ids: &[Bson]) -> Result<Vec<RawDocumentBuf>, SourceError>;

    /// The database whose collections a dump's oplog (`mongodump --archive --oplog`) is
    /// replayed over, if the source carries one ([`Source::read_oplog`]).
    fn oplog_database(&self) -> Result<Option<String>, SourceError> {
        Ok(None)
    }

    /// The entries of the oplog the source carries, each with the byte offset after it
    /// ([`Position::Offset`]); `from`: 0, or such an offset to resume after.
    fn read_oplog(&self, _from: u64) -> Result<DocStream, SourceError> {
        Err(SourceError::Invalid {
            source_name: self.describe(),
            reason: "it carries no oplog".into(),
        })
    }

    /// What the collection's data is now, if the source can say (files and archives: see
    /// [`SourceStamp`]), so a resume notices that it changed since its partitions were planned.
    fn stamp(&self, _collection: &str) -> Result<Option<SourceStamp>, SourceError> {
        Ok(None)
    }

    /// Whether a partition read again from a position gives the same documents, as files do (a
    /// live deployment may have changed meanwhile). A load keeps no copy of the documents of
    /// such a source's batches: a batch PostgreSQL refuses is read again to be split.
    fn rereadable(&self) -> bool {
        false
    }

    /// Where the source's change stream stands now, taken before any collection is read so
    /// that a follow (`crate::follow`, with the `live` feature) applies every change made during and after the copy.
    /// `None`: the source has no change stream (files, a standalone server).
    fn change_start(&self) -> Result<Option<ChangeStart>, SourceError> {
        Ok(None)
    }
}

/// A point in a live source's change stream: its resume token (canonical Extended JSON) and
/// the cluster time it was taken at, if the server said.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeStart {
    pub token: serde_json::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_time: Option<ClusterTime>,
}

/// A MongoDB cluster time (seconds since the epoch and an ordinal within the second).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ClusterTime {
    pub seconds: u32,
    pub increment: u32,
}

impl ClusterTime {
    /// One number that sorts like the time (as PostgreSQL stores it).
    pub fn packed(self) -> i64 {
        (i64::from(self.seconds) << 32) | i64::from(self.increment)
    }

    pub fn unpacked(packed: i64) -> ClusterTime {
        ClusterTime {
            seconds: u32::try_from(packed >> 32).unwrap_or(0),
            increment: u32::try_from(packed & 0xffff_ffff).unwrap_or(0),
        }
    }
}

impl std::fmt::Display for ClusterTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Timestamp({}, {})", self.seconds, self.increment)
    }
}

/// What [`Source::split_rest`] decided.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RestSplit {
    /// The cut proposed to the claim (canonical Extended JSON), if the split pays.
    pub cut: Option<serde_json::Value>,
    /// Why.
    pub reason: String,
    /// Whether the reason carries the figures the cut was weighed on (a range too small to
    /// measure, or finished, is not weighed).
    pub weighed: bool,
}

/// Opens a file, transparently decompressing `.gz`.
pub(crate) fn open_maybe_gz(path: &Path) -> Result<Box<dyn std::io::Read + Send>, SourceError> {
    let file = std::fs::File::open(path).map_err(|e| SourceError::io(path, e))?;
    let reader = std::io::BufReader::with_capacity(256 * 1024, file);
    if path.extension().is_some_and(|e| e == "gz") {
        Ok(Box::new(flate2::read::MultiGzDecoder::new(reader)))
    } else {
        Ok(Box::new(reader))
    }
}

#[cfg(test)]
mod tests {
    use super::Position;
    use bson::{oid::ObjectId, Bson};
    use serde_json::json;

    #[test]
    fn an_id_position_is_stored_as_canonical_extended_json_and_read_back() {
        let oid = ObjectId::parse_str("5f1d7b3e9c1a2b3c4d5e6f70").expect("an ObjectId");
        let cases = [
            (
                Bson::ObjectId(oid),
                json!({"kind": "after_id", "id": {"$oid": "5f1d7b3e9c1a2b3c4d5e6f70"}}),
            ),
            (
                Bson::Int32(7),
                json!({"kind": "after_id", "id": {"$numberInt": "7"}}),
            ),
            (
                Bson::String("a-key".into()),
                json!({"kind": "after_id", "id": "a-key"}),
            ),
        ];
        for (id, stored) in cases {
            let position = Position::after_id(&id);
            assert_eq!(serde_json::to_value(&position).expect("stored"), stored);
            let back: Position = serde_json::from_value(stored).expect("read back");
            assert_eq!(back, position);
        }
        let bad = json!({"kind": "after_id", "id": {"$oid": "not hex"}});
        let error = serde_json::from_value::<Position>(bad).expect_err("not an ObjectId");
        assert!(error.to_string().contains("not Extended JSON"), "{error}");
    }
}
