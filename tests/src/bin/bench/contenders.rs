//! The contenders, each run on a fresh database and checked against migrator's tables.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};
use serde::Serialize;

use migrator::sink::constraints;

use crate::measure::{ClientUsage, Cost, CpuMeter, Job};
use crate::pg::{self, Fingerprint, Server};
use crate::report;
use crate::setup::Data;

/// Who loads the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Contender {
    /// migrator, from the mongodump directory.
    Migrator,
    /// The physical ceiling: server-side binary COPY of the final rows from files.
    Ceiling,
    /// migrator, from the live Mongo-wire server.
    MigratorMongo,
    /// migrator, from a gzip mongodump archive of the same dump.
    MigratorArchive,
    /// pymongo's bson + psycopg 3 COPY.
    Python,
    /// bson + pg, INSERT of 1,000 rows per statement.
    Node,
}

impl Contender {
    pub const ALL: [Contender; 6] = [
        Contender::Migrator,
        Contender::Ceiling,
        Contender::MigratorMongo,
        Contender::MigratorArchive,
        Contender::Python,
        Contender::Node,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Contender::Migrator => "migrator",
            Contender::Ceiling => "ceiling",
            Contender::MigratorMongo => "migrator-mongo",
            Contender::MigratorArchive => "migrator-archive",
            Contender::Python => "python",
            Contender::Node => "node",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Contender::Migrator => "migrator, mongodump dir",
            Contender::Ceiling => "ceiling: COPY FROM file",
            Contender::MigratorMongo => "migrator, Mongo-wire",
            Contender::MigratorArchive => "migrator, gzip archive",
            Contender::Python => "Python: bson + COPY",
            Contender::Node => "Node: bson + INSERT",
        }
    }

    pub fn parse(text: &str) -> Result<Contender, String> {
        Contender::ALL
            .into_iter()
            .find(|c| c.key() == text)
            .ok_or_else(|| {
                let keys: Vec<&str> = Contender::ALL.iter().map(|c| c.key()).collect();
                format!(
                    "unknown contender `{text}`; expected one of {}",
                    keys.join(", ")
                )
            })
    }
}

/// One run of one contender.
#[derive(Debug, Clone, Serialize)]
pub struct RunResult {
    pub contender: Contender,
    pub run: usize,
    pub cost: Cost,
    /// Parts timed inside the run (`load`, `constraints`), or after it (`validate`).
    pub phases: BTreeMap<String, f64>,
    /// What differs from migrator's tables (empty: identical).
    pub differences: Vec<String>,
}

/// Everything the runs share.
#[derive(Debug)]
pub struct Bench {
    pub server: Server,
    pub meter: CpuMeter,
    pub logs: PathBuf,
    pub data: Data,
    pub jobs: usize,
    pub mapping: PathBuf,
    pub python: Option<PathBuf>,
    pub node: Option<PathBuf>,
    pub mongo_uri: Option<String>,
    /// The Mongo-wire server's process, when this benchmark started it (its CPU is measured).
    pub mongo_pid: Option<u32>,
    /// The dump as a gzip mongodump archive.
    pub archive: Option<PathBuf>,
    /// Where the ceiling's files are (the server writes and reads them).
    pub ceiling_dir: PathBuf,
    pub ceiling_files: Vec<(String, u64)>,
    pub reference: Option<Fingerprint>,
    pub keep_databases: bool,
    /// Database names start with this (`bench_` by default).
    pub prefix: String,
}

impl Bench {
    fn database(&self, contender: Contender, run: usize) -> String {
        format!("{}{}_{run}", self.prefix, contender.key().replace('-', "_"))
    }

    fn job(&self, name: &str, program: PathBuf, args: Vec<String>, dir: Option<PathBuf>) -> Job {
        Job {
            program,
            args,
            env: Vec::new(),
            dir,
            log: self.logs.join(name),
        }
    }

    /// Runs `contender` once on a fresh database.
    pub async fn run(&mut self, contender: Contender, run: usize) -> anyhow::Result<RunResult> {
        let name = self.database(contender, run);
        let url = self.server.fresh_database(&name).await?;
        let mut phases = BTreeMap::new();
        let log = format!(
            "{}{}-run{run}",
            self.prefix.trim_start_matches("bench_"),
            contender.key()
        );
        let dump = self.data.dir.display().to_string();
        let cost = match contender {
            Contender::Migrator | Contender::MigratorMongo | Contender::MigratorArchive => {
                let source = match contender {
                    Contender::MigratorMongo => self
                        .mongo_uri
                        .clone()
                        .context("no Mongo-wire server for the live source")?,
                    Contender::MigratorArchive => self
                        .archive
                        .as_ref()
                        .context("no archive was written")?
                        .display()
                        .to_string(),
                    _ => dump.clone(),
                };
                let source_before = self.mongo_pid.map(|p| self.meter.process_cpu_seconds(p));
                let mut cost = self.meter.run(&self.job(
                    &log,
                    std::env::current_exe()?,
                    migrate_args(
                        &url,
                        &source,
                        self.jobs,
                        &self.logs.join(format!("{log}.dead-letters.jsonl")),
                    ),
                    None,
                ))?;
                read_stages(&self.logs.join(format!("{log}.out")), &mut phases);
                if let (Contender::MigratorMongo, Some(pid), Some(before)) =
                    (contender, self.mongo_pid, source_before)
                {
                    let used = (self.meter.process_cpu_seconds(pid) - before).max(0.0);
                    cost.source_cpu_seconds = used;
                    cost.other_cpu_seconds = (cost.other_cpu_seconds - used).max(0.0);
                }
                if contender == Contender::Migrator {
                    let started = Instant::now();
                    let validate = self.meter.run(&self.job(
                        &format!("{log}-validate"),
                        std::env::current_exe()?,
                        vec![
                            "cli".into(),
                            "--pg-url".into(),
                            url.clone(),
                            "validate".into(),
                            "--source".into(),
                            dump.clone(),
                        ],
                        None,
                    ));
                    phases.insert("validate".into(), started.elapsed().as_secs_f64());
                    validate.context("validate failed after the migration")?;
                }
                cost
            }
            Contender::Ceiling => self.ceiling(&url, &mut phases).await?,
            Contender::Python => {
                let python = self
                    .python
                    .clone()
                    .context("the Python baseline is not installed")?;
                let script = crate::setup::repository().join("tests/bench/python/baseline.py");
                let cost = self.meter.run(&self.job(
                    &log,
                    python,
                    baseline_args(script, &dump, &self.mapping, &url),
                    None,
                ))?;
                read_phases(&self.logs.join(format!("{log}.out")), &mut phases);
                cost
            }
            Contender::Node => {
                let dir = self
                    .node
                    .clone()
                    .context("the Node baseline is not installed")?;
                let cost = self.meter.run(&self.job(
                    &log,
                    PathBuf::from("node"),
                    baseline_args(dir.join("baseline.js"), &dump, &self.mapping, &url),
                    Some(dir),
                ))?;
                read_phases(&self.logs.join(format!("{log}.out")), &mut phases);
                cost
            }
        };
        let fingerprint = pg::fingerprint(&url, "public").await?;
        let differences = match &self.reference {
            Some(reference) => fingerprint.differences(reference),
            None => {
                let mut problems = Vec::new();
                for (table, expected) in &self.data.manifest.tables {
                    let got = fingerprint.tables.get(table).map_or(0, |t| t.0);
                    if u64::try_from(got).ok() != Some(*expected) {
                        problems.push(format!("{table}: {got} rows, the manifest says {expected}"));
                    }
                }
                if !problems.is_empty() {
                    bail!(
                        "migrator's tables do not match the generator's manifest: {}",
                        problems.join("; ")
                    );
                }
                self.ceiling_files = pg::export_tables(&url, "public", &self.ceiling_dir).await?;
                self.reference = Some(fingerprint);
                Vec::new()
            }
        };
        if !self.keep_databases {
            self.server.drop_database(&name).await?;
        }
        Ok(RunResult {
            contender,
            run,
            cost,
            phases,
            differences,
        })
    }

    /// The ceiling: the tables made from migrator's DDL as migrator creates them, keys built
    /// after the load (not timed), then, timed, the server reads every table's final rows from
    /// its file with `COPY ... FROM 'file' (FORMAT binary)` over `jobs` sessions, the largest
    /// first, and the same keys, foreign keys and indexes are added by the same code.
    async fn ceiling(&self, url: &str, phases: &mut BTreeMap<String, f64>) -> anyhow::Result<Cost> {
        if self.ceiling_files.is_empty() {
            bail!(
                "the ceiling needs migrator's tables exported first (run the migrator contender)"
            );
        }
        let schema = schema::example::schema().context("the example schema is inconsistent")?;
        let ddl = migrator::sink::ddl::Ddl::new(&schema, Some("public"));
        let mut create = ddl.types.clone();
        create.extend(ddl.load_tables.iter().cloned());
        let started = Instant::now();
        pg::execute(url, &create).await?;
        // Not part of the ceiling's time (migrator's includes it, in its `setup`).
        phases.insert(
            report::CEILING_TABLES.into(),
            started.elapsed().as_secs_f64(),
        );
        let mut files = self.ceiling_files.clone();
        // Largest first, so the sessions finish together.
        files.sort_by_key(|f| std::cmp::Reverse(f.1));
        let copies = files
            .iter()
            .map(|(table, _)| {
                pg::copy_from_file(
                    "public",
                    table,
                    &self.ceiling_dir.join(format!("{table}.bin")),
                )
            })
            .collect::<anyhow::Result<Vec<String>>>()?;
        let before = self.meter.sample()?;
        let started = Instant::now();
        pg::execute_parallel(url, copies, self.jobs).await?;
        let loaded = started.elapsed().as_secs_f64();
        // The same keys, foreign keys and indexes, added by the same code as migrator adds them
        // (over `jobs` sessions, statements whose locks do not conflict running together).
        match constraints::add(url, "public", &ddl, self.jobs, constraints::Work::ALL).await? {
            constraints::Added::All => {}
            constraints::Added::ForeignKeyRefused(e) => return Err(e.into()),
            constraints::Added::KeysRefused(refused) => {
                bail!("the ceiling's keys were refused: {refused:?}")
            }
        }
        let wall = started.elapsed().as_secs_f64();
        let after = self.meter.sample()?;
        phases.insert("load".into(), loaded);
        phases.insert("constraints".into(), wall - loaded);
        Ok(self.meter.cost(before, after, wall, ClientUsage::default()))
    }
}

fn migrate_args(url: &str, source: &str, jobs: usize, dead_letters: &Path) -> Vec<String> {
    vec![
        "cli".into(),
        "--pg-url".into(),
        url.to_string(),
        "migrate".into(),
        "--source".into(),
        source.to_string(),
        "--jobs".into(),
        jobs.to_string(),
        "--json".into(),
        "--dead-letters".into(),
        dead_letters.display().to_string(),
    ]
}

fn baseline_args(script: PathBuf, dump: &str, mapping: &Path, url: &str) -> Vec<String> {
    vec![
        script.display().to_string(),
        "--dump".into(),
        dump.to_string(),
        "--mapping".into(),
        mapping.display().to_string(),
        "--pg-url".into(),
        url.to_string(),
    ]
}

/// migrator's `--json` report: the seconds of each stage (`setup`, `load`, `references`,
/// `constraints`).
fn read_stages(stdout: &Path, phases: &mut BTreeMap<String, f64>) {
    let Ok(text) = std::fs::read_to_string(stdout) else {
        return;
    };
    let Ok(report) = serde_json::from_str::<serde_json::Value>(&text) else {
        return;
    };
    if let Some(stages) = report.get("stage_seconds").and_then(|s| s.as_object()) {
        for (name, seconds) in stages {
            if let Some(v) = seconds.as_f64() {
                phases.insert(name.clone(), v);
            }
        }
    }
}

/// The baselines print `{"load_seconds": .., "constraints_seconds": ..}` as their last line.
fn read_phases(stdout: &Path, phases: &mut BTreeMap<String, f64>) {
    let Ok(text) = std::fs::read_to_string(stdout) else {
        return;
    };
    let Some(last) = text.lines().rev().find(|l| l.starts_with('{')) else {
        return;
    };
    let Ok(value) = serde_json::from_str::<serde_json::Value>(last) else {
        return;
    };
    for (key, name) in [
        ("load_seconds", "load"),
        ("constraints_seconds", "constraints"),
    ] {
        if let Some(v) = value.get(key).and_then(serde_json::Value::as_f64) {
            phases.insert(name.into(), v);
        }
    }
}
