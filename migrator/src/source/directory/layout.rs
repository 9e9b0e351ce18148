//! Which files of a directory hold collections, and the collection each one holds.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{CollectionFiles, OpenAt};
use crate::source::{ByteRange, SourceError};

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
pub(super) fn common_database<'a>(names: impl IntoIterator<Item = &'a String>) -> Option<&'a str> {
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
}
