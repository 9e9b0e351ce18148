//! What each kind of request a live run makes costs the Mongo-wire server, each made alone and
//! measured from the server's own CPU time (`/proc`): the listing with its counts (bounded as
//! the run bounds them), the counts unbounded, opening a change stream (a new run notes where
//! the stream stands), one sorted read of every collection, the same read paced as the live run
//! read (a reader feeding PostgreSQL takes each batch when the load wants it, not as fast as the
//! server answers), and what the server spends while nothing is asked of it (per second). A
//! run's server CPU beyond the sum of what it asked is then its own (concurrency, connections,
//! background work during its wall time).
//!
//! The paced read is the fair floor for a run: SecantusDB answers a read with the same
//! instructions either way (callgrind: 1.617 against 1.589 billion for a live run of the
//! example against one sorted read), but between batches its allocator (mimalloc) hands freed
//! memory back to the system and faults it in again (huge pages zeroed by the kernel), so a
//! read spread over the seconds a load takes costs it more system time than one drained at
//! once.

use std::time::{Duration, Instant};

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
    /// The same read taken at the live run's pace (documents per second of its load).
    pub paced_read: f64,
    /// Per second of wall time with nothing asked.
    pub idle_per_second: f64,
}

impl Phases {
    /// The rows of the table (label, server CPU seconds).
    pub fn rows(&self) -> [(&'static str, f64); 6] {
        [
            ("listing with counts bounded at 50 ms", self.listing),
            ("one count of every collection, no time limit", self.counts),
            ("opening a change stream (and `hello`)", self.change_stream),
            ("one sorted read of every collection", self.sorted_read),
            (
                "the same read, paced as the live run's load read",
                self.paced_read,
            ),
            (
                "nothing asked, per second of wall time",
                self.idle_per_second,
            ),
        ]
    }
}

/// Documents between two looks at the pace: the cursor's batch.
const BATCH: u32 = 1000;

/// How long a reader paced at `rate` documents per second waits after `read` documents,
/// `elapsed` after it started: until the time those documents take at that rate.
fn pace_wait(read: u64, rate: f64, elapsed: Duration) -> Duration {
    if rate <= 0.0 || !rate.is_finite() {
        return Duration::ZERO;
    }
    Duration::from_secs_f64(read as f64 / rate).saturating_sub(elapsed)
}

/// Every collection read once in `_id` order, in batches of [`BATCH`]; paced at `rate`
/// documents per second if given (waiting at each batch's end while ahead of it).
async fn read_sorted(
    db: &mongodb::Database,
    collections: &[String],
    rate: Option<f64>,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut read = 0u64;
    for name in collections {
        let mut cursor = db
            .collection::<RawDocumentBuf>(name)
            .find(doc! {})
            .sort(doc! {"_id": 1})
            .batch_size(BATCH)
            .await?;
        while cursor.advance().await? {
            read += 1;
            if let (Some(rate), 0) = (rate, read % u64::from(BATCH)) {
                tokio::time::sleep(pace_wait(read, rate, started.elapsed())).await;
            }
        }
    }
    Ok(())
}

/// Measures each phase once against the database at `uri` (server pid `pid`); the paced read
/// at `rate` documents per second (none given: not measured).
pub async fn measure(
    uri: &str,
    collections: &[String],
    meter: &CpuMeter,
    pid: u32,
    rate: Option<f64>,
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
    read_sorted(&db, collections, None).await?;
    let sorted_read = (cpu() - before).max(0.0);

    let mut paced_read = 0.0;
    if rate.is_some() {
        let before = cpu();
        read_sorted(&db, collections, rate).await?;
        paced_read = (cpu() - before).max(0.0);
    }
    Ok(Phases {
        listing,
        counts,
        change_stream,
        sorted_read,
        paced_read,
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
        paced_read: of(|p| p.paced_read),
        idle_per_second: of(|p| p.idle_per_second),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_paced_reader_waits_until_its_documents_are_due() {
        let ms = Duration::from_millis;
        // 1,000 documents a second: the 2,000th is due at 2 s.
        assert_eq!(pace_wait(2_000, 1_000.0, ms(500)), ms(1_500));
        // Behind the pace: no wait.
        assert_eq!(pace_wait(2_000, 1_000.0, ms(2_500)), Duration::ZERO);
        // No pace: no wait.
        assert_eq!(pace_wait(2_000, 0.0, Duration::ZERO), Duration::ZERO);
        assert_eq!(pace_wait(2_000, f64::NAN, Duration::ZERO), Duration::ZERO);
    }
}
