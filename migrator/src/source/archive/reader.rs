//! Reading one namespace out of an archive's interleaved blocks.

use bson::{RawBsonRef, RawDocument};

use super::crc::Crc64;
use crate::source::framing::{BsonStream, Frame};
use crate::source::{Position, Positioned, SourceError};

/// Where the reader is in the block structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// The next frame is a namespace header (or the end of the archive).
    BetweenBlocks,
    /// Inside a block of the namespace being read.
    InTarget,
    /// Inside a block of another namespace, skipped.
    InOther,
    /// The namespace's EOF header was read, or an error was returned.
    Done,
}

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

/// The documents of one namespace, in archive order, each with the byte offset after it.
#[derive(Debug)]
pub(crate) struct NamespaceReader {
    stream: BsonStream,
    db: String,
    collection: String,
    state: State,
    /// The checksum so far, when reading from the first document (a resumed read cannot check).
    crc: Option<Crc64>,
}

impl NamespaceReader {
    /// `stream` is at the first block: every document of the namespace is read and checked
    /// against the CRC of its EOF header.
    pub(crate) fn from_block_start(stream: BsonStream, db: &str, collection: &str) -> Self {
        Self::new(
            stream,
            db,
            collection,
            State::BetweenBlocks,
            Some(Crc64::default()),
        )
    }

    /// `stream` is right after a document of this namespace (a resume position).
    pub(crate) fn inside_block(stream: BsonStream, db: &str, collection: &str) -> Self {
        Self::new(stream, db, collection, State::InTarget, None)
    }

    fn new(
        stream: BsonStream,
        db: &str,
        collection: &str,
        state: State,
        crc: Option<Crc64>,
    ) -> Self {
        NamespaceReader {
            stream,
            db: db.to_string(),
            collection: collection.to_string(),
            state,
            crc,
        }
    }

    fn namespace(&self) -> String {
        format!("{}.{}", self.db, self.collection)
    }

    fn corrupt(&self, offset: u64, reason: String) -> SourceError {
        self.stream.corrupt_at(offset, reason)
    }

    fn read_one(&mut self) -> Result<Option<Positioned>, SourceError> {
        loop {
            let at = self.stream.offset();
            match self.state {
                State::Done => return Ok(None),
                State::BetweenBlocks => match self.stream.next_frame(true)? {
                    Frame::End => {
                        return Err(self.corrupt(
                            at,
                            format!(
                                "the archive ends before the end of `{}` (no EOF header)",
                                self.namespace()
                            ),
                        ))
                    }
                    Frame::Terminator => {
                        return Err(self.corrupt(
                            at,
                            "a block has no namespace header (two terminators in a row)".into(),
                        ))
                    }
                    frame => {
                        if self.header(frame, at)? {
                            self.state = State::Done;
                            return Ok(None);
                        }
                    }
                },
                State::InTarget | State::InOther => match self.stream.next_frame(true)? {
                    Frame::End => return Err(self.corrupt(
                        at,
                        "the archive ends inside a block (no terminator after its last document)"
                            .into(),
                    )),
                    Frame::Terminator => self.state = State::BetweenBlocks,
                    frame if self.state == State::InOther => self.stream.skip_document(frame)?,
                    frame => {
                        let doc = self.stream.read_document(frame)?;
                        if let Some(crc) = &mut self.crc {
                            crc.update(doc.as_bytes());
                        }
                        return Ok(Some(Positioned {
                            doc,
                            next: Position::Offset {
                                offset: self.stream.offset(),
                            },
                        }));
                    }
                },
            }
        }
    }

    /// Reads a namespace header at `at` and enters its block; `true` when it ends the namespace
    /// being read.
    fn header(&mut self, frame: Frame, at: u64) -> Result<bool, SourceError> {
        let doc = self.stream.read_document(frame)?;
        let header = Header::parse(&doc).map_err(|e| self.corrupt(at, e))?;
        let ours = header.db == self.db && header.collection == self.collection;
        if !header.eof {
            self.state = if ours {
                State::InTarget
            } else {
                State::InOther
            };
            return Ok(false);
        }
        let after = self.stream.offset();
        if self.stream.next_frame(true)? != Frame::Terminator {
            return Err(self.corrupt(
                after,
                format!(
                    "the EOF header of `{}.{}` is not followed by a terminator",
                    header.db, header.collection
                ),
            ));
        }
        if !ours {
            return Ok(false);
        }
        match self.crc {
            Some(crc) if crc.value() != header.crc => Err(self.corrupt(
                at,
                format!(
                    "CRC mismatch for `{}`: the EOF header says {}, the documents give {}",
                    self.namespace(),
                    header.crc,
                    crc.value()
                ),
            )),
            _ => Ok(true),
        }
    }
}

impl Iterator for NamespaceReader {
    type Item = Result<Positioned, SourceError>;

    fn next(&mut self) -> Option<Self::Item> {
        let item = self.read_one().transpose();
        if matches!(item, Some(Err(_))) {
            self.state = State::Done;
        }
        item
    }
}
