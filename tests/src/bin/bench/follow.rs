//! `bench follow`: the follow of a live source's change stream on this machine, the Mongo-wire
//! server sharing the cores. Two figures, printed, not asserted:
//!
//! - the largest rate it sustains: a backlog of order inserts (each a row, two junction rows and
//!   one to two child rows) written before the follow starts, applied by `--until-caught-up`;
//! - the lag at a steady rate: orders written at `--rate` per second for `--seconds` while the
//!   follow runs; every 20 ms the age of the oldest order written and not yet in PostgreSQL
//!   (0 when none), its median, 99th percentile and maximum.
//!
//! ```sh
//! MIGRATOR_TEST_MONGO_URI=mongodb://127.0.0.1:27017 cargo run --profile bench-release \
//!     -p migrator-e2e --bin bench -- follow --backlog 20000 --rate 1000 --seconds 10
//! ```

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use bson::{doc, Document, RawDocumentBuf};
use migrator::follow::{FollowOptions, FollowProgress, OnInvalid};
use migrator_e2e::fixture;
use migrator_e2e::mongo::MongoDb;
use migrator_e2e::pg::TestDb;

fn flag(args: &[String], name: &str, default: u64) -> anyhow::Result<u64> {
    match args.iter().position(|a| a == name) {
        Some(i) => args
            .get(i + 1)
            .with_context(|| format!("{name} needs a value"))?
            .parse()
            .with_context(|| name.to_string()),
        None => Ok(default),
    }
}

fn order(id: i64) -> Document {
    let i = i32::try_from(id % 1_000).unwrap_or(0);
    doc! {
        "_id": id, "status": "pending", "customer_id": 1 + i % 12, "coupon_id": 1 + i % 3,
        "products": [1 + i % 10, 1 + (3 * i) % 10],
        "lines": (0..1 + i % 2).map(|n| doc! {"sku": format!("SKU-{n}"), "quantity": 1, "price": 2.5}).collect::<Vec<_>>(),
    }
}

/// Runs a follow on a thread of its own until `stop` (or caught up, with `until`).
fn start_follow(
    options: FollowOptions,
    source: Arc<dyn migrator::source::Source>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<anyhow::Result<FollowProgress>> {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let schema = fixture::schema()?;
        let quiet = |_: &FollowProgress| {};
        Ok(runtime.block_on(migrator::follow::follow(
            &schema, source, &options, stop, &quiet,
        ))?)
    })
}

pub fn main(args: &[String]) -> anyhow::Result<()> {
    let backlog = flag(args, "--backlog", 20_000)?;
    let rate = flag(args, "--rate", 1_000)?.max(1);
    let seconds = flag(args, "--seconds", 10)?;
    let mongo = MongoDb::create("bench_follow");
    for (name, docs) in fixture::clean() {
        let raw: Vec<RawDocumentBuf> = docs
            .iter()
            .map(RawDocumentBuf::try_from)
            .collect::<Result<_, _>>()?;
        mongo.insert(name, &raw);
    }
    let db = TestDb::create("bench_follow");
    let schema = fixture::schema()?;
    db.run(&schema, Arc::new(mongo.source()), db.config())?;
    let options = FollowOptions {
        pg_url: db.url().to_string(),
        target_schema: "public".into(),
        state_schema: "_migrator".into(),
        uri: mongo.uri().to_string(),
        database: mongo.name().to_string(),
        max_batch: 1_000,
        max_wait: Duration::from_millis(100),
        on_invalid: OnInvalid::Keep,
        until_caught_up: Some(Duration::ZERO),
        progress_every: Duration::from_secs(3600),
        recopy: false,
    };
    let writer = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let client = writer.block_on(mongodb::Client::with_uri_str(mongo.uri()))?;
    let orders = client
        .database(mongo.name())
        .collection::<Document>("orders");
    // The backlog, then the follow's pace over it.
    let ids: Vec<i64> = (1_000_000..1_000_000 + i64::try_from(backlog)?).collect();
    for chunk in ids.chunks(1_000) {
        writer.block_on(async { orders.insert_many(chunk.iter().map(|&id| order(id))).await })?;
    }
    let started = Instant::now();
    let done = start_follow(options.clone(), Arc::new(mongo.source()), Arc::default())
        .join()
        .map_err(|_| anyhow::anyhow!("the follow thread panicked"))??;
    let took = started.elapsed().as_secs_f64();
    println!(
        "follow, backlog: {} changes applied in {took:.2} s: {:.0} changes/s (each an order: 1 row, 2 junction rows, 1-2 child rows)",
        done.applied,
        done.applied as f64 / took
    );
    // The steady rate, the follow running meanwhile.
    let stop = Arc::new(AtomicBool::new(false));
    let follow = start_follow(
        FollowOptions {
            until_caught_up: None,
            ..options
        },
        Arc::new(mongo.source()),
        Arc::clone(&stop),
    );
    let written: Arc<Mutex<Vec<(i64, Instant)>>> = Arc::default();
    let writing = Arc::new(AtomicBool::new(true));
    let last_id = Arc::new(AtomicI64::new(0));
    let sampler = {
        let (written, writing, url) = (
            Arc::clone(&written),
            Arc::clone(&writing),
            db.url().to_string(),
        );
        std::thread::spawn(move || -> anyhow::Result<Vec<f64>> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let mut conn =
                runtime.block_on(<sqlx::PgConnection as sqlx::Connection>::connect(&url))?;
            let mut lags = Vec::new();
            while writing.load(Ordering::SeqCst) {
                let applied: Option<i32> = runtime.block_on(
                    sqlx::query_scalar("SELECT max(id) FROM public.orders WHERE id >= 2000000")
                        .fetch_one(&mut conn),
                )?;
                let applied = i64::from(applied.unwrap_or(0));
                let now = Instant::now();
                let oldest = {
                    let written = written.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
                    written
                        .iter()
                        .find(|(id, _)| *id > applied)
                        .map(|(_, at)| *at)
                };
                lags.push(oldest.map_or(0.0, |at| (now - at).as_secs_f64() * 1000.0));
                std::thread::sleep(Duration::from_millis(20));
            }
            Ok(lags)
        })
    };
    let begun = Instant::now();
    let mut next = 2_000_000i64;
    let per_tick = (rate / 100).max(1);
    while begun.elapsed() < Duration::from_secs(seconds) {
        let tick = Instant::now();
        let batch: Vec<i64> = (next..next + i64::try_from(per_tick)?).collect();
        next += i64::try_from(per_tick)?;
        writer.block_on(async { orders.insert_many(batch.iter().map(|&id| order(id))).await })?;
        if let Ok(mut w) = written.lock() {
            w.extend(batch.iter().map(|&id| (id, tick)));
        }
        last_id.store(next - 1, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(10).saturating_sub(tick.elapsed()));
    }
    let wrote = next - 2_000_000;
    let achieved = wrote as f64 / begun.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_millis(1500));
    writing.store(false, Ordering::SeqCst);
    let mut lags = sampler
        .join()
        .map_err(|_| anyhow::anyhow!("the sampler panicked"))??;
    stop.store(true, Ordering::SeqCst);
    follow
        .join()
        .map_err(|_| anyhow::anyhow!("the follow thread panicked"))??;
    lags.sort_by(f64::total_cmp);
    let at = |q: f64| {
        lags.get(((lags.len() as f64 - 1.0) * q) as usize)
            .copied()
            .unwrap_or(0.0)
    };
    println!(
        "follow, steady: {wrote} orders at {achieved:.0}/s (asked {rate}/s) for {seconds} s: lag median {:.0} ms, p99 {:.0} ms, max {:.0} ms ({} samples every 20 ms)",
        at(0.5),
        at(0.99),
        at(1.0),
        lags.len()
    );
    Ok(())
}
