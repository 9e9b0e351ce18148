//! [`BlockStream`]: length-prefixed documents read in large blocks and handed out in place.
//!
//! Reading a document into a buffer of its own copies every byte a second time after the read
//! from the file (and reading it through a `BufReader` pays that reader's bookkeeping for every
//! document). Here the file is read straight into one block, each document is a slice of it,
//! and only a document cut by the block's end moves (to the block's start, before the next read).

use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};

use bson::RawDocument;

use super::framing::{
    corrupt, document_len, read_error, resume_beyond, resume_past, short_document, short_prefix,
};
use super::SourceError;

/// Bytes read from the file at a time (a larger document grows the block to its size).
const BLOCK: usize = 256 * 1024;

/// The first read's size: a reader that wants a few documents (the listing's estimate from the
/// first ones) reads no more than it needs; the block grows to [`BLOCK`] at the next read.
const FIRST_BLOCK: usize = 64 * 1024;

/// The documents of a stream of length-prefixed BSON documents (a mongodump `.bson` file).
pub(crate) struct BlockStream {
    file: PathBuf,
    reader: Box<dyn Read + Send>,
    block: Vec<u8>,
    /// Bytes of `block` that hold data read from the stream.
    filled: usize,
    /// Where the next document starts in `block`.
    at: usize,
    /// Stream offset of `block[at]`.
    offset: u64,
    /// The stream has no more bytes.
    ended: bool,
}

impl std::fmt::Debug for BlockStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockStream")
            .field("file", &self.file)
            .field("offset", &self.offset)
            .finish_non_exhaustive()
    }
}

impl BlockStream {
    /// A stream whose first byte is byte `offset` of `file` (offsets in errors and positions
    /// count from the file's start).
    pub(crate) fn starting_at(file: &Path, reader: Box<dyn Read + Send>, offset: u64) -> Self {
        BlockStream {
            file: file.to_path_buf(),
            reader,
            block: Vec::new(),
            filled: 0,
            at: 0,
            offset,
            ended: false,
        }
    }

    /// Consumes bytes up to `position`, for a stream that cannot seek (a compressed file);
    /// fails if the stream is shorter.
    pub(crate) fn skip_to(&mut self, position: u64) -> Result<(), SourceError> {
        if position < self.offset {
            return Err(corrupt(&self.file, self.offset, resume_past(position)));
        }
        while self.offset < position {
            let held = self.available(1)?;
            if held == 0 {
                let reason = resume_beyond(position, self.offset);
                return Err(corrupt(&self.file, self.offset, reason));
            }
            let step = held.min(usize::try_from(position - self.offset).unwrap_or(usize::MAX));
            self.at += step;
            self.offset += step as u64;
        }
        Ok(())
    }

    /// The next document and where it starts; `None` at a clean end of the stream. Only its
    /// frame is checked (the length prefix and the closing NUL), as the models' reading checks
    /// the rest.
    pub(crate) fn next_document(&mut self) -> Result<Option<(&RawDocument, u64)>, SourceError> {
        let start = self.offset;
        let have = self.available(4)?;
        if have == 0 {
            return Ok(None);
        }
        let prefix = match self.block[self.at..self.filled].first_chunk::<4>() {
            Some(prefix) => *prefix,
            None => return Err(corrupt(&self.file, start, short_prefix(have))),
        };
        let len = document_len(prefix).map_err(|reason| corrupt(&self.file, start, reason))?;
        if self.available(len)? < len {
            return Err(corrupt(&self.file, start, short_document(len)));
        }
        let from = self.at;
        self.at += len;
        self.offset += len as u64;
        RawDocument::from_bytes(&self.block[from..from + len])
            .map(|doc| Some((doc, start)))
            .map_err(|e| corrupt(&self.file, start, e.to_string()))
    }

    /// Reads until `block[at..]` holds `wanted` bytes or the stream ends; returns how many it
    /// holds (fewer only at the end).
    fn available(&mut self, wanted: usize) -> Result<usize, SourceError> {
        let held = self.filled - self.at;
        if held >= wanted || self.ended {
            return Ok(held);
        }
        // Keep the part of a document already read, at the start of the block.
        self.block.copy_within(self.at..self.filled, 0);
        self.filled = held;
        self.at = 0;
        let size = wanted.max(if self.block.is_empty() {
            FIRST_BLOCK
        } else {
            BLOCK
        });
        if self.block.len() < size {
            // As large as a document (up to 16 MiB): a failure is the run's error, not an abort.
            let more = size - self.block.len();
            if crate::allocator::try_reserve(&mut self.block, more).is_err() {
                return Err(SourceError::OutOfMemory {
                    file: self.file.clone(),
                    offset: self.offset,
                    bytes: size,
                    what: "the read buffer of a document",
                });
            }
            self.block.resize(size, 0);
        }
        while self.filled < wanted {
            match self.reader.read(&mut self.block[self.filled..]) {
                Ok(0) => {
                    self.ended = true;
                    break;
                }
                Ok(n) => self.filled += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    let at = self.offset + self.filled as u64;
                    return Err(read_error(&self.file, at, e));
                }
            }
        }
        Ok(self.filled)
    }
}

#[cfg(test)]
mod tests {
    use super::BlockStream;

    fn doc(i: usize, pad: usize) -> Vec<u8> {
        bson::rawdoc! { "_id": i as i64, "pad": "x".repeat(pad) }.into_bytes()
    }

    /// A reader that gives at most `step` bytes per read, as pipes and decompressors do.
    struct Trickle {
        bytes: Vec<u8>,
        at: usize,
        step: usize,
    }

    impl std::io::Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(self.step).min(self.bytes.len() - self.at);
            buf[..n].copy_from_slice(&self.bytes[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    #[test]
    fn documents_across_block_ends_and_larger_than_a_block_come_back_whole() {
        // Sizes chosen so documents straddle block ends, and one is larger than a block.
        let docs: Vec<Vec<u8>> = (0..400)
            .map(|i| doc(i, if i == 200 { 600_000 } else { 1_000 + i * 13 }))
            .collect();
        let bytes = docs.concat();
        for step in [7, 4096, usize::MAX] {
            let reader = Trickle {
                bytes: bytes.clone(),
                at: 0,
                step,
            };
            let mut stream =
                BlockStream::starting_at(std::path::Path::new("t.bson"), Box::new(reader), 0);
            let mut start = 0u64;
            for expected in &docs {
                let (got, at) = stream.next_document().expect("read").expect("a document");
                assert_eq!(got.as_bytes(), expected.as_slice(), "step {step}");
                assert_eq!(at, start);
                start += expected.len() as u64;
            }
            assert!(stream.next_document().expect("clean end").is_none());
        }
    }

    #[test]
    fn positions_and_errors_count_from_the_starting_offset() {
        let first = doc(1, 10);
        let mut bytes = first.clone();
        bytes.extend([9, 0, 0, 0, 1]);
        let reader = std::io::Cursor::new(bytes);
        let mut stream =
            BlockStream::starting_at(std::path::Path::new("t.bson"), Box::new(reader), 1000);
        let (_, at) = stream.next_document().expect("read").expect("a document");
        assert_eq!(at, 1000);
        let err = stream.next_document().expect_err("cut").to_string();
        let expected = format!(
            "at byte {}: file ends inside a document of 9 bytes",
            1000 + first.len()
        );
        assert!(err.contains(&expected), "{err}");
    }
}
