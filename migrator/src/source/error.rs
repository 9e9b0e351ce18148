//! What goes wrong reading a source: each error names the file (and where in it) or the
//! deployment.

use std::path::{Path, PathBuf};

/// A source that cannot be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    #[error("{file}: {source}")]
    Io {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: corrupt BSON at byte {offset}: {reason}")]
    Corrupt {
        file: PathBuf,
        offset: u64,
        reason: String,
    },
    #[error("collection `{collection}` is not in {source_name}")]
    MissingCollection {
        collection: String,
        source_name: String,
    },
    #[error("{source_name}: {reason}")]
    Server { source_name: String, reason: String },
    /// A request the source cannot honour: a resume position or partition of another kind of
    /// source, or an ambiguous layout (one collection in two files).
    #[error("{source_name}: {reason}")]
    Invalid { source_name: String, reason: String },
    #[error("{file}: invalid Extended JSON at byte {offset} (line {line}): {reason}")]
    Json {
        file: PathBuf,
        offset: u64,
        line: u64,
        reason: String,
    },
    /// A compressed archive is read from a decompressed copy, which could not be written.
    #[error(
        "{archive}: cannot keep a decompressed copy in {dir} (set TMPDIR to a directory with room \
         for the uncompressed archive): {source}"
    )]
    Spool {
        archive: PathBuf,
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A buffer the data needs could not be allocated (see [`crate::allocator`]).
    #[error(
        "{file}: out of memory at byte {offset}: {what} of {bytes} bytes could not be allocated"
    )]
    OutOfMemory {
        file: PathBuf,
        offset: u64,
        bytes: usize,
        what: &'static str,
    },
    /// A compressed file whose stream is damaged (its deflate data or its checksum is wrong):
    /// nothing read from it can be trusted.
    #[error("corrupt compressed stream in {file} at byte {offset}: {reason}")]
    CorruptStream {
        file: PathBuf,
        /// In the compressed file.
        offset: u64,
        reason: String,
    },
}

impl SourceError {
    pub(crate) fn io(file: &Path, source: std::io::Error) -> Self {
        SourceError::Io {
            file: file.to_path_buf(),
            source,
        }
    }

    /// The same error again (an I/O error keeps its kind and message).
    pub(crate) fn duplicate(&self) -> Self {
        let io = |e: &std::io::Error| std::io::Error::new(e.kind(), e.to_string());
        match self {
            SourceError::Io { file, source } => SourceError::Io {
                file: file.clone(),
                source: io(source),
            },
            SourceError::Corrupt {
                file,
                offset,
                reason,
            } => SourceError::Corrupt {
                file: file.clone(),
                offset: *offset,
                reason: reason.clone(),
            },
            SourceError::MissingCollection {
                collection,
                source_name,
            } => SourceError::MissingCollection {
                collection: collection.clone(),
                source_name: source_name.clone(),
            },
            SourceError::Server {
                source_name,
                reason,
            } => SourceError::Server {
                source_name: source_name.clone(),
                reason: reason.clone(),
            },
            SourceError::Invalid {
                source_name,
                reason,
            } => SourceError::Invalid {
                source_name: source_name.clone(),
                reason: reason.clone(),
            },
            SourceError::Json {
                file,
                offset,
                line,
                reason,
            } => SourceError::Json {
                file: file.clone(),
                offset: *offset,
                line: *line,
                reason: reason.clone(),
            },
            SourceError::Spool {
                archive,
                dir,
                source,
            } => SourceError::Spool {
                archive: archive.clone(),
                dir: dir.clone(),
                source: io(source),
            },
            SourceError::OutOfMemory {
                file,
                offset,
                bytes,
                what,
            } => SourceError::OutOfMemory {
                file: file.clone(),
                offset: *offset,
                bytes: *bytes,
                what,
            },
            SourceError::CorruptStream {
                file,
                offset,
                reason,
            } => SourceError::CorruptStream {
                file: file.clone(),
                offset: *offset,
                reason: reason.clone(),
            },
        }
    }
}
