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
mod gain;
mod listing;
mod meter;
mod ranges;
mod rest;
mod split;
mod stream;

pub use self::gain::{Basis, Verdict, Weighing, ASSUMED_PER_DOCUMENT};
pub use self::ranges::{Budget, SplitPlan};
pub use self::split::SplitMethod;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bson::{doc, Bson, RawDocumentBuf};
use mongodb::options::ClientOptions;
use mongodb::Client;

use self::conn::{run_on, Conn, OwnedRuntime};
use self::ranges::Known;
use self::stream::{collect, IdOrderStream, IdRange};
use super::{
    ChangeStart, CollectionInfo, DocStream, Partition, Position, RangeClaim, RestSplit, Source,
    SourceError, UniqueIndex,
};

/// Documents per `find` unless [`MongoSource::with_batch_size`] says otherwise.
const DEFAULT_BATCH_SIZE: u32 = 1000;
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
    /// How long the listing's count of each collection took: the first measure of what a
    /// query about the collection costs the server.
    counted_in: Mutex<BTreeMap<String, Duration>>,
    split: SplitMethod,
    budget: Budget,
    /// Why each planned collection is read as it is.
    reasons: Mutex<BTreeMap<String, String>>,
    /// Reading one document, as given (else measured: by the run's readers, or the planner's
    /// first batch).
    read_cost: Option<Duration>,
    /// What the run's readers waited for the server, per document.
    meter: Arc<meter::ReadMeter>,
    /// The longest a collection's count may take (see [`listing`]).
    count_limit: Duration,
    /// Per collection, what cutting the rest of a range needs: its largest `_id` and what
    /// finding an edge costs.
    edges: Mutex<BTreeMap<String, rest::Known>>,
    /// Per collection, what became of its ranges as reading went.
    as_read: Mutex<BTreeMap<String, rest::AsRead>>,
}

impl MongoSource {
    /// Connects to `uri` and checks the deployment answers (`ping`) before returning.
    pub fn connect(uri: &str, database: &str) -> Result<Self, SourceError> {
        let name = format!("MongoDB database `{database}`");
        if uri.starts_with("mongodb+srv://") && !cfg!(feature = "srv") {
            return Err(SourceError::Server {
                source_name: name,
                reason: "a mongodb+srv:// URI needs DNS lookups, and this program was built \
                         without migrator's `srv` feature (on by default; the workspace's example \
                         binaries build with `--features schema/srv`); or pass the hosts as \
                         mongodb://host1,host2/?tls=true"
                    .into(),
            });
        }
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
            counted_in: Mutex::new(BTreeMap::new()),
            split: SplitMethod::default(),
            budget: Budget::default(),
            reasons: Mutex::new(BTreeMap::new()),
            read_cost: None,
            meter: Arc::new(meter::ReadMeter::default()),
            count_limit: listing::COUNT_LIMIT,
            edges: Mutex::new(BTreeMap::new()),
            as_read: Mutex::new(BTreeMap::new()),
        })
    }

    /// Documents per `find` (at least 1).
    pub fn with_batch_size(mut self, batch_size: u32) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    /// How collections are split (see [`SplitMethod`]).
    pub fn with_split(mut self, split: SplitMethod) -> Self {
        self.split = split;
        self
    }

    /// How long the server may take over a count or the smallest `_id` before splitting is
    /// judged too dear ([`SplitMethod::Auto`] only).
    pub fn with_split_budget(mut self, budget: Budget) -> Self {
        self.budget = budget;
        self
    }

    /// What reading one document is taken to cost when planning (see [`Weighing`]); by
    /// default it is measured: what the run's readers waited for the server per document, and
    /// before anything is read, a first batch of the collection timed by the planner.
    pub fn with_read_cost(mut self, per_document: Duration) -> Self {
        self.read_cost = Some(per_document);
        self
    }

    /// The longest the server may take over one collection's count when listing (default
    /// 50 ms; [`SplitMethod::Auto`] only): a count stopped there leaves the collection's total
    /// unknown, and the planner reads it through one cursor.
    pub fn with_count_limit(mut self, limit: Duration) -> Self {
        self.count_limit = limit;
        self
    }

    /// What reading one document costs, if known before planning.
    fn read_cost(&self) -> Option<(Duration, Basis)> {
        if let Some(given) = self.read_cost {
            return Some((given, Basis::Assumed));
        }
        let (per, documents) = self.meter.per_document()?;
        Some((per, Basis::Read(documents)))
    }

    /// Plans `collection`'s ranges (at most `max`) and keeps the reason for
    /// [`Source::split_reason`].
    pub fn plan_split(&self, collection: &str, max: usize) -> Result<SplitPlan, SourceError> {
        self.require(collection)?;
        let listed = self
            .listed_info(collection)
            .and_then(|c| c.estimated_documents);
        let timed = {
            let counted = self
                .counted_in
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            counted.get(collection).copied()
        };
        let read = self.read_cost();
        let known = match (listed, timed) {
            (Some(documents), Some(counted_in)) => Known {
                documents,
                counted_in,
                read,
            },
            // One range asked for: nothing to count.
            _ if max <= 1 => Known {
                documents: 0,
                counted_in: Duration::ZERO,
                read,
            },
            // The listing's count was stopped at its limit: the server reads to count.
            (None, Some(took)) if self.split == SplitMethod::Auto => {
                let plan = SplitPlan::whole(format!(
                    "one cursor: the server had not counted the collection after {:.1} ms \
                     (one with counts answers in a round trip), so finding split points would \
                     cost it about a read of the collection",
                    took.as_secs_f64() * 1000.0
                ));
                self.keep_plan(collection, max, &plan, took, None);
                return Ok(plan);
            }
            _ => {
                let coll = self.conn.collection(collection);
                let started = Instant::now();
                let documents = self
                    .conn
                    .run(async move { coll.estimated_document_count().await })?;
                Known {
                    documents,
                    counted_in: started.elapsed(),
                    read,
                }
            }
        };
        let plan = ranges::plan(&self.conn, collection, max, known, self.split, self.budget)?;
        self.keep_plan(
            collection,
            max,
            &plan,
            known.counted_in,
            Some(known.documents),
        );
        Ok(plan)
    }

    /// Keeps what cutting the rest of a range later needs, and the plan's reason.
    fn keep_plan(
        &self,
        collection: &str,
        max: usize,
        plan: &SplitPlan,
        counted_in: Duration,
        documents: Option<u64>,
    ) {
        {
            let mut edges = self.edges.lock().unwrap_or_else(PoisonError::into_inner);
            edges.insert(
                collection.to_string(),
                rest::Known {
                    largest: plan.largest.clone(),
                    // A server that had to read to count reads to find an edge.
                    edge_cost: plan.edge_took.unwrap_or(counted_in),
                    documents,
                },
            );
        }
        // One range asked for is no decision of the source's: nothing to report.
        if max > 1 {
            let mut reasons = self.reasons.lock().unwrap_or_else(PoisonError::into_inner);
            reasons.insert(collection.to_string(), plan.reason.clone());
        }
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

    /// The stream of one partition from `from` on.
    fn open(
        &self,
        collection: &str,
        partition: &Partition,
        from: &Position,
    ) -> Result<IdOrderStream, SourceError> {
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
        Ok(IdOrderStream::new(
            self.conn.clone(),
            self.conn.collection(collection),
            IdRange {
                min,
                max,
                expr: false,
            },
            after,
            self.batch_size,
        )
        .metered(Arc::clone(&self.meter)))
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
        // `--split edges` and `bucket-auto` plan whatever it costs: no limit.
        let limit = (self.split == SplitMethod::Auto).then_some(self.count_limit);
        let infos = listing::list(&self.conn, limit)?;
        let mut counted = self
            .counted_in
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut infos: Vec<CollectionInfo> = infos
            .into_iter()
            .map(|(info, took)| {
                counted.insert(info.name.clone(), took);
                info
            })
            .collect();
        infos.sort_by(|a, b| a.name.cmp(&b.name));
        *listed = Some(infos.clone());
        Ok(infos)
    }

    /// `_id` ranges cut between the smallest and largest `_id` (see [`ranges`]), or one range
    /// when the collection is small, its `_id`s are of several types, or the server's answers
    /// show that finding split points would cost it a read of the collection.
    fn partitions(&self, collection: &str, max: usize) -> Result<Vec<Partition>, SourceError> {
        Ok(self.plan_split(collection, max)?.partitions)
    }

    /// The `2dsphere` keys of the collection's indexes, as the server lists them.
    fn geo_indexes(&self, collection: &str) -> Result<Vec<String>, SourceError> {
        let coll = self.conn.collection(collection);
        self.conn.run(async move {
            let mut cursor = coll.list_indexes().await?;
            let mut paths: Vec<String> = Vec::new();
            while cursor.advance().await? {
                let index = cursor.deserialize_current()?;
                for (path, kind) in &index.keys {
                    if kind.as_str() == Some("2dsphere") && !paths.contains(path) {
                        paths.push(path.clone());
                    }
                }
            }
            Ok(paths)
        })
    }

    /// The unique indexes as the server lists them (`listIndexes`), `_id`'s left out.
    fn unique_indexes(&self, collection: &str) -> Result<Vec<UniqueIndex>, SourceError> {
        let coll = self.conn.collection(collection);
        self.conn.run(async move {
            let mut cursor = coll.list_indexes().await?;
            let mut unique = Vec::new();
            while cursor.advance().await? {
                let index = cursor.deserialize_current()?;
                let Some(options) = index.options.filter(|o| o.unique == Some(true)) else {
                    continue;
                };
                let keys: Vec<String> = index.keys.keys().cloned().collect();
                if keys == ["_id"] {
                    continue;
                }
                unique.push(UniqueIndex {
                    name: options.name.clone().unwrap_or_else(|| keys.join("_")),
                    keys,
                    partial: options.partial_filter_expression.is_some(),
                    sparse: options.sparse == Some(true),
                });
            }
            Ok(unique)
        })
    }

    fn split_reason(&self, collection: &str) -> Option<String> {
        let planned = {
            let reasons = self.reasons.lock().unwrap_or_else(PoisonError::into_inner);
            reasons.get(collection).cloned()
        };
        let went = self.as_read.lock().unwrap_or_else(PoisonError::into_inner);
        rest::reason(planned, went.get(collection))
    }

    fn note_merged(&self, collection: &str, merged: usize) {
        let mut went = self.as_read.lock().unwrap_or_else(PoisonError::into_inner);
        went.entry(collection.to_string()).or_default().merged += merged;
    }

    fn read(
        &self,
        collection: &str,
        partition: &Partition,
        from: &Position,
    ) -> Result<DocStream, SourceError> {
        Ok(DocStream::owned(self.open(collection, partition, from)?))
    }

    fn read_claimed(
        &self,
        collection: &str,
        partition: &Partition,
        from: &Position,
        claim: Arc<RangeClaim>,
    ) -> Result<DocStream, SourceError> {
        let stream = self.open(collection, partition, from)?.claimed(claim);
        Ok(DocStream::owned(stream))
    }

    fn claim_for(&self, partition: &Partition, from: &Position) -> Option<RangeClaim> {
        let min = self.bound("partition bound", &partition.min).ok()?;
        let max = self.bound("partition bound", &partition.max).ok()?;
        let after = match from {
            Position::AfterId { id } => Some(id.clone()),
            _ => None,
        };
        Some(RangeClaim::new(min, max, after))
    }

    fn split_rest(
        &self,
        collection: &str,
        claim: &RangeClaim,
        readers: usize,
    ) -> Result<RestSplit, SourceError> {
        let known = {
            let edges = self.edges.lock().unwrap_or_else(PoisonError::into_inner);
            edges
                .get(collection)
                .cloned()
                .unwrap_or_else(|| rest::Known {
                    documents: self
                        .listed_info(collection)
                        .and_then(|c| c.estimated_documents),
                    ..rest::Known::default()
                })
        };
        let split = rest::split_rest(
            &self.conn,
            collection,
            claim,
            readers,
            &known,
            self.split == SplitMethod::Auto,
            |largest, took| {
                let mut edges = self.edges.lock().unwrap_or_else(PoisonError::into_inner);
                let entry = edges.entry(collection.to_string()).or_default();
                entry.largest = Some(largest.clone());
                entry.edge_cost = took;
            },
        )?;
        if split.cut.is_none() && !split.weighed {
            return Ok(split);
        }
        let mut went = self.as_read.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = went.entry(collection.to_string()).or_default();
        match split.cut {
            Some(_) => entry.cut += 1,
            None if split.weighed => entry.declined = Some(split.reason.clone()),
            None => {}
        }
        Ok(split)
    }

    /// Opens a change stream on the database and returns its resume token (see
    /// [`crate::follow`]).
    fn change_start(&self) -> Result<Option<ChangeStart>, SourceError> {
        let db = self.conn.db.clone();
        self.conn
            .run(async move { crate::follow::start_point(&db).await })
            .map(Some)
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
