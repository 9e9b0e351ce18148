//! `bench follow`: the follow of a live source's change stream on this machine, the Mongo-wire
//! server sharing the cores. Two figures, printed, not asserted:
//!
//! - the largest rate it sustains: a backlog of changes written before the follow starts,
//!   applied by a follow `--until-caught-up`, with the CPU seconds per 1,000 changes of the
//!   follow's thread, of the PostgreSQL backends serving the bench's database and of the
//!   Mongo-wire server (`--mongo-pid`);
//! - the lag at a steady rate: changes written at `--rate` per second for `--seconds` while the
//!   follow runs; every 20 ms the age of the oldest change acknowledged by the server and not yet
//!   applied (its acknowledgement later than the wall time of the last change the follow
//!   recorded; 0 when none), its median, 99th percentile and maximum.
//!
//! The changes are the example application's workload (`--workload example`, the default:
//! [`schema::generator::changes`] on its data at `--scale`: inserts, junction and child array
//! pushes and pops, deletes of referenced documents, documents made invalid, transactions), or
//! inserts of the fixture's orders (`--workload orders`).
//!
//! ```sh
//! MIGRATOR_TEST_MONGO_URI=mongodb://127.0.0.1:27017 cargo run --profile bench-release \
//!     -p migrator-e2e --bin bench -- follow --backlog 20000 --rate 1000 --seconds 10 --mongo-pid PID
//! ```

mod cpu;
mod orders;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use migrator::follow::{FollowOptions, FollowProgress, OnInvalid};
use migrator::{Schema, SchemaError};
use migrator_e2e::fixture;
use migrator_e2e::mongo::MongoDb;
use migrator_e2e::pg::TestDb;
use schema::generator::changes::writer::{ChangeWriter, Pace};
use schema::generator::changes::ChangePlan;
use schema::generator::mongo::{InsertOptions, MongoTarget};
use schema::generator::{FaultConfig, Generator, GeneratorConfig};

/// Measure the follow: the rate it applies a backlog at, and its lag at a steady rate.
#[derive(Debug, Parser)]
#[command(name = "bench follow")]
struct FollowArgs {
    /// The changes: the example application's workload, or inserts of the fixture's orders.
    #[arg(long, value_enum, default_value = "example")]
    workload: Workload,
    /// Scale of the example's data (1 is about 100,000 documents).
    #[arg(long, default_value_t = 0.1)]
    scale: f64,
    /// Changes written before the follow starts.
    #[arg(long, default_value_t = 20_000)]
    backlog: u64,
    /// Changes per second in the steady phase.
    #[arg(long, default_value_t = 1_000.0)]
    rate: f64,
    /// Length of the steady phase.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Most changes per follow transaction (`--follow-batch`).
    #[arg(long, default_value_t = 1_000)]
    batch: usize,
    /// The Mongo-wire server's process, to measure its CPU.
    #[arg(long)]
    mongo_pid: Option<u32>,
    /// The generator's and the workload's seed.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Workload {
    Example,
    Orders,
}

/// Writes the changes.
enum Writer {
    Example(ChangeWriter, Box<ChangePlan>),
    Orders(orders::Orders),
}

impl Writer {
    /// Writes `n` changes as fast as the server takes them; calls `acked` with the time (ms
    /// since the epoch) each was acknowledged at. Returns the writes made (change events).
    async fn write(
        &mut self,
        n: u64,
        rate: Option<f64>,
        acked: &(dyn Fn(u64) + Sync),
    ) -> anyhow::Result<u64> {
        match self {
            Writer::Example(writer, plan) => {
                let mut writes = 0;
                let pace = Pace {
                    count: Some(n),
                    rate,
                };
                writer
                    .run(plan, &pace, &AtomicBool::new(false), |w| {
                        acked(w.writes - writes);
                        writes = w.writes;
                    })
                    .await?;
                Ok(writes)
            }
            Writer::Orders(orders) => match rate {
                None => orders.insert(n, 1_000).await.map(|()| n),
                Some(rate) => {
                    // A batch every 10 ms.
                    let per_tick = (rate / 100.0).max(1.0) as u64;
                    let (begun, mut written) = (Instant::now(), 0);
                    while written < n {
                        let take = per_tick.min(n - written);
                        orders.insert(take, take).await?;
                        acked(take);
                        written += take;
                        let due = begun + Duration::from_secs_f64(written as f64 / rate);
                        tokio::time::sleep_until(due.into()).await;
                    }
                    Ok(n)
                }
            },
        }
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Runs a follow on a thread of its own until `stop` (or caught up, with `until`); returns its
/// progress and the thread's CPU seconds.
fn start_follow(
    schema: fn() -> Result<Schema, SchemaError>,
    options: FollowOptions,
    source: Arc<dyn migrator::source::Source>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<anyhow::Result<(FollowProgress, f64)>> {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let schema = schema()?;
        let quiet = |_: &FollowProgress| {};
        let before = cpu::thread_seconds();
        let done = runtime.block_on(migrator::follow::follow(
            &schema, source, &options, stop, &quiet,
        ))?;
        Ok((done, cpu::thread_seconds() - before))
    })
}

fn joined<T>(handle: std::thread::JoinHandle<anyhow::Result<T>>) -> anyhow::Result<T> {
    handle
        .join()
        .map_err(|_| anyhow::anyhow!("a bench thread panicked"))?
}

pub fn main(argv: &[String]) -> anyhow::Result<()> {
    let args =
        FollowArgs::parse_from(std::iter::once("bench follow".to_string()).chain(argv.to_vec()));
    println!("load average before: {}", cpu::load_average());
    let mongo = MongoDb::create("bench_follow");
    let db = TestDb::create("bench_follow");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (schema_of, mut writer): (fn() -> Result<Schema, SchemaError>, Writer) = match args.workload
    {
        Workload::Example => {
            let generator = Generator::new(GeneratorConfig {
                seed: args.seed,
                scale: args.scale,
                faults: FaultConfig::none(),
            })?;
            MongoTarget::connect(mongo.uri(), Some(mongo.name()))?.insert(
                &generator,
                &InsertOptions::default(),
                |_| {},
            )?;
            let writer = runtime.block_on(ChangeWriter::connect(mongo.uri(), mongo.name()))?;
            let plan = Box::new(ChangePlan::new(&generator, args.seed));
            (schema::example::schema, Writer::Example(writer, plan))
        }
        Workload::Orders => {
            orders::seed(&mongo)?;
            let client = runtime.block_on(mongodb::Client::with_uri_str(mongo.uri()))?;
            let orders = client.database(mongo.name()).collection("orders");
            (
                fixture::schema,
                Writer::Orders(orders::Orders {
                    orders,
                    next: 1_000_000,
                }),
            )
        }
    };
    db.run(&schema_of()?, Arc::new(mongo.source()), db.config())?;
    let options = FollowOptions {
        pg_url: db.url().to_string(),
        target_schema: "public".into(),
        state_schema: "_migrator".into(),
        uri: mongo.uri().to_string(),
        database: mongo.name().to_string(),
        max_batch: args.batch,
        max_wait: Duration::from_millis(100),
        on_invalid: OnInvalid::Delete,
        until_caught_up: Some(Duration::ZERO),
        progress_every: Duration::from_secs(3600),
        recopy: false,
        jobs: 2,
    };

    // The backlog, then the follow's pace over it.
    let events = runtime.block_on(writer.write(args.backlog, None, &|_| {}))?;
    let meter = cpu::BackendMeter::start(db.url(), db.name());
    let server_before = cpu::process_seconds(args.mongo_pid);
    let started = Instant::now();
    let (done, client_cpu) = joined(start_follow(
        schema_of,
        options.clone(),
        Arc::new(mongo.source()),
        Arc::default(),
    ))?;
    let took = started.elapsed().as_secs_f64();
    let server_cpu = cpu::process_seconds(args.mongo_pid) - server_before;
    let pg_cpu = meter.stop()?;
    let per_1000 = |s: f64| s / (done.applied.max(1) as f64) * 1000.0;
    println!(
        "follow, backlog ({:?} workload): {} changes ({events} written) applied in {took:.2} s: {:.0} changes/s; \
         CPU s per 1,000 changes: follow {:.3}, PostgreSQL backends {:.3}, Mongo-wire server {}",
        args.workload,
        done.applied,
        done.applied as f64 / took,
        per_1000(client_cpu),
        per_1000(pg_cpu),
        match args.mongo_pid {
            Some(_) => format!("{:.3}", per_1000(server_cpu)),
            None => "not measured (--mongo-pid)".into(),
        },
    );

    // The steady rate, the follow running meanwhile.
    let stop = Arc::new(AtomicBool::new(false));
    let follow = start_follow(
        schema_of,
        FollowOptions {
            until_caught_up: None,
            ..options
        },
        Arc::new(mongo.source()),
        Arc::clone(&stop),
    );
    let acks: Arc<Mutex<Vec<i64>>> = Arc::default();
    let writing = Arc::new(AtomicBool::new(true));
    let sampler = sample_lag(
        db.url().to_string(),
        Arc::clone(&acks),
        Arc::clone(&writing),
    );
    let meter = cpu::BackendMeter::start(db.url(), db.name());
    let server_before = cpu::process_seconds(args.mongo_pid);
    let begun = Instant::now();
    let n = (args.rate * args.seconds as f64) as u64;
    let acked = |k: u64| {
        if let Ok(mut a) = acks.lock() {
            let now = now_ms();
            a.extend(std::iter::repeat_n(now, usize::try_from(k).unwrap_or(0)));
        }
    };
    let wrote = runtime.block_on(writer.write(n, Some(args.rate), &acked))?;
    let achieved = n as f64 / begun.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_millis(1500));
    writing.store(false, Ordering::SeqCst);
    let mut lags = joined(sampler)?;
    stop.store(true, Ordering::SeqCst);
    let (steady, client_cpu) = joined(follow)?;
    let server_cpu = cpu::process_seconds(args.mongo_pid) - server_before;
    let pg_cpu = meter.stop()?;
    let per_1000 = |s: f64| s / (steady.applied.max(1) as f64) * 1000.0;
    lags.sort_by(f64::total_cmp);
    let at = |q: f64| {
        lags.get(((lags.len() as f64 - 1.0) * q) as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    println!(
        "follow, steady: {n} changes ({wrote} written, {} applied) at {achieved:.0}/s (asked {}/s) for {} s: \
         lag median {:.0} ms, p99 {:.0} ms, max {:.0} ms ({} samples every 20 ms); CPU s per 1,000 changes: \
         follow {:.3}, PostgreSQL backends {:.3}, Mongo-wire server (with the writes) {}",
        steady.applied,
        args.rate,
        args.seconds,
        at(0.5),
        at(0.99),
        at(1.0),
        lags.len(),
        per_1000(client_cpu),
        per_1000(pg_cpu),
        match args.mongo_pid {
            Some(_) => format!("{:.3}", per_1000(server_cpu)),
            None => "not measured (--mongo-pid)".into(),
        },
    );
    println!("load average after: {}", cpu::load_average());
    Ok(())
}

/// Every 20 ms while `writing`: the age of the oldest change acknowledged after the wall time of
/// the last change the follow applied (0 when there is none).
fn sample_lag(
    url: String,
    acks: Arc<Mutex<Vec<i64>>>,
    writing: Arc<AtomicBool>,
) -> std::thread::JoinHandle<anyhow::Result<Vec<f64>>> {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let mut conn = runtime.block_on(<sqlx::PgConnection as sqlx::Connection>::connect(&url))?;
        let mut lags = Vec::new();
        while writing.load(Ordering::SeqCst) {
            let applied: Option<i64> = runtime
                .block_on(
                    sqlx::query_scalar(
                        "SELECT (extract(epoch FROM change_wall_time) * 1000)::bigint FROM _migrator.follow",
                    )
                    .fetch_one(&mut conn),
                )
                .context("reading the follow's last change")?;
            let applied = applied.context(
                "the follow recorded no wall time: the server's change events have no `wallTime`",
            )?;
            let now = now_ms();
            let oldest = {
                let acks = acks.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
                let i = acks.partition_point(|&at| at <= applied);
                acks.get(i).copied()
            };
            lags.push(oldest.map_or(0.0, |at| (now - at).max(0) as f64));
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(lags)
    })
}
