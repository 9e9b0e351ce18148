//! One file's documents, read from a byte offset.

use std::path::{Path, PathBuf};

use bson::{RawDocument, RawDocumentBuf};

use crate::source::{compressed, Position, ReadDocs, SourceDoc, SourceError};

/// Opens one file at a byte offset (a value of [`SourceDoc::next_position`]).
pub(crate) type OpenAt = fn(&Path, u64) -> Result<Box<dyn FileDocs>, SourceError>;

/// One file's documents from a byte offset, each handed out borrowed with the offset right after
/// it.
pub(crate) trait FileDocs: Send {
    /// The next document (valid until the next call) and the offset after it; `None` at the end
    /// of the file, and after an error.
    fn next_doc(&mut self) -> Option<Result<(&RawDocument, u64), SourceError>>;
}

/// The documents of a file reader that makes an owned document each (mongoexport lines).
pub(crate) struct OwnedFileDocs<I> {
    docs: I,
    current: Option<RawDocumentBuf>,
}

impl<I> OwnedFileDocs<I> {
    pub(crate) fn new(docs: I) -> Self {
        OwnedFileDocs {
            docs,
            current: None,
        }
    }
}

impl<I: Iterator<Item = Result<SourceDoc, SourceError>> + Send> FileDocs for OwnedFileDocs<I> {
    fn next_doc(&mut self) -> Option<Result<(&RawDocument, u64), SourceError>> {
        match self.docs.next()? {
            Ok(SourceDoc { doc, next_position }) => {
                let doc: &RawDocument = self.current.insert(doc);
                Some(Ok((doc, next_position)))
            }
            Err(e) => Some(Err(e)),
        }
    }
}

/// A file's documents that start before `end`, each with its position.
pub(super) struct FileRange {
    pub(super) docs: Box<dyn FileDocs>,
    pub(super) at: u64,
    pub(super) end: u64,
    pub(super) path: PathBuf,
    /// The file was checked whole ([`ReadDocs::verify`]).
    pub(super) verified: bool,
}

impl ReadDocs for FileRange {
    fn next_doc(&mut self) -> Option<Result<(&RawDocument, Position), SourceError>> {
        if self.at >= self.end {
            return None;
        }
        match self.docs.next_doc()? {
            Ok((doc, next)) => {
                self.at = next;
                Some(Ok((doc, Position::Offset { offset: next })))
            }
            Err(e) => Some(Err(e)),
        }
    }
    fn verify(&mut self) -> Result<(), SourceError> {
        if self.verified || !compressed::is_gzip_name(&self.path) {
            return Ok(());
        }
        compressed::check_gzip(&self.path)?.map_err(|damage| damage.into_error(&self.path))?;
        self.verified = true;
        Ok(())
    }
}
