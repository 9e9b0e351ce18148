//! The common part of sources made of one file per collection (mongodump directories and
//! mongoexport files): naming collections after files, reading each file whole from a byte
//! offset, and scanning it for `fetch`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bson::{Bson, RawDocument, RawDocumentBuf};

use super::fetch::IdSet;
use super::{
    ByteRange, CollectionInfo, DocStream, Partition, Position, ReadDocs, SourceDoc, SourceError,
};

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
struct FileRange {
    docs: Box<dyn FileDocs>,
    at: u64,
    end: u64,
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
}

/// How many documents `collections()` reads from each file to estimate its count.
const ESTIMATE_SAMPLE: u64 = 64;

/// Collections stored one file each.
#[derive(Debug)]
pub(crate) struct CollectionFiles {
    /// `mongodump directory ./dump`, for messages.
    name: String,
    files: BTreeMap<String, PathBuf>,
    open_at: OpenAt,
    split: Option<Split>,
    /// The listing, made once (the CLI's progress estimate and the run both ask for it).
    listed: std::sync::OnceLock<Vec<CollectionInfo>>,
}

/// Which file names hold a collection, and how a file name becomes a collection name.
#[derive(Debug)]
pub(crate) struct Layout {
    /// Suffixes of data files, e.g. `.bson` and `.bson.gz`.
    pub(crate) suffixes: &'static [&'static str],
    /// Suffixes of files to ignore even though they end like data files (`.metadata.json`).
    pub(crate) ignored: &'static [&'static str],
    /// Collection name from a file stem (mongodump percent-escapes some characters).
    pub(crate) decode: fn(&str) -> String,
    /// Splits a file into at most `max` byte ranges at document boundaries (an empty list: the
    /// file is read whole); `None`: files of this layout are always read whole.
    pub(crate) split: Option<Split>,
    /// Whether a directory whose files all start with one `<database>.` names its collections
    /// after the rest (Compass exports `<database>.<collection>.json`).
    pub(crate) database_prefix: bool,
}

/// The database all these collection names start with (`shop` for `shop.orders` and
/// `shop.users`), if they all start with the same one. A database name holds no dot, so what
/// comes before the first dot is the database.
fn common_database<'a>(names: impl IntoIterator<Item = &'a String>) -> Option<&'a str> {
    let mut common: Option<&str> = None;
    for name in names {
        let (database, collection) = name.split_once('.')?;
        if database.is_empty() || collection.is_empty() || common.is_some_and(|c| c != database) {
            return None;
        }
        common = Some(database);
    }
    common
}

/// See [`Layout::split`].
pub(crate) type Split = fn(&Path, usize) -> Result<Vec<ByteRange>, SourceError>;

impl Layout {
    /// The collection a file name holds, if it is a data file.
    fn collection(&self, file_name: &str) -> Option<String> {
        if self.ignored.iter().any(|s| file_name.ends_with(s)) {
            return None;
        }
        let stem = self
            .suffixes
            .iter()
            .find_map(|s| file_name.strip_suffix(s))?;
        (!stem.is_empty()).then(|| (self.decode)(stem))
    }
}

impl CollectionFiles {
    /// Every data file in `dir`, skipping `system.*` collections.
    pub(crate) fn scan(
        name: String,
        dir: &Path,
        layout: &Layout,
        open_at: OpenAt,
    ) -> Result<Self, SourceError> {
        let mut paths = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(|e| SourceError::io(dir, e))? {
            let path = entry.map_err(|e| SourceError::io(dir, e))?.path();
            let file_name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if layout.collection(file_name).is_none() {
                continue;
            }
            if !path.is_file() {
                // Not passed over: its collection would read as missing from the source.
                return Err(SourceError::Invalid {
                    source_name: name,
                    reason: format!(
                        "{} is named like a collection's data file but is {}",
                        path.display(),
                        if path.is_dir() {
                            "a directory"
                        } else {
                            "not a regular file"
                        }
                    ),
                });
            }
            paths.push(path);
        }
        paths.sort();
        let mut files = Self::from_files(name, &paths, layout, open_at)?;
        if layout.database_prefix {
            if let Some(database) = common_database(files.files.keys()).map(str::to_string) {
                let prefix = format!("{database}.");
                files.files = std::mem::take(&mut files.files)
                    .into_iter()
                    .map(|(c, path)| (c.strip_prefix(&prefix).unwrap_or(&c).to_string(), path))
                    .collect();
                files.name = format!("{} (database `{database}`)", files.name);
            }
        }
        files
            .files
            .retain(|collection, _| !collection.starts_with("system."));
        Ok(files)
    }

    /// Exactly these files; a file whose name is not `<collection><suffix>` is an error.
    pub(crate) fn from_files(
        name: String,
        paths: &[PathBuf],
        layout: &Layout,
        open_at: OpenAt,
    ) -> Result<Self, SourceError> {
        let mut files = BTreeMap::new();
        for path in paths {
            let file_name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            let Some(collection) = layout.collection(file_name) else {
                return Err(SourceError::Invalid {
                    source_name: name,
                    reason: format!(
                        "{} is not named `<collection>{}`",
                        path.display(),
                        layout.suffixes.join("` or `<collection>")
                    ),
                });
            };
            if let Some(other) = files.insert(collection.clone(), path.clone()) {
                return Err(SourceError::Invalid {
                    source_name: name,
                    reason: format!(
                        "collection `{collection}` is in two files: {} and {}",
                        other.display(),
                        path.display()
                    ),
                });
            }
        }
        Ok(CollectionFiles {
            name,
            files,
            open_at,
            split: layout.split,
            listed: std::sync::OnceLock::new(),
        })
    }

    /// The collections, in name order.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.files.keys().map(String::as_str)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    pub(crate) fn describe(&self) -> String {
        self.name.clone()
    }

    pub(crate) fn path(&self, collection: &str) -> Result<&Path, SourceError> {
        self.files
            .get(collection)
            .map(PathBuf::as_path)
            .ok_or_else(|| SourceError::MissingCollection {
                collection: collection.to_string(),
                source_name: format!("{}, {}", self.name, self.holds()),
            })
    }

    /// `which holds a.json (collection `a`), ...`: the files that are there, for a message
    /// about one that is not.
    fn holds(&self) -> String {
        if self.files.is_empty() {
            return "which holds no collection file".into();
        }
        let files: Vec<String> = self
            .files
            .iter()
            .map(|(collection, path)| {
                let file = path.file_name().map_or_else(
                    || path.display().to_string(),
                    |f| f.to_string_lossy().into_owned(),
                );
                format!("{file} (collection `{collection}`)")
            })
            .collect();
        format!("which holds {}", files.join(", "))
    }

    /// Collections in name order, counted from a sample of their first documents: exact for
    /// small files, scaled by file size for large plain files, unknown for large `.gz` files.
    pub(crate) fn collections(&self) -> Vec<CollectionInfo> {
        self.listed
            .get_or_init(|| {
                self.files
                    .iter()
                    .map(|(name, path)| CollectionInfo {
                        name: name.clone(),
                        estimated_documents: self.estimate(path),
                        bytes_on_disk: std::fs::metadata(path).ok().map(|m| m.len()),
                    })
                    .collect()
            })
            .clone()
    }

    fn estimate(&self, path: &Path) -> Option<u64> {
        let mut docs = (self.open_at)(path, 0).ok()?;
        let mut consumed = 0;
        for count in 0..ESTIMATE_SAMPLE {
            match docs.next_doc() {
                None => return Some(count),
                Some(Ok((_, next))) => consumed = next,
                Some(Err(_)) => return None,
            }
        }
        if path.extension().is_some_and(|e| e == "gz") || consumed == 0 {
            return None;
        }
        let len = std::fs::metadata(path).ok()?.len();
        Some(len.saturating_mul(ESTIMATE_SAMPLE) / consumed)
    }

    /// The whole file, or byte ranges of it when the layout can split its files and `max` > 1.
    pub(crate) fn partitions(
        &self,
        collection: &str,
        max: usize,
    ) -> Result<Vec<Partition>, SourceError> {
        let path = self.path(collection)?;
        let ranges = match self.split {
            Some(split) if max > 1 => split(path, max)?,
            _ => Vec::new(),
        };
        Ok(Partition::from_byte_ranges(ranges))
    }

    /// Reads a partition from `from` on: the documents that start before its end.
    pub(crate) fn read(
        &self,
        collection: &str,
        partition: &Partition,
        from: &Position,
    ) -> Result<DocStream, SourceError> {
        let path = self.path(collection)?;
        let Some(range) = partition.byte_range() else {
            return Err(self.not_by_id(collection, partition));
        };
        let offset = match from {
            Position::Start => range.map_or(0, |r| r.start),
            Position::Offset { offset } => *offset,
            Position::AfterId { .. } => {
                return Err(self.invalid(format!(
                    "cannot resume `{collection}` after an `_id`: files resume at a byte offset"
                )))
            }
        };
        if let Some(r) = range.filter(|r| !(r.start..=r.end).contains(&offset)) {
            return Err(self.invalid(format!(
                "cannot resume `{collection}` at byte {offset}: partition {} holds bytes {}..{}",
                partition.index, r.start, r.end
            )));
        }
        Ok(DocStream::new(FileRange {
            docs: (self.open_at)(path, offset)?,
            at: offset,
            end: range.map_or(u64::MAX, |r| r.end),
        }))
    }

    pub(crate) fn fetch(
        &self,
        collection: &str,
        ids: &[Bson],
    ) -> Result<Vec<RawDocumentBuf>, SourceError> {
        let wanted = IdSet::new(ids);
        let docs = self.read(collection, &Partition::whole(), &Position::Start)?;
        wanted.scan(docs)
    }

    fn not_by_id(&self, collection: &str, partition: &Partition) -> SourceError {
        self.invalid(format!(
            "reads `{collection}` whole or by byte range, not by `_id` range (partition {})",
            partition.index
        ))
    }

    fn invalid(&self, reason: String) -> SourceError {
        SourceError::Invalid {
            source_name: self.name.clone(),
            reason,
        }
    }
}

/// `impl Source` for a source whose `files` field is a [`CollectionFiles`]: one partition per
/// collection, read in file order.
macro_rules! file_source {
    ($source:ty, $kind:literal) => {
        impl $crate::source::Source for $source {
            fn describe(&self) -> String {
                self.files.describe()
            }

            fn kind(&self) -> &'static str {
                $kind
            }

            fn collections(
                &self,
            ) -> Result<Vec<$crate::source::CollectionInfo>, $crate::source::SourceError> {
                Ok(self.files.collections())
            }

            fn partitions(
                &self,
                collection: &str,
                max: usize,
            ) -> Result<Vec<$crate::source::Partition>, $crate::source::SourceError> {
                self.files.partitions(collection, max)
            }

            fn read(
                &self,
                collection: &str,
                partition: &$crate::source::Partition,
                from: &$crate::source::Position,
            ) -> Result<$crate::source::DocStream, $crate::source::SourceError> {
                self.files.read(collection, partition, from)
            }

            fn fetch(
                &self,
                collection: &str,
                ids: &[bson::Bson],
            ) -> Result<Vec<bson::RawDocumentBuf>, $crate::source::SourceError> {
                self.files.fetch(collection, ids)
            }

            fn stamp(
                &self,
                collection: &str,
            ) -> Result<Option<$crate::source::SourceStamp>, $crate::source::SourceError> {
                $crate::source::SourceStamp::of_file(self.files.path(collection)?).map(Some)
            }

            fn rereadable(&self) -> bool {
                true
            }
        }
    };
}
pub(crate) use file_source;

#[cfg(test)]
mod tests {
    use std::io::Write;

    use bson::rawdoc;

    use super::*;
    use crate::source::{DumpSource, ExportSource, Source};

    fn bson_file(path: &Path, ids: &[i32]) {
        let bytes: Vec<u8> = ids
            .iter()
            .flat_map(|i| rawdoc! {"_id": *i, "v": "x"}.into_bytes())
            .collect();
        if path.extension().is_some_and(|e| e == "gz") {
            let mut gz = flate2::write::GzEncoder::new(
                std::fs::File::create(path).expect("create"),
                flate2::Compression::fast(),
            );
            gz.write_all(&bytes).expect("write");
            gz.finish().expect("gzip");
        } else {
            std::fs::write(path, bytes).expect("write");
        }
    }

    fn ids(source: &dyn Source, collection: &str, from: &Position) -> Vec<(i32, Position)> {
        source
            .read(collection, &Partition::whole(), from)
            .expect("read")
            .map(|p| {
                let p = p.expect("doc");
                (p.doc.get_i32("_id").expect("_id"), p.next)
            })
            .collect()
    }

    fn names(source: &dyn Source) -> Vec<(String, Option<u64>)> {
        let infos = source.collections().expect("collections");
        infos
            .into_iter()
            .map(|c| (c.name, c.estimated_documents))
            .collect()
    }

    #[test]
    fn dump_directory_lists_reads_resumes_and_refuses() {
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path();
        bson_file(&d.join("a.bson"), &[1, 2, 3]);
        bson_file(&d.join("b.bson.gz"), &[7, 8]);
        bson_file(&d.join("empty.bson"), &[]);
        bson_file(&d.join("we%2Fird.bson"), &[5]);
        bson_file(&d.join("system.views.bson"), &[9]);
        std::fs::write(
            d.join("a.metadata.json"),
            r#"{"indexes":[{"unique":true,"key":{"k":1},"name":"k_1"}]}"#,
        )
        .expect("write");
        std::fs::write(d.join("notes.txt"), "not a collection").expect("write");
        let source = DumpSource::open(d).expect("open");
        let expected = [
            ("a", Some(3)),
            ("b", Some(2)),
            ("empty", Some(0)),
            ("we/ird", Some(1)),
        ];
        let expected: Vec<(String, Option<u64>)> =
            expected.iter().map(|(n, c)| (n.to_string(), *c)).collect();
        assert_eq!(names(&source), expected);

        let all = ids(&source, "b", &Position::Start);
        assert_eq!(all.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [7, 8]);
        let rest = ids(&source, "b", &all[0].1);
        assert_eq!(rest.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [8]);
        assert!(ids(&source, "b", &all[1].1).is_empty());
        assert!(ids(&source, "empty", &Position::Start).is_empty());
        assert_eq!(ids(&source, "we/ird", &Position::Start)[0].0, 5);

        let found = source
            .fetch("a", &[Bson::Int32(3), Bson::Int32(4)])
            .expect("fetch");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].get_i32("_id").expect("_id"), 3);
        assert_eq!(source.unique_indexes("a").expect("metadata")[0].keys, ["k"]);
        assert!(source
            .unique_indexes("b")
            .expect("no metadata file")
            .is_empty());

        let second = Partition {
            index: 1,
            ..Partition::whole()
        };
        let refusals = [
            (
                "a",
                second.clone(),
                Position::Start,
                "reads `a` whole or by byte range, not by `_id` range (partition 1)",
            ),
            (
                "a",
                Partition::whole(),
                Position::after_id(&Bson::Int32(1)),
                "files resume at a byte offset",
            ),
            (
                "a",
                Partition::whole(),
                Position::Offset { offset: 999 },
                "cannot resume at byte 999",
            ),
            (
                "system.views",
                Partition::whole(),
                Position::Start,
                "collection `system.views` is not in mongodump directory",
            ),
            (
                "c",
                Partition::whole(),
                Position::Start,
                "collection `c` is not in mongodump directory",
            ),
        ];
        for (collection, partition, from, expected) in refusals {
            let err = source
                .read(collection, &partition, &from)
                .expect_err(expected)
                .to_string();
            assert!(err.contains(expected), "{err} should contain {expected}");
        }
        assert!(matches!(
            source.partitions("c", 4),
            Err(SourceError::MissingCollection { .. })
        ));
        assert!(matches!(
            source.fetch("c", &[]),
            Err(SourceError::MissingCollection { .. })
        ));
        assert_eq!(
            source.partitions("a", 4).expect("partitions"),
            [Partition::whole()]
        );
    }

    #[test]
    fn a_compass_export_names_collections_after_the_database() {
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path();
        std::fs::write(d.join("shop.orders.json"), "{\"_id\": 1}\n{\"_id\": 2}\n").expect("write");
        std::fs::write(d.join("shop.users.json"), "[{\"_id\": 3}]").expect("write");
        let source = ExportSource::open(d).expect("open");
        assert_eq!(
            names(&source),
            [
                ("orders".to_string(), Some(2)),
                ("users".to_string(), Some(1))
            ]
        );
        assert_eq!(ids(&source, "users", &Position::Start)[0].0, 3);
        let err = source
            .read("carts", &Partition::whole(), &Position::Start)
            .expect_err("no carts")
            .to_string();
        assert!(
            err.contains(
                "shop.orders.json (collection `orders`), shop.users.json (collection `users`)"
            ),
            "{err}"
        );

        // Not one database for all: the names are the files' own.
        std::fs::write(d.join("carts.json"), "{\"_id\": 4}\n").expect("write");
        let mixed = ExportSource::open(d).expect("open");
        let listed: Vec<String> = names(&mixed).into_iter().map(|(n, _)| n).collect();
        assert_eq!(listed, ["carts", "shop.orders", "shop.users"]);
    }

    #[test]
    fn the_database_is_what_every_name_starts_with() {
        let names = |list: &[&str]| list.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        for (list, database) in [
            (names(&["db.a", "db.b.c"]), Some("db")),
            (names(&["db.a", "other.b"]), None),
            (names(&["db.a", "b"]), None),
            (names(&[".a"]), None),
            (names(&["db."]), None),
            (names(&[]), None),
        ] {
            assert_eq!(common_database(&list), database, "{list:?}");
        }
    }

    #[test]
    fn one_collection_in_two_files_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        bson_file(&dir.path().join("a.bson"), &[1]);
        bson_file(&dir.path().join("a.bson.gz"), &[1]);
        let err = DumpSource::open(dir.path())
            .expect_err("ambiguous")
            .to_string();
        assert!(err.contains("collection `a` is in two files"), "{err}");
    }

    #[test]
    fn the_directory_above_the_databases_is_refused_with_their_names() {
        let dir = tempfile::tempdir().expect("temp dir");
        for db in ["shop", "crm"] {
            std::fs::create_dir(dir.path().join(db)).expect("mkdir");
            bson_file(&dir.path().join(db).join("a.bson"), &[1]);
        }
        std::fs::create_dir(dir.path().join("other")).expect("mkdir");
        let err = DumpSource::open(dir.path()).expect_err("root").to_string();
        assert!(
            err.contains("open one database directory: crm, shop"),
            "{err}"
        );
        let empty = tempfile::tempdir().expect("temp dir");
        let source = DumpSource::open(empty.path()).expect("an empty dump is not an error");
        assert!(source.collections().expect("collections").is_empty());
    }

    #[test]
    fn export_files_skip_metadata_and_name_collections_after_files() {
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path();
        std::fs::write(d.join("users.json"), "{\"_id\": 1}\n{\"_id\": 2}\n").expect("write");
        std::fs::write(d.join("users.metadata.json"), r#"{"indexes":[]}"#).expect("write");
        let mut gz = flate2::write::GzEncoder::new(
            std::fs::File::create(d.join("items.json.gz")).expect("create"),
            flate2::Compression::fast(),
        );
        gz.write_all(b"[{\"_id\": {\"$numberInt\": \"3\"}}, {\"_id\": 4}]")
            .expect("write");
        gz.finish().expect("gzip");
        std::fs::write(d.join("empty.json"), "").expect("write");

        let source = ExportSource::open(d).expect("open");
        let expected = [("empty", Some(0)), ("items", Some(2)), ("users", Some(2))];
        let expected: Vec<(String, Option<u64>)> =
            expected.iter().map(|(n, c)| (n.to_string(), *c)).collect();
        assert_eq!(names(&source), expected);
        let items = ids(&source, "items", &Position::Start);
        assert_eq!(items.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [3, 4]);
        assert_eq!(ids(&source, "items", &items[0].1)[0].0, 4);
        assert!(ids(&source, "empty", &Position::Start).is_empty());

        let listed = ExportSource::from_files(&[d.join("users.json")]).expect("from files");
        assert_eq!(names(&listed), [("users".to_string(), Some(2))]);
        let err = ExportSource::from_files(&[d.join("users.metadata.json")])
            .expect_err("metadata")
            .to_string();
        assert!(
            err.contains(
                "users.metadata.json is not named `<collection>.json` or `<collection>.json.gz`"
            ),
            "{err}"
        );
    }

    /// `n` documents of about 1 KiB each, ids 0..n.
    fn big_bson_file(path: &Path, n: i32) {
        let pad = "x".repeat(1000);
        let bytes: Vec<u8> = (0..n)
            .flat_map(|i| rawdoc! {"_id": i, "pad": pad.as_str()}.into_bytes())
            .collect();
        std::fs::write(path, bytes).expect("write");
    }

    #[test]
    fn a_plain_bson_file_splits_into_byte_ranges_that_read_every_document_once() {
        let dir = tempfile::tempdir().expect("temp dir");
        big_bson_file(&dir.path().join("big.bson"), 300);
        bson_file(
            &dir.path().join("gz.bson.gz"),
            &(0..5000).collect::<Vec<_>>(),
        );
        let source = DumpSource::open(dir.path()).expect("open");
        let parts = source.partitions("big", 4).expect("partitions");
        assert_eq!(parts.len(), 4, "{parts:?}");
        let mut seen = Vec::new();
        let mut previous_end = 0;
        for (i, part) in parts.iter().enumerate() {
            assert_eq!(part.index as usize, i);
            let range = part.bytes.expect("a byte range");
            assert_eq!(range.start, previous_end, "ranges are contiguous");
            assert!(range.end > range.start);
            previous_end = range.end;
            let docs: Vec<i32> = source
                .read("big", part, &Position::Start)
                .expect("read")
                .map(|p| p.expect("doc").doc.get_i32("_id").expect("_id"))
                .collect();
            assert!(docs.len() > 60, "partition {i} is about a quarter");
            seen.extend(docs);
        }
        assert_eq!(seen, (0..300).collect::<Vec<_>>());
        assert_eq!(source.partitions("big", 4).expect("again"), parts, "stable");

        // Resuming inside a range continues to its end and no further.
        let second = &parts[1];
        let mut docs = source.read("big", second, &Position::Start).expect("read");
        let first = docs.next().expect("one").expect("doc");
        let rest = source
            .read("big", second, &first.next)
            .expect("resume")
            .count();
        assert_eq!(rest, docs.count());
        let outside = Position::Offset {
            offset: parts[2].bytes.expect("range").end,
        };
        let err = source
            .read("big", second, &outside)
            .expect_err("outside")
            .to_string();
        assert!(err.contains("partition 1 holds bytes"), "{err}");

        // One partition asked, a file too small to split, or a compressed one: read whole.
        assert_eq!(
            source.partitions("big", 1).expect("one"),
            [Partition::whole()]
        );
        bson_file(&dir.path().join("small.bson"), &[1, 2, 3]);
        let source = DumpSource::open(dir.path()).expect("open");
        assert_eq!(
            source.partitions("small", 4).expect("small"),
            [Partition::whole()]
        );
        assert_eq!(
            source.partitions("gz", 4).expect("gz"),
            [Partition::whole()]
        );
    }
}
