//! Writing `mongodump --archive` files: for tests and generated data sets.

use std::io::{self, Write};

use bson::{rawdoc, RawDocument, RawDocumentBuf};

use super::crc::Crc64;
use super::{ArchiveCollection, MAGIC, TERMINATOR};

/// A namespace being written.
#[derive(Debug)]
struct Namespace {
    db: String,
    collection: String,
    crc: Crc64,
    finished: bool,
}

/// Writes an archive the way mongodump does: a new block whenever the namespace of the written
/// documents changes, so interleaving follows the order of [`ArchiveWriter::write`] calls.
///
/// ```no_run
/// # use migrator::source::{ArchiveCollection, ArchiveWriter};
/// # fn main() -> std::io::Result<()> {
/// let file = std::fs::File::create("dump.archive")?;
/// let collections = [ArchiveCollection::new("shop", "items"), ArchiveCollection::new("shop", "carts")];
/// let mut writer = ArchiveWriter::new(file, &collections)?;
/// writer.write("shop", "items", &bson::rawdoc! {"_id": 1})?;
/// writer.write("shop", "carts", &bson::rawdoc! {"_id": 1, "items": [1]})?;
/// writer.finish()?;
/// # Ok(())
/// # }
/// ```
/// Wrap the output in `flate2::write::GzEncoder` for a gzipped archive (and finish the encoder
/// after [`ArchiveWriter::finish`]).
#[derive(Debug)]
pub struct ArchiveWriter<W: Write> {
    out: W,
    namespaces: Vec<Namespace>,
    /// The namespace whose block is open.
    current: Option<usize>,
}

fn invalid(reason: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, reason)
}

impl<W: Write> ArchiveWriter<W> {
    /// Writes the magic number and the prelude listing `collections`.
    pub fn new(mut out: W, collections: &[ArchiveCollection]) -> io::Result<Self> {
        out.write_all(&MAGIC)?;
        let header = rawdoc! {
            "concurrent_collections": 1,
            "version": "0.1",
            "server_version": "",
            "tool_version": concat!("migrator ", env!("CARGO_PKG_VERSION")),
        };
        out.write_all(header.as_bytes())?;
        for c in collections {
            let mut doc = rawdoc! {
                "db": c.db.as_str(),
                "collection": c.collection.as_str(),
                "metadata": c.metadata.as_str(),
            };
            // mongodump writes Go's `int`: 32 bits when the value fits.
            match i32::try_from(c.size) {
                Ok(size) => doc.append(bson::cstr!("size"), size),
                Err(_) => doc.append(bson::cstr!("size"), c.size),
            }
            doc.append(bson::cstr!("type"), c.kind.as_str());
            out.write_all(doc.as_bytes())?;
        }
        out.write_all(&TERMINATOR)?;
        let namespaces = collections
            .iter()
            .map(|c| Namespace {
                db: c.db.clone(),
                collection: c.collection.clone(),
                crc: Crc64::default(),
                finished: false,
            })
            .collect();
        Ok(ArchiveWriter {
            out,
            namespaces,
            current: None,
        })
    }

    fn index(&self, db: &str, collection: &str) -> io::Result<usize> {
        let i = self
            .namespaces
            .iter()
            .position(|n| n.db == db && n.collection == collection)
            .ok_or_else(|| {
                invalid(format!(
                    "`{db}.{collection}` is not in the archive's prelude"
                ))
            })?;
        if self.namespaces[i].finished {
            return Err(invalid(format!("`{db}.{collection}` is already finished")));
        }
        Ok(i)
    }

    fn header(&self, i: usize, eof: bool) -> RawDocumentBuf {
        let n = &self.namespaces[i];
        rawdoc! {
            "db": n.db.as_str(),
            "collection": n.collection.as_str(),
            "EOF": eof,
            "CRC": if eof { n.crc.value() } else { 0_i64 },
        }
    }

    fn close_block(&mut self) -> io::Result<()> {
        if self.current.take().is_some() {
            self.out.write_all(&TERMINATOR)?;
        }
        Ok(())
    }

    /// Appends a document of `db.collection`, opening a new block if the previous document
    /// belonged to another namespace.
    pub fn write(&mut self, db: &str, collection: &str, doc: &RawDocument) -> io::Result<()> {
        let i = self.index(db, collection)?;
        if self.current != Some(i) {
            self.close_block()?;
            self.out.write_all(self.header(i, false).as_bytes())?;
            self.current = Some(i);
        }
        self.out.write_all(doc.as_bytes())?;
        self.namespaces[i].crc.update(doc.as_bytes());
        Ok(())
    }

    /// Ends `db.collection` with its EOF header; later writes to it fail.
    pub fn finish_collection(&mut self, db: &str, collection: &str) -> io::Result<()> {
        let i = self.index(db, collection)?;
        self.finish_index(i)
    }

    fn finish_index(&mut self, i: usize) -> io::Result<()> {
        self.close_block()?;
        self.out.write_all(self.header(i, true).as_bytes())?;
        self.out.write_all(&TERMINATOR)?;
        self.namespaces[i].finished = true;
        Ok(())
    }

    /// Ends every collection not yet finished (in prelude order), flushes and returns the output.
    pub fn finish(mut self) -> io::Result<W> {
        for i in 0..self.namespaces.len() {
            if !self.namespaces[i].finished {
                self.finish_index(i)?;
            }
        }
        self.out.flush()?;
        Ok(self.out)
    }
}
