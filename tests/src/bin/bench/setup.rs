//! Everything prepared before the clock starts: the data, the mapping, the baselines'
//! dependencies and the Mongo-wire server with the documents in it.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use migrator::bson::RawDocumentBuf;
use migrator::source::dump::BsonFileReader;
use migrator::source::{ArchiveCollection, ArchiveWriter};
use schema::generator::manifest::Manifest;
use schema::generator::{dump, FaultConfig, Generator, GeneratorConfig};

/// The example application's data at one scale, without injected faults.
#[derive(Debug, Clone)]
pub struct Data {
    pub dir: PathBuf,
    pub manifest: Manifest,
}

impl Data {
    pub fn rows(&self) -> u64 {
        self.manifest.tables.values().sum()
    }
}

/// Writes the dump (unless the same seed and scale are there already) and returns it.
pub fn generate(root: &Path, seed: u64, scale: f64) -> anyhow::Result<Data> {
    let dir = root.join(format!("data/seed-{seed}-scale-{}", scale_label(scale)));
    let manifest_path = dir.join(dump::MANIFEST_FILE);
    if let Ok(manifest) = Manifest::read(&manifest_path) {
        if manifest.seed == seed && manifest.scale == scale && manifest.faults.is_empty() {
            return Ok(Data { dir, manifest });
        }
    }
    let generator = Generator::new(GeneratorConfig {
        seed,
        scale,
        faults: FaultConfig::none(),
    })
    .context("invalid generator settings")?;
    let started = Instant::now();
    let manifest = dump::write_dump(&generator, &dir)
        .with_context(|| format!("writing the dump to {}", dir.display()))?;
    eprintln!(
        "generated scale {scale}: {} documents, {:.1} MB in {:.1} s ({})",
        manifest.documents,
        manifest.bytes as f64 / 1e6,
        started.elapsed().as_secs_f64(),
        dir.display()
    );
    Ok(Data { dir, manifest })
}

/// `1`, `0.1`, `10` without a dot (paths and log names use it).
pub fn scale_label(scale: f64) -> String {
    format!("{scale}").replace('.', "_")
}

/// Writes the example schema's mapping (for the baselines) to `path`.
pub fn write_mapping(path: &Path) -> anyhow::Result<()> {
    let schema = schema::example::schema().context("the example schema is inconsistent")?;
    let mapping = migrator::mapping::mapping(&schema, Some("public"));
    let text = serde_json::to_string_pretty(&mapping)?;
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// The cargo profile the published figures come from: release with fat LTO and one codegen unit
/// (the workspace's `Cargo.toml`). migrator runs as this very binary, so it is the profile this
/// binary was built with that counts.
pub const PROFILE: &str = "bench-release";

/// The cargo profile a binary at `exe` was built with, read from the directory cargo put it in
/// (`target/<profile>/bench`; the `dev` profile's directory is `debug`).
pub fn build_profile(exe: &Path) -> String {
    match exe
        .parent()
        .and_then(Path::file_name)
        .and_then(|d| d.to_str())
    {
        Some("debug") => "dev".into(),
        Some(dir) => dir.into(),
        None => "unknown".into(),
    }
}

/// The repository's root (the workspace this binary was built from).
pub fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn run_quietly(cmd: &mut Command, what: &str) -> anyhow::Result<()> {
    let output = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("{what}: cannot start"))?;
    if !output.status.success() {
        bail!(
            "{what} failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// A virtual environment with the Python baseline's requirements; returns its interpreter.
pub fn python(root: &Path) -> anyhow::Result<PathBuf> {
    let venv = root.join("python-venv");
    let python = venv.join("bin/python");
    let requirements = repository().join("tests/bench/python/requirements.txt");
    let stamp = venv.join("requirements.txt");
    let wanted = std::fs::read_to_string(&requirements)
        .with_context(|| format!("reading {}", requirements.display()))?;
    if python.exists() && std::fs::read_to_string(&stamp).ok().as_deref() == Some(&wanted) {
        return Ok(python);
    }
    eprintln!(
        "installing the Python baseline's requirements into {}",
        venv.display()
    );
    run_quietly(
        Command::new("python3").arg("-m").arg("venv").arg(&venv),
        "python3 -m venv",
    )?;
    run_quietly(
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
            ])
            .arg(&requirements),
        "pip install",
    )?;
    std::fs::write(&stamp, wanted)?;
    Ok(python)
}

/// `npm ci` in the Node baseline's folder (when its lock file changed); returns the folder.
pub fn node() -> anyhow::Result<PathBuf> {
    let dir = repository().join("tests/bench/node");
    let lock = std::fs::read_to_string(dir.join("package-lock.json"))
        .context("reading tests/bench/node/package-lock.json")?;
    let stamp = dir.join("node_modules/.bench-lock");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(&lock) {
        return Ok(dir);
    }
    eprintln!(
        "installing the Node baseline's dependencies (npm ci) in {}",
        dir.display()
    );
    run_quietly(
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dir),
        "npm ci",
    )?;
    std::fs::write(&stamp, lock)?;
    Ok(dir)
}

/// A Mongo-wire server: one given by URL, or one started here (and stopped on drop).
#[derive(Debug)]
pub struct MongoServer {
    pub url: String,
    child: Option<Child>,
    _storage: Option<tempfile::TempDir>,
}

impl Drop for MongoServer {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl MongoServer {
    pub fn external(url: String) -> MongoServer {
        MongoServer {
            url,
            child: None,
            _storage: None,
        }
    }

    /// Starts SecantusDB's server (installed by `.ci/secantus.sh`) on a free port.
    pub fn start(root: &Path) -> anyhow::Result<MongoServer> {
        let script = repository().join(".ci/secantus.sh");
        let output = Command::new("bash")
            .arg(&script)
            .stderr(Stdio::inherit())
            .output()
            .with_context(|| format!("running {}", script.display()))?;
        if !output.status.success() {
            bail!("{} failed: {}", script.display(), output.status);
        }
        let binary = String::from_utf8_lossy(&output.stdout).trim().to_string();
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        std::fs::create_dir_all(root)?;
        let storage = tempfile::Builder::new()
            .prefix("mongo-")
            .tempdir_in(root)
            .context("creating the Mongo-wire server's storage")?;
        let log = std::fs::File::create(root.join("mongo-server.log"))?;
        let child = Command::new(&binary)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .arg("--storage-path")
            .arg(storage.path())
            .args(["--cache-size", "1G", "--log-file-max", "64MB"])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {binary}"))?;
        let server = MongoServer {
            url: format!("mongodb://127.0.0.1:{port}"),
            child: Some(child),
            _storage: Some(storage),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                bail!("the Mongo-wire server did not listen on port {port} within 30 s");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(server)
    }

    /// The server's process id, if it was started here.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The URI of `database` on this server.
    pub fn uri(&self, database: &str) -> String {
        format!("{}/{database}", self.url.trim_end_matches('/'))
    }
}

/// Documents of one collection per archive block (mongodump interleaves the collections it
/// dumps concurrently).
const ARCHIVE_RUN: usize = 1000;

/// Writes the dump as a gzip mongodump archive of database `bench` next to it (unless it is
/// there already), its collections interleaved in blocks of [`ARCHIVE_RUN`] documents.
pub fn write_archive(data: &Data) -> anyhow::Result<PathBuf> {
    let path = data.dir.with_extension("archive.gz");
    if path.exists() {
        return Ok(path);
    }
    let started = Instant::now();
    let names: Vec<&String> = data.manifest.collections.keys().collect();
    let mut prelude = Vec::new();
    let mut readers = Vec::new();
    for name in &names {
        let mut collection = ArchiveCollection::new("bench", name);
        let metadata = data.dir.join(format!("{name}.metadata.json"));
        if let Ok(text) = std::fs::read_to_string(&metadata) {
            collection.metadata = text;
        }
        prelude.push(collection);
        readers.push(Some(BsonFileReader::open(
            &data.dir.join(format!("{name}.bson")),
        )?));
    }
    let partial = path.with_extension("partial");
    let file = std::fs::File::create(&partial)
        .with_context(|| format!("creating {}", partial.display()))?;
    let gzip = flate2::write::GzEncoder::new(
        std::io::BufWriter::new(file),
        flate2::Compression::default(),
    );
    let mut writer = ArchiveWriter::new(gzip, &prelude)?;
    while readers.iter().any(Option::is_some) {
        for (name, slot) in names.iter().zip(&mut readers) {
            let Some(reader) = slot else { continue };
            for _ in 0..ARCHIVE_RUN {
                match reader.next() {
                    Some(doc) => writer.write("bench", name, &doc?.doc)?,
                    None => {
                        writer.finish_collection("bench", name)?;
                        *slot = None;
                        break;
                    }
                }
            }
        }
    }
    writer.finish()?.finish()?.into_inner()?.sync_all()?;
    std::fs::rename(&partial, &path)
        .with_context(|| format!("renaming {} to {}", partial.display(), path.display()))?;
    eprintln!(
        "wrote {} in {:.1} s (not timed)",
        path.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(path)
}

/// Inserts every collection of the dump into `database` (dropped first).
pub async fn load_mongo(server: &MongoServer, database: &str, data: &Data) -> anyhow::Result<()> {
    let client = mongodb::Client::with_uri_str(&server.url)
        .await
        .with_context(|| format!("connecting to {}", server.url))?;
    let db = client.database(database);
    db.drop().await.context("dropping the benchmark database")?;
    let started = Instant::now();
    for name in data.manifest.collections.keys() {
        let path = data.dir.join(format!("{name}.bson"));
        let coll = db.collection::<RawDocumentBuf>(name);
        let mut chunk = Vec::with_capacity(1000);
        for doc in BsonFileReader::open(&path)? {
            chunk.push(doc?.doc);
            if chunk.len() == 1000 {
                coll.insert_many(std::mem::take(&mut chunk))
                    .await
                    .with_context(|| format!("inserting into {name}"))?;
            }
        }
        if !chunk.is_empty() {
            coll.insert_many(chunk)
                .await
                .with_context(|| format!("inserting into {name}"))?;
        }
    }
    eprintln!(
        "inserted {} documents into {database} on {} in {:.1} s (not timed)",
        data.manifest.documents,
        server.url,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_profile_is_read_from_the_binary_s_directory() {
        let cases = [
            ("/w/target/bench-release/bench", "bench-release"),
            ("/w/target/release/bench", "release"),
            ("/w/target/debug/bench", "dev"),
            (
                "/w/target/x86_64-unknown-linux-gnu/bench-release/bench",
                "bench-release",
            ),
            ("bench", "unknown"),
        ];
        for (exe, profile) in cases {
            assert_eq!(build_profile(Path::new(exe)), profile, "{exe}");
        }
    }
}
