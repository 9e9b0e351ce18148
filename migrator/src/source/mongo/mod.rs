//! A live deployment, through the official driver.
//!
//! Documents are read in `_id` order, in batches: each batch is its own `find` sorted on `_id`
//! with `_id > <last id read>`, so a stalled pipeline never holds a server cursor open and a
//! resume is the same query as the next batch. Documents stay raw BSON ([`RawDocumentBuf`]).
//!
//! Comparison operators only match `_id`s of the same BSON type as their operand ("type
//! bracketing"), so when a collection's `_id`s are of several types the filters are written as
//! `$expr` comparisons, which follow the total BSON order that `sort` uses.
//!
//! The trait is blocking; the driver is async. [`MongoSource`] owns a small tokio runtime: every
//! operation is spawned on it and awaited through a standard channel, so the methods can be
//! called from any thread, including from inside another runtime (they block that thread).

mod conn;
mod stream;

use std::sync::{Arc, Mutex, PoisonError};

use bson::{doc, Bson, Document, RawDocumentBuf};
use mongodb::options::ClientOptions;
use mongodb::results::CollectionType;
use mongodb::Client;

use self::conn::{run_on, Conn, OwnedRuntime};
use self::stream::{collect, single_class, IdOrderStream, IdRange};
use super::{CollectionInfo, DocStream, Partition, Position, Source, SourceError};

/// Documents per `find` unless [`MongoSource::with_batch_size`] says otherwise.
const DEFAULT_BATCH_SIZE: u32 = 1000;
/// Collections are split only when every partition gets at least this many documents.
const MIN_PARTITION_DOCUMENTS: u64 = 256;
/// `_id`s per `$in` in `fetch`.
const FETCH_CHUNK: usize = 1000;
/// A live database.
#[derive(Debug)]
pub struct MongoSource {
    conn: Conn,
    batch_size: u32,
    /// The collections as first listed: their counts are asked once per source (the CLI's
    /// progress estimate and the run both want them, and a server without collection
    /// statistics counts by reading every document).
    listed: Mutex<Option<Vec<CollectionInfo>>>,
}

impl MongoSource {
    /// Connects to `uri` and checks the deployment answers (`ping`) before returning.
    pub fn connect(uri: &str, database: &str) -> Result<Self, SourceError> {
        let name = format!("MongoDB database `{database}`");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("migrator-mongo")
            .enable_all()
            .build()
            .map_err(|e| SourceError::Server {
                source_name: name.clone(),
                reason: format!("cannot start the driver's runtime: {e}"),
            })?;
        let handle = runtime.handle().clone();
        let runtime = Arc::new(OwnedRuntime(Some(runtime)));
        let (uri, db_name) = (uri.to_string(), database.to_string());
        let (db, hosts) = run_on(&handle, &name, async move {
            let mut options = ClientOptions::parse(&uri).await?;
            options
                .app_name
                .get_or_insert_with(|| "migrator".to_string());
            let hosts: Vec<String> = options.hosts.iter().map(ToString::to_string).collect();
            let db = Client::with_options(options)?.database(&db_name);
            db.run_command(doc! {"ping": 1}).await?;
            Ok((db, hosts.join(",")))
        })
        .map_err(|e| match e {
            SourceError::Server {
                source_name,
                reason,
            } => SourceError::Server {
                source_name,
                reason: format!("cannot connect: {reason}"),
            },
            other => other,
        })?;
        Ok(MongoSource {
            conn: Conn {
                db,
                name: format!("{name} on {hosts}"),
                handle,
                _runtime: runtime,
            },
            batch_size: DEFAULT_BATCH_SIZE,
            listed: Mutex::new(None),
        })
    }

    /// Documents per `find` (at least 1).
    pub fn with_batch_size(mut self, batch_size: u32) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    /// Fails with [`SourceError::MissingCollection`] unless the collection exists (the server
    /// would happily read an absent collection as empty). A collection this source has listed
    /// is taken as there without asking again: every partition and read would otherwise cost a
    /// round trip.
    fn require(&self, collection: &str) -> Result<(), SourceError> {
        if self.listed_info(collection).is_some() {
            return Ok(());
        }
        let db = self.conn.db.clone();
        let filter = doc! {"name": collection};
        let names = self
            .conn
            .run(async move { db.list_collection_names().filter(filter).await })?;
        if names.iter().any(|n| n == collection) {
            Ok(())
        } else {
            Err(SourceError::MissingCollection {
                collection: collection.to_string(),
                source_name: self.conn.name.clone(),
            })
        }
    }

    /// The collection as [`Source::collections`] listed it, if it has been listed.
    fn listed_info(&self, collection: &str) -> Option<CollectionInfo> {
        let listed = self.listed.lock().unwrap_or_else(PoisonError::into_inner);
        listed
            .as_ref()?
            .iter()
            .find(|c| c.name == collection)
            .cloned()
    }

    fn bound(
        &self,
        what: &str,
        value: &Option<serde_json::Value>,
    ) -> Result<Option<Bson>, SourceError> {
        value
            .as_ref()
            .map(|v| {
                Bson::try_from(v.clone()).map_err(|e| SourceError::Invalid {
                    source_name: self.conn.name.clone(),
                    reason: format!("{what} {v} is not Extended JSON: {e}"),
                })
            })
            .transpose()
    }
}

impl Source for MongoSource {
    fn describe(&self) -> String {
        self.conn.name.clone()
    }

    fn kind(&self) -> &'static str {
        "mongo"
    }

    /// Collections (not views, not `system.*`) in name order, with the server's estimated counts
    /// (listed once; later calls answer the same).
    fn collections(&self) -> Result<Vec<CollectionInfo>, SourceError> {
        // Held while listing: a second caller waits for this listing instead of counting again.
        let mut listed = self.listed.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(listed) = listed.as_ref() {
            return Ok(listed.clone());
        }
        let db = self.conn.db.clone();
        let mut infos = self.conn.run(async move {
            let mut specs = db.list_collections().await?;
            // The counts are asked all at once: one round trip's wait, not one per collection.
            let mut counts = tokio::task::JoinSet::new();
            while specs.advance().await? {
                let spec = specs.deserialize_current()?;
                if spec.collection_type == CollectionType::Collection
                    && !spec.name.starts_with("system.")
                {
                    let coll = db.collection::<RawDocumentBuf>(&spec.name);
                    counts.spawn(async move {
                        let count = coll.estimated_document_count().await?;
                        Ok::<_, mongodb::error::Error>(CollectionInfo {
                            name: spec.name,
                            estimated_documents: Some(count),
                            bytes_on_disk: None,
                        })
                    });
                }
            }
            let mut infos = Vec::new();
            while let Some(info) = counts.join_next().await {
                let info = info.map_err(|e| {
                    std::io::Error::other(format!("counting a collection's documents: {e}"))
                })?;
                infos.push(info?);
            }
            Ok(infos)
        })?;
        infos.sort_by(|a, b| a.name.cmp(&b.name));
        *listed = Some(infos.clone());
        Ok(infos)
    }

    /// `_id` ranges from `$bucketAuto` over the `_id`s alone, each of at least
    /// [`MIN_PARTITION_DOCUMENTS`]; one partition when the collection is small, its `_id`s are
    /// of several types, or the aggregation fails.
    fn partitions(&self, collection: &str, max: usize) -> Result<Vec<Partition>, SourceError> {
        self.require(collection)?;
        // Counting is not free everywhere (a server without collection statistics scans).
        if max <= 1 {
            return Ok(vec![Partition::whole()]);
        }
        let coll = self.conn.collection(collection);
        let listed = self
            .listed_info(collection)
            .and_then(|c| c.estimated_documents);
        let count = match listed {
            Some(count) => count,
            None => self.conn.run({
                let coll = coll.clone();
                async move { coll.estimated_document_count().await }
            })?,
        };
        let wanted = (max as u64).min(count / MIN_PARTITION_DOCUMENTS);
        if wanted <= 1 {
            return Ok(vec![Partition::whole()]);
        }
        // Only `_id` goes through the bucketing (a server may otherwise carry whole documents).
        let pipeline = [
            doc! {"$project": {"_id": 1}},
            doc! {"$bucketAuto": {"groupBy": "$_id", "buckets": wanted as i64}},
        ];
        let buckets = self.conn.run(async move {
            let buckets = async {
                let mut cursor = coll.aggregate(pipeline).allow_disk_use(true).await?;
                let mut bounds = Vec::new();
                while cursor.advance().await? {
                    let bucket: Document = cursor.deserialize_current()?;
                    let range = bucket.get_document("_id").ok();
                    bounds.push((
                        range.and_then(|b| b.get("min")).cloned(),
                        range.and_then(|b| b.get("max")).cloned(),
                    ));
                }
                mongodb::error::Result::Ok(bounds)
            };
            Ok(buckets.await.ok())
        })?;
        let Some(buckets) = buckets else {
            return Ok(vec![Partition::whole()]);
        };
        let last = buckets.last().and_then(|(_, max)| max.clone());
        let Some(mins) = buckets
            .into_iter()
            .map(|(min, _)| min)
            .collect::<Option<Vec<Bson>>>()
        else {
            return Ok(vec![Partition::whole()]);
        };
        // The first bucket starts at the smallest `_id` and the last ends at the largest: `_id`s
        // of several types (compared with `$expr` only) are read whole.
        if !single_class(&mins.first().cloned(), &last, None) {
            return Ok(vec![Partition::whole()]);
        }
        // Partition i is [start of bucket i, start of bucket i + 1); the ends are open so
        // documents inserted beyond the first or last `_id` are still read.
        let bounds: Vec<serde_json::Value> = mins
            .into_iter()
            .skip(1)
            .map(|b| b.into_canonical_extjson())
            .collect();
        let partitions = (0..=bounds.len())
            .map(|i| Partition {
                index: i as u32,
                min: i.checked_sub(1).map(|j| bounds[j].clone()),
                max: bounds.get(i).cloned(),
                bytes: None,
            })
            .collect();
        Ok(partitions)
    }

    fn read(
        &self,
        collection: &str,
        partition: &Partition,
        from: &Position,
    ) -> Result<DocStream, SourceError> {
        self.require(collection)?;
        let after = match from {
            Position::Start => None,
            Position::AfterId { id } => Some(id.clone()),
            Position::Offset { offset } => {
                return Err(SourceError::Invalid {
                    source_name: self.conn.name.clone(),
                    reason: format!("cannot resume `{collection}` at byte {offset}: a live collection resumes after an `_id`"),
                })
            }
        };
        if let Some(bytes) = partition.bytes {
            return Err(SourceError::Invalid {
                source_name: self.conn.name.clone(),
                reason: format!(
                    "cannot read `{collection}` by bytes {}..{} (partition {}): a live collection is read by `_id` range",
                    bytes.start, bytes.end, partition.index
                ),
            });
        }
        let min = self.bound("partition bound", &partition.min)?;
        let max = self.bound("partition bound", &partition.max)?;
        // Whether to compare with `$expr` is decided when a query first needs a filter: a
        // collection read whole from the start needs none, and no edge lookups.
        Ok(DocStream::owned(IdOrderStream::new(
            self.conn.clone(),
            self.conn.collection(collection),
            IdRange {
                min,
                max,
                expr: false,
            },
            after,
            self.batch_size,
        )))
    }

    fn fetch(&self, collection: &str, ids: &[Bson]) -> Result<Vec<RawDocumentBuf>, SourceError> {
        self.require(collection)?;
        let mut found = Vec::new();
        for chunk in ids.chunks(FETCH_CHUNK) {
            let coll = self.conn.collection(collection);
            let filter = doc! {"_id": {"$in": chunk.to_vec()}};
            found.extend(
                self.conn
                    .run(async move { collect(coll.find(filter).await?).await })?,
            );
        }
        Ok(found)
    }
}
