//! mongoexport output: Extended JSON (canonical or relaxed), one document per line or one JSON
//! array (`--jsonArray`), plain or `.gz`.
//!
//! The file is split into top-level documents by a small byte scanner (strings and nesting
//! tracked), so arrays of any size stream without being held in memory, and every document has
//! a byte offset to resume from.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use bson::{Bson, RawDocumentBuf};

use super::directory::{CollectionFiles, FileDocs, Layout, OwnedFileDocs};
use super::{open_maybe_gz, SourceDoc, SourceError, MAX_DOCUMENT_SIZE};

/// Reads the documents of one Extended JSON file in file order.
pub struct ExtJsonReader {
    file: PathBuf,
    reader: BufReader<Box<dyn Read + Send>>,
    /// Bytes consumed so far.
    offset: u64,
    line: u64,
    /// Nesting depth at which documents sit: 0 for one per line, 1 inside a JSON array.
    base: usize,
    mode_known: bool,
    done: bool,
}

impl std::fmt::Debug for ExtJsonReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExtJsonReader")
            .field("file", &self.file)
            .field("offset", &self.offset)
            .finish_non_exhaustive()
    }
}

impl ExtJsonReader {
    pub fn open(path: &Path) -> Result<Self, SourceError> {
        Ok(ExtJsonReader {
            file: path.to_path_buf(),
            reader: BufReader::with_capacity(256 * 1024, open_maybe_gz(path)?),
            offset: 0,
            line: 1,
            base: 0,
            mode_known: false,
            done: false,
        })
    }

    /// Opens the file and continues after `position` (a value of [`SourceDoc::next_position`]).
    pub fn open_at(path: &Path, position: u64) -> Result<Self, SourceError> {
        let mut reader = Self::open(path)?;
        if position == 0 {
            return Ok(reader);
        }
        reader.detect_mode()?;
        while reader.offset < position {
            let Some(byte) = reader.next_byte()? else {
                return Err(reader.error(format!(
                    "cannot resume at byte {position}: the file is shorter"
                )));
            };
            if byte == b'\n' {
                reader.line += 1;
            }
        }
        Ok(reader)
    }

    fn error(&self, reason: String) -> SourceError {
        SourceError::Json {
            file: self.file.clone(),
            offset: self.offset,
            line: self.line,
            reason,
        }
    }

    fn next_byte(&mut self) -> Result<Option<u8>, SourceError> {
        let buf = self
            .reader
            .fill_buf()
            .map_err(|e| SourceError::io(&self.file, e))?;
        let Some(&b) = buf.first() else {
            return Ok(None);
        };
        self.reader.consume(1);
        self.offset += 1;
        Ok(Some(b))
    }

    fn peek_byte(&mut self) -> Result<Option<u8>, SourceError> {
        let buf = self
            .reader
            .fill_buf()
            .map_err(|e| SourceError::io(&self.file, e))?;
        Ok(buf.first().copied())
    }

    /// Looks at the first non-blank byte: `[` means one JSON array of documents.
    fn detect_mode(&mut self) -> Result<(), SourceError> {
        if self.mode_known {
            return Ok(());
        }
        self.mode_known = true;
        while let Some(b) = self.peek_byte()? {
            if b.is_ascii_whitespace() {
                if b == b'\n' {
                    self.line += 1;
                }
                self.next_byte()?;
                continue;
            }
            if b == b'[' {
                self.next_byte()?;
                self.base = 1;
            }
            break;
        }
        Ok(())
    }

    /// The bytes of the next top-level document, or `None` at the end.
    /// The bytes of the next document with its first byte's offset and line.
    fn next_value(&mut self) -> Result<Option<(Vec<u8>, u64, u64)>, SourceError> {
        self.detect_mode()?;
        // Skip separators between documents.
        loop {
            let Some(b) = self.peek_byte()? else {
                if self.base == 1 {
                    return Err(self.error("the JSON array is not closed with `]`".into()));
                }
                return Ok(None);
            };
            match b {
                b'{' => break,
                b'\n' => {
                    self.line += 1;
                    self.next_byte()?;
                }
                b' ' | b'\t' | b'\r' => {
                    self.next_byte()?;
                }
                b',' if self.base == 1 => {
                    self.next_byte()?;
                }
                b']' if self.base == 1 => {
                    self.next_byte()?;
                    self.base = 0;
                    self.done = true;
                    return Ok(None);
                }
                other => {
                    return Err(self.error(format!(
                        "expected a document (`{{`), found `{}`",
                        char::from(other).escape_default()
                    )))
                }
            }
        }
        let start_line = self.line;
        let start_offset = self.offset;
        let mut value = Vec::with_capacity(1024);
        let mut depth = 0usize;
        let mut in_string = false;
        let mut escaped = false;
        loop {
            let Some(b) = self.next_byte()? else {
                self.line = start_line;
                return Err(self.error("the file ends inside a document".into()));
            };
            value.push(b);
            if value.len() > 4 * MAX_DOCUMENT_SIZE {
                self.line = start_line;
                return Err(self.error("a document is larger than 64 MiB of JSON".into()));
            }
            if in_string {
                if escaped {
                    escaped = false;
                } else if b == b'\\' {
                    escaped = true;
                } else if b == b'"' {
                    in_string = false;
                }
                continue;
            }
            match b {
                b'"' => in_string = true,
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(Some((value, start_offset, start_line)));
                    }
                }
                b'\n' => self.line += 1,
                _ => {}
            }
        }
    }

    fn read_one(&mut self) -> Result<Option<SourceDoc>, SourceError> {
        if self.done {
            return Ok(None);
        }
        let Some((bytes, start, line)) = self.next_value()? else {
            return Ok(None);
        };
        let fail = |reason: String| SourceError::Json {
            file: self.file.clone(),
            offset: start,
            line,
            reason,
        };
        let json: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| fail(e.to_string()))?;
        let doc = match Bson::try_from(json).map_err(|e| fail(e.to_string()))? {
            Bson::Document(d) => d,
            other => {
                return Err(fail(format!(
                    "expected a document, found {:?}",
                    other.element_type()
                )))
            }
        };
        let raw = RawDocumentBuf::try_from(&doc).map_err(|e| fail(e.to_string()))?;
        if raw.as_bytes().len() > MAX_DOCUMENT_SIZE {
            return Err(fail(format!(
                "document is {} bytes, over BSON's {MAX_DOCUMENT_SIZE}-byte limit",
                raw.as_bytes().len()
            )));
        }
        Ok(Some(SourceDoc {
            doc: raw,
            next_position: self.offset,
        }))
    }
}

impl Iterator for ExtJsonReader {
    type Item = Result<SourceDoc, SourceError>;

    fn next(&mut self) -> Option<Self::Item> {
        let item = self.read_one().transpose();
        if matches!(item, Some(Err(_))) {
            self.done = true;
        }
        item
    }
}

const LAYOUT: Layout = Layout {
    suffixes: &[".json", ".json.gz"],
    // mongodump's metadata files sit beside data in the same directories.
    ignored: &[".metadata.json", ".metadata.json.gz"],
    decode: str::to_string,
    split: None,
    // MongoDB Compass names its exports `<database>.<collection>.json`.
    database_prefix: true,
};

fn open_file(path: &Path, offset: u64) -> Result<Box<dyn FileDocs>, SourceError> {
    Ok(Box::new(OwnedFileDocs::new(ExtJsonReader::open_at(
        path, offset,
    )?)))
}

/// mongoexport files, one collection each (`<collection>.json` or `.json.gz`, or Compass's
/// `<database>.<collection>.json`), read whole in file order and resumed at byte offsets.
#[derive(Debug)]
pub struct ExportSource {
    files: CollectionFiles,
}

impl ExportSource {
    /// Every `<collection>.json` and `.json.gz` in `dir` (not `*.metadata.json`, not `system.*`);
    /// when every file is `<database>.<collection>.json` of one database (a Compass export),
    /// the collection is the part after the database.
    pub fn open(dir: &Path) -> Result<Self, SourceError> {
        let name = format!("mongoexport directory {}", dir.display());
        Ok(ExportSource {
            files: CollectionFiles::scan(name, dir, &LAYOUT, open_file)?,
        })
    }

    /// Exactly these files, each collection named after its file.
    pub fn from_files(paths: &[PathBuf]) -> Result<Self, SourceError> {
        let listed: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        let name = format!("mongoexport files {}", listed.join(", "));
        Ok(ExportSource {
            files: CollectionFiles::from_files(name, paths, &LAYOUT, open_file)?,
        })
    }
}

super::directory::file_source!(ExportSource, "export");

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().expect("temp file");
        f.write_all(text.as_bytes()).expect("write");
        f
    }

    fn ids(path: &Path, at: u64) -> Vec<i32> {
        ExtJsonReader::open_at(path, at)
            .expect("open")
            .map(|d| d.expect("doc").doc.get_i32("_id").expect("_id"))
            .collect()
    }

    #[test]
    fn lines_and_arrays_give_the_same_documents() {
        let lines = file("{\"_id\": 1, \"s\": \"a}b\\\"{\"}\n{\"_id\": {\"$numberInt\": \"2\"}}\n");
        let array = file("[\n  {\"_id\": 1, \"s\": \"a}b\\\"{\"},\n  {\"_id\": 2}\n]\n");
        assert_eq!(ids(lines.path(), 0), vec![1, 2]);
        assert_eq!(ids(array.path(), 0), vec![1, 2]);
        let first = ExtJsonReader::open(array.path())
            .expect("open")
            .next()
            .expect("one")
            .expect("ok");
        assert_eq!(ids(array.path(), first.next_position), vec![2]);
    }

    #[test]
    fn invalid_json_names_file_line_and_offset() {
        for (text, expected) in [
            ("{\"_id\": 1}\n{\"_id\": }\n", "line 2"),
            ("{\"_id\": 1}\n42\n", "expected a document (`{`), found `4`"),
            (
                "[{\"_id\": 1},\n{\"_id\": 2}",
                "the JSON array is not closed",
            ),
            ("{\"_id\": 1}\n{\"_id\": {\"$oid\": \"xyz\"}}\n", "line 2"),
            (
                "{\"_id\": 1}\n{\"_id\": 2",
                "the file ends inside a document",
            ),
        ] {
            let f = file(text);
            let results: Vec<_> = ExtJsonReader::open(f.path()).expect("open").collect();
            assert!(results[0].is_ok(), "{text}");
            let err = results
                .iter()
                .find_map(|r| r.as_ref().err())
                .unwrap_or_else(|| panic!("no error for {text}"))
                .to_string();
            assert!(err.contains(expected), "{err} should contain {expected}");
            assert!(err.contains(&f.path().display().to_string()), "{err}");
        }
    }
}
