//! The common part of sources made of one file per collection (mongodump directories and
//! mongoexport files): naming collections after files, reading each file whole from a byte
//! offset, and scanning it for `fetch`.

mod file_docs;
mod layout;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bson::{Bson, RawDocumentBuf};

use self::file_docs::FileRange;
pub(crate) use self::file_docs::{FileDocs, OpenAt, OwnedFileDocs};
pub(crate) use self::layout::{Layout, Split};
use super::fetch::IdSet;
use super::{CollectionInfo, DocStream, Partition, Position, SourceError};

/// How many documents `collections()` reads from each file to estimate its count.
const ESTIMATE_SAMPLE: u64 = 64;

/// Collections stored one file each.
#[derive(Debug)]
pub(crate) struct CollectionFiles {
    /// `mongodump directory ./dump`, for messages.
    name: String,
    files: BTreeMap<String, PathBuf>,
    open_at: OpenAt,
    split: Option<Split>,
    /// The listing, made once (the CLI's progress estimate and the run both ask for it).
    listed: std::sync::OnceLock<Vec<CollectionInfo>>,
}

impl CollectionFiles {
    /// The collections, in name order.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.files.keys().map(String::as_str)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    pub(crate) fn describe(&self) -> String {
        self.name.clone()
    }

    pub(crate) fn path(&self, collection: &str) -> Result<&Path, SourceError> {
        self.files
            .get(collection)
            .map(PathBuf::as_path)
            .ok_or_else(|| SourceError::MissingCollection {
                collection: collection.to_string(),
                source_name: format!("{}, {}", self.name, self.holds()),
            })
    }

    /// `which holds a.json (collection `a`), ...`: the files that are there, for a message
    /// about one that is not.
    fn holds(&self) -> String {
        if self.files.is_empty() {
            return "which holds no collection file".into();
        }
        let files: Vec<String> = self
            .files
            .iter()
            .map(|(collection, path)| {
                let file = path.file_name().map_or_else(
                    || path.display().to_string(),
                    |f| f.to_string_lossy().into_owned(),
                );
                format!("{file} (collection `{collection}`)")
            })
            .collect();
        format!("which holds {}", files.join(", "))
    }

    /// Collections in name order, counted from a sample of their first documents: exact for
    /// small files, scaled by file size for large plain files, unknown for large `.gz` files.
    pub(crate) fn collections(&self) -> Vec<CollectionInfo> {
        self.listed
            .get_or_init(|| {
                self.files
                    .iter()
                    .map(|(name, path)| CollectionInfo {
                        name: name.clone(),
                        estimated_documents: self.estimate(path),
                        bytes_on_disk: std::fs::metadata(path).ok().map(|m| m.len()),
                    })
                    .collect()
            })
            .clone()
    }

    fn estimate(&self, path: &Path) -> Option<u64> {
        let mut docs = (self.open_at)(path, 0).ok()?;
        let mut consumed = 0;
        for count in 0..ESTIMATE_SAMPLE {
            match docs.next_doc() {
                None => return Some(count),
                Some(Ok((_, next))) => consumed = next,
                Some(Err(_)) => return None,
            }
        }
        if path.extension().is_some_and(|e| e == "gz") || consumed == 0 {
            return None;
        }
        let len = std::fs::metadata(path).ok()?.len();
        Some(len.saturating_mul(ESTIMATE_SAMPLE) / consumed)
    }

    /// The whole file, or byte ranges of it when the layout can split its files and `max` > 1.
    pub(crate) fn partitions(
        &self,
        collection: &str,
        max: usize,
    ) -> Result<Vec<Partition>, SourceError> {
        let path = self.path(collection)?;
        let ranges = match self.split {
            Some(split) if max > 1 => split(path, max)?,
            _ => Vec::new(),
        };
        Ok(Partition::from_byte_ranges(ranges))
    }

    /// Reads a partition from `from` on: the documents that start before its end.
    pub(crate) fn read(
        &self,
        collection: &str,
        partition: &Partition,
        from: &Position,
    ) -> Result<DocStream, SourceError> {
        let path = self.path(collection)?;
        let Some(range) = partition.byte_range() else {
            return Err(self.not_by_id(collection, partition));
        };
        let offset = match from {
            Position::Start => range.map_or(0, |r| r.start),
            Position::Offset { offset } => *offset,
            Position::AfterId { .. } => {
                return Err(self.invalid(format!(
                    "cannot resume `{collection}` after an `_id`: files resume at a byte offset"
                )))
            }
        };
        if let Some(r) = range.filter(|r| !(r.start..=r.end).contains(&offset)) {
            return Err(self.invalid(format!(
                "cannot resume `{collection}` at byte {offset}: partition {} holds bytes {}..{}",
                partition.index, r.start, r.end
            )));
        }
        Ok(DocStream::new(FileRange {
            docs: (self.open_at)(path, offset)?,
            at: offset,
            end: range.map_or(u64::MAX, |r| r.end),
            path: path.to_path_buf(),
            verified: false,
        }))
    }

    pub(crate) fn fetch(
        &self,
        collection: &str,
        ids: &[Bson],
    ) -> Result<Vec<RawDocumentBuf>, SourceError> {
        let wanted = IdSet::new(ids);
        let docs = self.read(collection, &Partition::whole(), &Position::Start)?;
        wanted.scan(docs)
    }

    fn not_by_id(&self, collection: &str, partition: &Partition) -> SourceError {
        self.invalid(format!(
            "reads `{collection}` whole or by byte range, not by `_id` range (partition {})",
            partition.index
        ))
    }

    fn invalid(&self, reason: String) -> SourceError {
        SourceError::Invalid {
            source_name: self.name.clone(),
            reason,
        }
    }
}

/// `impl Source` for a source whose `files` field is a [`CollectionFiles`]: one partition per
/// collection, read in file order.
macro_rules! file_source {
    ($source:ty, $kind:literal $(, $geo:ident, $unique:ident)?) => {
        impl $crate::source::Source for $source {
            $(
                fn geo_indexes(
                    &self,
                    collection: &str,
                ) -> Result<Vec<String>, $crate::source::SourceError> {
                    <$source>::$geo(self, collection)
                }

                fn unique_indexes(
                    &self,
                    collection: &str,
                ) -> Result<Vec<$crate::source::UniqueIndex>, $crate::source::SourceError> {
                    <$source>::$unique(self, collection)
                }
            )?

            fn describe(&self) -> String {
                self.files.describe()
            }

            fn kind(&self) -> &'static str {
                $kind
            }

            fn collections(
                &self,
            ) -> Result<Vec<$crate::source::CollectionInfo>, $crate::source::SourceError> {
                Ok(self.files.collections())
            }

            fn partitions(
                &self,
                collection: &str,
                max: usize,
            ) -> Result<Vec<$crate::source::Partition>, $crate::source::SourceError> {
                self.files.partitions(collection, max)
            }

            fn read(
                &self,
                collection: &str,
                partition: &$crate::source::Partition,
                from: &$crate::source::Position,
            ) -> Result<$crate::source::DocStream, $crate::source::SourceError> {
                self.files.read(collection, partition, from)
            }

            fn fetch(
                &self,
                collection: &str,
                ids: &[bson::Bson],
            ) -> Result<Vec<bson::RawDocumentBuf>, $crate::source::SourceError> {
                self.files.fetch(collection, ids)
            }

            fn stamp(
                &self,
                collection: &str,
            ) -> Result<Option<$crate::source::SourceStamp>, $crate::source::SourceError> {
                $crate::source::SourceStamp::of_file(self.files.path(collection)?).map(Some)
            }

            fn rereadable(&self) -> bool {
                true
            }
        }
    };
}
pub(crate) use file_source;
