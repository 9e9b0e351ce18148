//! `scaffold` installed as a user without a checkout installs it, `cargo install --git URL`: the
//! crate it writes depends on that repository at the commit installed, and builds.
//!
//! The repository is a bare one made from this checkout's HEAD (`file://`, nothing leaves the
//! machine). The install goes into a root of its own (`--root`: its record, `.crates2.json`, and
//! `bin/migrator`); cargo keeps its copy of the repository in its home, as for any install. The
//! install and the crate build into the workspace's target directory with its dev profile
//! (`--debug`), reusing the dependencies already built: what compiles is migrator-derive,
//! migrator and its binary from cargo's copy, and the crate.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace's target directory: this test runs from `<target>/debug/deps/`.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    exe.ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .expect("the test runs from <target>/<profile>/deps")
}

fn run(what: &str, command: &mut Command) -> String {
    let out = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{what} failed ({})\n--- stdout\n{stdout}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.env("CARGO_TARGET_DIR", target_dir())
        .env_remove("CARGO_INSTALL_ROOT");
    c
}

#[test]
fn a_git_install_writes_a_crate_depending_on_the_installed_commit() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace");
    let work = tempfile::tempdir().expect("temp dir");

    // The repository: this checkout's HEAD as the branch `main` of a bare repository.
    let repo = work.path().join("migrator.git");
    run(
        "git init",
        Command::new("git")
            .args(["init", "--bare", "--quiet"])
            .arg(&repo),
    );
    let head = run(
        "git rev-parse",
        Command::new("git")
            .arg("-C")
            .arg(workspace)
            .args(["rev-parse", "HEAD"]),
    )
    .trim()
    .to_string();
    run(
        "git push",
        Command::new("git")
            .arg("-C")
            .arg(workspace)
            .args(["push", "--quiet"])
            .arg(&repo)
            .arg("HEAD:refs/heads/main"),
    );
    let url = format!("file://{}", repo.display());

    let root = work.path().join("root");
    run(
        "cargo install --git",
        cargo()
            .args(["install", "--quiet", "--locked", "--debug", "--git"])
            .arg(&url)
            .args([
                "--branch", "main", "--bin", "migrator", "migrator", "--root",
            ])
            .arg(&root)
            .args(["--config", "profile.dev.debug=\"line-tables-only\""])
            .args(["--config", "profile.dev.package.\"*\".debug=false"]),
    );
    let record = std::fs::read_to_string(root.join(".crates2.json")).expect("install record");
    assert!(
        record.contains(&head),
        "the record names the commit: {record}"
    );
    let installed = root.join("bin").join("migrator");
    assert!(installed.is_file(), "{} installed", installed.display());

    // A small export to scaffold.
    let export = work.path().join("export");
    std::fs::create_dir_all(&export).expect("export dir");
    let lines: String = (0..20)
        .map(|i| {
            format!(
                "{{\"_id\": {i}, \"name\": \"n{i}\", \"score\": {}}}\n",
                i * 3
            )
        })
        .collect();
    std::fs::write(export.join("players.json"), lines).expect("players.json");

    let krate = work.path().join("players-schema");
    let printed = run(
        "scaffold",
        Command::new(&installed)
            .arg("scaffold")
            .arg("--source")
            .arg(&export)
            .arg("--out")
            .arg(&krate),
    );
    assert!(printed.contains("scanned 20 documents"), "{printed}");
    let manifest = std::fs::read_to_string(krate.join("Cargo.toml")).expect("Cargo.toml");
    let line = format!("migrator = {{ git = {url:?}, rev = {head:?} }}");
    assert!(
        manifest.lines().any(|l| l == line),
        "expected {line:?} in:\n{manifest}"
    );

    // The crate builds against that commit of the repository, offline (cargo's copy of it is
    // there since the install), and its binary runs a dry run of what it was scaffolded from.
    run(
        "cargo build of the scaffolded crate",
        cargo()
            .current_dir(&krate)
            .args(["build", "--quiet", "--offline"])
            .args(["--config", "profile.dev.debug=\"line-tables-only\""])
            .args(["--config", "profile.dev.package.\"*\".debug=false"]),
    );
    let lock = std::fs::read_to_string(krate.join("Cargo.lock")).expect("Cargo.lock");
    let source = format!("source = \"git+{url}?rev={head}#{head}\"");
    assert!(lock.contains(&source), "expected {source:?} in:\n{lock}");
    let dry_run = run(
        "the crate's dry run",
        Command::new(target_dir().join("debug").join("players-schema"))
            .args(["migrate", "--dry-run", "--source"])
            .arg(&export),
    );
    assert!(
        dry_run.contains("20 documents read: 20 landed, 0 rejected"),
        "{dry_run}"
    );
}
