//! The real Prisma CLI and Prisma Client (6.19.3, installed by `.ci/prisma.sh` into a cache
//! outside the repository): tables created from a `schema.prisma` as a Prisma team creates
//! them, and the migrated data read back through the generated client.
//!
//! Prisma 6's `db push` and `migrate deploy` fail on PostgreSQL 15 with its JavaScript schema
//! engine (prisma/orm issue 27403); `migrate diff --from-empty --script` prints the same SQL,
//! which `psql` applies. Every failure panics with the tool's own output: nothing is skipped.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::pg::TestDb;

/// A `schema.prisma` set up in a directory of its own under the tool cache (where Node finds
/// the installed packages), its client generated there.
#[derive(Debug)]
pub struct PrismaProject {
    tools: PathBuf,
    dir: tempfile::TempDir,
}

impl PrismaProject {
    /// Installs the tools when missing and writes `schema` (its generator's output set to the
    /// project's directory) and the test's Node script.
    pub fn new(schema: &str) -> PrismaProject {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.ci/prisma.sh");
        let out = Command::new("bash")
            .arg(&script)
            .stderr(Stdio::inherit())
            .output()
            .unwrap_or_else(|e| panic!("running {}: {e}", script.display()));
        assert!(out.status.success(), "{} failed", script.display());
        let tools = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        let runs = tools.join("runs");
        std::fs::create_dir_all(&runs)
            .unwrap_or_else(|e| panic!("creating {}: {e}", runs.display()));
        let dir = tempfile::tempdir_in(&runs).expect("a project directory");
        let output = dir.path().join("client");
        let schema = schema.replacen(
            "engineType = \"client\"",
            &format!(
                "engineType = \"client\"\n  output     = \"{}\"",
                output.display()
            ),
            1,
        );
        assert!(
            schema.contains("output     ="),
            "the schema has a client generator with engineType = \"client\""
        );
        std::fs::write(dir.path().join("schema.prisma"), schema).expect("writing schema.prisma");
        let reader = Path::new(env!("CARGO_MANIFEST_DIR")).join("prisma/read.js");
        std::fs::copy(&reader, dir.path().join("read.js"))
            .unwrap_or_else(|e| panic!("copying {}: {e}", reader.display()));
        PrismaProject { tools, dir }
    }

    fn prisma(&self, db: &TestDb, args: &[&str]) -> Output {
        let out = Command::new(self.tools.join("node_modules/.bin/prisma"))
            .args(args)
            .current_dir(&self.tools)
            .env("DATABASE_URL", db.url())
            .env(
                "MIGRATOR_PRISMA_SCHEMA",
                self.dir.path().join("schema.prisma"),
            )
            .env("PRISMA_HIDE_UPDATE_MESSAGE", "1")
            .env("CHECKPOINT_DISABLE", "1")
            .output()
            .expect("running the prisma CLI");
        assert!(
            out.status.success(),
            "prisma {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Creates the schema's tables in `db` as Prisma does, and generates the client.
    pub fn create_tables(&self, db: &TestDb) -> String {
        let schema = self.dir.path().join("schema.prisma");
        let schema = schema.to_string_lossy();
        let diff = self.prisma(
            db,
            &[
                "migrate",
                "diff",
                "--from-empty",
                "--to-schema-datamodel",
                &schema,
                "--script",
            ],
        );
        let sql = String::from_utf8_lossy(&diff.stdout).into_owned();
        assert!(
            sql.contains("CREATE TABLE"),
            "prisma printed no tables:\n{sql}"
        );
        let mut psql = Command::new("psql")
            .args([db.url(), "-q", "-v", "ON_ERROR_STOP=1", "-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("running psql");
        {
            use std::io::Write;
            let mut stdin = psql.stdin.take().expect("psql's stdin");
            stdin.write_all(sql.as_bytes()).expect("writing to psql");
        }
        let applied = psql.wait_with_output().expect("psql ends");
        assert!(
            applied.status.success(),
            "psql refused Prisma's SQL:\n{}",
            String::from_utf8_lossy(&applied.stderr)
        );
        self.prisma(db, &["generate", "--schema", &schema]);
        sql
    }

    /// Runs the Node script with `args`, returning the JSON it prints.
    pub fn read(&self, db: &TestDb, args: &[&str]) -> serde_json::Value {
        let out = Command::new("node")
            .arg(self.dir.path().join("read.js"))
            .args(args)
            .env("DATABASE_URL", db.url())
            .env("PRISMA_CLIENT", self.dir.path().join("client"))
            .output()
            .expect("running node");
        assert!(
            out.status.success(),
            "the Prisma Client script failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "the script printed no JSON ({e}):\n{}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }
}
