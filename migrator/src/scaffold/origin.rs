//! Where a scaffolded crate takes `migrator` from when the user does not say
//! (`--migrator-path`, `--migrator-git`): from the sources this binary was built from.
//!
//! - Built in a checkout (`cargo run`, `cargo install --path`): that checkout's `migrator`
//!   directory ([`super::Dependency::path_from`]: relative when the crate is near it, else
//!   absolute, for this machine only).
//! - Installed with `cargo install --git URL`: cargo built it in a copy of the repository of its
//!   own (`$CARGO_HOME/git/checkouts/`), which it may clean away; the crate depends on the same
//!   repository at the same commit instead (`git = URL, rev = ...`), as cargo's record of the
//!   install says (`.crates2.json` in the install's root: beside the `bin` directory holding the
//!   binary, which is `$CARGO_HOME` unless `--root` or `CARGO_INSTALL_ROOT` said otherwise).
//! - The sources are gone (the checkout was deleted or moved): there is no default; the command
//!   says which flag to give before it reads anything.

use std::path::{Path, PathBuf};

/// Where `migrator` comes from by default.
#[derive(Debug, Clone, PartialEq)]
pub enum Origin {
    /// A checkout's `migrator` package directory.
    Checkout(PathBuf),
    /// The repository cargo installed this binary from, at the commit installed; `checkout` is
    /// cargo's copy of it (the package directory).
    Git {
        url: String,
        rev: String,
        checkout: PathBuf,
    },
    /// The package directory this binary was built from, which no longer holds the package.
    Gone(PathBuf),
}

/// The default for a binary built from the package directory `built_from`, cargo's home being
/// `cargo_home`; `installed_in`: the root the binary is installed in, if it is (`<root>/bin/..`),
/// whose install record is read first.
pub fn origin(built_from: &Path, cargo_home: Option<&Path>, installed_in: Option<&Path>) -> Origin {
    if !built_from.join("Cargo.toml").is_file() {
        return Origin::Gone(built_from.to_path_buf());
    }
    let installed = cargo_home.and_then(|home| {
        // `<home>/git/checkouts/<repository>-<hash>/<short commit>/migrator`
        let short = built_from
            .strip_prefix(home.join("git").join("checkouts"))
            .ok()?
            .components()
            .nth(1)?
            .as_os_str()
            .to_str()?
            .to_string();
        [installed_in, Some(home)]
            .into_iter()
            .flatten()
            .find_map(|root| {
                let record = std::fs::read_to_string(root.join(".crates2.json")).ok()?;
                installed_from(&record, &short)
            })
    });
    match installed {
        Some((url, rev)) => Origin::Git {
            url,
            rev,
            checkout: built_from.to_path_buf(),
        },
        None => Origin::Checkout(built_from.to_path_buf()),
    }
}

/// The install root of the running binary: `<root>` for `<root>/bin/<binary>`.
pub fn install_root() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let bin = exe.parent()?;
    (bin.file_name()? == "bin").then(|| bin.parent().map(Path::to_path_buf))?
}

/// Cargo's home: `$CARGO_HOME`, else `~/.cargo`.
pub fn cargo_home() -> Option<PathBuf> {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
}

/// The repository and commit of the `migrator` install in cargo's install record (its keys are
/// `migrator 0.1.0 (git+https://host/repo.git?branch=main#<commit>)`) whose commit starts with
/// `short`, the checkout directory's name.
fn installed_from(record: &str, short: &str) -> Option<(String, String)> {
    let json: serde_json::Value = serde_json::from_str(record).ok()?;
    json.get("installs")?.as_object()?.keys().find_map(|key| {
        let source = key
            .strip_prefix("migrator ")?
            .split_once(" (git+")?
            .1
            .strip_suffix(')')?;
        let (url, rev) = source.split_once('#')?;
        let url = url.split_once('?').map_or(url, |(u, _)| u);
        (!short.is_empty() && rev.starts_with(short)).then(|| (url.to_string(), rev.to_string()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkout_an_install_from_git_and_sources_gone() {
        let home = tempfile::tempdir().expect("temp dir");
        let package = |dir: &Path| {
            std::fs::create_dir_all(dir).expect("dir");
            std::fs::write(dir.join("Cargo.toml"), "[package]\n").expect("manifest");
        };
        let checkout = home.path().join("src/migrator/migrator");
        package(&checkout);
        assert_eq!(
            origin(&checkout, Some(home.path()), None),
            Origin::Checkout(checkout.clone())
        );

        let installed = home
            .path()
            .join("git/checkouts/migrator-3f2a/6f1c0de/migrator");
        package(&installed);
        // No record of the install: the path it is at.
        assert_eq!(
            origin(&installed, Some(home.path()), None),
            Origin::Checkout(installed.clone())
        );
        std::fs::write(
            home.path().join(".crates2.json"),
            r#"{"installs":{"ripgrep 14.1.0 (registry+https://github.com/rust-lang/crates.io-index)":{},
               "migrator 0.1.0 (git+https://example.org/m.git?branch=main#6f1c0de9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3)":{"bins":["migrator"]}}}"#,
        )
        .expect("record");
        assert_eq!(
            origin(&installed, Some(home.path()), None),
            Origin::Git {
                url: "https://example.org/m.git".into(),
                rev: "6f1c0de9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3".into(),
                checkout: installed.clone(),
            }
        );
        // Installed with `--root`: the record is in that root, not in cargo's home.
        let root = home.path().join("tools");
        std::fs::create_dir_all(&root).expect("root");
        std::fs::rename(
            home.path().join(".crates2.json"),
            root.join(".crates2.json"),
        )
        .expect("record moved");
        assert_eq!(
            origin(&installed, Some(home.path()), None),
            Origin::Checkout(installed.clone())
        );
        assert_eq!(
            origin(&installed, Some(home.path()), Some(&root)),
            Origin::Git {
                url: "https://example.org/m.git".into(),
                rev: "6f1c0de9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3".into(),
                checkout: installed.clone(),
            }
        );
        // Another commit's checkout is not that install.
        let other = home
            .path()
            .join("git/checkouts/migrator-3f2a/0000000/migrator");
        package(&other);
        assert_eq!(
            origin(&other, Some(home.path()), None),
            Origin::Checkout(other.clone())
        );

        let gone = home.path().join("deleted/migrator");
        assert_eq!(
            origin(&gone, Some(home.path()), None),
            Origin::Gone(gone.clone())
        );
    }
}
