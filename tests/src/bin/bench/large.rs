//! `bench large`: the large-collection workload (the user directory: one collection of
//! `--users` users beside 1,000 orgs and 50 roles), loaded by migrator from the dump, from the
//! live server with its defaults, and from the live server through one cursor per collection
//! (`--partitions 1`), round-robin, with the CPU of the client, of PostgreSQL and of the
//! Mongo-wire server for each, beside what one sorted read of the same collections costs that
//! server. `--example SCALE` runs the same ways over the example application instead.
//!
//! ```text
//! cargo run --profile bench-release -p migrator-e2e --bin bench -- large --users 300000 --runs 3
//! cargo run --profile bench-release -p migrator-e2e --bin bench -- large --example 1 --runs 3
//! ```

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};
use clap::Parser;
use schema::accounts::generator::{Accounts, Timeline};
use schema::generator::dump::MANIFEST_FILE;
use schema::generator::manifest::Manifest;
use serde::Serialize;
use serde_json::json;

use crate::measure::{self, CpuMeter, Job};
use crate::pg::{self, Server};
use crate::phases::{self, Phases};
use crate::private_pg::PrivateServer;
use crate::report::median;
use crate::setup::{self, Data, MongoServer};

#[derive(Debug, Parser)]
#[command(name = "bench large")]
pub struct LargeArgs {
    /// Users in the large collection.
    #[arg(long, default_value_t = 300_000)]
    users: u64,
    /// The example application at this scale instead of the user directory.
    #[arg(long)]
    example: Option<f64>,
    /// Rounds; every round runs each way once.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// migrator's `--jobs`.
    #[arg(long, default_value_t = 2)]
    jobs: usize,
    /// A PostgreSQL server to load into (any database on it; runs create their own). By
    /// default the bench starts a server of its own (`initdb` defaults), so that the
    /// PostgreSQL CPU it measures is the runs' alone: on a given server it counts every
    /// backend's, other clients' too.
    #[arg(long)]
    pg_url: Option<String>,
    /// Where data, logs and results go.
    #[arg(long, default_value_os_t = setup::repository().join("target/bench"))]
    out: PathBuf,
}

/// The ways the workload is loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
enum Way {
    Dump,
    Live,
    LiveOneCursor,
}

impl Way {
    const ALL: [Way; 3] = [Way::Dump, Way::Live, Way::LiveOneCursor];

    fn label(self) -> &'static str {
        match self {
            Way::Dump => "migrate from the dump directory",
            Way::Live => "migrate from the live server, defaults",
            Way::LiveOneCursor => "migrate from the live server, `--partitions 1`",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Way::Dump => "dump",
            Way::Live => "live",
            Way::LiveOneCursor => "live_p1",
        }
    }
}

/// One measured run.
#[derive(Debug, Clone, Serialize)]
struct Run {
    way: Way,
    round: usize,
    wall: f64,
    client: f64,
    postgres: f64,
    mongo: f64,
    /// How the live source read the largest collection, as the run's report says.
    split: Option<String>,
    /// The run's load stage (reading and loading), seconds, as its report says.
    load: f64,
}

impl Run {
    fn total(&self) -> f64 {
        self.client + self.postgres + self.mongo
    }
}

/// `bench large ARGS...`.
pub async fn main(argv: &[String]) -> anyhow::Result<()> {
    let args = LargeArgs::parse_from(argv);
    let out = args.out.join("large");
    let logs = out.join("logs");
    std::fs::create_dir_all(&logs)?;
    let data = match args.example {
        Some(scale) => setup::generate(&out, args.seed, scale)?,
        None => generate(&out, args.seed, args.users, Timeline::Even)?,
    };
    let workload = Workload::of(&args, &data);
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
    let postmaster = measure::postmaster_of(backend)?;
    let meter = CpuMeter::new(postmaster)?;
    let mongo = MongoServer::start(&out)?;
    let pid = mongo.pid().context("the Mongo-wire server's process")?;
    let database = format!("bench_{}", workload.key);
    setup::load_mongo(&mongo, &database, &data).await?;
    let uri = mongo.uri(&database);

    let load_before = load_average();
    let mut runs = Vec::new();
    let mut phases = Vec::new();
    let collections: Vec<String> = data.manifest.collections.keys().cloned().collect();
    for round in 1..=args.runs {
        for way in Way::ALL {
            eprint!("round {round}/{}: {:<48}", args.runs, way.label());
            let run = run_once(
                &server, &meter, &logs, &data, &workload, &uri, pid, way, round, args.jobs,
            )
            .await
            .with_context(|| format!("{} (round {round})", way.label()))?;
            eprintln!(
                " {:>6.2} s wall, CPU: client {:.2} s, PostgreSQL {:.2} s, Mongo-wire {:.2} s",
                run.wall, run.client, run.postgres, run.mongo
            );
            runs.push(run);
        }
        // The sorted read is also taken at the pace the round's live run read (its documents
        // over its load stage): what a reader feeding PostgreSQL costs the server.
        let rate = runs
            .iter()
            .find(|r: &&Run| r.way == Way::Live && r.round == round && r.load > 0.0)
            .map(|r| data.manifest.documents as f64 / r.load);
        let measured = phases::measure(&uri, &collections, &meter, pid, rate).await?;
        for (label, cpu) in measured.rows() {
            eprintln!(
                "round {round}/{}: {label}: {cpu:.3} s of the server's CPU",
                args.runs
            );
        }
        phases.push(measured);
    }
    drop(mongo);
    drop(private);

    let load = format!("{load_before} at the start, {} at the end", load_average());
    let postgres = match &args.pg_url {
        None => "PostgreSQL: the bench's own server (postmaster and every process under it)",
        Some(_) => "PostgreSQL: every backend of the given server, other clients' too",
    };
    let text = render(
        &args,
        &data,
        &workload,
        &runs,
        &phases::medians(&phases),
        &format!("{load}; {postgres}"),
    );
    print!("{text}");
    let path = out.join(format!("results-{}.json", workload.key));
    let json = json!({
        "workload": workload.key,
        "users": args.users,
        "documents": data.manifest.documents,
        "runs": runs,
        "server_phases": phases,
        "text": text,
    });
    std::fs::write(&path, serde_json::to_string_pretty(&json)?)
        .with_context(|| format!("writing {}", path.display()))?;
    println!("\nJSON: {}", path.display());
    Ok(())
}

/// The machine's load averages over 1, 5 and 15 minutes (other work on the shared cores).
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// Which data the runs load, and how it is named.
struct Workload {
    /// Names the database, the results file and the runs' databases.
    key: String,
    /// `bench`'s CLI mode over its schema.
    cli: &'static str,
    /// The largest collection (whose split decision is shown).
    largest: String,
    /// The data in words.
    words: String,
}

impl Workload {
    fn of(args: &LargeArgs, data: &Data) -> Workload {
        let largest = data
            .manifest
            .collections
            .iter()
            .max_by_key(|(_, c)| c.documents)
            .map(|(name, _)| name.clone())
            .unwrap_or_default();
        match args.example {
            Some(scale) => Workload {
                key: format!("example_{}", setup::scale_label(scale)),
                cli: "cli",
                words: format!(
                    "The example application at scale {scale}: {} documents in {} collections",
                    data.manifest.documents,
                    data.manifest.collections.len()
                ),
                largest,
            },
            None => Workload {
                key: format!("users_{}", args.users),
                cli: "cli-accounts",
                words: format!(
                    "The user directory: {} documents ({} users, 1,000 orgs, 50 roles)",
                    data.manifest.documents, args.users
                ),
                largest,
            },
        }
    }
}

/// The dump of `users` users signed up along `timeline` (written once per seed, size and
/// timeline).
pub(crate) fn generate(
    out: &Path,
    seed: u64,
    users: u64,
    timeline: Timeline,
) -> anyhow::Result<Data> {
    let name = match timeline {
        Timeline::Even => format!("accounts-seed-{seed}-users-{users}"),
        other => format!("accounts-seed-{seed}-users-{users}-{}", other.name()),
    };
    let dir = out.join("data").join(name);
    if let Ok(manifest) = Manifest::read(&dir.join(MANIFEST_FILE)) {
        return Ok(Data { dir, manifest });
    }
    let started = Instant::now();
    let manifest = Accounts::new(seed, users)
        .with_timeline(timeline)
        .write_dump(&dir)
        .with_context(|| format!("writing {}", dir.display()))?;
    eprintln!(
        "generated {} documents, {:.1} MB in {:.1} s ({})",
        manifest.documents,
        manifest.bytes as f64 / 1e6,
        started.elapsed().as_secs_f64(),
        dir.display()
    );
    Ok(Data { dir, manifest })
}

#[allow(clippy::too_many_arguments)]
async fn run_once(
    server: &Server,
    meter: &CpuMeter,
    logs: &Path,
    data: &Data,
    workload: &Workload,
    uri: &str,
    mongo_pid: u32,
    way: Way,
    round: usize,
    jobs: usize,
) -> anyhow::Result<Run> {
    let name = format!("bench_large_{}_{round}", way.key());
    let name = format!("{name}_{}", workload.key).replace('.', "_");
    let url = server.fresh_database(&name).await?;
    let log = logs.join(format!("{}-run{round}", way.key()));
    let source = match way {
        Way::Dump => data.dir.display().to_string(),
        Way::Live | Way::LiveOneCursor => uri.to_string(),
    };
    let mut args: Vec<String> = [
        workload.cli,
        "--pg-url",
        &url,
        "migrate",
        "--source",
        &source,
        "--jobs",
        &jobs.to_string(),
        "--json",
        "--dead-letters",
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    args.push(
        log.with_extension("dead-letters.jsonl")
            .display()
            .to_string(),
    );
    if way == Way::LiveOneCursor {
        args.extend(["--partitions".to_string(), "1".to_string()]);
    }
    let before = meter.process_cpu_seconds(mongo_pid);
    let cost = meter.run(&Job {
        program: std::env::current_exe()?,
        args,
        env: Vec::new(),
        dir: None,
        log: log.clone(),
    })?;
    let mongo = (meter.process_cpu_seconds(mongo_pid) - before).max(0.0);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(log.with_extension("out"))?)
            .context("reading the run's JSON report")?;
    let split = report["collections"][&workload.largest]["split"]
        .as_str()
        .map(str::to_string);
    let load = report["stage_seconds"]["load"].as_f64().unwrap_or(0.0);
    let fingerprint = pg::fingerprint(&url, "public").await?;
    for (table, expected) in &data.manifest.tables {
        let got = fingerprint.tables.get(table).map_or(0, |t| t.0);
        if u64::try_from(got).ok() != Some(*expected) {
            bail!("{table}: {got} rows, the manifest says {expected}");
        }
    }
    server.drop_database(&name).await?;
    Ok(Run {
        way,
        round,
        wall: cost.wall_seconds,
        client: cost.client_cpu_seconds(),
        postgres: cost.server_cpu_seconds,
        mongo: if way == Way::Dump { 0.0 } else { mongo },
        split,
        load,
    })
}

/// The medians, the split decisions and the targets.
fn render(
    args: &LargeArgs,
    data: &Data,
    workload: &Workload,
    runs: &[Run],
    phases: &Phases,
    load: &str,
) -> String {
    let sorted = phases.sorted_read;
    let of = |way: Way, f: fn(&Run) -> f64| {
        median(runs.iter().filter(|r| r.way == way).map(f).collect())
    };
    let mut out = format!(
        "\n{}, {:.1} MB of BSON; medians of {} rounds, round-robin, --jobs {}; load average {}.\n\n",
        workload.words,
        data.manifest.bytes as f64 / 1e6,
        args.runs,
        args.jobs,
        load
    );
    out.push_str("| run | wall s | client CPU s | PostgreSQL CPU s | Mongo server CPU s | total CPU s |\n|---|--:|--:|--:|--:|--:|\n");
    for way in Way::ALL {
        let mongo = if way == Way::Dump {
            "-".to_string()
        } else {
            format!("{:.2}", of(way, |r| r.mongo))
        };
        out.push_str(&format!(
            "| {} | {:.2} | {:.2} | {:.2} | {mongo} | {:.2} |\n",
            way.label(),
            of(way, |r| r.wall),
            of(way, |r| r.client),
            of(way, |r| r.postgres),
            of(way, Run::total)
        ));
    }
    out.push_str("\nWhat each request a live run makes costs the Mongo-wire server, made alone (medians):\n\n| request | server CPU s |\n|---|--:|\n");
    for (label, cpu) in phases.rows() {
        out.push_str(&format!("| {label} | {cpu:.3} |\n"));
    }
    let splits: Vec<&str> = runs
        .iter()
        .filter(|r| r.way == Way::Live)
        .filter_map(|r| r.split.as_deref())
        .collect();
    if let Some(first) = splits.first() {
        out.push_str(&format!(
            "\nThe live run's `{}` (defaults): {first}\n",
            workload.largest
        ));
    }
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    let (live_wall, one_wall) = (
        of(Way::Live, |r| r.wall),
        of(Way::LiveOneCursor, |r| r.wall),
    );
    let (live_total, one_total) = (
        of(Way::Live, Run::total),
        of(Way::LiveOneCursor, Run::total),
    );
    let live_mongo = of(Way::Live, |r| r.mongo);
    let dump_total = of(Way::Dump, Run::total);
    let pairs: Vec<String> = runs
        .iter()
        .filter(|r| r.way == Way::Live)
        .filter_map(|live| {
            let one = runs
                .iter()
                .find(|r| r.way == Way::LiveOneCursor && r.round == live.round)?;
            Some(format!("{:.2}x", live.total() / one.total().max(1e-9)))
        })
        .collect();
    out.push_str("\nTargets (printed, not asserted):\n");
    out.push_str(&format!(
        "- live defaults no slower than live `--partitions 1` (total CPU within 5%, the spread of paired runs here): wall {live_wall:.2} s against {one_wall:.2} s ({:.2}x), total CPU {live_total:.2} s against {one_total:.2} s ({:.2}x; round by round {}): {}\n",
        live_wall / one_wall.max(1e-9),
        live_total / one_total.max(1e-9),
        pairs.join(", "),
        verdict(live_total <= one_total * 1.05)
    ));
    out.push_str(&format!(
        "- the server's CPU for a live run at most 1.5x one sorted read: {live_mongo:.2} s against {sorted:.2} s, {:.2}x: {}\n",
        live_mongo / sorted.max(1e-9),
        verdict(live_mongo <= 1.5 * sorted)
    ));
    if phases.paced_read > 0.0 {
        out.push_str(&format!(
            "  (the same read paced as the live run read, the floor for a reader feeding PostgreSQL: {:.2} s; the live run {:.2}x of it)\n",
            phases.paced_read,
            live_mongo / phases.paced_read
        ));
    }
    out.push_str(&format!(
        "- total CPU of a live run at most 1.4x the dump run's: {live_total:.2} s against {dump_total:.2} s, {:.2}x: {}\n",
        live_total / dump_total.max(1e-9),
        verdict(live_total <= 1.4 * dump_total)
    ));
    out
}
