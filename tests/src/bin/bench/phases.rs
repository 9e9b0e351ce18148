//! What each kind of request a live run makes costs the Mongo-wire server, each made alone and
//! measured from the server's own CPU time (`/proc`): the listing with its counts (bounded as
//! the run bounds them), the counts unbounded, opening a change stream (a new run notes where
//! the stream stands), one sorted read of every collection, and what the server spends while
//! nothing is asked of it (per second). A run's server CPU beyond the sum of what it asked is
//! then its own (concurrency, connections, background work during its wall time).

use std::time::Duration;

use anyhow::Context;
use migrator::bson::{doc, RawDocumentBuf};
use serde::Serialize;

use crate::measure::CpuMeter;

/// The listing's limit on each count (`source/mongo/listing.rs`).
const COUNT_LIMIT: Duration = Duration::from_millis(50);
/// How long the server is watched while nothing is asked of it.
const IDLE: Duration = Duration::from_secs(3);

/// Server CPU seconds of each request, made alone.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Phases {
    /// Connecting, `listCollections` and every collection counted within 50 ms, at once.
    pub listing: f64,
    /// Every collection counted without a limit.
    pub counts: f64,
    /// Opening a change stream on the database (and `hello` for the cluster time).
    pub change_stream: f64,
    /// Every collection read once, sorted on `_id`.
    pub sorted_read: f64,
    /// Per second of wall time with nothing asked.
    pub idle_per_second: f64,
}

impl Phases {
    /// The rows of the table (label, server CPU seconds).
    pub fn rows(&self) -> [(&'static str, f64); 5] {
        [
            ("listing with counts bounded at 50 ms", self.listing),
            ("one count of every collection, no time limit", self.counts),
            ("opening a change stream (and `hello`)", self.change_stream),
            ("one sorted read of every collection", self.sorted_read),
            (
                "nothing asked, per second of wall time",
                self.idle_per_second,
            ),
        ]
    }
}

/// Measures each phase once against the database at `uri` (server pid `pid`).
pub async fn measure(
    uri: &str,
    collections: &[String],
    meter: &CpuMeter,
    pid: u32,
) -> anyhow::Result<Phases> {
    let cpu = || meter.process_cpu_seconds(pid);
    let before = cpu();
    tokio::time::sleep(IDLE).await;
    let idle_per_second = (cpu() - before).max(0.0) / IDLE.as_secs_f64();

    let before = cpu();
    let client = mongodb::Client::with_uri_str(uri).await?;
    let db = client
        .default_database()
        .context("the URI names the database")?;
    let names = db.list_collection_names().await?;
    let mut counting = tokio::task::JoinSet::new();
    for name in names {
        let coll = db.collection::<RawDocumentBuf>(&name);
        counting.spawn(async move {
            coll.estimated_document_count()
                .max_time(COUNT_LIMIT)
                .await
                .ok()
        });
    }
    while counting.join_next().await.is_some() {}
    let listing = (cpu() - before).max(0.0);

    let before = cpu();
    for name in collections {
        db.collection::<RawDocumentBuf>(name)
            .estimated_document_count()
            .await?;
    }
    let counts = (cpu() - before).max(0.0);

    let before = cpu();
    let stream = db.watch().await?;
    db.run_command(doc! {"hello": 1}).await?;
    drop(stream);
    // Dropping the stream kills its cursor on the server in the background.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let change_stream = (cpu() - before).max(0.0);

    let before = cpu();
    for name in collections {
        let mut cursor = db
            .collection::<RawDocumentBuf>(name)
            .find(doc! {})
            .sort(doc! {"_id": 1})
            .batch_size(1000)
            .await?;
        while cursor.advance().await? {}
    }
    let sorted_read = (cpu() - before).max(0.0);
    Ok(Phases {
        listing,
        counts,
        change_stream,
        sorted_read,
        idle_per_second,
    })
}

/// The median of each phase over rounds.
pub fn medians(rounds: &[Phases]) -> Phases {
    let of = |f: fn(&Phases) -> f64| crate::report::median(rounds.iter().map(f).collect());
    Phases {
        listing: of(|p| p.listing),
        counts: of(|p| p.counts),
        change_stream: of(|p| p.change_stream),
        sorted_read: of(|p| p.sorted_read),
        idle_per_second: of(|p| p.idle_per_second),
    }
}
