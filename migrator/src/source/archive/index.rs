//! One pass over an archive's blocks that records where each namespace's documents are, so each
//! collection is then read from its own blocks instead of scanning the whole archive again.
//!
//! A gzip archive is decompressed once, during that pass, into an unnamed temporary file (in
//! `TMPDIR` unless told otherwise; the system removes it when the source is dropped or the
//! process dies): the blocks are read from there, at the same offsets as in the uncompressed
//! stream.
//!
//! The pass checks each collection's documents against the CRC-64 of its EOF header, so a
//! collection read in several partitions, or resumed, is checked all the same. A pass that meets
//! a corrupt or truncated archive keeps what it indexed before: collections that ended before
//! the damage stay readable, the others fail with the error the pass met. A gzip archive whose
//! compressed stream is damaged (not merely cut short) is not read at all: what it decompresses
//! to after the damaged byte is garbage that can pass for blocks.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bson::{RawBsonRef, RawDocument};

use super::crc::Crc64;
use super::open_buffered;
use crate::source::compressed;
use crate::source::framing::{BsonStream, Frame};
use crate::source::{ByteRange, SourceError};

/// Read buffer of the indexing pass and the most a block reader buffers.
const BUFFER: usize = 256 * 1024;

/// The documents of one block: `[start, end)`, `end` being where its terminator is (or, in a
/// block the archive's damage cut short, where its last whole document ends).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub start: u64,
    pub end: u64,
}

/// A namespace's EOF header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Eof {
    /// Where the header starts.
    pub at: u64,
    /// The CRC-64 of all the namespace's documents, as the header says.
    pub crc: i64,
    /// ... and as the documents give.
    pub computed: i64,
}

/// Where one namespace's documents are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Namespace {
    /// Its blocks in archive order (those after its EOF header are ignored, as a reader stops
    /// there).
    pub spans: Vec<Span>,
    pub eof: Option<Eof>,
    pub documents: u64,
    pub bytes: u64,
}

/// `(db, collection)`.
type Key = (String, String);

/// A namespace header: `{db, collection, EOF, CRC}`.
struct Header {
    db: String,
    collection: String,
    eof: bool,
    crc: i64,
}

impl Header {
    fn parse(doc: &RawDocument) -> Result<Header, String> {
        let text = |key: &str| match doc.get(key) {
            Ok(Some(RawBsonRef::String(s))) => Ok(s.to_string()),
            _ => Err(format!("a namespace header has no string `{key}`")),
        };
        Ok(Header {
            db: text("db")?,
            collection: text("collection")?,
            eof: matches!(doc.get("EOF"), Ok(Some(RawBsonRef::Boolean(true)))),
            crc: match doc.get("CRC") {
                Ok(Some(RawBsonRef::Int64(n))) => n,
                Ok(Some(RawBsonRef::Int32(n))) => i64::from(n),
                _ => 0,
            },
        })
    }
}

/// Where every namespace's blocks are, and the bytes to read them from.
#[derive(Debug)]
pub(crate) struct ArchiveIndex {
    /// The archive (named in errors; offsets are in its uncompressed stream).
    path: PathBuf,
    /// The archive itself, or its decompressed copy.
    data: Arc<File>,
    namespaces: HashMap<Key, Namespace>,
    /// Where the indexed bytes end.
    length: u64,
    /// What stopped the pass before the end of the archive.
    failure: Option<SourceError>,
}

impl ArchiveIndex {
    /// Indexes the blocks of the archive at `path`, which start at `data_start`; a gzip
    /// archive's decompressed copy goes to `temp_dir`.
    pub(crate) fn build(
        path: &Path,
        data_start: u64,
        temp_dir: &Path,
    ) -> Result<ArchiveIndex, SourceError> {
        let (buffered, gzip) = open_buffered(path)?;
        let file = buffered
            .get_ref()
            .try_clone()
            .map_err(|e| SourceError::io(path, e))?;
        let spool_error = Arc::new(Mutex::new(None));
        let (mut stream, data) = if gzip {
            let spool_failed = |e| spool_failed(path, temp_dir, e);
            let spool = tempfile::tempfile_in(temp_dir).map_err(spool_failed)?;
            let tee = Tee {
                inner: flate2::bufread::MultiGzDecoder::new(buffered),
                copy: spool.try_clone().map_err(spool_failed)?,
                error: spool_error.clone(),
            };
            let reader = BufReader::with_capacity(BUFFER, tee);
            (BsonStream::new(path, Box::new(reader)), spool)
        } else {
            (BsonStream::new(path, Box::new(buffered)), file)
        };
        let mut pass = Pass::default();
        let outcome = stream
            .skip_to(data_start)
            .and_then(|()| pass.scan(&mut stream));
        pass.close_block();
        if let Some(e) = spool_error.lock().ok().and_then(|mut slot| slot.take()) {
            return Err(spool_failed(path, temp_dir, e));
        }
        // A pass that read a gzip archive to its end checked it whole. One that stopped may
        // have indexed garbage decompressed from a damaged byte as blocks: then nothing of the
        // archive is read (a truncated archive keeps what came before the cut, which is sound).
        if gzip && outcome.is_err() {
            if let Err(damage) = compressed::check_gzip(path)? {
                if !damage.truncated {
                    return Err(damage.into_error(path));
                }
            }
        }
        Ok(ArchiveIndex {
            path: path.to_path_buf(),
            data: Arc::new(data),
            namespaces: pass.namespaces,
            length: stream.offset(),
            failure: outcome.err(),
        })
    }

    /// The archive's path, for errors.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// What the archive holds of `db.collection` (nothing if no block names it).
    pub(crate) fn namespace(&self, db: &str, collection: &str) -> Namespace {
        self.namespaces
            .get(&(db.to_string(), collection.to_string()))
            .cloned()
            .unwrap_or_default()
    }

    /// Why a namespace without an EOF header has no more documents: the damage the pass met,
    /// or the archive's end.
    pub(crate) fn missing_end(&self, namespace: &str) -> SourceError {
        match &self.failure {
            Some(e) => e.duplicate(),
            None => SourceError::Corrupt {
                file: self.path.clone(),
                offset: self.length,
                reason: format!("the archive ends before the end of `{namespace}` (no EOF header)"),
            },
        }
    }

    /// The namespace's blocks in at most `max` groups of at most about an even share of its
    /// bytes each (a block is never split), each as the archive's bytes from its first block's
    /// documents to its last's.
    pub(crate) fn ranges(&self, db: &str, collection: &str, max: usize) -> Vec<ByteRange> {
        let namespace = self.namespace(db, collection);
        let max = max.max(1);
        let target = namespace.bytes.div_ceil(max as u64).max(1);
        let mut ranges: Vec<ByteRange> = Vec::new();
        let mut size = 0;
        for span in &namespace.spans {
            let len = span.end - span.start;
            let full = ranges.len() == max;
            match ranges.last_mut() {
                Some(range) if size + len <= target || full => {
                    range.end = span.end;
                }
                _ => {
                    ranges.push(ByteRange {
                        start: span.start,
                        end: span.end,
                    });
                    size = 0;
                }
            }
            size += len;
        }
        ranges
    }

    /// A stream of the bytes `[start, end)`, which lie inside one block.
    pub(crate) fn stream(&self, start: u64, end: u64) -> BsonStream {
        let wanted = usize::try_from(end.saturating_sub(start)).unwrap_or(BUFFER);
        let reader = BufReader::with_capacity(
            wanted.clamp(4096, BUFFER),
            FileAt {
                file: self.data.clone(),
                position: start,
            },
        );
        BsonStream::starting_at(&self.path, Box::new(reader), start)
    }
}

fn spool_failed(archive: &Path, dir: &Path, source: std::io::Error) -> SourceError {
    SourceError::Spool {
        archive: archive.to_path_buf(),
        dir: dir.to_path_buf(),
        source,
    }
}

/// The indexing pass's findings so far.
#[derive(Default)]
struct Pass {
    namespaces: HashMap<Key, Namespace>,
    /// The block being scanned: its namespace, where its documents start and end so far, and
    /// how many there are.
    open: Option<(Key, Span, u64)>,
    /// Each namespace's checksum so far.
    crcs: HashMap<Key, Crc64>,
    /// The document being checksummed.
    buffer: Vec<u8>,
}

impl Pass {
    fn scan(&mut self, stream: &mut BsonStream) -> Result<(), SourceError> {
        loop {
            let at = stream.offset();
            let frame = match stream.next_frame(true)? {
                Frame::End => return Ok(()),
                Frame::Terminator => {
                    return Err(stream.corrupt_at(
                        at,
                        "a block has no namespace header (two terminators in a row)",
                    ))
                }
                frame => frame,
            };
            let doc = stream.read_document(frame)?;
            let header = Header::parse(&doc).map_err(|e| stream.corrupt_at(at, e))?;
            let key = (header.db, header.collection);
            if header.eof {
                let after = stream.offset();
                if stream.next_frame(true)? != Frame::Terminator {
                    return Err(stream.corrupt_at(
                        after,
                        format!(
                            "the EOF header of `{}.{}` is not followed by a terminator",
                            key.0, key.1
                        ),
                    ));
                }
                let computed = self.crcs.get(&key).map_or(0, Crc64::value);
                let namespace = self.namespaces.entry(key).or_default();
                namespace.eof.get_or_insert(Eof {
                    at,
                    crc: header.crc,
                    computed,
                });
                continue;
            }
            let start = stream.offset();
            let mut crc = self.crcs.remove(&key).unwrap_or_default();
            self.open = Some((key, Span { start, end: start }, 0));
            let scanned = self.scan_block(stream, &mut crc);
            if let Some((key, ..)) = &self.open {
                self.crcs.insert(key.clone(), crc);
            }
            scanned?;
            self.close_block();
        }
    }

    /// Checksums the documents of the open block up to its terminator.
    fn scan_block(&mut self, stream: &mut BsonStream, crc: &mut Crc64) -> Result<(), SourceError> {
        loop {
            let at = stream.offset();
            match stream.next_frame(true)? {
                Frame::Terminator => return Ok(()),
                Frame::End => {
                    return Err(stream.corrupt_at(
                        at,
                        "the archive ends inside a block (no terminator after its last document)",
                    ))
                }
                frame => {
                    stream.read_document_into(frame, &mut self.buffer)?;
                    crc.update(&self.buffer);
                    if let Some((_, span, documents)) = &mut self.open {
                        span.end = stream.offset();
                        *documents += 1;
                    }
                }
            }
        }
    }

    /// Records the open block (whole, or up to where the archive's damage cut it short).
    fn close_block(&mut self) {
        let Some((key, span, documents)) = self.open.take() else {
            return;
        };
        let namespace = self.namespaces.entry(key).or_default();
        if namespace.eof.is_none() && documents > 0 {
            namespace.spans.push(span);
            namespace.documents += documents;
            namespace.bytes += span.end - span.start;
        }
    }
}

/// Passes the decompressed bytes through, writing them to the temporary copy as well.
struct Tee<R> {
    inner: R,
    copy: File,
    /// The copy's first write error (the pass then stops: the copy would miss bytes).
    error: Arc<Mutex<Option<std::io::Error>>>,
}

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Err(e) = std::io::Write::write_all(&mut self.copy, &buf[..n]) {
            let message = format!("writing the decompressed copy: {e}");
            if let Ok(mut slot) = self.error.lock() {
                slot.get_or_insert(e);
            }
            return Err(std::io::Error::other(message));
        }
        Ok(n)
    }
}

/// Reads a shared file from its own position (positioned reads: readers of other blocks do not
/// move it).
struct FileAt {
    file: Arc<File>,
    position: u64,
}

impl Read for FileAt {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        #[cfg(unix)]
        let n = std::os::unix::fs::FileExt::read_at(&*self.file, buf, self.position)?;
        #[cfg(windows)]
        let n = std::os::windows::fs::FileExt::seek_read(&*self.file, buf, self.position)?;
        self.position += n as u64;
        Ok(n)
    }
}
