//! `scaffold`: scan a source, write a schema crate, print what was found and the forecast.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use clap::Args;

use super::failure::UsageError;
use super::options::{exit, SourceArgs};
use super::scaffold_progress::ScanProgress;
use crate::scaffold::origin::{self, Origin};
use crate::scaffold::{self, CrateSpec};
use crate::schema::Schema;
use crate::source::UniqueIndex;

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
    /// was built from). Written relative to the crate when both are under one directory below
    /// the root, else absolute.
    #[arg(long, conflicts_with = "migrator_git")]
    pub migrator_path: Option<PathBuf>,
    /// Depend on migrator from this git repository instead (`migrator = { git = URL }`): for a
    /// crate that builds on other machines.
    #[arg(long)]
    pub migrator_git: Option<String>,
    /// Then build the crate and run its `migrate --dry-run` over the same source.
    #[arg(long)]
    pub dry_run: bool,
    /// Compare the scaffolded models with this CLI's own (a schema crate's CLI): per feature the
    /// share of its references, junctions, child tables, natural keys, enums and optional fields
    /// found, and every difference with the evidence behind it.
    #[arg(long)]
    pub compare: bool,
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

/// Runs the command; returns the exit code. `models`: the CLI's own models, for `--compare`.
pub fn run(args: &ScaffoldArgs, models: Option<&Schema>) -> u8 {
    match run_inner(args, models) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            super::failure::exit_code(&e)
        }
    }
}

fn run_inner(args: &ScaffoldArgs, models: Option<&Schema>) -> anyhow::Result<u8> {
    let spec_text = args.source.source.clone().unwrap_or_default();
    // Where the crate takes migrator from, decided before anything is read.
    let origin = match (&args.migrator_git, &args.migrator_path) {
        (Some(url), _) => Origin::Git {
            url: url.clone(),
            rev: String::new(),
            checkout: PathBuf::new(),
        },
        (None, Some(p)) => Origin::Checkout(p.canonicalize().unwrap_or_else(|_| p.clone())),
        (None, None) => origin::origin(
            Path::new(env!("CARGO_MANIFEST_DIR")),
            origin::cargo_home().as_deref(),
            origin::install_root().as_deref(),
        ),
    };
    if let Origin::Gone(dir) = &origin {
        return Err(UsageError(format!(
            "the migrator sources this binary was built from ({}) are gone, so the crate has \
             nothing to depend on: give --migrator-path <checkout>/migrator or --migrator-git <URL>",
            dir.display()
        ))
        .into());
    }
    let source = super::source::open(&args.source)?;
    // Unique indexes: a dump's or archive's metadata, a live deployment's index list.
    let unique = |c: &str| -> Vec<UniqueIndex> {
        source.unique_indexes(c).unwrap_or_else(|e| {
            eprintln!("warning: the unique indexes of `{c}` could not be read ({e}): natural keys come from the values only");
            Vec::new()
        })
    };
    eprintln!(
        "scanning {}{}",
        source.describe(),
        match args.sample {
            Some(n) => format!(" (a sample: at most {n} documents per collection)"),
            None => " (every document; --sample N to bound it)".into(),
        }
    );
    // The source's own estimates, for the bar's length (a dump's are extrapolated).
    let estimated = source.collections().ok().and_then(|infos| {
        infos
            .iter()
            .map(|c| {
                c.estimated_documents
                    .map(|e| args.sample.map_or(e, |s| e.min(s)))
            })
            .sum::<Option<u64>>()
    });
    let started = Instant::now();
    let mut bar = ScanProgress::new(estimated, "documents");
    let scan = scaffold::scan(source.as_ref(), args.sample, &unique, &mut |c, n, done| {
        bar.update(c, n, done)
    });
    bar.finish();
    let scan = scan.context("while scanning the source")?;
    let took = started.elapsed().as_secs_f64();
    let documents = scan.documents();
    let bytes: u64 = scan.collections.iter().map(|c| c.bytes).sum();
    let confirmed_from = Instant::now();
    let mut again = ScanProgress::new(
        None,
        "documents read again (exact counts: sampled guesses, dangling references)",
    );
    let result = scaffold::scaffold(scan, source.as_ref(), &mut |c, n, done| {
        again.update(c, n, done)
    });
    again.finish();
    let result =
        result.context("while confirming the sampled references and keys by a second read")?;
    let confirming = confirmed_from.elapsed().as_secs_f64();

    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let out = args.out.canonicalize().unwrap_or_else(|_| args.out.clone());
    // The package directory whose workspace lock file the crate starts from, and the dependency.
    let (local, migrator) = match origin {
        Origin::Checkout(dir) | Origin::Gone(dir) => {
            let dep = scaffold::Dependency::path_from(&out, &dir);
            (Some(dir), dep)
        }
        Origin::Git { url, rev, checkout } => {
            let rev = (!rev.is_empty()).then_some(rev);
            let local = rev.is_some().then_some(checkout);
            (local, scaffold::Dependency::Git { url, rev })
        }
    };
    let absolute = match &migrator {
        scaffold::Dependency::Path(p) if p.is_absolute() => Some(p.clone()),
        _ => None,
    };
    let spec = CrateSpec {
        name: args.name.clone().unwrap_or_else(|| package_name(&args.out)),
        migrator,
    };
    let files = scaffold::write::files(&result.krate, &result.scan, &spec);
    let written = scaffold::write::write(&args.out, &files)
        .with_context(|| format!("writing the crate into {}", args.out.display()))?;
    // The workspace's lock file, so the crate builds with the versions migrator was tested with
    // (and offline, from the same registry cache).
    let lock = args.out.join("Cargo.lock");
    if let (false, Some(ws_lock)) = (
        lock.exists(),
        local
            .as_deref()
            .and_then(Path::parent)
            .map(|p| p.join("Cargo.lock")),
    ) {
        let _ = std::fs::copy(ws_lock, &lock);
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
    let c = result.confirmation;
    if c.confirmed > 0 {
        say!(
            "confirmed {} guesses made on a hash sample exactly, reading only the key paths concerned again: {} key values held, {} references looked up, in {} pass{} ({confirming:.2}s)",
            c.confirmed,
            c.keys,
            c.looked_up,
            c.parts,
            if c.parts == 1 { "" } else { "es" }
        );
    }
    if c.dangling_counted > 0 {
        say!(
            "counted the documents holding a dangling value of {} reference{} by a second read of only the key paths concerned",
            c.dangling_counted,
            if c.dangling_counted == 1 { "" } else { "s" }
        );
    }
    for line in result.summary() {
        say!("  {line}");
    }
    say!(
        "wrote {} ({} files written, {} unchanged)",
        args.out.display(),
        written.written.len(),
        written.unchanged.len()
    );
    if let Some(p) = absolute {
        say!(
            "  it depends on migrator by the absolute path {}: it builds on this machine only (--migrator-git <URL> for elsewhere)",
            p.display()
        );
    }
    for rel in &written.beside {
        let p = args.out.join(rel);
        say!(
            "  {rel} was edited since scaffold wrote it: kept; the new version is beside it (diff -u {} {}.new)",
            p.display(),
            p.display()
        );
    }
    if args.compare {
        match models.filter(|m| !m.models().is_empty()) {
            Some(models) => {
                say!("compared with this CLI's models (hand: theirs, found: by the scaffold, added: only in the scaffold):");
                for line in scaffold::compare::compare(models, &result).lines() {
                    say!("  {line}");
                }
            }
            None => say!("--compare: this CLI has no models to compare with (run it from a schema crate's CLI)"),
        }
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
