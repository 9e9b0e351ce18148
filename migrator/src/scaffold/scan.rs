//! Reading a source for `scaffold`: every document of every collection (or the first N with
//! `--sample`), counted twice in one walk each: the key census ([`Tally`], the same counts
//! `coverage` shows) and a [`Profile`] per key path of what its values are (integer range,
//! integral doubles, string labels, binary subtypes; [`super::walk`]) with a bounded [`KeySet`]
//! of hashed values for references and uniqueness ([`super::profile`]).

use std::collections::HashMap;

use bson::RawDocumentBuf;

pub use super::profile::{KeySet, Profile, KEY_MAX_LEN, KEY_SET_CAP, LABEL_CAP};
use super::walk::Walker;
use crate::census::{KeyCensus, Tally};
use crate::source::{Partition, Position, Source, SourceError, UniqueIndex};

/// One collection as read.
#[derive(Debug, Clone)]
pub struct CollectionScan {
    pub name: String,
    pub census: KeyCensus,
    pub profiles: HashMap<String, Profile>,
    pub unique_indexes: Vec<UniqueIndex>,
    /// The first document, for the generated snapshot test.
    pub first: Option<RawDocumentBuf>,
    /// Reading stopped at `--sample`.
    pub sampled: bool,
    pub bytes: u64,
}

impl CollectionScan {
    pub fn profile(&self, path: &str) -> Option<&Profile> {
        self.profiles.get(path)
    }
}

/// The whole source as read.
#[derive(Debug, Clone)]
pub struct SourceScan {
    pub describe: String,
    pub collections: Vec<CollectionScan>,
    /// `--sample N`: at most N documents per collection were read.
    pub sample: Option<u64>,
}

impl SourceScan {
    pub fn collection(&self, name: &str) -> Option<&CollectionScan> {
        self.collections.iter().find(|c| c.name == name)
    }

    pub fn documents(&self) -> u64 {
        self.collections.iter().map(|c| c.census.documents).sum()
    }
}

/// Reads every collection of `source`; `unique` gives a collection's unique indexes (from its
/// metadata); `progress` hears (collection, documents so far) now and then and at each end.
pub fn scan(
    source: &dyn Source,
    sample: Option<u64>,
    unique: &dyn Fn(&str) -> Vec<UniqueIndex>,
    progress: &mut dyn FnMut(&str, u64, bool),
) -> Result<SourceScan, SourceError> {
    let mut infos = source.collections()?;
    infos.sort_by(|a, b| a.name.cmp(&b.name));
    let mut collections = Vec::new();
    for info in infos {
        let mut walker = Walker::default();
        let mut tally = Tally::new();
        let mut first = None;
        let mut n = 0u64;
        let mut bytes = 0u64;
        let mut sampled = false;
        let mut stream = source.read(&info.name, &Partition::whole(), &Position::Start)?;
        while let Some(next) = stream.next_doc() {
            let (doc, _) = next?;
            if sample.is_some_and(|s| n >= s) {
                sampled = true;
                break;
            }
            if first.is_none() {
                first = Some(doc.to_owned());
            }
            walker.document(&mut tally, doc);
            n += 1;
            bytes += doc.as_bytes().len() as u64;
            if n.is_multiple_of(20_000) {
                progress(&info.name, n, false);
            }
        }
        progress(&info.name, n, true);
        collections.push(CollectionScan {
            unique_indexes: unique(&info.name),
            name: info.name,
            profiles: walker.profiles(&tally),
            census: tally.take(),
            first,
            sampled,
            bytes,
        });
    }
    Ok(SourceScan {
        describe: source.describe(),
        collections,
        sample,
    })
}
