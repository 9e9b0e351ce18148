//! What a contender costs: wall time, CPU and peak RSS of the client process, CPU of the
//! PostgreSQL server, and the CPU everything else on the machine used meanwhile.
//!
//! The client runs under a wrapper (this binary, `measure` mode) whose only child it is, so the
//! wrapper's `getrusage(RUSAGE_CHILDREN)` is exactly the client's CPU time and peak RSS. The
//! server's CPU is the sum of `utime + stime` over the postmaster and its live children, plus the
//! postmaster's `cutime + cstime`, which collects the backends that exited: the difference of two
//! samples counts every backend that ran in between.

use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

/// The client's usage as the wrapper reports it.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct ClientUsage {
    pub user_seconds: f64,
    pub system_seconds: f64,
    pub max_rss_kb: u64,
    pub exit_code: i32,
}

/// `bench measure REPORT -- PROGRAM ARGS...`: runs the program, writes its usage to REPORT as
/// JSON and exits with its exit code.
pub fn wrapper_main(args: &[String]) -> ExitCode {
    let (Some(report), Some("--"), Some(program)) =
        (args.first(), args.get(1).map(String::as_str), args.get(2))
    else {
        eprintln!("usage: bench measure REPORT -- PROGRAM [ARGS...]");
        return ExitCode::from(2);
    };
    let status = match Command::new(program).args(&args[3..]).status() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: starting {program}: {e}");
            return ExitCode::from(127);
        }
    };
    let usage = match nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN) {
        Ok(u) => u,
        Err(e) => {
            eprintln!("error: getrusage: {e}");
            return ExitCode::from(125);
        }
    };
    let seconds = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    let code = status.code().unwrap_or(128);
    let client = ClientUsage {
        user_seconds: seconds(usage.user_time()),
        system_seconds: seconds(usage.system_time()),
        // Linux reports kilobytes.
        max_rss_kb: u64::try_from(usage.max_rss()).unwrap_or(0),
        exit_code: code,
    };
    let written = serde_json::to_string(&client)
        .map_err(std::io::Error::other)
        .and_then(|text| std::fs::write(report, text));
    if let Err(e) = written {
        eprintln!("error: writing {report}: {e}");
        return ExitCode::from(125);
    }
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// A program to run under measurement.
#[derive(Debug, Clone)]
pub struct Job {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub dir: Option<PathBuf>,
    /// Where its stdout and stderr go (`<log>.out`, `<log>.err`).
    pub log: PathBuf,
}

/// What one measured run cost.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Cost {
    pub wall_seconds: f64,
    pub client: ClientUsage,
    pub server_cpu_seconds: f64,
    /// CPU seconds of the source's server (the Mongo-wire server, for the live source).
    pub source_cpu_seconds: f64,
    /// CPU seconds used on the machine by everything else (other programs competing for the
    /// cores): large values mean the figures are noisy.
    pub other_cpu_seconds: f64,
}

impl Cost {
    pub fn client_cpu_seconds(&self) -> f64 {
        self.client.user_seconds + self.client.system_seconds
    }
}

/// Samples the server's and the machine's CPU around a piece of work.
#[derive(Debug, Clone)]
pub struct CpuMeter {
    postmaster: u32,
    ticks_per_second: f64,
}

#[derive(Debug, Clone, Copy)]
pub struct CpuSample {
    server: f64,
    machine: f64,
}

impl CpuMeter {
    pub fn new(postmaster: u32) -> anyhow::Result<CpuMeter> {
        let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
            .ok()
            .flatten()
            .unwrap_or(100);
        let meter = CpuMeter {
            postmaster,
            ticks_per_second: ticks as f64,
        };
        meter.sample().with_context(|| {
            format!("reading the CPU time of the postmaster (pid {postmaster})")
        })?;
        Ok(meter)
    }

    pub fn sample(&self) -> anyhow::Result<CpuSample> {
        let mut ticks = 0u64;
        let own = read_stat(self.postmaster)?
            .with_context(|| format!("no process {}", self.postmaster))?;
        ticks += own.utime + own.stime + own.cutime + own.cstime;
        for entry in std::fs::read_dir("/proc").context("reading /proc")? {
            let Ok(entry) = entry else { continue };
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            // A process may exit between listing and reading: skip it (its time moves to the
            // postmaster's cutime, counted by the next sample).
            if let Ok(Some(stat)) = read_stat(pid) {
                if stat.ppid == self.postmaster {
                    ticks += stat.utime + stat.stime;
                }
            }
        }
        Ok(CpuSample {
            server: ticks as f64 / self.ticks_per_second,
            machine: machine_busy_ticks()? as f64 / self.ticks_per_second,
        })
    }

    /// Runs `job` under the wrapper and returns what it cost; fails if it exits non-zero.
    pub fn run(&self, job: &Job) -> anyhow::Result<Cost> {
        let report = job.log.with_extension("usage.json");
        let exe = std::env::current_exe().context("finding the bench binary")?;
        let out = std::fs::File::create(job.log.with_extension("out"))
            .with_context(|| format!("creating {}", job.log.display()))?;
        let err = std::fs::File::create(job.log.with_extension("err"))
            .with_context(|| format!("creating {}", job.log.display()))?;
        let mut cmd = Command::new(exe);
        cmd.arg("measure")
            .arg(&report)
            .arg("--")
            .arg(&job.program)
            .args(&job.args)
            .envs(job.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        if let Some(dir) = &job.dir {
            cmd.current_dir(dir);
        }
        let before = self.sample()?;
        let started = Instant::now();
        let status = cmd
            .status()
            .with_context(|| format!("running {}", job.program.display()))?;
        let wall = started.elapsed().as_secs_f64();
        let after = self.sample()?;
        let client: ClientUsage = std::fs::read_to_string(&report)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        if !status.success() {
            bail!(
                "{} exited with {status}; see {}",
                job.program.display(),
                job.log.with_extension("err").display()
            );
        }
        Ok(self.cost(before, after, wall, client))
    }

    /// The cost of work done between two samples by `client` (zero for in-process work).
    pub fn cost(
        &self,
        before: CpuSample,
        after: CpuSample,
        wall: f64,
        client: ClientUsage,
    ) -> Cost {
        let server = (after.server - before.server).max(0.0);
        let machine = (after.machine - before.machine).max(0.0);
        let client_cpu = client.user_seconds + client.system_seconds;
        Cost {
            wall_seconds: wall,
            client,
            server_cpu_seconds: server,
            source_cpu_seconds: 0.0,
            other_cpu_seconds: (machine - server - client_cpu).max(0.0),
        }
    }

    /// CPU seconds (user and system) of one process so far, 0 if it is gone.
    pub fn process_cpu_seconds(&self, pid: u32) -> f64 {
        match read_stat(pid) {
            Ok(Some(stat)) => (stat.utime + stat.stime) as f64 / self.ticks_per_second,
            _ => 0.0,
        }
    }
}

struct Stat {
    ppid: u32,
    utime: u64,
    stime: u64,
    cutime: u64,
    cstime: u64,
}

/// `/proc/PID/stat`, or `None` if the process is gone.
fn read_stat(pid: u32) -> anyhow::Result<Option<Stat>> {
    let text = match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).context(format!("reading /proc/{pid}/stat")),
    };
    // The command name is in parentheses and may hold spaces: fields start after the last `)`.
    let rest = text
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("unexpected /proc stat format")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| -> anyhow::Result<u64> {
        fields
            .get(i)
            .and_then(|f| f.parse::<i64>().ok())
            .map(|v| u64::try_from(v).unwrap_or(0))
            .with_context(|| format!("field {i} of /proc/{pid}/stat"))
    };
    // Fields after the name, from 0: state, ppid, ..., utime (11), stime, cutime, cstime.
    Ok(Some(Stat {
        ppid: u32::try_from(field(1)?).unwrap_or(0),
        utime: field(11)?,
        stime: field(12)?,
        cutime: field(13)?,
        cstime: field(14)?,
    }))
}

/// Non-idle CPU ticks of the whole machine since boot (`/proc/stat`, first line).
fn machine_busy_ticks() -> anyhow::Result<u64> {
    let text = std::fs::read_to_string("/proc/stat").context("reading /proc/stat")?;
    let line = text.lines().next().context("empty /proc/stat")?;
    let values: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal: busy = all but idle and iowait.
    Ok(values
        .iter()
        .take(8)
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .map(|(_, v)| v)
        .sum())
}

/// The process id of the server that owns `backend` (its parent).
pub fn postmaster_of(backend: u32) -> anyhow::Result<u32> {
    let stat = read_stat(backend)?.with_context(|| {
        format!("the PostgreSQL backend {backend} is not a process on this machine: the server must run locally to measure its CPU")
    })?;
    Ok(stat.ppid)
}
