//! The example binary with and without the `live` feature. `cargo test -p schema` builds it
//! without (like the README's first command, which compiles no MongoDB driver): everything that
//! needs a live deployment is refused with exit code 2 and says how to turn the feature on. The
//! workspace's tests build it with (`tests` turns on `schema/live`): the same commands reach
//! the deployment. `.ci/test` runs both.

use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_example-app");

/// Nothing listens on port 9: a build with the feature fails to connect, quickly.
const URI: &str = "mongodb://127.0.0.1:9/app?serverSelectionTimeoutMS=300";

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        // No command here may reach PostgreSQL: a wrong target fails loudly if one tries.
        .env("DATABASE_URL", "postgres://nobody@127.0.0.1:9/none")
        .output()
        .unwrap_or_else(|e| panic!("running {BIN}: {e}"))
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Every command that reads a live deployment.
fn live_commands() -> Vec<Vec<&'static str>> {
    vec![
        vec!["migrate", "--dry-run", "--source", URI],
        vec!["plan", "--source", URI],
        vec![
            "scaffold",
            "--source",
            URI,
            "--out",
            "/nonexistent/scaffold",
        ],
        vec!["follow", "--source", URI],
    ]
}

#[cfg(not(feature = "live"))]
#[test]
fn without_the_feature_a_live_source_is_refused_saying_how_to_turn_it_on() {
    for args in live_commands() {
        let out = run(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("needs migrator's `live` feature")
                && err.contains("--features schema/live")
                && err.contains("mongodump"),
            "{args:?}: {err}"
        );
    }
    // The URI is named without its password.
    let out = run(&[
        "migrate",
        "--dry-run",
        "--source",
        "mongodb://admin:s3cret@127.0.0.1:9/app",
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        !err.contains("s3cret") && err.contains("127.0.0.1:9/app"),
        "{err}"
    );
}

#[cfg(not(feature = "live"))]
#[test]
fn without_the_feature_migrate_follow_is_refused_before_the_copy() {
    let dump = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(dump.path().join("users.bson"), []).expect("an empty collection");
    let source = dump.path().display().to_string();
    let out = run(&["migrate", "--follow", "--source", &source]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--follow") && err.contains("`live` feature"),
        "{err}"
    );
}

#[cfg(feature = "live")]
#[test]
fn with_the_feature_a_live_source_is_read() {
    // `follow` checks its target first; the other commands go to the deployment, which is not
    // there: each says so, naming it.
    for args in &live_commands()[..3] {
        let out = run(args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            !err.contains("`live` feature") && err.contains("MongoDB database `app`"),
            "{args:?}: {err}"
        );
    }
}
