//! What a collection's source was when its partitions were planned, so that a resumed run can
//! tell whether it changed since: a file's size, modification time and the checksum of its first
//! and last bytes; an archived collection's blocks, document count and CRC.
//!
//! A resume reads on from byte offsets recorded against the planned file. If the file changed
//! (restored after a truncation, a length prefix fixed, another export copied over it), those
//! offsets and the planned byte ranges mean nothing in the new one: the run loads that
//! collection again from its start (see `crate::pipeline::changes`).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};

use super::SourceError;
use crate::state::stable_hash_bytes;

/// Bytes read from each end of a file for its checksum: a change that keeps the size and the
/// modification time (rare: it needs `touch -r` or a clock set back) is caught near the ends.
const EDGE: u64 = 16 * 1024;

/// What a collection's data was; compared with [`SourceStamp::differences`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SourceStamp {
    /// A file holding the collection (`.bson`, `.bson.gz`, `.json`).
    File {
        path: String,
        bytes: u64,
        /// Nanoseconds since 1970 (`None` where the file system keeps none).
        modified_ns: Option<u64>,
        /// A hash of the first and last 16 KiB.
        edges: String,
    },
    /// A collection inside a mongodump archive: where its blocks are and what they hold.
    Archive {
        path: String,
        /// A hash of its blocks' byte ranges in the (uncompressed) archive.
        blocks: String,
        documents: u64,
        bytes: u64,
        /// The CRC-64 of its EOF header (`None`: the archive ends before it).
        crc: Option<i64>,
    },
}

impl SourceStamp {
    /// The stamp of the file at `path`.
    pub fn of_file(path: &Path) -> Result<SourceStamp, SourceError> {
        let io = |e| SourceError::io(path, e);
        let mut file = File::open(path).map_err(io)?;
        let meta = file.metadata().map_err(io)?;
        let bytes = meta.len();
        let modified_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .and_then(|d| u64::try_from(d.as_nanos()).ok());
        let mut edges = Vec::with_capacity(2 * EDGE as usize);
        (&mut file).take(EDGE).read_to_end(&mut edges).map_err(io)?;
        if bytes > EDGE {
            file.seek(SeekFrom::Start(bytes.saturating_sub(EDGE).max(EDGE)))
                .map_err(io)?;
            file.take(EDGE).read_to_end(&mut edges).map_err(io)?;
        }
        Ok(SourceStamp::File {
            path: path.display().to_string(),
            bytes,
            modified_ns,
            edges: stable_hash_bytes(&edges),
        })
    }

    /// The file or archive the stamp is of.
    pub fn path(&self) -> &str {
        match self {
            SourceStamp::File { path, .. } | SourceStamp::Archive { path, .. } => path,
        }
    }

    /// What changed from `then` to `self`, in words (empty: nothing). The path is not compared:
    /// a dump moved or copied with its times kept resumes.
    pub fn differences(&self, then: &SourceStamp) -> Vec<String> {
        let mut out = Vec::new();
        match (then, self) {
            (
                SourceStamp::File {
                    bytes: old_bytes,
                    modified_ns: old_modified,
                    edges: old_edges,
                    ..
                },
                SourceStamp::File {
                    bytes,
                    modified_ns,
                    edges,
                    ..
                },
            ) => {
                if old_bytes != bytes {
                    out.push(format!("its size was {old_bytes} bytes, now {bytes}"));
                }
                if old_modified != modified_ns {
                    out.push(format!(
                        "it was modified at {}, now {}",
                        time(*old_modified),
                        time(*modified_ns)
                    ));
                }
                if old_edges != edges {
                    out.push("its first or last 16 KiB differ".to_string());
                }
            }
            (
                SourceStamp::Archive {
                    blocks: old_blocks,
                    documents: old_documents,
                    bytes: old_bytes,
                    crc: old_crc,
                    ..
                },
                SourceStamp::Archive {
                    blocks,
                    documents,
                    bytes,
                    crc,
                    ..
                },
            ) => {
                if old_documents != documents || old_bytes != bytes {
                    out.push(format!(
                        "it held {old_documents} documents ({old_bytes} bytes), now {documents} \
                         ({bytes} bytes)"
                    ));
                }
                match (old_crc, crc) {
                    (None, Some(_)) => {
                        out.push("the archive ended before its end, now it is whole".to_string())
                    }
                    (Some(_), None) => out.push("the archive now ends before its end".to_string()),
                    (Some(a), Some(b)) if a != b => {
                        out.push(format!("its CRC was {a:#018x}, now {b:#018x}"))
                    }
                    _ => {}
                }
                if old_blocks != blocks && out.is_empty() {
                    out.push("its blocks moved in the archive".to_string());
                }
            }
            (then, now) => out.push(format!(
                "it was read as {}, now as {}",
                then.describe_kind(),
                now.describe_kind()
            )),
        }
        out
    }

    fn describe_kind(&self) -> &'static str {
        match self {
            SourceStamp::File { .. } => "a file",
            SourceStamp::Archive { .. } => "part of an archive",
        }
    }
}

/// A modification time in words (UTC).
fn time(ns: Option<u64>) -> String {
    let Some(ns) = ns else {
        return "an unknown time".to_string();
    };
    let millis = i64::try_from(ns / 1_000_000).unwrap_or(i64::MAX);
    let text = bson::DateTime::from_millis(millis)
        .try_to_rfc3339_string()
        .unwrap_or_else(|_| format!("{millis} ms"));
    // Changes within a millisecond still show.
    format!("{text} (+{} ns)", ns % 1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp_of(bytes: &[u8]) -> (tempfile::NamedTempFile, SourceStamp) {
        let file = tempfile::NamedTempFile::new().expect("a temp file");
        std::fs::write(file.path(), bytes).expect("write");
        let stamp = SourceStamp::of_file(file.path()).expect("stamp");
        (file, stamp)
    }

    #[test]
    fn a_file_read_twice_has_one_stamp() {
        let (file, stamp) = stamp_of(&[7u8; 100_000]);
        let again = SourceStamp::of_file(file.path()).expect("stamp");
        assert_eq!(stamp, again);
        assert!(again.differences(&stamp).is_empty());
    }

    #[test]
    fn size_time_and_edges_are_each_noticed() {
        let (file, stamp) = stamp_of(&[7u8; 100_000]);
        let path = file.path();
        // Same size, the last byte changed, the modification time put back: the edges differ.
        let modified = std::fs::metadata(path)
            .and_then(|m| m.modified())
            .expect("mtime");
        let mut bytes = vec![7u8; 100_000];
        bytes[99_999] = 8;
        std::fs::write(path, &bytes).expect("write");
        File::options()
            .write(true)
            .open(path)
            .and_then(|f| f.set_modified(modified))
            .expect("set the time back");
        let edited = SourceStamp::of_file(path).expect("stamp");
        assert_eq!(
            edited.differences(&stamp),
            vec!["its first or last 16 KiB differ"]
        );
        // Truncated: the size, and the time it was written.
        std::fs::write(path, &bytes[..60_000]).expect("truncate");
        let later = modified + std::time::Duration::from_secs(2);
        File::options()
            .write(true)
            .open(path)
            .and_then(|f| f.set_modified(later))
            .expect("set a later time");
        let truncated = SourceStamp::of_file(path).expect("stamp");
        // (Its edges hold the same bytes as the first stamp's: only the size and time tell.)
        let said = truncated.differences(&stamp);
        assert_eq!(said.len(), 2, "{said:?}");
        assert_eq!(said[0], "its size was 100000 bytes, now 60000");
        assert!(said[1].starts_with("it was modified at "), "{said:?}");
    }

    #[test]
    fn a_small_file_is_hashed_whole() {
        let (_a, one) = stamp_of(b"abc");
        let (_b, other) = stamp_of(b"abd");
        let (SourceStamp::File { edges: e1, .. }, SourceStamp::File { edges: e2, .. }) =
            (&one, &other)
        else {
            panic!("file stamps");
        };
        assert_ne!(e1, e2);
    }

    #[test]
    fn an_archived_collection_cut_short_then_whole_is_noticed() {
        let cut = SourceStamp::Archive {
            path: "a.archive".into(),
            blocks: "1".into(),
            documents: 1552,
            bytes: 100,
            crc: None,
        };
        let whole = SourceStamp::Archive {
            path: "a.archive".into(),
            blocks: "2".into(),
            documents: 2000,
            bytes: 130,
            crc: Some(5),
        };
        assert_eq!(
            whole.differences(&cut),
            vec![
                "it held 1552 documents (100 bytes), now 2000 (130 bytes)",
                "the archive ended before its end, now it is whole"
            ]
        );
        assert!(whole.differences(&whole).is_empty());
    }
}
