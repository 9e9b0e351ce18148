//! Reading one namespace from its own blocks, found by the archive's index.

use std::sync::Arc;

use super::index::{ArchiveIndex, Namespace};
use crate::source::framing::{BsonStream, Frame};
use crate::source::{ByteRange, Position, Positioned, SourceError};

/// The documents of one namespace (or of its blocks in a byte range), in archive order, each
/// with the byte offset after it.
#[derive(Debug)]
pub(crate) struct NamespaceReader {
    index: Arc<ArchiveIndex>,
    /// `db.collection`, for messages.
    name: String,
    namespace: Namespace,
    /// The block being read and where its documents end.
    current: Option<(BsonStream, u64)>,
    /// The next block to open, and where the blocks to read end.
    next: usize,
    last: usize,
    done: bool,
}

impl NamespaceReader {
    /// The documents of `db.collection` in the blocks that start in `range` (`None`: all), from
    /// the first or from byte `resume`, the end of one of them (a resume position).
    pub(crate) fn open(
        index: Arc<ArchiveIndex>,
        db: &str,
        collection: &str,
        range: Option<ByteRange>,
        resume: Option<u64>,
    ) -> Result<Self, SourceError> {
        let namespace = index.namespace(db, collection);
        let name = format!("{db}.{collection}");
        if let Some(eof) = namespace.eof.filter(|e| e.crc != e.computed) {
            return Err(SourceError::Corrupt {
                file: index.path().to_path_buf(),
                offset: eof.at,
                reason: format!(
                    "CRC mismatch for `{name}`: the EOF header says {}, the documents give {}",
                    eof.crc, eof.computed
                ),
            });
        }
        let inside = |start: u64| range.is_none_or(|r| (r.start..r.end).contains(&start));
        let first = namespace
            .spans
            .iter()
            .position(|s| inside(s.start))
            .unwrap_or(namespace.spans.len());
        let last = first
            + namespace.spans[first..]
                .iter()
                .take_while(|s| inside(s.start))
                .count();
        let mut reader = NamespaceReader {
            index,
            name,
            namespace,
            current: None,
            next: first,
            last,
            done: false,
        };
        if let Some(offset) = resume {
            reader.skip_to(offset)?;
        }
        Ok(reader)
    }

    /// Continues right after the document that ends at `offset`.
    fn skip_to(&mut self, offset: u64) -> Result<(), SourceError> {
        let spans = &self.namespace.spans[self.next..self.last];
        let Some(block) = spans
            .iter()
            .position(|s| (s.start..=s.end).contains(&offset))
        else {
            if self.namespace.eof.is_none() {
                return Err(self.index.missing_end(&self.name));
            }
            return Err(SourceError::Corrupt {
                file: self.index.path().to_path_buf(),
                offset,
                reason: format!(
                    "cannot resume `{}` here: no block of it holds this byte (was the archive \
                     replaced since the checkpoint?)",
                    self.name
                ),
            });
        };
        let end = spans[block].end;
        self.current = Some((self.index.stream(offset, end), end));
        self.next += block + 1;
        Ok(())
    }

    fn read_one(&mut self) -> Result<Option<Positioned>, SourceError> {
        loop {
            if self.done {
                return Ok(None);
            }
            if let Some((stream, end)) = &mut self.current {
                let at = stream.offset();
                if at < *end {
                    let frame = stream.next_frame(true)?;
                    if !matches!(frame, Frame::Document { len, .. } if at + len as u64 <= *end) {
                        return Err(stream.corrupt_at(
                            at,
                            format!(
                                "expected a document of `{}` (the archive changed since it was \
                                 indexed)",
                                self.name
                            ),
                        ));
                    }
                    let doc = stream.read_document(frame)?;
                    return Ok(Some(Positioned {
                        doc,
                        next: Position::Offset {
                            offset: stream.offset(),
                        },
                    }));
                }
                self.current = None;
            }
            if self.next < self.last {
                let span = self.namespace.spans[self.next];
                self.current = Some((self.index.stream(span.start, span.end), span.end));
                self.next += 1;
                continue;
            }
            self.done = true;
            // The namespace's last blocks: it must have ended there.
            if self.last == self.namespace.spans.len() && self.namespace.eof.is_none() {
                return Err(self.index.missing_end(&self.name));
            }
            return Ok(None);
        }
    }
}

impl Iterator for NamespaceReader {
    type Item = Result<Positioned, SourceError>;

    fn next(&mut self) -> Option<Self::Item> {
        let item = self.read_one().transpose();
        if matches!(item, Some(Err(_))) {
            self.done = true;
        }
        item
    }
}
