//! The one-command demo: generate the example application's data (a mongodump directory),
//! migrate it into a fresh PostgreSQL database with the example's binary, validate, and check the
//! result against what the generator says must be there.
//!
//! ```text
//! cargo run --release -p schema --bin demo [-- --scale 1 --seed 42 --database migrator_demo]
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::Parser;
use schema::generator::{dump, FaultConfig, Generator, GeneratorConfig, Manifest, Stage};
use sqlx::{Connection, Executor, Row};

#[derive(Debug, Parser)]
#[command(
    name = "demo",
    about = "Generate, migrate, validate and check the example application's data."
)]
struct Args {
    /// Scale factor of the generated data (1 is about 100,000 documents).
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Random seed of the generated data.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// The PostgreSQL server (any database on it; the demo creates its own).
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    pg_url: String,
    /// The database the demo (re)creates.
    #[arg(long, default_value = "migrator_demo")]
    database: String,
    /// Where the generated mongodump directory goes.
    #[arg(long, default_value = "target/demo/dump")]
    out: PathBuf,
}

/// The example's migration binary, as a command that runs from the repository (its release
/// build shares the demo's compiled dependencies).
const EXAMPLE_APP: &str = "cargo run -q --release -p schema --bin example-app --";

fn main() -> ExitCode {
    match run(&Args::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs one future on a runtime of its own (the CLI starts its own runtime in between).
fn block_on<T>(future: impl std::future::Future<Output = T>) -> anyhow::Result<T> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting an async runtime")?;
    Ok(runtime.block_on(future))
}

fn run(args: &Args) -> anyhow::Result<ExitCode> {
    println!(
        "1/4 generating the example application's data (scale {}, seed {})",
        args.scale, args.seed
    );
    let started = Instant::now();
    let generator = Generator::new(GeneratorConfig {
        seed: args.seed,
        scale: args.scale,
        faults: FaultConfig::scaled(args.scale),
    })
    .context("invalid generator settings")?;
    if args.out.exists() {
        std::fs::remove_dir_all(&args.out)
            .with_context(|| format!("clearing {}", args.out.display()))?;
    }
    let manifest = dump::write_dump(&generator, &args.out)
        .with_context(|| format!("writing the dump to {}", args.out.display()))?;
    println!(
        "    {} documents in {} collections ({:.1} MB) in {:.1}s at {}; {} injected faults (manifest.json says which)",
        manifest.documents,
        manifest.collections.len(),
        manifest.bytes as f64 / 1e6,
        started.elapsed().as_secs_f64(),
        args.out.display(),
        manifest.faults.len()
    );

    println!("2/4 creating a fresh database `{}`", args.database);
    let url = block_on(recreate_database(&args.pg_url, &args.database))??;

    println!("3/4 migrating and validating, as a user would run the example's binary:");
    let source = args.out.display().to_string();
    // The injected faults are rejected on purpose: exactly that many are accepted (more would
    // exit with code 6).
    let accepted = manifest.rejections().to_string();
    let argv = [
        EXAMPLE_APP,
        "migrate",
        "--source",
        source.as_str(),
        "--pg-url",
        url.as_str(),
        "--dead-letters",
        "target/demo/dead-letters.jsonl",
        "--validate",
        "--accept-rejected",
        accepted.as_str(),
    ];
    println!("    {}", argv.join(" "));
    let code = migrator::cli::main_from(argv, schema::example::schema);
    if code != ExitCode::SUCCESS {
        eprintln!("the migration did not complete; see the messages above");
        return Ok(code);
    }

    println!("4/4 checking the target against the generator's manifest");
    let problems = block_on(check_manifest(&url, &manifest))??;
    if problems.is_empty() {
        println!(
            "    all {} tables hold exactly the rows the manifest expects, and every injected fault is a dead letter with its expected class",
            manifest.tables.len()
        );
    } else {
        for p in &problems {
            println!("    MISMATCH {p}");
        }
    }
    println!(
        "\nLook around:\n  psql '{url}' -c '\\dt+'\n  {EXAMPLE_APP} --pg-url '{url}' errors list\n  \
         {EXAMPLE_APP} plan     # what each collection became"
    );
    Ok(if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Drops and creates `name` on the server of `base`, returning its URL.
async fn recreate_database(base: &str, name: &str) -> anyhow::Result<String> {
    let mut admin = sqlx::PgConnection::connect(base).await.with_context(|| {
        format!(
            "connecting to PostgreSQL at {} (is it running? set DATABASE_URL or --pg-url)",
            migrator::state::redact_url(base)
        )
    })?;
    let quoted = migrator::naming::quote_ident(name);
    admin
        .execute(format!("DROP DATABASE IF EXISTS {quoted} WITH (FORCE)").as_str())
        .await
        .with_context(|| format!("dropping the previous {name}"))?;
    admin
        .execute(format!("CREATE DATABASE {quoted}").as_str())
        .await
        .with_context(|| format!("creating {name}"))?;
    Ok(migrator::testing::url_with_database(base, name))
}

/// Every table's rows and the dead letters against the manifest.
async fn check_manifest(url: &str, manifest: &Manifest) -> anyhow::Result<Vec<String>> {
    let mut conn = sqlx::PgConnection::connect(url)
        .await
        .context("connecting to the demo database")?;
    let mut problems = Vec::new();
    for (table, expected) in &manifest.tables {
        let sql = format!(
            "SELECT count(*) FROM {}",
            migrator::naming::quote_ident(table)
        );
        let actual: i64 = sqlx::query_scalar(&sql)
            .fetch_one(&mut conn)
            .await
            .with_context(|| format!("counting {table}"))?;
        if u64::try_from(actual).ok() != Some(*expected) {
            problems.push(format!(
                "table {table}: {actual} rows, the manifest expects {expected}"
            ));
        }
    }
    let letters: Vec<(String, String)> =
        sqlx::query("SELECT document_id, class FROM _migrator.dead_letters")
            .fetch_all(&mut conn)
            .await
            .context("reading the dead letters")?
            .into_iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
    let rejected: Vec<_> = manifest
        .faults
        .iter()
        .filter(|f| f.stage != Stage::None)
        .collect();
    for fault in &rejected {
        if !letters
            .iter()
            .any(|(id, class)| id == &fault.id && Some(class) == fault.class.as_ref())
        {
            problems.push(format!(
                "fault {} {} ({:?}) has no dead letter of class {:?}",
                fault.collection, fault.id, fault.kind, fault.class
            ));
        }
    }
    if letters.len() != rejected.len() {
        problems.push(format!(
            "{} dead letters, the manifest injected {} rejections",
            letters.len(),
            rejected.len()
        ));
    }
    Ok(problems)
}
