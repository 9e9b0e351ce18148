//! mongodump output: a database directory of `<collection>.bson` files (plain or `.bson.gz`),
//! length-prefixed BSON documents back to back, each beside its `<collection>.metadata.json`.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::directory::{CollectionFiles, FileDocs, Layout};
use bson::RawDocument;

use super::blocks::BlockStream;
use super::framing::{corrupt, resume_beyond};
use super::metadata::{self, UniqueIndex};
use super::{open_maybe_gz, ByteRange, SourceDoc, SourceError};

/// Reads the documents of one `.bson` or `.bson.gz` file in file order.
#[derive(Debug)]
pub struct BsonFileReader {
    stream: BlockStream,
    failed: bool,
}

impl BsonFileReader {
    pub fn open(path: &Path) -> Result<Self, SourceError> {
        Self::open_at(path, 0)
    }

    /// Opens the file at `position` (a value of [`SourceDoc::next_position`]): a plain file
    /// seeks there, a compressed one is read up to it.
    pub fn open_at(path: &Path, position: u64) -> Result<Self, SourceError> {
        Ok(BsonFileReader {
            stream: open_stream(path, position)?,
            failed: false,
        })
    }

    /// The next document, where the one after it starts; ends the reading at an error.
    fn next_in_place(&mut self) -> Option<Result<(&RawDocument, u64), SourceError>> {
        if self.failed {
            return None;
        }
        match self.stream.next_document() {
            Ok(Some((doc, start))) => Some(Ok((doc, start + doc.as_bytes().len() as u64))),
            Ok(None) => None,
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// The stream of a `.bson` file from byte `position`.
fn open_stream(path: &Path, position: u64) -> Result<BlockStream, SourceError> {
    if path.extension().is_some_and(|e| e == "gz") {
        let mut stream = BlockStream::starting_at(path, open_maybe_gz(path)?, 0);
        stream.skip_to(position)?;
        return Ok(stream);
    }
    let io = |e| SourceError::io(path, e);
    let mut file = std::fs::File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    if position > len {
        return Err(corrupt(path, len, resume_beyond(position, len)));
    }
    file.seek(SeekFrom::Start(position)).map_err(io)?;
    Ok(BlockStream::starting_at(path, Box::new(file), position))
}

/// Each document read in place, in the reader's block.
impl FileDocs for BsonFileReader {
    fn next_doc(&mut self) -> Option<Result<(&RawDocument, u64), SourceError>> {
        self.next_in_place()
    }
}

impl Iterator for BsonFileReader {
    type Item = Result<SourceDoc, SourceError>;

    fn next(&mut self) -> Option<Self::Item> {
        let item = self.next_in_place()?;
        Some(item.map(|(doc, next_position)| SourceDoc {
            doc: doc.to_owned(),
            next_position,
        }))
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
    database_prefix: false,
};

/// A byte range is worth a reader of its own from this size on.
const MIN_PARTITION_BYTES: u64 = 64 * 1024;

/// Splits a plain `.bson` file into at most `max` byte ranges of about equal size, each starting
/// at a document (found by walking the length prefixes up to the last one needed: the last
/// range ends at the end of the file, and its reader checks what follows). A compressed file
/// cannot be entered in the middle: it is read whole.
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
    let mut stream = open_stream(path, 0)?;
    let mut starts = vec![0];
    while (starts.len() as u64) < wanted {
        let Some((_, start)) = stream.next_document()? else {
            break;
        };
        if start > 0 && start >= len * starts.len() as u64 / wanted {
            starts.push(start);
        }
    }
    let ends = starts.iter().skip(1).copied().chain([len]);
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
        // `mongodump --oplog` writes `oplog.bson` beside the database directories: at that
        // level it is no collection (it is replayed after the load of one of them).
        let only_oplog = files.names().eq(["oplog"]);
        if files.is_empty() || only_oplog {
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
        let source = DumpSource { files };
        // Read every metadata file now: one that is empty or not metadata is named here rather
        // than passed over (the run itself needs none).
        for collection in source.files.names() {
            source.unique_indexes(collection)?;
        }
        Ok(source)
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
        self.read_metadata(collection, metadata::unique_indexes)
    }

    /// The `2dsphere` index keys of a collection, from its metadata file (none without one).
    pub fn geo_indexes(&self, collection: &str) -> Result<Vec<String>, SourceError> {
        self.read_metadata(collection, metadata::geo_indexes)
    }

    /// What `read` finds in a collection's metadata file (`T::default()` without one).
    fn read_metadata<T: Default>(
        &self,
        collection: &str,
        read: impl FnOnce(&str) -> Result<T, metadata::MetadataError>,
    ) -> Result<T, SourceError> {
        let Some(path) = self.metadata_path(collection)? else {
            return Ok(T::default());
        };
        let mut text = String::new();
        open_maybe_gz(&path)?
            .read_to_string(&mut text)
            .map_err(|e| SourceError::io(&path, e))?;
        if text.trim().is_empty() {
            return Err(SourceError::Json {
                file: path,
                offset: 0,
                line: 1,
                reason: "the metadata file is empty (mongodump writes the collection's options \
                         and indexes there: dump the collection again, or delete the file)"
                    .into(),
            });
        }
        read(&text).map_err(|e| SourceError::Json {
            file: path,
            offset: 0,
            line: e.line,
            reason: e.reason,
        })
    }
}

super::directory::file_source!(DumpSource, "dump", geo_indexes, unique_indexes);

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
    fn a_bad_metadata_file_or_a_directory_named_like_a_data_file_is_named_when_opening() {
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path();
        std::fs::write(d.join("a.bson"), doc_bytes(bson::doc! {"_id": 1})).expect("write");
        std::fs::write(d.join("a.metadata.json"), r#"{"indexes":[]}"#).expect("write");
        assert!(DumpSource::open(d).is_ok());

        let metadata = d.join("a.metadata.json");
        for (text, expected) in [
            ("", "the metadata file is empty"),
            ("  \n", "the metadata file is empty"),
            ("{\"indexes\": [", "EOF while parsing"),
            (r#"{"indexes": 3}"#, "`indexes` is not an array"),
        ] {
            std::fs::write(&metadata, text).expect("write");
            let err = DumpSource::open(d).expect_err(text).to_string();
            assert!(
                err.contains(&metadata.display().to_string()) && err.contains(expected),
                "{text:?}: {err}"
            );
        }
        std::fs::remove_file(&metadata).expect("remove");
        assert!(DumpSource::open(d).is_ok(), "no metadata file is fine");

        std::fs::create_dir(d.join("b.bson")).expect("a directory");
        let err = DumpSource::open(d).expect_err("a directory").to_string();
        assert!(
            err.contains(&format!(
                "{} is named like a collection's data file but is a directory",
                d.join("b.bson").display()
            )),
            "{err}"
        );
    }

    #[test]
    fn a_truncated_gz_file_is_corrupt_at_an_offset_saying_so_once() {
        use flate2::{write::GzEncoder, Compression};
        let bytes: Vec<u8> = (0..200)
            .flat_map(|i| doc_bytes(bson::doc! {"_id": i, "pad": "x".repeat(300 + i as usize)}))
            .collect();
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(&bytes).expect("compress");
        let compressed = gz.finish().expect("finish");
        let path = tempfile::Builder::new()
            .suffix(".bson.gz")
            .tempfile()
            .expect("temp file");
        std::fs::write(path.path(), &compressed[..compressed.len() / 2]).expect("write");
        let err = BsonFileReader::open(path.path())
            .expect("open")
            .find_map(Result::err)
            .expect("an error")
            .to_string();
        let prefix = format!("{}: corrupt BSON at byte ", path.path().display());
        assert!(err.starts_with(&prefix), "{err}");
        assert!(
            err.contains("the compressed stream ends early (the file is truncated)"),
            "{err}"
        );
        assert_eq!(err.matches("incomplete deflate stream").count(), 1, "{err}");
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
    fn a_plain_file_seeks_and_a_compressed_one_reads_up_to_a_position() {
        let first = doc_bytes(bson::doc! {"_id": 1});
        let bytes = [first.clone(), doc_bytes(bson::doc! {"_id": 2, "x": "y"})].concat();
        let plain = tempfile::Builder::new()
            .suffix(".bson")
            .tempfile()
            .expect("temp file");
        std::fs::write(plain.path(), &bytes).expect("write");
        let gz = tempfile::Builder::new()
            .suffix(".bson.gz")
            .tempfile()
            .expect("temp file");
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(&bytes).expect("compress");
        std::fs::write(gz.path(), encoder.finish().expect("compress")).expect("write");
        for path in [plain.path(), gz.path()] {
            let resumed: Vec<SourceDoc> = BsonFileReader::open_at(path, first.len() as u64)
                .expect("open")
                .collect::<Result<_, _>>()
                .expect("read");
            assert_eq!(resumed.len(), 1, "{}", path.display());
            assert_eq!(resumed[0].doc.get_i32("_id").expect("_id"), 2);
            assert_eq!(resumed[0].next_position, bytes.len() as u64);
            let past = bytes.len() as u64 + 10;
            let err = BsonFileReader::open_at(path, past).expect_err("past the end");
            let expected = format!(
                "cannot resume at byte {past}: the file has only {} bytes",
                bytes.len()
            );
            assert!(err.to_string().contains(&expected), "{err}");
            assert!(
                err.to_string().contains(&path.display().to_string()),
                "{err}"
            );
        }
    }

    #[test]
    fn splits_start_at_documents_and_cover_the_file() {
        let docs: Vec<Vec<u8>> = (0..3000)
            .map(|i: i32| doc_bytes(bson::doc! {"_id": i, "pad": "p".repeat(40 + i as usize % 70)}))
            .collect();
        let bytes = docs.concat();
        let f = write_file(&bytes);
        let mut starts = vec![0u64];
        for d in &docs {
            starts.push(starts[starts.len() - 1] + d.len() as u64);
        }
        for max in [2, 3] {
            let ranges = split_file(f.path(), max).expect("split");
            assert_eq!(ranges.len(), max);
            assert_eq!(ranges[0].start, 0);
            assert_eq!(ranges[max - 1].end, bytes.len() as u64);
            for pair in ranges.windows(2) {
                assert_eq!(pair[0].end, pair[1].start);
                assert!(starts.contains(&pair[1].start), "{:?}", pair[1]);
            }
        }
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
