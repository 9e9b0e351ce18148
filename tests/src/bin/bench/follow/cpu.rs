//! CPU seconds of the three parties of a follow, measured apart so that a figure can be judged on
//! a machine other work shares: the follow's own thread, the PostgreSQL backends serving the
//! bench's database (not the server's other sessions), and the Mongo-wire server's process.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

fn ticks_per_second() -> f64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .map_or(100.0, |t| t as f64)
}

/// User and system CPU seconds in a `/proc/.../stat` file, 0 if it is gone.
fn stat_seconds(path: &str) -> f64 {
    let Ok(text) = std::fs::read_to_string(path) else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces): state is 0, utime 11, stime 12.
    let fields: Vec<u64> = text
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .unwrap_or("")
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    let get = |i: usize| fields.get(i).copied().unwrap_or(0);
    (get(11) + get(12)) as f64 / ticks_per_second()
}

/// CPU seconds of the calling thread so far.
pub fn thread_seconds() -> f64 {
    stat_seconds("/proc/thread-self/stat")
}

/// CPU seconds of process `pid` so far (0 without one).
pub fn process_seconds(pid: Option<u32>) -> f64 {
    pid.map_or(0.0, |p| stat_seconds(&format!("/proc/{p}/stat")))
}

/// Samples, every 100 ms until stopped, the CPU of every backend connected to one database.
/// A backend's time is counted from the meter's start (from 0 for one that connects later),
/// up to its last sample: a backend that exits loses at most its last 100 ms.
#[derive(Debug)]
pub struct BackendMeter {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<anyhow::Result<f64>>,
}

impl BackendMeter {
    pub fn start(url: &str, database: &str) -> BackendMeter {
        let stop = Arc::new(AtomicBool::new(false));
        let (url, database, flag) = (url.to_string(), database.to_string(), Arc::clone(&stop));
        let thread = std::thread::spawn(move || -> anyhow::Result<f64> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let mut conn = runtime
                .block_on(<sqlx::PgConnection as sqlx::Connection>::connect(&url))
                .context("the backend meter's connection")?;
            // (CPU at the first sample, at the last) per backend.
            let mut seen: BTreeMap<i32, (f64, f64)> = BTreeMap::new();
            let mut first = true;
            loop {
                let done = flag.load(Ordering::SeqCst);
                let pids: Vec<i32> = runtime.block_on(
                    sqlx::query_scalar(
                        "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
                    )
                    .bind(&database)
                    .fetch_all(&mut conn),
                )?;
                for pid in pids {
                    let now = stat_seconds(&format!("/proc/{pid}/stat"));
                    let entry = seen
                        .entry(pid)
                        .or_insert((if first { now } else { 0.0 }, now));
                    entry.1 = entry.1.max(now);
                }
                first = false;
                if done {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            Ok(seen.values().map(|(from, to)| (to - from).max(0.0)).sum())
        });
        BackendMeter { stop, thread }
    }

    /// Stops sampling; the backends' CPU seconds since the start.
    pub fn stop(self) -> anyhow::Result<f64> {
        self.stop.store(true, Ordering::SeqCst);
        self.thread
            .join()
            .map_err(|_| anyhow::anyhow!("the backend meter panicked"))?
    }
}

/// The machine's load averages (1, 5, 15 minutes) as `/proc/loadavg` gives them.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|t| t.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}
