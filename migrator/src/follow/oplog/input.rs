//! Where a replay reads the oplog's entries: the `oplog.bson` beside a dump directory, or the
//! oplog a `mongodump --archive --oplog` carries in its blocks (namespace `oplog` of no
//! database, [`Source::read_oplog`]). Either way an entry comes with the byte offset after it,
//! where a replay stopped there resumes. And which documents a replay keeps to: all those the
//! entries touch, or with `--limit` only those of the sample the load read.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bson::{Bson, RawDocumentBuf};

use super::entry::EntryReader;
use super::{id_key, FollowError};
use crate::source::dump::BsonFileReader;
use crate::source::{Position, Source, SourceError};

/// The oplog's entries, each with the byte offset after it.
pub(super) type Entries =
    Box<dyn Iterator<Item = Result<(RawDocumentBuf, u64), SourceError>> + Send>;

/// Where the entries are.
#[derive(Clone)]
pub enum OplogInput {
    /// An `oplog.bson` (or `.bson.gz`) file.
    File(PathBuf),
    /// The oplog the source carries: `path` is the archive, for messages and its size.
    Carried {
        path: PathBuf,
        source: Arc<dyn Source>,
    },
}

impl std::fmt::Debug for OplogInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OplogInput::File(path) => f.debug_tuple("File").field(path).finish(),
            OplogInput::Carried { path, source } => f
                .debug_struct("Carried")
                .field("path", path)
                .field("source", &source.describe())
                .finish(),
        }
    }
}

impl OplogInput {
    /// The file the entries are in.
    pub fn path(&self) -> &Path {
        match self {
            OplogInput::File(path) | OplogInput::Carried { path, .. } => path,
        }
    }

    /// The entries from the start (`from` 0) or from an offset an entry gave.
    pub(super) fn entries(&self, from: u64) -> Result<Entries, SourceError> {
        match self {
            OplogInput::File(path) => Ok(Box::new(
                BsonFileReader::open_at(path, from)?
                    .map(|next| next.map(|d| (d.doc, d.next_position))),
            )),
            OplogInput::Carried { source, .. } => {
                let name = source.describe();
                Ok(Box::new(source.read_oplog(from)?.map(move |next| {
                    next.and_then(|p| match p.next {
                        Position::Offset { offset } => Ok((p.doc, offset)),
                        other => Err(SourceError::Invalid {
                            source_name: name.clone(),
                            reason: format!("its oplog gave the position {other:?}, not an offset"),
                        }),
                    })
                })))
            }
        }
    }

    fn error(&self, reason: String) -> FollowError {
        FollowError::Oplog {
            file: self.path().display().to_string(),
            reason,
        }
    }
}

/// Every `_id` of the models' collections that the oplog's entries touch, by collection;
/// refuses what the replay cannot apply before anything is written.
pub(super) fn touched_ids(
    input: &OplogInput,
    database: &str,
    collections: BTreeSet<String>,
) -> Result<BTreeMap<String, Vec<Bson>>, FollowError> {
    let mut entries = EntryReader::new(database, collections);
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    let mut touched: BTreeMap<String, Vec<Bson>> = BTreeMap::new();
    for next in input.entries(0).map_err(|e| input.error(e.to_string()))? {
        let (doc, _) = next.map_err(|e| input.error(e.to_string()))?;
        for op in entries.read(&doc).map_err(|e| input.error(e.to_string()))? {
            if seen.insert((op.collection.clone(), id_key(&op.id))) {
                touched.entry(op.collection).or_default().push(op.id);
            }
        }
    }
    Ok(touched)
}

/// With `--limit` (the source is a sample): only the touched documents the sample holds, so
/// the replay brings the sampled documents to the dump's end and adds none. A document the
/// oplog inserted, or one the dump read past the sample, stays out like the rest of the
/// collection.
pub(super) fn keep_to_sample(
    source: &dyn Source,
    touched: &mut BTreeMap<String, Vec<Bson>>,
) -> Result<(), SourceError> {
    if source.kind() != "sample" {
        return Ok(());
    }
    for (collection, ids) in touched.iter_mut() {
        let mut sampled = HashSet::new();
        for partition in source.partitions(collection, 1)? {
            for item in source.read(collection, &partition, &Position::Start)? {
                let item = item?;
                if let Ok(Some(id)) = item.doc.get("_id") {
                    if let Ok(id) = Bson::try_from(id) {
                        sampled.insert(id_key(&id));
                    }
                }
            }
        }
        ids.retain(|id| sampled.contains(&id_key(id)));
    }
    Ok(())
}
