//! The binary's surface: help, usage errors, configuration layering and error text, with the
//! documented exit codes.

use migrator_e2e::cli::{Cli, SchemaChoice};
use migrator_e2e::data::Dataset;
use migrator_e2e::expect::RealOutcome;
use migrator_e2e::pg::TestDb;

const BIN: &str = env!("CARGO_BIN_EXE_e2e-migrate");

#[test]
fn help_lists_every_command_and_usage_errors_exit_2() {
    let cli = Cli::new(
        BIN,
        SchemaChoice::Real,
        "postgres://unused@127.0.0.1:1/none",
    );
    let help = cli.run(&["--help"]);
    help.expect_code(0);
    for command in [
        "migrate", "plan", "ddl", "status", "validate", "errors", "reset",
    ] {
        assert!(
            help.stdout.contains(command),
            "--help lacks `{command}`:\n{}",
            help.stdout
        );
    }
    let migrate_help = cli.run(&["migrate", "--help"]);
    migrate_help.expect_code(0);
    for flag in [
        "--source",
        "--max-errors",
        "--dry-run",
        "--schema-mode",
        "--restart",
        "--validate",
    ] {
        assert!(
            migrate_help.stdout.contains(flag),
            "migrate --help lacks {flag}"
        );
    }
    let wrong = cli.run(&["migrate", "--batch-sise", "5"]);
    wrong.expect_code(2);
    assert!(wrong.stderr.contains("--batch-sise"), "{}", wrong.stderr);
    cli.run(&["frobnicate"]).expect_code(2);
}

#[test]
fn plan_and_ddl_need_no_server() {
    let cli = Cli::new(
        BIN,
        SchemaChoice::Real,
        "postgres://unused@127.0.0.1:1/none",
    );
    let plan = cli.run(&["plan"]);
    plan.expect_code(0);
    assert!(plan.stdout.contains("# Load plan") && plan.stdout.contains("```mermaid"));
    // With a source, `plan` notes its `2dsphere` indexes (theaters' metadata has one).
    let mflix = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/data/sample_mflix"
    );
    let plan = cli.run(&["plan", "--source", mflix]);
    plan.expect_code(0);
    assert!(
        plan.stdout.contains(
            "`theaters` has a `2dsphere` index on `location.geo`, stored in `theaters.location`: a `migrator::geo` field"
        ),
        "{}",
        plan.stdout
    );
    let ddl = cli.run(&["ddl"]);
    ddl.expect_code(0);
    assert!(
        ddl.stdout.contains("CREATE TABLE \"public\".\"comments\""),
        "{}",
        ddl.stdout
    );
}

#[test]
fn missing_source_and_unreachable_server_are_clear_failures() {
    let cli = Cli::new(
        BIN,
        SchemaChoice::Real,
        "postgres://postgres@127.0.0.1:1/none",
    );
    // A usage error, exit 2 like clap's (it was 1), for both commands that read the source.
    let no_source = cli.run(&["migrate"]);
    no_source.expect_code(2);
    cli.run(&["validate"]).expect_code(2);
    assert!(
        no_source.stderr.contains("no source: pass --source"),
        "{}",
        no_source.stderr
    );

    let dir = tempfile::tempdir().expect("temp dir");
    Dataset::real().write_dump(dir.path());
    let source = dir.path().display().to_string();
    let down = cli.run(&["migrate", "--source", source.as_str()]);
    down.expect_code(1);
    assert!(
        down.stderr
            .contains("connecting to PostgreSQL at postgres://postgres@127.0.0.1:1/none"),
        "{}",
        down.stderr
    );
    let missing = cli.run(&["migrate", "--source", "/no/such/dump"]);
    missing.expect_code(1);
    assert!(
        missing.stderr.contains("/no/such/dump"),
        "{}",
        missing.stderr
    );
}

#[test]
fn a_toml_file_supplies_options_that_flags_override() {
    let db = TestDb::create("cli_config");
    let dir = tempfile::tempdir().expect("temp dir");
    Dataset::real().write_dump(dir.path());
    let cli = Cli::new(BIN, SchemaChoice::Real, db.url());
    let config = cli.dir().join("migrator.toml");
    std::fs::write(
        &config,
        format!(
            "source = \"{}\"\nbatch-size = 7\ndead-letters = \"from-file.jsonl\"\nmax-errors = \"10000\"\n\
             accept-rejected = \"{}\"\n",
            dir.path().display(),
            RealOutcome::of(&Dataset::real()).rejected()
        ),
    )
    .expect("write the config");
    let config = config.display().to_string();
    // The file names the source; the flag overrides the dead-letter path.
    let run = cli.run(&[
        "--config",
        config.as_str(),
        "migrate",
        "--dead-letters",
        "from-flag.jsonl",
    ]);
    run.expect_code(0);
    assert!(
        cli.dir().join("from-flag.jsonl").exists(),
        "the flag wins over the file"
    );
    assert!(!cli.dir().join("from-file.jsonl").exists());
    let batches = db.number(
        "SELECT sum(batches)::bigint FROM _migrator.checkpoints WHERE collection = 'users'",
    );
    assert_eq!(
        batches,
        185_u64.div_ceil(7) as i64,
        "batch-size came from the file"
    );

    std::fs::write(cli.dir().join("bad.toml"), "batch_sise = 5\n").expect("write");
    let bad = cli.run(&["--config", "bad.toml", "status"]);
    bad.expect_code(2);
    assert!(bad.stderr.contains("batch_sise"), "{}", bad.stderr);
}

#[test]
fn logs_written_to_a_file_carry_no_colour_codes() {
    let db = TestDb::create("cli_plain_logs");
    let cli = Cli::new(BIN, SchemaChoice::Real, db.url());
    // -vv: debug logs, sqlx's statement logs among them (its slow-statement warnings go the
    // same way); stderr is a file here.
    let status = cli.run(&["-vv", "status"]);
    status.expect_code(0);
    assert!(
        status.stderr.contains("DEBUG"),
        "no logs to check:\n{}",
        status.stderr
    );
    assert!(
        !status.stderr.contains('\u{1b}'),
        "colour codes in a log file:\n{}",
        status.stderr
    );
}

/// MongoDB Compass names its export files `<database>.<collection>.json`.
#[test]
fn a_compass_export_of_the_real_data_is_read_as_its_collections() {
    let dir = tempfile::tempdir().expect("temp dir");
    Dataset::real().write_export(dir.path());
    for entry in std::fs::read_dir(dir.path()).expect("list the export") {
        let path = entry.expect("an entry").path();
        let name = path
            .file_name()
            .expect("a file name")
            .to_string_lossy()
            .to_string();
        std::fs::rename(&path, dir.path().join(format!("sample.{name}")))
            .expect("rename to the Compass naming");
    }
    let cli = Cli::new(
        BIN,
        SchemaChoice::Real,
        "postgres://unused@127.0.0.1:1/none",
    );
    let source = dir.path().display().to_string();
    let dry = cli.run(&[
        "migrate",
        "--dry-run",
        "--json",
        "--source",
        source.as_str(),
    ]);
    dry.expect_code(0);
    let json_start = dry.stdout.find('{').expect("a JSON summary");
    let report: serde_json::Value =
        serde_json::from_str(&dry.stdout[json_start..]).expect("the summary is JSON");
    assert_eq!(
        report["collections"]["movies"]["documents"], 1000,
        "{}",
        dry.stdout
    );
    assert_eq!(report["collections"]["comments"]["documents"], 1000);
}

/// After a dry run the summary's "Next" lines are the real run, into a database of its own (not
/// the server's `postgres` database the dry run was pointed at), and they work as printed.
#[test]
fn a_dry_run_s_next_lines_work_as_printed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let name = format!("e2e_next_{}", std::process::id());
    let dump = dir.path().join(&name);
    Dataset::real().write_dump(&dump);
    let server = migrator_e2e::pg::url_for(&migrator_e2e::pg::admin_url(), "postgres");
    let cli = Cli::new(BIN, SchemaChoice::Real, &server);
    let source = dump.display().to_string();
    let dry = cli.run(&["migrate", "--dry-run", "--source", source.as_str()]);
    dry.expect_code(0);
    let next: Vec<&str> = dry
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("Next"))
        .skip(1)
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(next.len(), 2, "{}", dry.stdout);
    assert!(
        next[0].contains(&format!("CREATE DATABASE {name}")),
        "{next:?}"
    );
    assert!(next[1].contains(&format!("/{name}'")), "{next:?}");
    assert!(!dry.stdout.contains("dead_letters"), "{}", dry.stdout);

    struct Dropped(String, String);
    impl Drop for Dropped {
        fn drop(&mut self) {
            let _ = std::process::Command::new("psql")
                .arg(&self.0)
                .arg("-c")
                .arg(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.1))
                .output();
        }
    }
    let _drop = Dropped(server.clone(), name.clone());
    for line in next {
        let done = std::process::Command::new("sh")
            .arg("-c")
            .arg(line)
            .env("E2E_SCHEMA", "real")
            .current_dir(cli.dir())
            .output()
            .expect("run a printed command");
        // The real run completes; the real data's rejected documents (found by the real run's
        // reference stage too, which a dry run cannot see) give the documented code 6.
        let code = done.status.code();
        assert!(
            code == Some(0) || (line.contains(" migrate ") && code == Some(6)),
            "`{line}` failed:\n{}{}",
            String::from_utf8_lossy(&done.stdout),
            String::from_utf8_lossy(&done.stderr)
        );
    }
    let count = std::process::Command::new("psql")
        .arg(migrator_e2e::pg::url_for(&server, &name))
        .args(["-tA", "-c", "SELECT count(*) FROM users"])
        .output()
        .expect("psql");
    assert_eq!(String::from_utf8_lossy(&count.stdout).trim(), "185");
}

/// `--limit N`: the first N documents of every collection, for trying models on a sample.
#[test]
fn a_limited_dry_run_reads_the_first_documents_of_every_collection() {
    let dir = tempfile::tempdir().expect("temp dir");
    Dataset::real().write_dump(dir.path());
    let cli = Cli::new(
        BIN,
        SchemaChoice::Real,
        "postgres://unused@127.0.0.1:1/none",
    );
    let source = dir.path().display().to_string();
    let dry = cli.run(&[
        "migrate",
        "--dry-run",
        "--json",
        "--limit",
        "10",
        "--source",
        source.as_str(),
    ]);
    dry.expect_code(0);
    let json_start = dry.stdout.find('{').expect("a JSON summary");
    let report: serde_json::Value =
        serde_json::from_str(&dry.stdout[json_start..]).expect("the summary is JSON");
    // sessions holds one document, mongomart_cart one; the others at least ten.
    for (collection, documents) in [
        ("movies", 10),
        ("accounts", 10),
        ("sessions", 1),
        ("mongomart_cart", 1),
    ] {
        assert_eq!(
            report["collections"][collection]["documents"], documents,
            "{collection}: {}",
            dry.stdout
        );
    }
}
