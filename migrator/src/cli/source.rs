//! Opens the source named by `--source`.

use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context};

use super::options::{SourceArgs, SourceKind};
use crate::source::archive::ArchiveSource;
use crate::source::dump::DumpSource;
use crate::source::ejson::ExportSource;
use crate::source::{SampleSource, Source};

/// Tells the kind of source from its text: a URI, a directory of `.bson` or `.json` files, a file.
pub fn detect(spec: &str) -> anyhow::Result<SourceKind> {
    if spec.starts_with("mongodb://") || spec.starts_with("mongodb+srv://") {
        return Ok(SourceKind::Mongo);
    }
    let path = Path::new(spec);
    if path.is_file() {
        return Ok(SourceKind::Archive);
    }
    if path.is_dir() {
        let mut has_json = false;
        for entry in std::fs::read_dir(path).with_context(|| format!("reading {spec}"))? {
            let name = entry?.file_name().to_string_lossy().to_string();
            if name.ends_with(".bson") || name.ends_with(".bson.gz") {
                return Ok(SourceKind::Dump);
            }
            has_json |= name.ends_with(".json") && !name.ends_with(".metadata.json")
                || name.ends_with(".json.gz");
        }
        if has_json {
            return Ok(SourceKind::Export);
        }
        bail!("{spec} holds no .bson or .json files; pass --source-kind to say what it is");
    }
    bail!("--source {spec}: no such file or directory, and not a mongodb:// URI")
}

/// The database a mongodb:// source reads (`--database`, else the URI's path).
#[cfg(feature = "live")]
pub fn database_of(args: &SourceArgs) -> anyhow::Result<String> {
    match (&args.database, args.source.as_deref()) {
        (Some(d), _) => Ok(d.clone()),
        (None, Some(spec)) => database_from_uri(spec).context(
            "the mongodb:// URI names no database: add it to the URI's path or pass --database",
        ),
        (None, None) => bail!("no source"),
    }
}

/// Opens the source.
pub fn open(args: &SourceArgs) -> anyhow::Result<Arc<dyn Source>> {
    let Some(spec) = args.source.as_deref() else {
        bail!("no source: pass --source (a dump directory, an archive, an export directory or a mongodb:// URI)");
    };
    let kind = match args.source_kind {
        Some(k) => k,
        None => detect(spec)?,
    };
    let source: Arc<dyn Source> = match kind {
        SourceKind::Dump => Arc::new(DumpSource::open(Path::new(spec))?),
        SourceKind::Archive => Arc::new(ArchiveSource::open(Path::new(spec))?),
        SourceKind::Export => Arc::new(ExportSource::open(Path::new(spec))?),
        SourceKind::Mongo => live(spec, args)?,
    };
    Ok(match args.limit {
        Some(limit) => Arc::new(SampleSource::new(source, limit)),
        None => source,
    })
}

/// A live deployment (migrator's `live` feature).
#[cfg(feature = "live")]
fn live(spec: &str, args: &SourceArgs) -> anyhow::Result<Arc<dyn Source>> {
    use super::options::SplitArg;
    use crate::source::mongo::{MongoSource, SplitMethod};
    let database = database_of(args)?;
    let split = match args.split {
        None | Some(SplitArg::Auto) => SplitMethod::Auto,
        Some(SplitArg::Edges) => SplitMethod::Edges,
        Some(SplitArg::BucketAuto) => SplitMethod::BucketAuto,
    };
    Ok(Arc::new(
        MongoSource::connect(spec, &database)?.with_split(split),
    ))
}

/// Without migrator's `live` feature a live deployment is refused, saying how to read it.
#[cfg(not(feature = "live"))]
fn live(spec: &str, _args: &SourceArgs) -> anyhow::Result<Arc<dyn Source>> {
    let shown = crate::state::redact_url(spec);
    Err(without_live(&format!("--source {shown}")).into())
}

/// What needs a live deployment (`--source mongodb://..`, `follow`) in a program built without
/// migrator's `live` feature: a usage error (exit 2) that says how to build it in, or how to
/// read the deployment without it.
#[cfg(not(feature = "live"))]
pub(super) fn without_live(what: &str) -> super::failure::UsageError {
    super::failure::UsageError(format!(
        "{what}: reading a live MongoDB deployment needs migrator's `live` feature, and this \
         program was built without it. The feature is on by default in a crate of your own \
         (`migrator = {{ path = .. }}`); the workspace's example binaries turn it on with \
         `--features schema/live` (`cargo run --release -p schema --features live --bin \
         example-app -- ..`). Without it, read a copy of the database: `mongodump --uri <uri> \
         --out dump`, then `--source dump/<database>`"
    ))
}

/// `mongodb://host/db?x=y` -> `db`.
#[cfg(feature = "live")]
fn database_from_uri(uri: &str) -> Option<String> {
    let rest = uri.split_once("://")?.1;
    let path = rest.split_once('/')?.1;
    let db = path.split('?').next()?;
    (!db.is_empty()).then(|| db.to_string())
}

#[cfg(all(test, feature = "live"))]
mod tests {
    use super::*;

    #[test]
    fn database_names_come_from_uri_paths() {
        assert_eq!(
            database_from_uri("mongodb://h:1/shop?x=1").as_deref(),
            Some("shop")
        );
        assert_eq!(database_from_uri("mongodb://h:1/"), None);
        assert_eq!(database_from_uri("mongodb://h:1"), None);
    }
}
