//! Applies a [`ChangePlan`](super::ChangePlan)'s changes to a live database through the driver,
//! at a steady rate or as fast as the server takes them. A change of several writes is one
//! multi-document transaction (the server must support them: a replica set).
//!
//! ```no_run
//! use schema::generator::changes::writer::{ChangeWriter, Pace};
//! use schema::generator::changes::ChangePlan;
//! use schema::generator::{Generator, GeneratorConfig};
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let generator = Generator::new(GeneratorConfig::new(42, 1.0))?;
//! let writer = ChangeWriter::connect("mongodb://127.0.0.1:27017", "app").await?;
//! let mut plan = ChangePlan::new(&generator, 7);
//! let done = writer.run(&mut plan, &Pace::limited(10_000, 1_000.0), &Default::default(), |_| {}).await?;
//! println!("{} writes", done.writes);
//! # Ok(()) }
//! ```

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use migrator::bson::{doc, Document};
use mongodb::{Client, Collection, Database};

use super::{Change, ChangePlan, Write};

/// A write the server refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChangeError {
    #[error("cannot connect to {uri}")]
    Connect {
        uri: String,
        #[source]
        source: Box<mongodb::error::Error>,
    },
    #[error("change {number} ({kind}, {writes} write(s) to `{collection}`) failed")]
    Write {
        number: u64,
        kind: &'static str,
        writes: usize,
        collection: &'static str,
        #[source]
        source: Box<mongodb::error::Error>,
    },
}

/// How many changes, how fast.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pace {
    /// Stop after this many changes (`None`: until stopped).
    pub count: Option<u64>,
    /// Changes per second (`None`: as fast as the server takes them).
    pub rate: Option<f64>,
}

impl Pace {
    /// `count` changes at `rate` per second (0 or less: as fast as possible).
    pub fn limited(count: u64, rate: f64) -> Pace {
        Pace {
            count: Some(count),
            rate: (rate > 0.0).then_some(rate),
        }
    }
}

/// What a run wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Written {
    /// Changes made (a transaction is one).
    pub changes: u64,
    /// Writes made (each an event of the change stream when it changed a document).
    pub writes: u64,
    pub transactions: u64,
    pub seconds: f64,
}

/// A database of a live deployment to write changes to.
#[derive(Debug, Clone)]
pub struct ChangeWriter {
    client: Client,
    db: Database,
}

impl ChangeWriter {
    /// Connects to `uri` and checks that the deployment answers.
    pub async fn connect(uri: &str, database: &str) -> Result<ChangeWriter, ChangeError> {
        let failed = |source| ChangeError::Connect {
            uri: migrator::state::redact_url(uri),
            source: Box::new(source),
        };
        let client = Client::with_uri_str(uri).await.map_err(failed)?;
        let db = client.database(database);
        db.run_command(doc! { "ping": 1 }).await.map_err(failed)?;
        Ok(ChangeWriter { client, db })
    }

    fn collection(&self, c: super::Collection) -> Collection<Document> {
        self.db.collection(c.name())
    }

    /// Makes one change: its writes, in one transaction when there are several.
    pub async fn write(&self, change: &Change) -> mongodb::error::Result<()> {
        if let [write] = change.writes.as_slice() {
            return self.one(write, None).await;
        }
        let mut session = self.client.start_session().await?;
        session.start_transaction().await?;
        for write in &change.writes {
            self.one(write, Some(&mut session)).await?;
        }
        session.commit_transaction().await
    }

    async fn one(
        &self,
        write: &Write,
        session: Option<&mut mongodb::ClientSession>,
    ) -> mongodb::error::Result<()> {
        let coll = self.collection(write.collection());
        match (write, session) {
            (Write::Insert { doc, .. }, None) => coll.insert_one(doc).await.map(drop),
            (Write::Insert { doc, .. }, Some(s)) => coll.insert_one(doc).session(s).await.map(drop),
            (Write::Update { id, update, .. }, None) => coll
                .update_one(doc! { "_id": id }, update.clone())
                .await
                .map(drop),
            (Write::Update { id, update, .. }, Some(s)) => coll
                .update_one(doc! { "_id": id }, update.clone())
                .session(s)
                .await
                .map(drop),
            (Write::Delete { id, .. }, None) => coll.delete_one(doc! { "_id": id }).await.map(drop),
            (Write::Delete { id, .. }, Some(s)) => coll
                .delete_one(doc! { "_id": id })
                .session(s)
                .await
                .map(drop),
        }
    }

    /// Makes `plan`'s next changes at `pace` until its count or `stop`; calls `on_change` with
    /// the running totals after each change (acknowledged by the server).
    pub async fn run(
        &self,
        plan: &mut ChangePlan,
        pace: &Pace,
        stop: &AtomicBool,
        mut on_change: impl FnMut(&Written),
    ) -> Result<Written, ChangeError> {
        let started = Instant::now();
        let mut done = Written::default();
        while pace.count.is_none_or(|n| done.changes < n) && !stop.load(Ordering::SeqCst) {
            if let Some(rate) = pace.rate {
                let due = started + Duration::from_secs_f64(done.changes as f64 / rate);
                tokio::time::sleep_until(due.into()).await;
            }
            let Some(change) = plan.next() else { break };
            self.write(&change)
                .await
                .map_err(|source| ChangeError::Write {
                    number: done.changes + 1,
                    kind: change.kind.name(),
                    writes: change.writes.len(),
                    collection: change.writes.first().map_or("", |w| w.collection().name()),
                    source: Box::new(source),
                })?;
            done.changes += 1;
            done.writes += change.writes.len() as u64;
            if change.writes.len() > 1 {
                done.transactions += 1;
            }
            done.seconds = started.elapsed().as_secs_f64();
            on_change(&done);
        }
        done.seconds = started.elapsed().as_secs_f64();
        Ok(done)
    }
}
