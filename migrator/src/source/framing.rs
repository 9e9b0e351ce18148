//! Length-prefixed BSON framing, shared by mongodump's `.bson` files and `--archive` files: a
//! little-endian `i32` length, then the rest of the document. Archives also use the length
//! `-1` (`ff ff ff ff`) as a terminator that ends a block.

use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};

use bson::RawDocumentBuf;

use super::{SourceError, MAX_DOCUMENT_SIZE};

/// What the next four bytes of a stream say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Frame {
    /// The stream ended cleanly, between two frames.
    End,
    /// `ff ff ff ff`: the end of an archive block.
    Terminator,
    /// A document of `len` bytes (prefix included) starting at byte `start`.
    Document {
        start: u64,
        len: usize,
        prefix: [u8; 4],
    },
}

/// A byte stream read frame by frame, keeping the offset of everything it consumed so errors
/// can say where the file went wrong.
pub(crate) struct BsonStream {
    file: PathBuf,
    reader: Box<dyn Read + Send>,
    offset: u64,
}

impl std::fmt::Debug for BsonStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BsonStream")
            .field("file", &self.file)
            .field("offset", &self.offset)
            .finish_non_exhaustive()
    }
}

impl BsonStream {
    pub(crate) fn new(file: &Path, reader: Box<dyn Read + Send>) -> Self {
        Self::starting_at(file, reader, 0)
    }

    /// A stream whose first byte is byte `offset` of `file` (offsets in errors count from the
    /// file's start).
    pub(crate) fn starting_at(file: &Path, reader: Box<dyn Read + Send>, offset: u64) -> Self {
        BsonStream {
            file: file.to_path_buf(),
            reader,
            offset,
        }
    }

    /// Bytes consumed so far (in the uncompressed stream).
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    pub(crate) fn corrupt_at(&self, offset: u64, reason: impl Into<String>) -> SourceError {
        corrupt(&self.file, offset, reason)
    }

    fn read_error(&self, offset: u64, error: std::io::Error) -> SourceError {
        read_error(&self.file, offset, error)
    }

    /// Consumes bytes up to `position`, failing if the stream is shorter.
    pub(crate) fn skip_to(&mut self, position: u64) -> Result<(), SourceError> {
        let Some(wanted) = position.checked_sub(self.offset) else {
            return Err(self.corrupt_at(self.offset, resume_past(position)));
        };
        let start = self.offset;
        let skipped = std::io::copy(&mut (&mut self.reader).take(wanted), &mut std::io::sink())
            .map_err(|e| self.read_error(start, e))?;
        self.offset += skipped;
        if skipped != wanted {
            return Err(self.corrupt_at(self.offset, resume_beyond(position, self.offset)));
        }
        Ok(())
    }

    /// Reads exactly `buf.len()` bytes, or returns how many there were before the end.
    pub(crate) fn fill(&mut self, buf: &mut [u8]) -> Result<usize, SourceError> {
        let mut got = 0;
        while got < buf.len() {
            match self.reader.read(&mut buf[got..]) {
                Ok(0) => break,
                Ok(n) => {
                    got += n;
                    self.offset += n as u64;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(self.read_error(self.offset, e)),
            }
        }
        Ok(got)
    }

    /// Reads the next length prefix. With `terminators`, `ff ff ff ff` is a block terminator
    /// (archives); otherwise it is a bad length like any other.
    pub(crate) fn next_frame(&mut self, terminators: bool) -> Result<Frame, SourceError> {
        let start = self.offset;
        let mut prefix = [0u8; 4];
        match self.fill(&mut prefix)? {
            0 => return Ok(Frame::End),
            4 => {}
            got => return Err(self.corrupt_at(start, short_prefix(got))),
        }
        if terminators && i32::from_le_bytes(prefix) == -1 {
            return Ok(Frame::Terminator);
        }
        match document_len(prefix) {
            Ok(len) => Ok(Frame::Document { start, len, prefix }),
            Err(reason) => Err(self.corrupt_at(start, reason)),
        }
    }

    /// Reads the document announced by `frame`. Only its frame is checked here (the length
    /// prefix and the closing NUL): its elements are read once, by the model's `decode`, and a
    /// document malformed inside becomes a dead letter naming its `_id` (the file stays readable,
    /// since every frame says where the next one starts).
    pub(crate) fn read_document(&mut self, frame: Frame) -> Result<RawDocumentBuf, SourceError> {
        let Frame::Document { start, .. } = frame else {
            return Err(self.corrupt_at(self.offset, "expected a document"));
        };
        // Read into the vector's spare capacity: no zeroing first.
        let mut bytes = Vec::new();
        self.read_document_into(frame, &mut bytes)?;
        RawDocumentBuf::from_bytes(bytes).map_err(|e| self.corrupt_at(start, e.to_string()))
    }

    /// Reads the document announced by `frame` into `buf` (replacing what it held), without
    /// checking anything but its length.
    pub(crate) fn read_document_into(
        &mut self,
        frame: Frame,
        buf: &mut Vec<u8>,
    ) -> Result<(), SourceError> {
        let Frame::Document { start, len, prefix } = frame else {
            return Err(self.corrupt_at(self.offset, "expected a document"));
        };
        buf.clear();
        // As large as the document (up to 16 MiB): a failure is the run's error, not an abort.
        if crate::allocator::try_reserve(buf, len).is_err() {
            return Err(SourceError::OutOfMemory {
                file: self.file.clone(),
                offset: start,
                bytes: len,
                what: "the read buffer of a document",
            });
        }
        buf.extend_from_slice(&prefix);
        let rest = (len - 4) as u64;
        let got = (&mut self.reader)
            .take(rest)
            .read_to_end(buf)
            .map_err(|e| self.read_error(start, e))?;
        self.offset += got as u64;
        if got as u64 != rest {
            return Err(self.corrupt_at(start, short_document(len)));
        }
        Ok(())
    }
}

/// `file` is corrupt at byte `offset`.
pub(crate) fn corrupt(file: &Path, offset: u64, reason: impl Into<String>) -> SourceError {
    SourceError::Corrupt {
        file: file.to_path_buf(),
        offset,
        reason: reason.into(),
    }
}

/// An I/O error; a decompressor's complaint about its input is corruption at `offset`.
pub(crate) fn read_error(file: &Path, offset: u64, error: std::io::Error) -> SourceError {
    match error.kind() {
        ErrorKind::InvalidData | ErrorKind::InvalidInput => {
            corrupt(file, offset, format!("cannot decompress: {error}"))
        }
        // A decompressor whose input ends before its stream does ("incomplete deflate stream").
        ErrorKind::UnexpectedEof => corrupt(
            file,
            offset,
            format!("the compressed stream ends early (the file is truncated): {error}"),
        ),
        _ => SourceError::io(file, error),
    }
}

/// The length a document's prefix announces, if it is one a BSON document can have.
pub(crate) fn document_len(prefix: [u8; 4]) -> Result<usize, String> {
    let len = i32::from_le_bytes(prefix);
    match usize::try_from(len) {
        Ok(len) if (5..=MAX_DOCUMENT_SIZE).contains(&len) => Ok(len),
        _ => Err(format!(
            "bad length prefix {len} (a BSON document is 5 to {MAX_DOCUMENT_SIZE} bytes)"
        )),
    }
}

/// The stream ended `got` bytes into a length prefix.
pub(crate) fn short_prefix(got: usize) -> String {
    format!("file ends inside a length prefix ({got} of 4 bytes)")
}

/// The stream ended inside a document of `len` bytes.
pub(crate) fn short_document(len: usize) -> String {
    format!("file ends inside a document of {len} bytes")
}

/// A resume position before where the stream stands.
pub(crate) fn resume_past(position: u64) -> String {
    format!("cannot resume at byte {position}: already past it")
}

/// A resume position beyond the end of a stream of `len` bytes.
pub(crate) fn resume_beyond(position: u64, len: u64) -> String {
    format!("cannot resume at byte {position}: the file has only {len} bytes")
}
