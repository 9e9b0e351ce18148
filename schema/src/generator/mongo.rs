//! Inserts what the generator makes into a live MongoDB deployment, collection by collection,
//! with ordered `insert_many` batches of raw BSON.
//!
//! Documents are generated on a thread of their own while the previous batch is being inserted;
//! the two talk through a channel of two batches, so memory holds a few batches whatever the
//! scale. A batch closes at [`InsertOptions::batch_documents`] documents or before it would pass
//! [`InsertOptions::batch_bytes`], so a document near the 16 MB limit is inserted alone (a
//! command message holds at most 48 MB, and the server checks every document against 16 MiB).
//!
//! The manifest is the one [`super::dump::write_dump`] writes for the same generator, byte
//! counts included: a migration from the deployment must give exactly what one from the dump does.
//!
//! ```no_run
//! use schema::generator::mongo::{InsertOptions, MongoTarget};
//! use schema::generator::{Generator, GeneratorConfig};
//!
//! let generator = Generator::new(GeneratorConfig::new(42, 1.0))?;
//! let target = MongoTarget::connect("mongodb://127.0.0.1:27017/app", None)?;
//! let manifest = target.insert(&generator, &InsertOptions::default(), |_| {})?;
//! manifest.write("app-manifest.json".as_ref())?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The methods block the calling thread: the driver runs on a small runtime the target owns, so
//! they may be called from anywhere, inside another runtime included.

use std::future::Future;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::time::{Duration, Instant};

use migrator::bson::{doc, RawDocumentBuf};
use mongodb::options::ClientOptions;
use mongodb::{Client, Database};

use super::dump::CollectionStats;
use super::manifest::{Manifest, ManifestBuilder};
use super::{Collection, Generator};

/// Documents per `insert_many` unless told otherwise.
pub const DEFAULT_BATCH_DOCUMENTS: usize = super::DEFAULT_INSERT_BATCH_DOCUMENTS;
/// Bytes of BSON per `insert_many` unless told otherwise (a larger document goes alone).
pub const DEFAULT_BATCH_BYTES: usize = 8 * 1024 * 1024;
/// Batches generated ahead of the one being inserted.
const QUEUED_BATCHES: usize = 2;

/// How to insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InsertOptions {
    /// Most documents per `insert_many`.
    pub batch_documents: usize,
    /// Most bytes of BSON per `insert_many`; a document larger than this is inserted alone.
    pub batch_bytes: usize,
    /// Drop the example's collections first if they exist. Without it, a collection that
    /// already holds documents stops the insertion before anything is written.
    pub replace: bool,
}

impl Default for InsertOptions {
    fn default() -> Self {
        InsertOptions {
            batch_documents: DEFAULT_BATCH_DOCUMENTS,
            batch_bytes: DEFAULT_BATCH_BYTES,
            replace: false,
        }
    }
}

/// Why the documents could not be inserted. The driver's error is the [`std::error::Error::source`]
/// (print the chain, e.g. with `anyhow`'s `{:#}`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InsertError {
    #[error("cannot start the driver's runtime")]
    Runtime(#[source] std::io::Error),
    #[error("cannot connect to {uri}")]
    Connect {
        uri: String,
        #[source]
        source: Box<mongodb::error::Error>,
    },
    #[error("no database named: put it in the URI (`mongodb://host:27017/NAME`) or pass `--database NAME`")]
    NoDatabase,
    #[error("database `{database}` already holds {documents} document(s) in `{collection}`; choose another database, or drop the collections first (`generate-data --drop`)")]
    NotEmpty {
        database: String,
        collection: &'static str,
        documents: u64,
    },
    #[error("{action} in database `{database}`")]
    Server {
        action: String,
        database: String,
        #[source]
        source: Box<mongodb::error::Error>,
    },
    #[error("inserting documents {first} to {last} of `{collection}`")]
    Insert {
        collection: &'static str,
        first: u64,
        last: u64,
        #[source]
        source: Box<mongodb::error::Error>,
    },
    #[error("encoding document {index} of `{collection}`")]
    Encode {
        collection: &'static str,
        index: u64,
        #[source]
        source: migrator::bson::error::Error,
    },
    #[error("the driver's runtime stopped before answering")]
    Stopped,
    #[error("the document generator stopped unexpectedly")]
    Generator,
}

/// The runtime the driver runs on; dropping it never blocks, so it may happen anywhere.
#[derive(Debug)]
struct OwnedRuntime(Option<tokio::runtime::Runtime>);

impl Drop for OwnedRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// A database of a live deployment to insert the example application into.
#[derive(Debug)]
pub struct MongoTarget {
    // Declared before the runtime, so the driver's handles go first.
    db: Database,
    name: String,
    handle: tokio::runtime::Handle,
    _runtime: OwnedRuntime,
}

impl MongoTarget {
    /// Connects to `uri` and checks that the deployment answers. The database is `database`, or
    /// else the one the URI names (`mongodb://host/NAME`).
    pub fn connect(uri: &str, database: Option<&str>) -> Result<MongoTarget, InsertError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("generate-data-mongo")
            .enable_all()
            .build()
            .map_err(InsertError::Runtime)?;
        let handle = runtime.handle().clone();
        let runtime = OwnedRuntime(Some(runtime));
        let (uri_owned, chosen) = (uri.to_string(), database.map(str::to_string));
        let connected = run_on(&handle, async move {
            let mut options = ClientOptions::parse(&uri_owned).await?;
            options
                .app_name
                .get_or_insert_with(|| "generate-data".to_string());
            let Some(name) = chosen.or_else(|| options.default_database.clone()) else {
                return Ok(None);
            };
            let db = Client::with_options(options)?.database(&name);
            db.run_command(doc! { "ping": 1 }).await?;
            Ok(Some((db, name)))
        });
        let shown = migrator::state::redact_url(uri);
        match connected {
            Some(Ok(Some((db, name)))) => Ok(MongoTarget {
                db,
                name,
                handle,
                _runtime: runtime,
            }),
            Some(Ok(None)) => Err(InsertError::NoDatabase),
            Some(Err(source)) => Err(InsertError::Connect {
                uri: shown,
                source: Box::new(source),
            }),
            None => Err(InsertError::Stopped),
        }
    }

    /// The database's name.
    pub fn database(&self) -> &str {
        &self.name
    }

    /// Runs a driver future on the target's runtime and waits for it.
    fn run<T: Send + 'static>(
        &self,
        action: impl FnOnce() -> String,
        fut: impl Future<Output = mongodb::error::Result<T>> + Send + 'static,
    ) -> Result<T, InsertError> {
        match run_on(&self.handle, fut) {
            Some(Ok(value)) => Ok(value),
            Some(Err(source)) => Err(InsertError::Server {
                action: action(),
                database: self.name.clone(),
                source: Box::new(source),
            }),
            None => Err(InsertError::Stopped),
        }
    }

    /// Drops the example's collections that exist (with `replace`), or checks they are empty.
    fn prepare(&self, replace: bool) -> Result<(), InsertError> {
        let db = self.db.clone();
        let existing = self.run(|| "listing the collections".into(), async move {
            db.list_collection_names().await
        })?;
        for c in Collection::ALL {
            if !existing.iter().any(|name| name == c.name()) {
                continue;
            }
            let coll = self.db.collection::<RawDocumentBuf>(c.name());
            if replace {
                self.run(
                    || format!("dropping `{c}`"),
                    async move { coll.drop().await },
                )?;
                continue;
            }
            let documents = self
                .run(|| format!("counting the documents of `{c}`"), async move {
                    coll.estimated_document_count().await
                })?;
            if documents > 0 {
                return Err(InsertError::NotEmpty {
                    database: self.name.clone(),
                    collection: c.name(),
                    documents,
                });
            }
        }
        Ok(())
    }

    /// Inserts every collection in load order and returns the manifest, calling `progress`
    /// after each collection.
    pub fn insert(
        &self,
        generator: &Generator,
        options: &InsertOptions,
        progress: impl FnMut(&CollectionStats),
    ) -> Result<Manifest, InsertError> {
        self.prepare(options.replace)?;
        let limits = Limits {
            documents: options.batch_documents.max(1),
            bytes: options.batch_bytes.max(1),
        };
        std::thread::scope(|scope| {
            let (tx, rx) = sync_channel(QUEUED_BATCHES);
            let producer = std::thread::Builder::new()
                .name("generate-data".into())
                .spawn_scoped(scope, move || produce(generator, limits, &tx))
                .map_err(InsertError::Runtime)?;
            let consumed = self.consume(rx, progress);
            // The receiver is gone: a producer still generating stops at its next batch.
            let produced = producer.join().map_err(|_| InsertError::Generator)?;
            consumed?;
            produced
        })
    }

    /// Inserts the batches as they arrive; returns when the generator is done (or gone).
    fn consume(
        &self,
        rx: Receiver<Item>,
        mut progress: impl FnMut(&CollectionStats),
    ) -> Result<(), InsertError> {
        let mut stats: Option<CollectionStats> = None;
        let mut started = Instant::now();
        for item in rx {
            match item {
                Item::Batch(batch) => {
                    let current = stats.get_or_insert(CollectionStats {
                        collection: batch.collection,
                        documents: 0,
                        bytes: 0,
                        elapsed: Duration::ZERO,
                    });
                    current.documents += batch.docs.len() as u64;
                    current.bytes += batch.bytes;
                    self.insert_batch(batch)?;
                }
                Item::End(collection) => {
                    let mut done = stats.take().unwrap_or(CollectionStats {
                        collection,
                        documents: 0,
                        bytes: 0,
                        elapsed: Duration::ZERO,
                    });
                    if done.documents == 0 {
                        let db = self.db.clone();
                        self.run(
                            || format!("creating the empty collection `{collection}`"),
                            async move { db.create_collection(collection.name()).await },
                        )?;
                    }
                    done.elapsed = started.elapsed();
                    progress(&done);
                    started = Instant::now();
                }
            }
        }
        Ok(())
    }

    fn insert_batch(&self, batch: Batch) -> Result<(), InsertError> {
        let Batch {
            collection,
            first,
            docs,
            ..
        } = batch;
        let last = first + docs.len() as u64 - 1;
        let coll = self.db.collection::<RawDocumentBuf>(collection.name());
        match run_on(&self.handle, async move {
            coll.insert_many(docs).ordered(true).await
        }) {
            Some(Ok(_)) => Ok(()),
            Some(Err(source)) => Err(InsertError::Insert {
                collection: collection.name(),
                first,
                last,
                source: Box::new(source),
            }),
            None => Err(InsertError::Stopped),
        }
    }
}

/// Runs `fut` on the runtime behind `handle` and waits for it on this thread; `None` if the
/// runtime stopped first.
fn run_on<T: Send + 'static>(
    handle: &tokio::runtime::Handle,
    fut: impl Future<Output = T> + Send + 'static,
) -> Option<T> {
    let (tx, rx) = sync_channel(1);
    handle.spawn(async move {
        // The receiver only goes away if the caller is gone too.
        let _ = tx.send(fut.await);
    });
    rx.recv().ok()
}

/// When a batch closes.
#[derive(Debug, Clone, Copy)]
struct Limits {
    documents: usize,
    bytes: usize,
}

/// Consecutive documents of one collection.
#[derive(Debug)]
struct Batch {
    collection: Collection,
    /// The index of the first document.
    first: u64,
    docs: Vec<RawDocumentBuf>,
    bytes: u64,
}

impl Batch {
    fn new(collection: Collection, first: u64) -> Batch {
        Batch {
            collection,
            first,
            docs: Vec::new(),
            bytes: 0,
        }
    }

    /// Whether adding a document of `len` bytes would pass the limits (an empty batch always
    /// takes one document, however large).
    fn full_for(&self, len: usize, limits: Limits) -> bool {
        !self.docs.is_empty()
            && (self.docs.len() >= limits.documents || self.bytes as usize + len > limits.bytes)
    }
}

/// What the generator thread sends.
#[derive(Debug)]
enum Item {
    Batch(Batch),
    /// Every document of the collection was sent.
    End(Collection),
}

/// Generates every collection's documents in batches; stops early, without an error, if the
/// inserting side hung up (its own error is the one to report).
fn produce(
    generator: &Generator,
    limits: Limits,
    tx: &SyncSender<Item>,
) -> Result<Manifest, InsertError> {
    let mut builder = ManifestBuilder::new(generator);
    for c in Collection::ALL {
        let mut batch = Batch::new(c, 0);
        for generated in generator.documents(c) {
            let raw =
                RawDocumentBuf::try_from(&generated.doc).map_err(|source| InsertError::Encode {
                    collection: c.name(),
                    index: generated.index,
                    source,
                })?;
            let len = raw.as_bytes().len();
            builder.record(&generated, len as u64);
            if batch.full_for(len, limits) {
                let next = Batch::new(c, generated.index);
                if tx
                    .send(Item::Batch(std::mem::replace(&mut batch, next)))
                    .is_err()
                {
                    return Ok(builder.finish());
                }
            }
            batch.bytes += len as u64;
            batch.docs.push(raw);
        }
        if !batch.docs.is_empty() && tx.send(Item::Batch(batch)).is_err() {
            return Ok(builder.finish());
        }
        if tx.send(Item::End(c)).is_err() {
            return Ok(builder.finish());
        }
    }
    Ok(builder.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch_with(sizes: &[usize]) -> Batch {
        let mut b = Batch::new(Collection::Tasks, 0);
        for &len in sizes {
            b.docs.push(RawDocumentBuf::new());
            b.bytes += len as u64;
        }
        b
    }

    #[test]
    fn batches_close_on_documents_or_bytes_and_a_large_document_goes_alone() {
        let limits = Limits {
            documents: 3,
            bytes: 1000,
        };
        let cases: &[(&[usize], usize, bool)] = &[
            (&[], 5000, false),
            (&[10], 20, false),
            (&[10, 10], 20, false),
            (&[10, 10, 10], 20, true),
            (&[900], 100, false),
            (&[900], 101, true),
            (&[5000], 10, true),
            (&[10], 16_000_000, true),
        ];
        for (sizes, len, full) in cases {
            assert_eq!(
                batch_with(sizes).full_for(*len, limits),
                *full,
                "{sizes:?} + {len}"
            );
        }
    }

    #[test]
    fn a_uri_without_a_database_and_no_name_is_refused_before_connecting() {
        // Nothing listens on port 9 of this machine; the name is checked first.
        let err = MongoTarget::connect("mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=200", None)
            .map(|t| t.database().to_string());
        assert!(matches!(err, Err(InsertError::NoDatabase)), "{err:?}");
    }
}
