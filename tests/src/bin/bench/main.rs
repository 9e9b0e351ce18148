//! The benchmark of issue 5: migrator against the physical ceiling of PostgreSQL and against the
//! scripts users write instead, on the same data, the same machine, the same tables.
//!
//! ```text
//! cargo run --profile bench-release -p migrator-e2e --bin bench -- --scale 1 --runs 3 --memory-factor 10,30
//! ```
//!
//! It generates the example application's data without injected faults (so every contender must
//! produce identical tables), runs every contender `--runs` times on a fresh database each, checks
//! each result against migrator's tables, prints the medians with their ratios, writes them as
//! JSON, and runs migrator once more at ten times the scale to show that its memory stays flat.
//!
//! Two other modes serve the runs: `bench measure REPORT -- PROGRAM ARGS...` (the wrapper that
//! measures a client process) and `bench cli ARGS...` (migrator's CLI over the example schema;
//! `bench cli-accounts` over the user directory's). `bench large` is the large-collection
//! workload ([`large`]).

mod contenders;
mod follow;
mod large;
mod measure;
mod merges;
mod pg;
mod phases;
mod private_pg;
mod report;
mod setup;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use serde_json::json;

use contenders::{Bench, Contender, RunResult};
use measure::CpuMeter;
use pg::Server;
use report::MemoryPoint;

/// Benchmark migrator against the PostgreSQL ceiling and the Python and Node baselines.
#[derive(Debug, Parser)]
#[command(name = "bench")]
struct Args {
    /// Scale of the example data (1 is about 100,000 documents).
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Runs of every contender; the table shows medians.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Generator seed.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Sessions for migrator (`--jobs`) and for the ceiling's COPY.
    #[arg(long, default_value_t = 2)]
    jobs: usize,
    /// The memory check runs migrator once more at each of these multiples of the scale
    /// (`10,30`; 0: skip it).
    #[arg(long, value_delimiter = ',', default_value = "10")]
    memory_factor: Vec<f64>,
    /// Contenders to run (default: all).
    #[arg(long, value_delimiter = ',', value_parser = Contender::parse)]
    only: Vec<Contender>,
    /// The PostgreSQL server (any database on it; runs create their own).
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    pg_url: String,
    /// A running Mongo-wire server (default: start SecantusDB's with `.ci/secantus.sh`).
    #[arg(long, env = "BENCH_MONGO_URL")]
    mongo_url: Option<String>,
    /// Where data, logs and results go.
    #[arg(long, default_value_os_t = setup::repository().join("target/bench"))]
    out: PathBuf,
    /// Keep every run's database (named `bench_<contender>_<run>`).
    #[arg(long)]
    keep_databases: bool,
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    match argv.get(1).map(String::as_str) {
        Some("measure") => return measure::wrapper_main(&argv[2..]),
        Some("cli") => {
            let rest = argv[..1].iter().chain(&argv[2..]).cloned();
            return migrator::cli::main_from(rest, schema::example::schema);
        }
        Some("cli-accounts") => {
            let rest = argv[..1].iter().chain(&argv[2..]).cloned();
            return migrator::cli::main_from(rest, schema::accounts::schema);
        }
        Some("follow") => {
            return match follow::main(&argv[2..]) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::FAILURE
                }
            };
        }
        Some("merges") => {
            let ran = tokio::runtime::Runtime::new()
                .map_err(anyhow::Error::from)
                .and_then(|runtime| runtime.block_on(merges::main(&argv[1..])));
            return match ran {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::FAILURE
                }
            };
        }
        Some("large") => {
            let ran = tokio::runtime::Runtime::new()
                .map_err(anyhow::Error::from)
                .and_then(|runtime| runtime.block_on(large::main(&argv[1..])));
            return match ran {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::FAILURE
                }
            };
        }
        _ => {}
    }
    let args = Args::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: starting the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(bench(args, argv.join(" "))) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn bench(args: Args, command: String) -> anyhow::Result<()> {
    let contenders: Vec<Contender> = if args.only.is_empty() {
        Contender::ALL.to_vec()
    } else {
        let mut c = args.only.clone();
        c.sort();
        c.dedup();
        c
    };
    let profile =
        setup::build_profile(&std::env::current_exe().context("finding the bench binary")?);
    eprintln!("migrator runs as this binary, built with the `{profile}` cargo profile");
    if profile != setup::PROFILE {
        eprintln!(
            "warning: the published figures come from `--profile {}` (fat LTO, one codegen unit); this build's differ",
            setup::PROFILE
        );
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let logs = args.out.join("logs");
    std::fs::create_dir_all(&logs)?;
    let server = Server {
        url: args.pg_url.clone(),
    };
    let (backend, version) = server.backend_and_version().await?;
    let meter = CpuMeter::new(measure::postmaster_of(backend)?)?;

    eprintln!(
        "generating the example data at scale {} (seed {}) WITHOUT injected faults: every contender must produce identical tables",
        args.scale, args.seed
    );
    let data = setup::generate(&args.out, args.seed, args.scale)?;
    let mapping = args.out.join("mapping.json");
    setup::write_mapping(&mapping)?;

    let python = if contenders.contains(&Contender::Python) {
        match setup::python(&args.out) {
            Ok(p) => Some(p),
            Err(e) => {
                eprintln!("warning: the Python baseline will not run: {e:#}");
                None
            }
        }
    } else {
        None
    };
    let node = if contenders.contains(&Contender::Node) {
        match setup::node() {
            Ok(d) => Some(d),
            Err(e) => {
                eprintln!("warning: the Node baseline will not run: {e:#}");
                None
            }
        }
    } else {
        None
    };
    let mongo = if contenders.contains(&Contender::MigratorMongo) {
        let server = match args.mongo_url.clone() {
            Some(url) => Ok(setup::MongoServer::external(url)),
            None => setup::MongoServer::start(&args.out),
        };
        match server {
            Ok(server) => {
                let db = format!("bench_scale_{}", setup::scale_label(args.scale));
                match setup::load_mongo(&server, &db, &data).await {
                    Ok(()) => Some((server, db)),
                    Err(e) => {
                        eprintln!("warning: the Mongo-wire source will not run: {e:#}");
                        None
                    }
                }
            }
            Err(e) => {
                eprintln!("warning: the Mongo-wire source will not run: {e:#}");
                None
            }
        }
    } else {
        None
    };

    let archive = if contenders.contains(&Contender::MigratorArchive) {
        Some(setup::write_archive(&data).context("writing the gzip archive")?)
    } else {
        None
    };

    // The server writes and reads the ceiling's files: a directory it can use.
    let ceiling_dir =
        std::env::temp_dir().join(format!("migrator-bench-ceiling-{}", std::process::id()));
    std::fs::create_dir_all(&ceiling_dir)?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&ceiling_dir, std::fs::Permissions::from_mode(0o777))?;
    }
    let mut bench = Bench {
        server: server.clone(),
        meter: meter.clone(),
        logs: logs.clone(),
        data: data.clone(),
        jobs: args.jobs,
        mapping,
        python,
        node,
        mongo_uri: mongo.as_ref().map(|(s, db)| s.uri(db)),
        mongo_pid: mongo.as_ref().and_then(|(s, _)| s.pid()),
        archive,
        ceiling_dir: ceiling_dir.clone(),
        ceiling_files: Vec::new(),
        reference: None,
        keep_databases: args.keep_databases,
        prefix: "bench_".into(),
    };

    let mut results: Vec<RunResult> = Vec::new();
    let mut failures: Vec<String> = Vec::new();
    // migrator runs first in every round: its first run is the reference the others are
    // compared with, and the ceiling's files are exported from it.
    let mut order = contenders.clone();
    if !order.contains(&Contender::Migrator) {
        order.insert(0, Contender::Migrator);
    }
    for run in 1..=args.runs {
        for &contender in &order {
            if !contenders.contains(&contender) && run > 1 {
                continue;
            }
            let skip = match contender {
                Contender::Python => bench.python.is_none(),
                Contender::Node => bench.node.is_none(),
                Contender::MigratorMongo => bench.mongo_uri.is_none(),
                _ => false,
            };
            if skip {
                continue;
            }
            eprint!("run {run}/{}: {:<26}", args.runs, contender.label());
            match bench.run(contender, run).await {
                Ok(r) => {
                    eprintln!(
                        " {:>7.2} s wall, client {:.2} s CPU {:.0} MB, server {:.2} s CPU{}",
                        r.cost.wall_seconds,
                        r.cost.client_cpu_seconds(),
                        r.cost.client.max_rss_kb as f64 / 1024.0,
                        r.cost.server_cpu_seconds,
                        if r.differences.is_empty() {
                            String::new()
                        } else {
                            format!(" INVALID: {}", r.differences.join("; "))
                        }
                    );
                    if contenders.contains(&contender) {
                        results.push(r);
                    }
                }
                Err(e) => {
                    eprintln!(" failed: {e:#}");
                    failures.push(format!("{} run {run}: {e:#}", contender.key()));
                    if contender == Contender::Migrator && bench.reference.is_none() {
                        return Err(e.context("migrator's first run is the reference; stopping"));
                    }
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&ceiling_dir);
    drop(mongo);

    let documents = data.manifest.documents;
    let rows = data.rows();
    let summaries: Vec<report::Summary> = contenders
        .iter()
        .filter_map(|&c| report::summarize(c, &results, documents, rows))
        .collect();

    let mut memory = Vec::new();
    let factors: Vec<f64> = args
        .memory_factor
        .iter()
        .copied()
        .filter(|f| *f > 0.0)
        .collect();
    let small = summaries
        .iter()
        .find(|s| s.contender == Contender::Migrator);
    if let (Some(small), false) = (small, factors.is_empty()) {
        memory.push(MemoryPoint {
            scale: args.scale,
            documents,
            wall_seconds: small.wall_seconds,
            peak_rss_mb: small.peak_rss_mb,
        });
    }
    for factor in factors {
        if small.is_some() {
            let scale = args.scale * factor;
            eprintln!("memory check: migrator once at scale {scale}");
            let big = setup::generate(&args.out, args.seed, scale)?;
            let mut big_bench = Bench {
                server: bench.server.clone(),
                meter: bench.meter.clone(),
                logs: bench.logs.clone(),
                data: big.clone(),
                jobs: bench.jobs,
                mapping: bench.mapping.clone(),
                python: None,
                node: None,
                mongo_uri: None,
                mongo_pid: None,
                archive: None,
                reference: None,
                ceiling_files: Vec::new(),
                ceiling_dir: std::env::temp_dir()
                    .join(format!("migrator-bench-memory-{}", std::process::id())),
                keep_databases: bench.keep_databases,
                prefix: format!("bench_memory_{}_", setup::scale_label(scale)),
            };
            std::fs::create_dir_all(&big_bench.ceiling_dir)?;
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(
                    &big_bench.ceiling_dir,
                    std::fs::Permissions::from_mode(0o777),
                )?;
            }
            let r = big_bench.run(Contender::Migrator, 1).await;
            let _ = std::fs::remove_dir_all(&big_bench.ceiling_dir);
            let r = r?;
            eprintln!(
                "scale {scale}: {:.2} s wall, peak RSS {:.0} MB",
                r.cost.wall_seconds,
                r.cost.client.max_rss_kb as f64 / 1024.0
            );
            memory.push(MemoryPoint {
                scale,
                documents: big.manifest.documents,
                wall_seconds: r.cost.wall_seconds,
                peak_rss_mb: r.cost.client.max_rss_kb as f64 / 1024.0,
            });
        }
    }

    let targets = report::targets(&summaries, &results, &memory);
    let machine = machine(&version);
    let table = report::table(&summaries);
    println!();
    println!(
        "Scale {} (seed {}): {} documents in {} collections -> {} rows in {} tables, {:.1} MB of BSON.",
        args.scale,
        args.seed,
        documents,
        data.manifest.collections.len(),
        rows,
        data.manifest.tables.len(),
        data.manifest.bytes as f64 / 1e6
    );
    println!("Generated WITHOUT injected faults, so every contender must produce identical tables: each result is checked (row counts, md5 of every table, foreign keys, indexes) against migrator's; a different one is INVALID.");
    println!(
        "Medians of {} runs, each on a fresh database after a CHECKPOINT; {} sessions for migrator (--jobs) and the ceiling. migrator's time includes creating the tables, building the keys, resolving references and adding foreign keys and indexes; `validate` runs after it and is timed apart.",
        args.runs, args.jobs
    );
    println!(
        "Machine: {}. Built with the `{profile}` cargo profile.",
        machine["summary"].as_str().unwrap_or_default()
    );
    println!();
    print!("{table}");
    println!();
    println!("Phases (medians):");
    print!("{}", report::phases_text(&summaries));
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let cpu_floor = report::cpu_floor_text(&summaries, cores);
    println!();
    println!("Where the time goes (medians; every process shares the same {cores} cores):");
    print!("{cpu_floor}");
    if !memory.is_empty() {
        println!();
        println!("Memory (migrator, mongodump dir):");
        for m in &memory {
            println!(
                "- scale {}: {} documents, {:.2} s, peak RSS {:.0} MB",
                m.scale, m.documents, m.wall_seconds, m.peak_rss_mb
            );
        }
    }
    println!();
    println!("Targets:");
    print!("{}", report::targets_text(&targets));
    for f in &failures {
        println!("- FAILED: {f}");
    }

    let results_path = args.out.join("results.json");
    let json = json!({
        "command": command,
        "profile": profile,
        "machine": machine,
        "scale": args.scale,
        "seed": args.seed,
        "runs": args.runs,
        "jobs": args.jobs,
        "faults": "none",
        "data": {
            "documents": documents,
            "rows": rows,
            "bytes": data.manifest.bytes,
            "collections": data.manifest.collections.len(),
            "tables": data.manifest.tables.len(),
        },
        "summaries": summaries,
        "runs_detail": results,
        "memory": memory,
        "targets": targets,
        "failures": failures,
        "table_markdown": table,
        "cpu_floor": cpu_floor,
    });
    std::fs::write(&results_path, serde_json::to_string_pretty(&json)?)
        .with_context(|| format!("writing {}", results_path.display()))?;
    println!();
    println!("JSON: {}", results_path.display());
    println!("Logs: {}", logs.display());
    Ok(())
}

/// What the figures were measured on.
fn machine(pg_version: &str) -> serde_json::Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let memory_gb = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0 / 1024.0);
    let pg = pg_version.split(" on ").next().unwrap_or(pg_version);
    json!({
        "cpu": model,
        "cores": cores,
        "memory_gb": (memory_gb * 10.0).round() / 10.0,
        "postgresql": pg,
        "summary": format!("{model}, {cores} cores, {memory_gb:.0} GB RAM; {pg} on the same machine"),
    })
}
