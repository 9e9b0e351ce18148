//! The crate as files: `Cargo.toml`, `src/lib.rs` (formatted with prettyplease), `src/main.rs`,
//! a snapshot test per collection on a real document, and `.scaffold-files` (what was written,
//! hashed) so that a later `scaffold` into the same directory replaces only files nobody edited
//! and writes the others beside them (`src/lib.rs.new`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha1::{Digest, Sha1};

use super::model::{Crate, EnumDef, Model, WithFn};
use super::names::{field_ident, Names};
use super::scan::SourceScan;

const MANIFEST: &str = ".scaffold-files";

/// Where the crate goes and what it depends on.
#[derive(Debug, Clone)]
pub struct CrateSpec {
    /// The package name (`my-schema`).
    pub name: String,
    pub migrator: Dependency,
}

/// Where the crate finds `migrator`.
#[derive(Debug, Clone, PartialEq)]
pub enum Dependency {
    /// The `migrator` package's directory, as written in `Cargo.toml` (relative to the crate's
    /// directory, or absolute).
    Path(PathBuf),
    /// A git repository holding the workspace, at a commit if `rev` is given.
    Git { url: String, rev: Option<String> },
}

impl Dependency {
    /// The package directory `dir` as seen from the crate's directory `out` (both absolute): a
    /// relative path when they share a directory below the root (the crate is inside or near the
    /// checkout, and both can move together), else the absolute path.
    pub fn path_from(out: &Path, dir: &Path) -> Dependency {
        let from: Vec<_> = out.components().collect();
        let to: Vec<_> = dir.components().collect();
        let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
        if common <= 1 || !out.is_absolute() || !dir.is_absolute() {
            return Dependency::Path(dir.to_path_buf());
        }
        let mut rel = PathBuf::new();
        for _ in common..from.len() {
            rel.push("..");
        }
        for c in &to[common..] {
            rel.push(c);
        }
        if rel.as_os_str().is_empty() {
            rel.push(".");
        }
        Dependency::Path(rel)
    }

    /// The `[dependencies]` line, with a comment saying where it points and how to change it.
    fn manifest_lines(&self) -> String {
        let how = "# Elsewhere (another machine, CI), point it at your copy of migrator:\n\
                   #   migrator = { path = \"<checkout>/migrator\" }\n\
                   #   migrator = { git = \"<the repository's URL>\" }\n\
                   # (`scaffold --migrator-path` and `--migrator-git` write these.)\n";
        match self {
            Dependency::Path(p) if p.is_relative() => format!(
                "# migrator, by a path relative to this crate (the checkout `scaffold` was run from).\n{how}\
                 migrator = {{ path = {:?} }}\n",
                p.display().to_string()
            ),
            Dependency::Path(p) => format!(
                "# migrator, by an absolute path: this crate builds on this machine only.\n{how}\
                 migrator = {{ path = {:?} }}\n",
                p.display().to_string()
            ),
            Dependency::Git { url, rev: None } => format!(
                "# migrator, from its repository (`cargo update -p migrator` takes its latest commit).\n\
                 migrator = {{ git = {url:?} }}\n"
            ),
            Dependency::Git { url, rev: Some(rev) } => format!(
                "# migrator, from its repository at the commit `scaffold` was installed from\n\
                 # (`cargo install --git`); drop `rev` to follow its latest commit.\n\
                 migrator = {{ git = {url:?}, rev = {rev:?} }}\n"
            ),
        }
    }
}

impl CrateSpec {
    fn lib(&self) -> String {
        self.name.replace('-', "_")
    }
}

fn docs(out: &mut String, indent: &str, lines: &[String]) {
    for line in lines {
        out.push_str(&format!("{indent}/// {line}\n"));
    }
}

fn model(out: &mut String, m: &Model) {
    docs(out, "", &m.docs);
    out.push_str("#[derive(Debug, Migrate)]\n");
    match &m.collection {
        Some(c) => out.push_str(&format!("#[migrate(collection = {c:?})]\n")),
        None => out.push_str("#[migrate(embedded)]\n"),
    }
    out.push_str(&format!("pub struct {} {{\n", m.ident));
    for (i, f) in m.fields.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        docs(out, "    ", &f.docs);
        if !f.attrs.is_empty() {
            out.push_str(&format!("    #[migrate({})]\n", f.attrs.join(", ")));
        }
        out.push_str(&format!("    pub {}: {},\n", f.ident, f.ty));
    }
    out.push_str("}\n\n");
}

fn enumeration(out: &mut String, e: &EnumDef) {
    docs(out, "", &e.docs);
    out.push_str("#[derive(Debug, Clone, Copy, PartialEq, Eq, Migrate)]\n");
    out.push_str(&format!(
        "#[migrate(name = {:?})]\npub enum {} {{\n",
        e.pg_name, e.ident
    ));
    for (variant, label) in &e.variants {
        if variant != label {
            out.push_str(&format!("    #[migrate(rename = {label:?})]\n"));
        }
        out.push_str(&format!("    {variant},\n"));
    }
    out.push_str("}\n\n");
}

fn with_fn(out: &mut String, w: &WithFn) {
    docs(out, "    ", &w.docs);
    out.push_str(&format!(
        "    pub fn {}(value: RawBsonRef<'_>) -> Result<{}, String> {{\n        match value {{\n",
        w.ident, w.ty
    ));
    for arm in &w.arms {
        out.push_str(&format!("            {arm}\n"));
    }
    out.push_str("            RawBsonRef::Null => Ok(None),\n");
    out.push_str(
        "            other => Err(format!(\"unexpected {:?}: {other:?}\", other.element_type())),\n",
    );
    out.push_str("        }\n    }\n\n");
}

/// `src/lib.rs`, formatted.
pub fn lib_rs(krate: &Crate, scan: &SourceScan) -> String {
    let mut body = String::new();
    for m in &krate.models {
        model(&mut body, m);
    }
    for e in &krate.enums {
        enumeration(&mut body, e);
    }
    let collections: Vec<&str> = krate
        .models
        .iter()
        .filter(|m| m.collection.is_some())
        .map(|m| m.ident.as_str())
        .collect();
    body.push_str("/// Every model, as one schema.\n");
    body.push_str("pub fn schema() -> Result<migrator::Schema, migrator::SchemaError> {\n");
    body.push_str(&format!(
        "    migrator::schema![{}]\n}}\n\n",
        collections.join(", ")
    ));
    if !krate.withs.is_empty() {
        body.push_str(
            "/// Conversions for keys holding values of several types (one arm per case seen).\n",
        );
        body.push_str("pub mod convert {\n");
        let oid = krate.withs.iter().any(|w| w.ty.contains("ObjectId"));
        body.push_str(if oid {
            "    use migrator::bson::{oid::ObjectId, RawBsonRef};\n\n"
        } else {
            "    use migrator::bson::RawBsonRef;\n\n"
        });
        for w in &krate.withs {
            with_fn(&mut body, w);
        }
        body.push_str("}\n");
    }
    let mut uses = Vec::new();
    for (ty, path) in [
        ("ObjectId", "oid::ObjectId"),
        ("Binary", "Binary"),
        ("Bson", "Bson"),
        ("DateTime", "DateTime"),
        ("Decimal128", "Decimal128"),
        ("Document", "Document"),
    ] {
        let used = krate.models.iter().any(|m| {
            m.fields
                .iter()
                .any(|f| f.ty.split(['<', '>']).any(|t| t == ty))
        });
        if used {
            uses.push(path);
        }
    }
    let sample = match scan.sample {
        Some(n) => format!(" (at most {n} documents per collection: `--sample`)"),
        None => " (every document)".to_string(),
    };
    let mut head = format!(
        "//! Models scaffolded by `migrator scaffold` from {}: {} documents in {} collections read{sample}.\n\
         //!\n\
         //! Every field's doc comment gives the evidence behind its type: review them like a report.\n\
         //! Running `scaffold` again into this directory never overwrites an edited file: it writes\n\
         //! the new version beside it (`lib.rs.new`).\n\n",
        scan.describe,
        scan.documents(),
        scan.collections.len(),
    );
    if !uses.is_empty() {
        head.push_str(&format!("use migrator::bson::{{{}}};\n", uses.join(", ")));
    }
    head.push_str("use migrator::Migrate;\n\n");
    let text = head + &body;
    match syn::parse_file(&text) {
        Ok(file) => spaced(&prettyplease::unparse(&file)),
        // Never expected; the unformatted text still shows what went wrong when compiled.
        Err(_) => text,
    }
}

/// A blank line between items and between fields, as a person writes them.
fn spaced(text: &str) -> String {
    let mut out = String::new();
    let mut previous = "";
    for line in text.lines() {
        let starts_item =
            !line.starts_with(' ') && !line.starts_with('}') && !line.starts_with("//!");
        let item_before =
            previous == "}" || previous.starts_with("use ") || previous.starts_with("//!");
        let starts_field = line.starts_with("    ///")
            || (line.starts_with("    #[") && !previous.starts_with("    ///"));
        let field_before =
            previous.starts_with("    ") && previous.ends_with(',') || previous == "    }";
        if (starts_item
            && item_before
            && !(previous.starts_with("use ") && line.starts_with("use ")))
            || (starts_field && field_before)
        {
            out.push('\n');
        }
        out.push_str(line);
        out.push('\n');
        previous = line;
    }
    out
}

/// Every file of the crate, by path inside it.
pub fn files(krate: &Crate, scan: &SourceScan, spec: &CrateSpec) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    files.insert(
        "Cargo.toml".into(),
        format!(
            "[package]\nname = {:?}\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = false\n\n\
             [dependencies]\n{}\n\
             [dev-dependencies]\ninsta = {{ version = \"1\", features = [\"yaml\"] }}\n\n\
             # A crate of its own, even inside another workspace's directory.\n[workspace]\n",
            spec.name,
            spec.migrator.manifest_lines()
        ),
    );
    files.insert(
        "src/main.rs".into(),
        format!(
            "//! The migration's command line: `cargo run -- migrate --dry-run --source <source>`.\n\n\
             fn main() -> std::process::ExitCode {{\n    migrator::cli::main({}::schema)\n}}\n",
            spec.lib()
        ),
    );
    files.insert("src/lib.rs".into(), lib_rs(krate, scan));
    let mut tests = String::from(
        "//! One snapshot per collection: the rows a real document of the source becomes. The first\n\
         //! run records them (`INSTA_UPDATE=always cargo test`); review them, then keep them.\n\n\
         use migrator::testing::{read_documents, rows};\n\n\
         fn document(file: &str) -> migrator::bson::Document {\n    \
         let path = std::path::Path::new(env!(\"CARGO_MANIFEST_DIR\")).join(\"tests/documents\").join(file);\n    \
         let docs = read_documents(&path).unwrap_or_else(|e| panic!(\"{e}\"));\n    \
         migrator::bson::Document::try_from(docs[0].as_ref()).unwrap_or_else(|e| panic!(\"{e}\"))\n}\n",
    );
    let mut names = Names::default();
    for m in krate.models.iter().filter(|m| m.collection.is_some()) {
        let Some(c) = m.collection.as_deref().and_then(|c| scan.collection(c)) else {
            continue;
        };
        let Some(first) = &c.first else { continue };
        let Ok(doc) = bson::Document::try_from(first.as_ref()) else {
            continue;
        };
        let test = names.unique(field_ident(&c.name));
        let file = format!("{test}.json");
        files.insert(
            format!("tests/documents/{file}"),
            format!("{}\n", bson::Bson::Document(doc).into_canonical_extjson()),
        );
        tests.push_str(&format!(
            "\n/// The first document of `{}`.\n#[test]\nfn {test}() {{\n    \
             insta::assert_yaml_snapshot!(rows::<{}::{}>(&document({file:?})));\n}}\n",
            c.name,
            spec.lib(),
            m.ident
        ));
    }
    files.insert("tests/snapshots.rs".into(), tests);
    files
}

fn sha1_hex(text: &[u8]) -> String {
    Sha1::digest(text)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What writing the files did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Written {
    pub written: Vec<String>,
    pub unchanged: Vec<String>,
    /// Files edited since `scaffold` wrote them (or not written by it): the new version went to
    /// `<file>.new` beside them.
    pub beside: Vec<String>,
}

/// Writes the files into `dir`, replacing only those `scaffold` wrote and nobody edited since.
pub fn write(dir: &Path, files: &BTreeMap<String, String>) -> std::io::Result<Written> {
    let manifest_path = dir.join(MANIFEST);
    let mut manifest: BTreeMap<String, String> = std::fs::read_to_string(&manifest_path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once("  "))
        .map(|(h, p)| (p.to_string(), h.to_string()))
        .collect();
    let mut done = Written::default();
    for (rel, text) in files {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        match std::fs::read(&path) {
            Ok(current) if current == text.as_bytes() => {
                done.unchanged.push(rel.clone());
                continue;
            }
            Ok(current) if manifest.get(rel) != Some(&sha1_hex(&current)) => {
                let beside = format!("{rel}.new");
                std::fs::write(dir.join(&beside), text)?;
                done.beside.push(rel.clone());
                continue;
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        std::fs::write(&path, text)?;
        manifest.insert(rel.clone(), sha1_hex(text.as_bytes()));
        done.written.push(rel.clone());
    }
    let text: String = manifest
        .iter()
        .map(|(p, h)| format!("{h}  {p}\n"))
        .collect();
    std::fs::write(manifest_path, text)?;
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dependency_is_relative_near_the_checkout_and_absolute_elsewhere() {
        let cases: &[(&str, &str, &str)] = &[
            // A crate beside the checkout, inside it, and far from it.
            (
                "/home/ann/app-schema",
                "/home/ann/migrator/migrator",
                "../migrator/migrator",
            ),
            (
                "/home/ann/migrator/crates/s",
                "/home/ann/migrator/migrator",
                "../../migrator",
            ),
            (
                "/tmp/s",
                "/home/ann/migrator/migrator",
                "/home/ann/migrator/migrator",
            ),
        ];
        for (out, dir, expected) in cases {
            assert_eq!(
                Dependency::path_from(Path::new(out), Path::new(dir)),
                Dependency::Path(PathBuf::from(expected)),
                "{out}"
            );
        }
    }

    #[test]
    fn the_manifest_says_where_migrator_comes_from_and_how_to_change_it() {
        let relative = Dependency::Path(PathBuf::from("../migrator/migrator")).manifest_lines();
        assert!(relative.contains("migrator = { path = \"../migrator/migrator\" }"));
        assert!(relative.contains("relative to this crate"));
        assert!(relative.contains("--migrator-git"));
        let absolute = Dependency::Path(PathBuf::from("/src/m/migrator")).manifest_lines();
        assert!(absolute.contains("this machine only"));
        let git = Dependency::Git {
            url: "https://example.org/m.git".into(),
            rev: None,
        }
        .manifest_lines();
        assert!(git.contains("migrator = { git = \"https://example.org/m.git\" }"));
        let pinned = Dependency::Git {
            url: "https://example.org/m.git".into(),
            rev: Some("6f1c0de".into()),
        }
        .manifest_lines();
        assert!(pinned
            .contains("migrator = { git = \"https://example.org/m.git\", rev = \"6f1c0de\" }"));
        let toml: toml::Table =
            toml::from_str(&format!("[dependencies]\n{pinned}")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            toml["dependencies"]["migrator"]["rev"].as_str(),
            Some("6f1c0de")
        );
        // The lines parse as TOML and give the dependency.
        let toml: toml::Table = toml::from_str(&format!("[dependencies]\n{relative}"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            toml["dependencies"]["migrator"]["path"].as_str(),
            Some("../migrator/migrator")
        );
    }
}
