//! `bench merges`: what merging ranges as reading goes saves the Mongo-wire server. The user
//! directory (`--users` users) is loaded by migrator from the live server with its `users`
//! planned into many ranges (`--split edges --partitions P`), in pairs: once as migrator
//! reads (ranges merged as reading goes), once with `MIGRATOR_MEASURE_WITHOUT_MERGES=1` (every
//! planned range its own query), alternating which goes first. Each run prints the server's CPU
//! seconds (its process's `/proc/<pid>/stat`), the `find` and `getMore` commands it answered
//! (`serverStatus`), the client's CPU and how the run read `users` (its report's split reason).
//!
//! ```text
//! cargo run --profile bench-release -p migrator-e2e --bin bench -- merges --users 100000 --partitions 32 --pairs 5
//! ```

use std::path::Path;

use anyhow::{bail, Context};
use bson::{doc, Document};
use clap::Parser;

use crate::large::generate;
use crate::measure::{self, CpuMeter, Job};
use crate::pg::Server;
use crate::report::median;
use crate::setup::{self, MongoServer};

#[derive(Debug, Parser)]
#[command(name = "bench merges")]
pub struct MergesArgs {
    /// Users in the collection planned into ranges.
    #[arg(long, default_value_t = 100_000)]
    users: u64,
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
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    pg_url: String,
}

/// What one run cost the Mongo-wire server, and the client.
#[derive(Debug, Clone)]
struct Run {
    merges: bool,
    server_cpu: f64,
    finds: i64,
    get_mores: i64,
    client_cpu: f64,
    split: String,
}

/// `bench merges ARGS...`.
pub async fn main(argv: &[String]) -> anyhow::Result<()> {
    let args = MergesArgs::parse_from(argv);
    let out = setup::repository().join("target/bench/merges");
    let logs = out.join("logs");
    std::fs::create_dir_all(&logs)?;
    let data = generate(&out, args.seed, args.users)?;
    let server = Server {
        url: args.pg_url.clone(),
    };
    let (backend, _) = server.backend_and_version().await?;
    let meter = CpuMeter::new(measure::postmaster_of(backend)?)?;
    let mongo = MongoServer::start(&out)?;
    let pid = mongo.pid().context("the Mongo-wire server's process")?;
    let database = format!("bench_merges_{}", args.users);
    setup::load_mongo(&mongo, &database, &data).await?;
    let client = mongodb::Client::with_uri_str(&mongo.url).await?;
    let admin = client.database("admin");

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
                server_cpu: after.0 - before.0,
                finds: after.1 .0 - before.1 .0,
                get_mores: after.1 .1 - before.1 .1,
                client_cpu: cost.client_cpu_seconds(),
                split: report["collections"]["users"]["split"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            };
            println!(
                "pair {pair} merges {:<3}: server {:.2} CPU s, {} find, {} getMore; client {:.2} CPU s; {}",
                if merges { "on" } else { "off" },
                run.server_cpu,
                run.finds,
                run.get_mores,
                run.client_cpu,
                run.split
            );
            runs.push(run);
        }
    }
    drop(mongo);
    let of = |merges: bool, f: fn(&Run) -> f64| -> Vec<f64> {
        runs.iter().filter(|r| r.merges == merges).map(f).collect()
    };
    let differences: Vec<f64> = of(true, |r| r.server_cpu)
        .iter()
        .zip(of(false, |r| r.server_cpu))
        .map(|(on, off)| on - off)
        .collect();
    println!(
        "\n{} users in {} ranges, --jobs {}, load {}: medians of {} pairs\n\
         merges on:  server {:.2} CPU s, {} find; client {:.2} CPU s\n\
         merges off: server {:.2} CPU s, {} find; client {:.2} CPU s\n\
         server CPU on - off per pair: {:?} (median {:+.2} s)",
        args.users,
        args.partitions,
        args.jobs,
        load_average(),
        args.pairs,
        median(of(true, |r| r.server_cpu)),
        median(of(true, |r| r.finds as f64)),
        median(of(true, |r| r.client_cpu)),
        median(of(false, |r| r.server_cpu)),
        median(of(false, |r| r.finds as f64)),
        median(of(false, |r| r.client_cpu)),
        differences
            .iter()
            .map(|d| format!("{d:+.2}"))
            .collect::<Vec<_>>(),
        median(differences.clone()),
    );
    Ok(())
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
