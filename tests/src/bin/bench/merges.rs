//! `bench merges`: what merging ranges as reading goes saves. The user directory (`--users`
//! users signed up along `--timeline`: evenly, in a burst of seconds, in bursts a year apart, or
//! mostly in the last month) is loaded by migrator from the live server with its `users`
//! planned into many ranges (`--split edges --partitions P`, cut evenly by the `_id`s'
//! timestamps), in pairs: once as migrator reads (ranges merged as reading goes), once with
//! `MIGRATOR_MEASURE_WITHOUT_MERGES=1` (every planned range its own query), alternating which
//! goes first. Each run prints the Mongo-wire server's CPU seconds (its process's
//! `/proc/<pid>/stat`), the `find` and `getMore` commands it answered (`serverStatus`), the
//! client's CPU, PostgreSQL's (a server of the bench's own, as `bench large` starts), their
//! total and how the run read `users` (its report's split reason).
//!
//! ```text
//! cargo run --profile bench-release -p migrator-e2e --bin bench -- merges --users 100000 --partitions 32 --pairs 5 --timeline tail
//! ```

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use bson::{doc, Document};
use clap::Parser;
use schema::accounts::generator::Timeline;

use crate::large::generate;
use crate::measure::{self, CpuMeter, Job};
use crate::pg::Server;
use crate::private_pg::PrivateServer;
use crate::report::median;
use crate::setup::{self, MongoServer};

#[derive(Debug, Parser)]
#[command(name = "bench merges")]
pub struct MergesArgs {
    /// Users in the collection planned into ranges.
    #[arg(long, default_value_t = 100_000)]
    users: u64,
    /// When they signed up (their `_id`s' timestamps): even, burst, gaps or tail.
    #[arg(long, default_value = "even", value_parser = timeline)]
    timeline: Timeline,
    /// migrator's `--partitions` (the ranges `users` is planned into).
    #[arg(long, default_value_t = 32)]
    partitions: usize,
    /// migrator's `--jobs`.
    #[arg(long, default_value_t = 2)]
    jobs: usize,
    /// Pairs of runs (merges on, merges off).
    #[arg(long, default_value_t = 5)]
    pairs: usize,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// A PostgreSQL server to load into (runs create their own databases). By default the
    /// bench starts a server of its own, so that the PostgreSQL CPU it measures is the runs'
    /// alone: on a given server it counts every backend's, other clients' too.
    #[arg(long)]
    pg_url: Option<String>,
    /// Where data and logs go.
    #[arg(long, default_value_os_t = setup::repository().join("target/bench"))]
    out: PathBuf,
}

fn timeline(name: &str) -> Result<Timeline, String> {
    Timeline::named(name).ok_or_else(|| format!("{name}: not one of even, burst, gaps, tail"))
}

/// What one run cost the Mongo-wire server, the client and PostgreSQL.
#[derive(Debug, Clone)]
struct Run {
    merges: bool,
    wall: f64,
    server_cpu: f64,
    finds: i64,
    get_mores: i64,
    client_cpu: f64,
    postgres_cpu: f64,
    split: String,
}

impl Run {
    fn total(&self) -> f64 {
        self.server_cpu + self.client_cpu + self.postgres_cpu
    }
}

/// `bench merges ARGS...`.
pub async fn main(argv: &[String]) -> anyhow::Result<()> {
    let args = MergesArgs::parse_from(argv);
    let out = args.out.join("merges");
    let logs = out.join("logs");
    std::fs::create_dir_all(&logs)?;
    let data = generate(&out, args.seed, args.users, args.timeline)?;
    let private = match &args.pg_url {
        Some(_) => None,
        None => Some(PrivateServer::start(&out.join("postgres.log"))?),
    };
    let server = Server {
        url: private
            .as_ref()
            .map(|p| p.url.clone())
            .or_else(|| args.pg_url.clone())
            .unwrap_or_default(),
    };
    let (backend, _) = server.backend_and_version().await?;
    let meter = CpuMeter::new(measure::postmaster_of(backend)?)?;
    let mongo = MongoServer::start(&out)?;
    let pid = mongo.pid().context("the Mongo-wire server's process")?;
    let database = format!("bench_merges_{}_{}", args.users, args.timeline.name());
    setup::load_mongo(&mongo, &database, &data).await?;
    let client = mongodb::Client::with_uri_str(&mongo.url).await?;
    let admin = client.database("admin");
    let load_before = load_average();

    let mut runs = Vec::new();
    for pair in 1..=args.pairs {
        let order = if pair % 2 == 1 {
            [true, false]
        } else {
            [false, true]
        };
        for merges in order {
            let name = format!(
                "livemerge_bench_{}_{pair}",
                if merges { "on" } else { "off" }
            );
            let url = server.fresh_database(&name).await?;
            let before = (meter.process_cpu_seconds(pid), commands(&admin).await?);
            let log = logs.join(&name);
            let cost = meter.run(&job(&args, &url, &mongo.uri(&database), merges, &log)?)?;
            let after = (meter.process_cpu_seconds(pid), commands(&admin).await?);
            let report: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(log.with_extension("out"))?)
                    .context("reading the run's JSON report")?;
            let rows = crate::pg::fingerprint(&url, "public").await?;
            for (table, expected) in &data.manifest.tables {
                let got = rows.tables.get(table).map_or(0, |t| t.0);
                if u64::try_from(got).ok() != Some(*expected) {
                    bail!("{table}: {got} rows, the manifest says {expected}");
                }
            }
            server.drop_database(&name).await?;
            let run = Run {
                merges,
                wall: cost.wall_seconds,
                server_cpu: after.0 - before.0,
                finds: after.1 .0 - before.1 .0,
                get_mores: after.1 .1 - before.1 .1,
                client_cpu: cost.client_cpu_seconds(),
                postgres_cpu: cost.server_cpu_seconds,
                split: report["collections"]["users"]["split"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            };
            println!(
                "pair {pair} merges {:<3}: {:.1} s wall; CPU s: server {:.2}, client {:.2}, \
                 PostgreSQL {:.2}, total {:.2}; {} find, {} getMore; {}",
                if merges { "on" } else { "off" },
                run.wall,
                run.server_cpu,
                run.client_cpu,
                run.postgres_cpu,
                run.total(),
                run.finds,
                run.get_mores,
                run.split
            );
            runs.push(run);
        }
    }
    drop(mongo);
    drop(private);
    println!("{}", summary(&args, &runs, &load_before));
    Ok(())
}

/// The medians of each way, and on - off pair by pair.
fn summary(args: &MergesArgs, runs: &[Run], load_before: &str) -> String {
    let of = |merges: bool, f: fn(&Run) -> f64| -> Vec<f64> {
        runs.iter().filter(|r| r.merges == merges).map(f).collect()
    };
    let paired = |f: fn(&Run) -> f64| -> String {
        let differences: Vec<f64> = of(true, f)
            .iter()
            .zip(of(false, f))
            .map(|(on, off)| on - off)
            .collect();
        format!(
            "{} (median {:+.2} s)",
            differences
                .iter()
                .map(|d| format!("{d:+.2}"))
                .collect::<Vec<_>>()
                .join(", "),
            median(differences.clone())
        )
    };
    let way = |merges: bool| {
        format!(
            "server {:.2}, client {:.2}, PostgreSQL {:.2}, total {:.2} CPU s; {} find, {} getMore",
            median(of(merges, |r| r.server_cpu)),
            median(of(merges, |r| r.client_cpu)),
            median(of(merges, |r| r.postgres_cpu)),
            median(of(merges, Run::total)),
            median(of(merges, |r| r.finds as f64)),
            median(of(merges, |r| r.get_mores as f64)),
        )
    };
    format!(
        "\n{} users ({} timeline) in {} ranges, --jobs {}, load {load_before} at the start, {} \
         at the end: medians of {} pairs\n\
         merges on:  {}\n\
         merges off: {}\n\
         on - off per pair: server CPU {}; total CPU {}",
        args.users,
        args.timeline.name(),
        args.partitions,
        args.jobs,
        load_average(),
        args.pairs,
        way(true),
        way(false),
        paired(|r| r.server_cpu),
        paired(Run::total),
    )
}

/// The run of `cli-accounts migrate` from the live server, merges on or off.
fn job(args: &MergesArgs, url: &str, uri: &str, merges: bool, log: &Path) -> anyhow::Result<Job> {
    let mut env = Vec::new();
    if !merges {
        env.push((
            "MIGRATOR_MEASURE_WITHOUT_MERGES".to_string(),
            "1".to_string(),
        ));
    }
    let args = [
        "cli-accounts",
        "--pg-url",
        url,
        "migrate",
        "--source",
        uri,
        "--split",
        "edges",
        "--partitions",
        &args.partitions.to_string(),
        "--jobs",
        &args.jobs.to_string(),
        "--json",
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    Ok(Job {
        program: std::env::current_exe()?,
        args,
        env,
        dir: None,
        log: log.to_path_buf(),
    })
}

/// The `find` and `getMore` commands the server has answered so far.
async fn commands(admin: &mongodb::Database) -> anyhow::Result<(i64, i64)> {
    let status = admin.run_command(doc! {"serverStatus": 1}).await?;
    let total = |name: &str| -> i64 {
        status
            .get_document("metrics")
            .and_then(|m| m.get_document("commands"))
            .and_then(|c| c.get_document(name))
            .ok()
            .and_then(|c: &Document| c.get("total"))
            .and_then(|t| match t {
                bson::Bson::Int32(n) => Some(i64::from(*n)),
                bson::Bson::Int64(n) => Some(*n),
                bson::Bson::Double(n) => Some(*n as i64),
                _ => None,
            })
            .unwrap_or(0)
    };
    Ok((total("find"), total("getMore")))
}

/// The machine's load averages over 1, 5 and 15 minutes.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}
