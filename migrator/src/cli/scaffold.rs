//! `scaffold`: scan a source, write a schema crate, print what was found and the forecast.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use clap::Args;

use super::options::{exit, SourceArgs, SourceKind};
use crate::scaffold::{self, CrateSpec};
use crate::source::{ArchiveSource, DumpSource, UniqueIndex};

#[derive(Debug, Args)]
pub struct ScaffoldArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// The crate's directory (made if absent). Files edited since an earlier `scaffold` are
    /// not replaced: the new version is written beside them (`src/lib.rs.new`).
    #[arg(long)]
    pub out: PathBuf,
    /// Read at most N documents per collection (default: every document).
    #[arg(long)]
    pub sample: Option<u64>,
    /// The package name (default: the directory's name).
    #[arg(long)]
    pub name: Option<String>,
    /// The `migrator` package directory for the path dependency (default: where this migrator
    /// was built from).
    #[arg(long)]
    pub migrator_path: Option<PathBuf>,
    /// Then build the crate and run its `migrate --dry-run` over the same source.
    #[arg(long)]
    pub dry_run: bool,
}

fn package_name(out: &Path) -> String {
    let raw = out
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let mut name: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        name = format!("schema-{name}");
    }
    name
}

/// Runs the command; returns the exit code.
pub fn run(args: &ScaffoldArgs) -> u8 {
    match run_inner(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            super::failure::exit_code(&e)
        }
    }
}

fn run_inner(args: &ScaffoldArgs) -> anyhow::Result<u8> {
    let spec_text = args.source.source.clone().unwrap_or_default();
    let source = super::source::open(&args.source)?;
    let kind = match args.source.source_kind {
        Some(k) => k,
        None => super::source::detect(&spec_text)?,
    };
    // Unique indexes from the dump's or archive's metadata.
    let dump = (kind == SourceKind::Dump)
        .then(|| DumpSource::open(Path::new(&spec_text)).ok())
        .flatten();
    let archive = (kind == SourceKind::Archive)
        .then(|| ArchiveSource::open(Path::new(&spec_text)).ok())
        .flatten();
    let unique = |c: &str| -> Vec<UniqueIndex> {
        let found = match (&dump, &archive) {
            (Some(d), _) => d.unique_indexes(c).ok(),
            (_, Some(a)) => a.unique_indexes(c).ok(),
            _ => None,
        };
        found.unwrap_or_default()
    };
    eprintln!(
        "scanning {}{}",
        source.describe(),
        match args.sample {
            Some(n) => format!(" (a sample: at most {n} documents per collection)"),
            None => " (every document; --sample N to bound it)".into(),
        }
    );
    let started = Instant::now();
    let mut last = Instant::now();
    let mut progress = |collection: &str, docs: u64, done: bool| {
        if done || last.elapsed().as_secs() >= 2 {
            last = Instant::now();
            eprintln!(
                "  {collection}: {docs} documents{}",
                if done { "" } else { " so far" }
            );
        }
    };
    let scan = scaffold::scan(source.as_ref(), args.sample, &unique, &mut progress)
        .context("while scanning the source")?;
    let took = started.elapsed().as_secs_f64();
    let documents = scan.documents();
    let bytes: u64 = scan.collections.iter().map(|c| c.bytes).sum();
    let result = scaffold::scaffold(scan);

    let migrator = match &args.migrator_path {
        Some(p) => p.clone(),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")),
    };
    let migrator = migrator.canonicalize().unwrap_or(migrator);
    let spec = CrateSpec {
        name: args.name.clone().unwrap_or_else(|| package_name(&args.out)),
        migrator: migrator.clone(),
    };
    let files = scaffold::write::files(&result.krate, &result.scan, &spec);
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let written = scaffold::write::write(&args.out, &files)
        .with_context(|| format!("writing the crate into {}", args.out.display()))?;
    // The workspace's lock file, so the crate builds with the versions migrator was tested with
    // (and offline, from the same registry cache).
    let lock = args.out.join("Cargo.lock");
    if !lock.exists() {
        if let Some(ws_lock) = migrator.parent().map(|p| p.join("Cargo.lock")) {
            let _ = std::fs::copy(ws_lock, &lock);
        }
    }

    say!(
        "scanned {documents} documents ({:.1} MB) in {took:.2}s: {:.0} documents/s{}",
        bytes as f64 / 1e6,
        documents as f64 / took.max(1e-9),
        match args.sample {
            Some(n) => format!(" (a sample of at most {n} per collection)"),
            None => String::new(),
        }
    );
    for line in result.summary() {
        say!("  {line}");
    }
    say!(
        "wrote {} ({} files written, {} unchanged)",
        args.out.display(),
        written.written.len(),
        written.unchanged.len()
    );
    for rel in &written.beside {
        let p = args.out.join(rel);
        say!(
            "  {rel} was edited since scaffold wrote it: kept; the new version is beside it (diff -u {} {}.new)",
            p.display(),
            p.display()
        );
    }
    let forecast = result.forecast();
    if forecast.is_empty() {
        say!("forecast (from the scan): no document should be rejected");
    } else {
        say!("forecast (from the scan): documents will be rejected:");
        for line in &forecast {
            say!("  {line}");
        }
    }
    let manifest = args.out.join("Cargo.toml");
    let dry_run = format!(
        "cargo run --manifest-path {} -- migrate --dry-run --source {spec_text}",
        manifest.display()
    );
    if !args.dry_run {
        say!("the runtime's own forecast: {dry_run}");
        return Ok(exit::OK);
    }
    say!("building the crate and running its dry run: {dry_run}");
    let status =
        std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["run", "--quiet", "--manifest-path"])
            .arg(&manifest)
            .args([
                "--",
                "migrate",
                "--dry-run",
                "--accept-rejected",
                "100%",
                "--source",
                &spec_text,
            ])
            .status()
            .context("running cargo")?;
    Ok(if status.success() {
        exit::OK
    } else {
        exit::FAILED
    })
}
