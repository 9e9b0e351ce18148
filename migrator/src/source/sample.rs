//! `--limit N`: the first N documents of every collection of a source, for trying models on a
//! sample before the whole run.

use std::sync::Arc;

use bson::{Bson, RawDocument, RawDocumentBuf};

use super::{CollectionInfo, DocStream, Partition, Position, ReadDocs, Source, SourceError};

/// The first `limit` documents of each collection of `inner`, read as one partition.
#[derive(Clone)]
pub struct SampleSource {
    inner: Arc<dyn Source>,
    limit: u64,
}

impl std::fmt::Debug for SampleSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SampleSource")
            .field("source", &self.inner.describe())
            .field("limit", &self.limit)
            .finish()
    }
}

impl SampleSource {
    pub fn new(inner: Arc<dyn Source>, limit: u64) -> SampleSource {
        SampleSource { inner, limit }
    }
}

/// At most `left` more documents of a stream.
struct Limited {
    docs: DocStream,
    left: u64,
}

impl ReadDocs for Limited {
    fn next_doc(&mut self) -> Option<Result<(&RawDocument, Position), SourceError>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        self.docs.next_doc()
    }
}

impl Source for SampleSource {
    fn describe(&self) -> String {
        format!(
            "the first {} documents per collection of {}",
            self.limit,
            self.inner.describe()
        )
    }

    /// A kind of its own: a sample's checkpoints are not resumed by the whole source.
    fn kind(&self) -> &'static str {
        "sample"
    }

    fn collections(&self) -> Result<Vec<CollectionInfo>, SourceError> {
        let mut listed = self.inner.collections()?;
        for c in &mut listed {
            c.estimated_documents = c.estimated_documents.map(|n| n.min(self.limit));
        }
        Ok(listed)
    }

    /// One partition: the sample is the collection's first documents.
    fn partitions(&self, collection: &str, _max: usize) -> Result<Vec<Partition>, SourceError> {
        self.inner.partitions(collection, 1)
    }

    /// From the start, or from a position inside the sample (counted again from the start).
    fn read(
        &self,
        collection: &str,
        partition: &Partition,
        from: &Position,
    ) -> Result<DocStream, SourceError> {
        let mut docs = self.inner.read(collection, partition, &Position::Start)?;
        let mut left = self.limit;
        if *from != Position::Start {
            loop {
                if left == 0 {
                    break;
                }
                match docs.next_doc() {
                    Some(Ok((_, next))) => {
                        left -= 1;
                        if next == *from {
                            break;
                        }
                    }
                    Some(Err(e)) => return Err(e),
                    None => break,
                }
            }
        }
        Ok(DocStream::new(Limited { docs, left }))
    }

    fn fetch(&self, collection: &str, ids: &[Bson]) -> Result<Vec<RawDocumentBuf>, SourceError> {
        self.inner.fetch(collection, ids)
    }

    fn rereadable(&self) -> bool {
        self.inner.rereadable()
    }

    /// The whole oplog: the replay keeps to the sampled documents itself.
    fn oplog_database(&self) -> Result<Option<String>, SourceError> {
        self.inner.oplog_database()
    }

    fn read_oplog(&self, from: u64) -> Result<DocStream, SourceError> {
        self.inner.read_oplog(from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::DumpSource;

    fn write(path: &std::path::Path, ids: std::ops::Range<i32>) {
        let mut bytes = Vec::new();
        for id in ids {
            bytes.extend(bson::rawdoc! { "_id": id }.as_bytes());
        }
        std::fs::write(path, bytes).expect("write a dump file");
    }

    fn ids(source: &dyn Source, collection: &str, from: &Position) -> Vec<(i32, Position)> {
        let partition = source.partitions(collection, 4).expect("partitions");
        assert_eq!(partition.len(), 1);
        source
            .read(collection, &partition[0], from)
            .expect("read")
            .map(|d| {
                let d = d.expect("a document");
                (d.doc.get_i32("_id").expect("_id"), d.next)
            })
            .collect()
    }

    #[test]
    fn a_sample_is_the_first_documents_of_each_collection_and_resumes_inside_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        write(&dir.path().join("big.bson"), 0..1000);
        write(&dir.path().join("small.bson"), 0..2);
        let dump: Arc<dyn Source> = Arc::new(DumpSource::open(dir.path()).expect("open"));
        let sample = SampleSource::new(dump, 3);
        assert_eq!(sample.kind(), "sample");
        let listed: Vec<(String, Option<u64>)> = sample
            .collections()
            .expect("listed")
            .into_iter()
            .map(|c| (c.name, c.estimated_documents))
            .collect();
        assert_eq!(
            listed,
            [("big".to_string(), Some(3)), ("small".to_string(), Some(2))]
        );
        let first = ids(&sample, "big", &Position::Start);
        assert_eq!(first.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [0, 1, 2]);
        let rest = ids(&sample, "big", &first[0].1);
        assert_eq!(rest.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [1, 2]);
        assert!(ids(&sample, "big", &first[2].1).is_empty());
        assert_eq!(ids(&sample, "small", &Position::Start).len(), 2);
    }
}
