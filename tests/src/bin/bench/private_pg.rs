//! A PostgreSQL server of the bench's own: `initdb` defaults in a temporary directory, on a free
//! port, stopped when dropped. Its postmaster and every process under it (backends, the WAL
//! writer, the checkpointer, autovacuum) serve the bench alone, so the CPU the meter samples
//! there is the runs' own, on a shared machine as on a quiet one; on a shared server it would
//! count every other client's backends too.
//!
//! PostgreSQL refuses to run as root: run as root, the server runs as the `postgres` user
//! (through `runuser`), which owns its directory.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// The user the server runs as when the bench runs as root.
const SERVER_USER: &str = "postgres";

/// A running private server.
#[derive(Debug)]
pub struct PrivateServer {
    /// A URL of its `postgres` database.
    pub url: String,
    /// The postmaster's process id (the parent of every backend).
    pub postmaster: u32,
    child: Child,
    _dir: tempfile::TempDir,
}

impl PrivateServer {
    /// Creates a cluster with `initdb` (from `pg_config --bindir`) and starts it; its log goes
    /// to `log`.
    pub fn start(log: &Path) -> anyhow::Result<PrivateServer> {
        let bindir = bindir()?;
        let dir = tempfile::Builder::new()
            .prefix("bench-pg-")
            .tempdir()
            .context("creating the private PostgreSQL server's directory")?;
        let owner = owner()?;
        if let Some(user) = &owner {
            std::os::unix::fs::chown(dir.path(), Some(user.uid), Some(user.gid))
                .with_context(|| format!("giving {} to {SERVER_USER}", dir.path().display()))?;
        }
        let data = dir.path().join("data");
        let initdb = as_owner(&owner, &bindir.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"])
            .stdin(Stdio::null())
            .output()
            .context("running initdb")?;
        if !initdb.status.success() {
            bail!(
                "initdb failed ({}): {}",
                initdb.status,
                String::from_utf8_lossy(&initdb.stderr)
            );
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let out =
            std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let child = as_owner(&owner, &bindir.join("postgres"))
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string(), "-k"])
            .arg(dir.path())
            .args(["-c", "listen_addresses=127.0.0.1"])
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .context("starting the private PostgreSQL server")?;
        let mut server = PrivateServer {
            url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            postmaster: 0,
            child,
            _dir: dir,
        };
        server.postmaster = server.wait_ready(&data.join("postmaster.pid"), port, log)?;
        Ok(server)
    }

    /// Waits until the server accepts connections; returns the postmaster's pid.
    fn wait_ready(&mut self, pid_file: &Path, port: u16, log: &Path) -> anyhow::Result<u32> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "the private PostgreSQL server exited ({status}); see {}",
                    log.display()
                );
            }
            let ready = std::fs::read_to_string(pid_file)
                .ok()
                .and_then(|text| ready_postmaster(&text));
            if let Some(pid) = ready {
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Ok(pid);
                }
            }
            if Instant::now() > deadline {
                bail!(
                    "the private PostgreSQL server did not accept connections within 60 s; see {}",
                    log.display()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// The postmaster's pid from its `postmaster.pid`, once its status line (the eighth) says it
/// accepts connections (`ready`; a server still starting up refuses them).
fn ready_postmaster(pid_file: &str) -> Option<u32> {
    let lines: Vec<&str> = pid_file.lines().collect();
    let status = lines.get(7)?.trim();
    (status == "ready").then_some(())?;
    lines.first()?.trim().parse().ok()
}

impl Drop for PrivateServer {
    /// A fast shutdown (SIGINT to the postmaster), then waits for it.
    fn drop(&mut self) {
        if self.postmaster > 0 {
            let _ = Command::new("kill")
                .args(["-INT", &self.postmaster.to_string()])
                .status();
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// PostgreSQL's programs (`pg_config --bindir`).
fn bindir() -> anyhow::Result<PathBuf> {
    let out = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .context("running pg_config --bindir (PostgreSQL's server programs are needed for the bench's own server; or pass --pg-url)")?;
    if !out.status.success() {
        bail!("pg_config --bindir failed: {}", out.status);
    }
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

/// A user to run the server as.
#[derive(Debug, Clone, PartialEq, Eq)]
struct User {
    name: String,
    uid: u32,
    gid: u32,
}

/// The user the server must run as: `None` unless the bench runs as root.
fn owner() -> anyhow::Result<Option<User>> {
    let status =
        std::fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
    if effective_uid(&status) != Some(0) {
        return Ok(None);
    }
    let passwd = std::fs::read_to_string("/etc/passwd").context("reading /etc/passwd")?;
    user_named(&passwd, SERVER_USER).map(Some).with_context(|| {
        format!(
            "PostgreSQL does not run as root, and there is no `{SERVER_USER}` user to run it as"
        )
    })
}

/// The effective user id from `/proc/<pid>/status` (`Uid: real effective saved fs`).
fn effective_uid(status: &str) -> Option<u32> {
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// The entry of `name` in an `/etc/passwd` text.
fn user_named(passwd: &str, name: &str) -> Option<User> {
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.first() == Some(&name) && fields.len() > 3).then_some(())?;
        Some(User {
            name: name.to_string(),
            uid: fields[2].parse().ok()?,
            gid: fields[3].parse().ok()?,
        })
    })
}

fn as_owner(owner: &Option<User>, program: &Path) -> Command {
    match owner {
        Some(user) => {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", &user.name, "--"]).arg(program);
            cmd
        }
        None => Command::new(program),
    }
}

#[cfg(test)]
mod tests {
    use sqlx::{Connection, PgConnection};

    use super::*;
    use crate::measure::CpuMeter;

    /// CPU seconds of one process so far (user and system).
    fn cpu_of(pid: u32) -> f64 {
        let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
            .ok()
            .flatten()
            .unwrap_or(100) as f64;
        let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("the backend");
        let rest = text.rsplit_once(')').expect("a stat line").1;
        let fields: Vec<f64> = rest
            .split_whitespace()
            .map(|f| f.parse().unwrap_or(0.0))
            .collect();
        (fields[11] + fields[12]) / ticks
    }

    #[test]
    fn the_server_is_ready_when_its_pid_file_says_so() {
        let starting = "4242\n/tmp/d/data\n1765100000\n5433\n/tmp/d\n127.0.0.1\n  5433001         0\nstarting\n";
        assert_eq!(ready_postmaster(starting), None);
        assert_eq!(
            ready_postmaster(&starting.replace("starting", "ready   ")),
            Some(4242)
        );
        // Written part way.
        assert_eq!(ready_postmaster("4242\n/tmp/d/data\n"), None);
    }

    #[test]
    fn the_servers_user_is_read_from_passwd_and_status() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\npostgres:x:101:104:PostgreSQL administrator,,,:/var/lib/postgresql:/bin/bash\n";
        assert_eq!(
            user_named(passwd, "postgres"),
            Some(User {
                name: "postgres".into(),
                uid: 101,
                gid: 104
            })
        );
        assert_eq!(user_named(passwd, "post"), None);
        assert_eq!(user_named("postgres:x:oops:1:", "postgres"), None);
        let status = "Name:\tbench\nUid:\t1000\t0\t0\t0\nGid:\t0\t0\t0\t0\n";
        assert_eq!(effective_uid(status), Some(0));
        assert_eq!(effective_uid("Name:\tbench\n"), None);
    }

    /// The meter of the bench's own server counts a backend's CPU, also once the backend has
    /// exited (through the postmaster's time of its reaped children), and nothing of another
    /// server's backends.
    #[tokio::test]
    async fn the_meter_counts_the_private_servers_backends_even_after_they_exit() {
        let log = std::env::temp_dir().join(format!("bench-pg-test-{}.log", std::process::id()));
        let server = PrivateServer::start(&log).expect("the private server starts");
        let meter = CpuMeter::new(server.postmaster).expect("a meter");
        let before = meter.sample().expect("a sample");
        let mut conn = PgConnection::connect(&server.url).await.expect("connects");
        let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut conn)
            .await
            .expect("its pid");
        let pid = u32::try_from(pid).expect("a pid");
        // Work enough to take several clock ticks on any machine.
        let _: i64 = sqlx::query_scalar("SELECT count(*) FROM generate_series(1, 4000000)")
            .fetch_one(&mut conn)
            .await
            .expect("counts");
        let used = cpu_of(pid);
        assert!(used > 0.0, "the backend used CPU: {used}");
        conn.close().await.expect("closes");
        // The backend exits after the connection closes; the postmaster then reaps it.
        let deadline = Instant::now() + Duration::from_secs(60);
        while Path::new(&format!("/proc/{pid}")).exists() {
            assert!(
                Instant::now() < deadline,
                "backend {pid} still there after 60 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let after = meter.sample().expect("a sample");
        let cost = meter.cost(before, after, 0.0, Default::default());
        assert!(
            cost.server_cpu_seconds >= used,
            "the exited backend's {used} s are counted: {}",
            cost.server_cpu_seconds
        );
        // The same work on another server (the shared one the tests use) is not counted.
        let shared = std::env::var("MIGRATOR_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let mut other = PgConnection::connect(&shared)
            .await
            .unwrap_or_else(|e| panic!("connecting to {shared}: {e}"));
        let other_pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut other)
            .await
            .expect("its pid");
        let before = meter.sample().expect("a sample");
        let _: i64 = sqlx::query_scalar("SELECT count(*) FROM generate_series(1, 4000000)")
            .fetch_one(&mut other)
            .await
            .expect("counts");
        let after = meter.sample().expect("a sample");
        let elsewhere = cpu_of(u32::try_from(other_pid).expect("a pid"));
        let idle = meter.cost(before, after, 0.0, Default::default());
        assert!(
            idle.server_cpu_seconds < elsewhere,
            "the other server's backend ({elsewhere} s) is not counted: {} s",
            idle.server_cpu_seconds
        );
        drop(server);
        let _ = std::fs::remove_file(&log);
    }
}
