//! Generates the example application's data as a mongodump directory, or inserts it into a live
//! MongoDB deployment, with a manifest of the faults injected and the rows every table must end
//! with.
//!
//! ```text
//! cargo run --release -p schema --bin generate-data -- --seed 42 --scale 1 --out dump/app
//! cargo run --release -p schema --features live --bin generate-data -- --mongo-uri mongodb://127.0.0.1:27017/app
//! # then, while a migration copies or follows it: 10,000 changes at 1,000 per second
//! cargo run --release -p schema --features live --bin generate-data -- \
//!     --mongo-uri mongodb://127.0.0.1:27017/app --changes 10000 --change-rate 1000 --change-seed 7
//! ```

#[cfg(feature = "live")]
use std::path::Path;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::Parser;
use schema::generator::dump::{self, CollectionStats};
use schema::generator::{FaultConfig, Generator, GeneratorConfig, Manifest, Stage};

/// Generate the example application's documents as a mongodump directory (`--out`) or into a
/// MongoDB database (`--mongo-uri`), with a manifest of the faults injected and the rows every
/// table must end with.
#[derive(Debug, Parser)]
#[command(name = "generate-data", version)]
struct Args {
    /// Random seed: the same seed and scale give the same bytes.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Scale factor: 1 is about 100,000 documents.
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Output directory (one database's mongodump directory). With --mongo-uri: where the
    /// manifest goes (a `.json` file, or a directory that gets `manifest.json`)
    /// [default with --mongo-uri: ./<database>.manifest.json].
    #[arg(long, required_unless_present = "mongo_uri")]
    out: Option<PathBuf>,
    /// Insert into this MongoDB deployment instead of writing files
    /// (`mongodb://host:27017/NAME`; the database comes from the path or --database). Needs the
    /// `live` feature (`cargo run -p schema --features live --bin generate-data`).
    #[arg(long, value_name = "URI")]
    mongo_uri: Option<String>,
    /// The database to insert into (overrides the URI's).
    #[arg(long, value_name = "NAME", requires = "mongo_uri")]
    database: Option<String>,
    /// Documents per insert_many (a batch also closes before 8 MB; larger documents go alone).
    #[arg(long, default_value_t = schema::generator::DEFAULT_INSERT_BATCH_DOCUMENTS, requires = "mongo_uri")]
    batch_size: usize,
    /// Drop the example's collections in the database first (otherwise a collection that
    /// already has documents stops the insertion before anything is written).
    #[arg(long, requires = "mongo_uri")]
    drop: bool,
    /// Faults of each kind [default: 5 per scale unit, at least 1].
    #[arg(long)]
    faults_per_kind: Option<u64>,
    /// Documents near the 16 MB limit (about 16 MB each).
    #[arg(long, default_value_t = 2)]
    oversized: u64,
    /// Inject no faults at all (overrides the two options above).
    #[arg(long)]
    no_faults: bool,
    /// Instead of inserting, make this many changes to the data an earlier run inserted with
    /// the same --seed, --scale and fault options (inserts, array pushes and pulls, deletes of
    /// referenced documents, documents made invalid, transactions): a change workload to
    /// follow.
    #[arg(long, value_name = "N", requires = "mongo_uri")]
    changes: Option<u64>,
    /// Changes per second (0: as fast as the server takes them).
    #[arg(
        long,
        value_name = "PER_SECOND",
        default_value_t = 0.0,
        requires = "changes"
    )]
    change_rate: f64,
    /// The change workload's seed: the same seeds, the same changes.
    #[arg(long, value_name = "SEED", default_value_t = 1, requires = "changes")]
    change_seed: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    #[cfg(not(feature = "live"))]
    if args.mongo_uri.is_some() {
        eprintln!(
            "error: --mongo-uri: inserting into a live MongoDB deployment needs the schema \
             crate's `live` feature, and this program was built without it: \
             cargo run --release -p schema --features live --bin generate-data -- .."
        );
        return ExitCode::from(2);
    }
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn print_stats(s: &CollectionStats) {
    println!(
        "{:<18} {:>12} {:>14} {:>10.3}",
        s.collection.name(),
        s.documents,
        s.bytes,
        s.elapsed.as_secs_f64()
    );
}

fn run(args: Args) -> anyhow::Result<()> {
    let mut faults = FaultConfig::scaled(args.scale);
    if let Some(n) = args.faults_per_kind {
        faults.per_kind = n;
    }
    faults.oversized = args.oversized;
    if args.no_faults {
        faults = FaultConfig::none();
    }
    let config = GeneratorConfig {
        seed: args.seed,
        scale: args.scale,
        faults,
    };
    let generator = Generator::new(config).context("invalid generator settings")?;
    #[cfg(feature = "live")]
    if let (Some(count), Some(uri)) = (args.changes, &args.mongo_uri) {
        return change(&generator, uri, &args, count);
    }
    let started = Instant::now();
    let (manifest, manifest_path) = match (&args.mongo_uri, &args.out) {
        #[cfg(feature = "live")]
        (Some(uri), out) => insert(&generator, uri, &args, out.as_deref())?,
        #[cfg(not(feature = "live"))]
        (Some(_), _) => anyhow::bail!("--mongo-uri needs the `live` feature"),
        (None, Some(out)) => {
            print_header();
            let manifest = dump::write_dump_with(&generator, out, print_stats)
                .with_context(|| format!("while writing the dump to {}", out.display()))?;
            (manifest, out.join(dump::MANIFEST_FILE))
        }
        (None, None) => anyhow::bail!("say where the data goes: --out DIR or --mongo-uri URI"),
    };
    summarize(&manifest, started);
    println!("manifest: {}", manifest_path.display());
    Ok(())
}

/// Makes `count` changes to the data in the deployment.
#[cfg(feature = "live")]
fn change(generator: &Generator, uri: &str, args: &Args, count: u64) -> anyhow::Result<()> {
    use schema::generator::changes::writer::{ChangeWriter, Pace};
    use schema::generator::changes::ChangePlan;
    use schema::generator::mongo::MongoTarget;
    use std::sync::atomic::AtomicBool;

    let target = MongoTarget::connect(uri, args.database.as_deref())?;
    let database = target.database().to_string();
    drop(target);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the driver's runtime")?;
    let mut plan = ChangePlan::new(generator, args.change_seed);
    let pace = Pace::limited(count, args.change_rate);
    let written = runtime.block_on(async {
        let writer = ChangeWriter::connect(uri, &database).await?;
        let mut next_line = 1.0;
        writer
            .run(&mut plan, &pace, &AtomicBool::new(false), |w| {
                if w.seconds >= next_line {
                    next_line += 1.0;
                    println!(
                        "{} changes, {:.0}/s",
                        w.changes,
                        w.changes as f64 / w.seconds
                    );
                }
            })
            .await
    });
    let written = written.with_context(|| format!("while changing `{database}`"))?;
    let kinds: Vec<String> = plan
        .counts()
        .iter()
        .map(|(kind, n)| format!("{n} {}", kind.name()))
        .collect();
    println!(
        "{} changes ({} writes, {} transactions) in {:.2} s: {:.0} changes/s; {}; {} documents left invalid",
        written.changes,
        written.writes,
        written.transactions,
        written.seconds,
        written.changes as f64 / written.seconds.max(1e-9),
        kinds.join(", "),
        plan.invalid_documents().len()
    );
    Ok(())
}

fn print_header() {
    println!(
        "{:<18} {:>12} {:>14} {:>10}",
        "collection", "documents", "bytes", "seconds"
    );
}

/// Inserts into the deployment; the manifest goes to `out` (a `.json` file or a directory).
#[cfg(feature = "live")]
fn insert(
    generator: &Generator,
    uri: &str,
    args: &Args,
    out: Option<&Path>,
) -> anyhow::Result<(Manifest, PathBuf)> {
    use schema::generator::mongo::{InsertOptions, MongoTarget};
    let shown = migrator::state::redact_url(uri);
    let target = MongoTarget::connect(uri, args.database.as_deref())?;
    let database = target.database().to_string();
    let path = match out {
        Some(p) if p.extension().is_some_and(|e| e == "json") => p.to_path_buf(),
        Some(dir) => dir.join(dump::MANIFEST_FILE),
        None => PathBuf::from(format!("{database}.manifest.json")),
    };
    println!("inserting into database `{database}` at {shown}");
    let options = InsertOptions {
        batch_documents: args.batch_size,
        replace: args.drop,
        ..InsertOptions::default()
    };
    let mut header = true;
    let manifest = target
        .insert(generator, &options, |stats| {
            if std::mem::take(&mut header) {
                print_header();
            }
            print_stats(stats);
        })
        .with_context(|| format!("while inserting into `{database}`"))?;
    manifest
        .write(&path)
        .context("while writing the manifest")?;
    Ok((manifest, path))
}

fn summarize(manifest: &Manifest, started: Instant) {
    let secs = started.elapsed().as_secs_f64().max(1e-9);
    let transform = manifest.rejected_at(Stage::Transform).count();
    let reference = manifest.rejected_at(Stage::Reference).count();
    let rows: u64 = manifest.tables.values().sum();
    println!(
        "{} documents, {:.1} MB in {secs:.2} s: {:.0} documents/s, {:.1} MB/s",
        manifest.documents,
        manifest.bytes as f64 / 1e6,
        manifest.documents as f64 / secs,
        manifest.bytes as f64 / 1e6 / secs
    );
    println!(
        "{} faults ({transform} rejected at transform, {reference} at reference resolution); {rows} rows expected in {} tables",
        manifest.faults.len(),
        manifest.tables.len()
    );
}
