//! mongodump output: a database directory of `<collection>.bson` files (plain or `.bson.gz`),
//! length-prefixed BSON documents back to back, each beside its `<collection>.metadata.json`.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::directory::{CollectionFiles, FileDocs, Layout};
use bson::RawDocument;

use super::framing::{BsonStream, Frame};
use super::metadata::{self, UniqueIndex};
use super::{open_maybe_gz, ByteRange, SourceDoc, SourceError};

/// Reads the documents of one `.bson` or `.bson.gz` file in file order.
#[derive(Debug)]
pub struct BsonFileReader {
    stream: BsonStream,
    failed: bool,
    /// The document [`FileDocs::next_doc`] handed out last.
    current: Vec<u8>,
}

impl BsonFileReader {
    pub fn open(path: &Path) -> Result<Self, SourceError> {
        Ok(BsonFileReader {
            stream: BsonStream::new(path, open_maybe_gz(path)?),
            failed: false,
            current: Vec::new(),
        })
    }

    /// Opens the file and skips to `position` (a value of [`SourceDoc::next_position`]).
    pub fn open_at(path: &Path, position: u64) -> Result<Self, SourceError> {
        let mut reader = Self::open(path)?;
        reader.stream.skip_to(position)?;
        Ok(reader)
    }

    /// Ends the reading with `error`.
    fn fail<T>(&mut self, error: SourceError) -> Option<Result<T, SourceError>> {
        self.failed = true;
        Some(Err(error))
    }

    fn read_one(&mut self) -> Result<Option<SourceDoc>, SourceError> {
        match self.stream.next_frame(false)? {
            Frame::End => Ok(None),
            frame => Ok(Some(SourceDoc {
                doc: self.stream.read_document(frame)?,
                next_position: self.stream.offset(),
            })),
        }
    }
}

/// Each document read into the same buffer.
impl FileDocs for BsonFileReader {
    fn next_doc(&mut self) -> Option<Result<(&RawDocument, u64), SourceError>> {
        if self.failed {
            return None;
        }
        let start = match self.stream.next_frame(false) {
            Ok(Frame::End) => return None,
            Ok(frame @ Frame::Document { start, .. }) => {
                match self.stream.read_document_into(frame, &mut self.current) {
                    Ok(()) => start,
                    Err(e) => return self.fail(e),
                }
            }
            Ok(Frame::Terminator) => {
                let e = self
                    .stream
                    .corrupt_at(self.stream.offset(), "expected a document");
                return self.fail(e);
            }
            Err(e) => return self.fail(e),
        };
        match RawDocument::from_bytes(&self.current) {
            Ok(doc) => Some(Ok((doc, self.stream.offset()))),
            Err(e) => {
                self.failed = true;
                Some(Err(self.stream.corrupt_at(start, e.to_string())))
            }
        }
    }
}

impl Iterator for BsonFileReader {
    type Item = Result<SourceDoc, SourceError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let item = self.read_one().transpose();
        if matches!(item, Some(Err(_))) {
            self.failed = true;
        }
        item
    }
}

/// mongodump escapes collection names in file names with Go's `url.PathEscape`; undo it
/// (a name that does not decode stays as it is).
fn unescape(stem: &str) -> String {
    let bytes = stem.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| stem.to_string())
}

const LAYOUT: Layout = Layout {
    suffixes: &[".bson", ".bson.gz"],
    ignored: &[],
    decode: unescape,
    split: Some(split_file),
};

/// A byte range is worth a reader of its own from this size on.
const MIN_PARTITION_BYTES: u64 = 64 * 1024;

/// Splits a plain `.bson` file into at most `max` byte ranges of about equal size, each starting
/// at a document (found by walking the length prefixes). A compressed file cannot be entered in
/// the middle: it is read whole (an empty list).
fn split_file(path: &Path, max: usize) -> Result<Vec<ByteRange>, SourceError> {
    if path.extension().is_some_and(|e| e == "gz") {
        return Ok(Vec::new());
    }
    let len = std::fs::metadata(path)
        .map_err(|e| SourceError::io(path, e))?
        .len();
    let wanted = u64::try_from(max)
        .unwrap_or(u64::MAX)
        .min(len / MIN_PARTITION_BYTES);
    if wanted < 2 {
        return Ok(Vec::new());
    }
    let file = std::fs::File::open(path).map_err(|e| SourceError::io(path, e))?;
    let mut stream = BsonStream::new(
        path,
        Box::new(std::io::BufReader::with_capacity(256 * 1024, file)),
    );
    let mut starts = vec![0];
    loop {
        let frame = stream.next_frame(false)?;
        let Frame::Document { start, .. } = frame else {
            break;
        };
        let next_target = len * starts.len() as u64 / wanted;
        if start >= next_target && start > 0 && (starts.len() as u64) < wanted {
            starts.push(start);
        }
        stream.skip_document(frame)?;
    }
    let ends = starts.iter().skip(1).copied().chain([stream.offset()]);
    Ok(starts
        .iter()
        .zip(ends)
        .map(|(&start, end)| ByteRange { start, end })
        .collect())
}

fn open_file(path: &Path, offset: u64) -> Result<Box<dyn FileDocs>, SourceError> {
    Ok(Box::new(BsonFileReader::open_at(path, offset)?))
}

/// A mongodump directory of one database. Collections are read whole, in file order;
/// `system.*` collections are left out.
#[derive(Debug)]
pub struct DumpSource {
    files: CollectionFiles,
}

impl DumpSource {
    pub fn open(dir: &Path) -> Result<Self, SourceError> {
        let name = format!("mongodump directory {}", dir.display());
        let files = CollectionFiles::scan(name.clone(), dir, &LAYOUT, open_file)?;
        if files.is_empty() {
            // mongodump writes `<out>/<database>/<collection>.bson`: name the databases if this
            // is the level above.
            let databases = Self::database_dirs(dir);
            if !databases.is_empty() {
                return Err(SourceError::Invalid {
                    source_name: name,
                    reason: format!(
                        "no `<collection>.bson` files here; open one database directory: {}",
                        databases.join(", ")
                    ),
                });
            }
        }
        Ok(DumpSource { files })
    }

    /// Subdirectories holding collection files.
    fn database_dirs(dir: &Path) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        let mut databases: Vec<String> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .filter(|p| {
                CollectionFiles::scan(String::new(), p, &LAYOUT, open_file)
                    .is_ok_and(|f| !f.is_empty())
            })
            .filter_map(|p| p.file_name().and_then(|n| n.to_str()).map(str::to_string))
            .collect();
        databases.sort();
        databases
    }

    /// The `<collection>.metadata.json` (or `.metadata.json.gz`) beside a collection's data.
    fn metadata_path(&self, collection: &str) -> Result<Option<PathBuf>, SourceError> {
        let data = self.files.path(collection)?;
        let file_name = data
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let Some(stem) = LAYOUT
            .suffixes
            .iter()
            .find_map(|s| file_name.strip_suffix(s))
        else {
            return Ok(None);
        };
        Ok([".metadata.json", ".metadata.json.gz"]
            .iter()
            .map(|suffix| data.with_file_name(format!("{stem}{suffix}")))
            .find(|p| p.is_file()))
    }

    /// The unique indexes of a collection, from its metadata file (none without one). The
    /// implicit unique index on `_id` is not listed.
    pub fn unique_indexes(&self, collection: &str) -> Result<Vec<UniqueIndex>, SourceError> {
        let Some(path) = self.metadata_path(collection)? else {
            return Ok(Vec::new());
        };
        let mut text = String::new();
        open_maybe_gz(&path)?
            .read_to_string(&mut text)
            .map_err(|e| SourceError::io(&path, e))?;
        metadata::unique_indexes(&text).map_err(|e| SourceError::Json {
            file: path,
            offset: 0,
            line: e.line,
            reason: e.reason,
        })
    }
}

super::directory::file_source!(DumpSource, "dump");

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write_file(bytes: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().expect("temp file");
        f.write_all(bytes).expect("write");
        f
    }

    fn doc_bytes(d: bson::Document) -> Vec<u8> {
        d.to_vec().expect("serialize")
    }

    #[test]
    fn reads_documents_and_positions() {
        let mut bytes = doc_bytes(bson::doc! {"_id": 1});
        let first = bytes.len() as u64;
        bytes.extend(doc_bytes(bson::doc! {"_id": 2, "x": "y"}));
        let f = write_file(&bytes);
        let docs: Vec<SourceDoc> = BsonFileReader::open(f.path())
            .expect("open")
            .collect::<Result<_, _>>()
            .expect("read");
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].next_position, first);
        assert_eq!(docs[1].next_position, bytes.len() as u64);
        let resumed: Vec<SourceDoc> = BsonFileReader::open_at(f.path(), first)
            .expect("open")
            .collect::<Result<_, _>>()
            .expect("read");
        assert_eq!(resumed.len(), 1);
        assert_eq!(resumed[0].doc.get_i32("_id").expect("_id"), 2);
    }

    #[test]
    fn corrupt_input_names_file_and_offset() {
        let good = doc_bytes(bson::doc! {"_id": 1});
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (
                [good.clone(), vec![0xff, 0xff, 0xff, 0x7f]].concat(),
                "bad length prefix 2147483647",
            ),
            (
                [good.clone(), vec![2, 0, 0, 0]].concat(),
                "bad length prefix 2",
            ),
            (
                [good.clone(), vec![40, 0, 0, 0, 1, 2]].concat(),
                "file ends inside a document of 40 bytes",
            ),
            (
                [good.clone(), vec![7, 0]].concat(),
                "file ends inside a length prefix (2 of 4 bytes)",
            ),
        ];
        for (bytes, expected) in cases {
            let f = write_file(&bytes);
            let results: Vec<_> = BsonFileReader::open(f.path()).expect("open").collect();
            assert_eq!(results.len(), 2, "{expected}");
            assert!(results[0].is_ok());
            let err = results[1].as_ref().expect_err("second fails").to_string();
            assert!(err.contains(expected), "{err} should contain {expected}");
            assert!(err.contains(&format!("at byte {}", good.len())), "{err}");
            assert!(err.contains(&f.path().display().to_string()), "{err}");
        }
    }
}
