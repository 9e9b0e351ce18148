//! `generate-data`: its help, usage errors and exit codes (the insertion itself is tested against
//! the Mongo-wire server in `tests/tests/example_insert.rs`). Built with or without the `live`
//! feature (`cargo test -p schema` leaves it off, the workspace's tests turn it on): each build
//! is tested for what it does with `--mongo-uri`.

use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_generate-data");

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {BIN}: {e}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn help_names_both_destinations() {
    let out = run(&["--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    for flag in [
        "--out",
        "--mongo-uri",
        "--database",
        "--batch-size",
        "--drop",
    ] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
}

#[test]
fn a_destination_is_required_and_mongo_options_need_a_uri() {
    let cases: &[(&[&str], &str)] = &[
        (&[], "--out"),
        (&["--database", "app", "--out", "x"], "--mongo-uri"),
        (&["--drop", "--out", "x"], "--mongo-uri"),
    ];
    for (args, named) in cases {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = text(&out.stderr);
        assert!(err.contains(named), "{args:?}: {err}");
    }
}

#[cfg(feature = "live")]
#[test]
fn a_uri_without_a_database_fails_before_connecting() {
    // Nothing listens on port 9: the missing name is reported first, and fast.
    let out = run(&["--scale", "0.001", "--mongo-uri", "mongodb://127.0.0.1:9"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("no database named") && err.contains("--database NAME"),
        "{err}"
    );
}

#[cfg(feature = "live")]
#[test]
fn an_unreachable_server_fails_with_its_address() {
    let out = run(&[
        "--scale",
        "0.001",
        "--mongo-uri",
        "mongodb://127.0.0.1:9/app?serverSelectionTimeoutMS=300",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.starts_with("error: cannot connect to mongodb://127.0.0.1:9/app"),
        "{err}"
    );
}

#[cfg(not(feature = "live"))]
#[test]
fn without_the_live_feature_a_uri_is_refused_saying_how_to_build_it_in() {
    let out = run(&[
        "--scale",
        "0.001",
        "--mongo-uri",
        "mongodb://127.0.0.1:9/app",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("`live` feature") && err.contains("-p schema --features live"),
        "{err}"
    );
}

#[test]
fn a_dump_directory_gets_its_manifest() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out_dir = dir.path().join("dump");
    let out_arg = out_dir.display().to_string();
    let out = run(&["--scale", "0.001", "--oversized", "0", "--out", &out_arg]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let manifest = out_dir.join("manifest.json");
    assert!(
        stdout.contains(&format!("manifest: {}", manifest.display())),
        "{stdout}"
    );
    let read = schema::generator::Manifest::read(&manifest).expect("the manifest reads back");
    assert_eq!(read.collections.len(), 26);
    assert!(out_dir.join("tasks.bson").is_file());
}
