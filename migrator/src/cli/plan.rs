//! `plan --source`: how each collection would be read, asked of the source the way `migrate`
//! asks it (the same share of the jobs, the same most ranges).

use std::collections::HashMap;
use std::fmt::Write;

use anyhow::Context;

use super::options::SourceArgs;
use crate::pipeline::config::{counted, weights, RunConfig};
use crate::schema::Schema;

/// One line per collection of the schema: its documents, its ranges and why.
pub async fn reading(
    args: &SourceArgs,
    schema: &Schema,
    jobs: Option<usize>,
    partitions: Option<usize>,
) -> anyhow::Result<String> {
    let mut config = RunConfig::new("");
    if let Some(n) = jobs {
        config.jobs = n;
    }
    match partitions {
        Some(n) => config.partitions = n,
        None => config.adaptive_partitions = true,
    }
    let args = args.clone();
    let collections: Vec<String> = schema
        .models()
        .iter()
        .map(|m| m.collection().to_string())
        .collect();
    // Every column's document path, `table.column` and whether it is a geometry, per collection.
    let columns: HashMap<String, Vec<Stored>> = schema
        .models()
        .iter()
        .map(|m| {
            let stored = m
                .def()
                .tables
                .iter()
                .flat_map(|t| {
                    t.columns.iter().map(|c| Stored {
                        source: c.source.clone(),
                        column: format!("{}.{}", t.name, c.name),
                        geometry: c.ty.is_geometry(),
                    })
                })
                .collect();
            (m.collection().to_string(), stored)
        })
        .collect();
    tokio::task::spawn_blocking(move || {
        let mut geo_notes = Vec::new();
        let source = super::source::open(&args)?;
        let infos = source.collections()?;
        let (weights, by_size) = weights(&infos);
        let total: u64 = weights.iter().sum();
        let mut out = format!(
            "How {} would be read ({} jobs):\n\n| collection | documents | ranges | why |\n|---|--:|--:|---|\n",
            source.describe(),
            config.jobs
        );
        for name in collections {
            let Some(at) = infos.iter().position(|c| c.name == name) else {
                let _ = writeln!(out, "| {name} | - | - | not in the source |");
                continue;
            };
            let info = &infos[at];
            let weight = counted(weights[at], by_size, info.estimated_documents);
            let max = config.partitions_for(weight, total, by_size);
            let ranges = source
                .partitions(&name, max)
                .with_context(|| format!("planning the ranges of `{name}`"))?;
            let why = source.split_reason(&name).unwrap_or_else(|| {
                if ranges.len() > 1 {
                    "byte ranges of its file".into()
                } else {
                    "read whole".into()
                }
            });
            let documents = info
                .estimated_documents
                .map_or_else(|| "-".into(), |n| n.to_string());
            let _ = writeln!(out, "| {name} | {documents} | {} | {why} |", ranges.len());
            let geo = source
                .geo_indexes(&name)
                .with_context(|| format!("reading the indexes of `{name}`"))?;
            let stored = columns.get(&name).map(Vec::as_slice).unwrap_or_default();
            geo_notes.extend(geo.iter().map(|path| geo_note(stored, &name, path)));
        }
        if !geo_notes.is_empty() {
            out.push('\n');
            for note in geo_notes {
                let _ = writeln!(out, "{note}");
            }
        }
        Ok(out)
    })
    .await
    .context("planning stopped unexpectedly")?
}

/// A column of a model, as the notes on indexes need it.
struct Stored {
    source: String,
    column: String,
    geometry: bool,
}

/// What the models do with a source's `2dsphere` index on `path` of `collection`.
fn geo_note(columns: &[Stored], collection: &str, path: &str) -> String {
    let index = format!("`{collection}` has a `2dsphere` index on `{path}`");
    if let Some(c) = columns.iter().find(|c| c.source == path && c.geometry) {
        return format!("{index}: stored as PostGIS geometry `{}`.", c.column);
    }
    let advice = format!(
        "a `migrator::geo` field (`Point`, `Polygon`, ... or `Geometry`) with `path = \"{path}\"` and `index` stores it as PostGIS geometry with a GiST index"
    );
    let inside = columns.iter().find(|c| {
        c.source == path
            || path
                .strip_prefix(c.source.as_str())
                .is_some_and(|rest| rest.starts_with('.'))
    });
    match inside {
        Some(c) => format!("{index}, stored in `{}`: {advice}.", c.column),
        None => format!("{index}, which no model reads: {advice}."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geo_notes_say_where_the_geojson_goes() {
        let columns = [
            Stored {
                source: "location".into(),
                column: "theaters.location".into(),
                geometry: false,
            },
            Stored {
                source: "area".into(),
                column: "parks.area".into(),
                geometry: true,
            },
        ];
        assert_eq!(
            geo_note(&columns, "parks", "area"),
            "`parks` has a `2dsphere` index on `area`: stored as PostGIS geometry `parks.area`."
        );
        let note = geo_note(&columns, "theaters", "location.geo");
        assert!(note.starts_with("`theaters` has a `2dsphere` index on `location.geo`, stored in `theaters.location`: a `migrator::geo` field"), "{note}");
        assert!(geo_note(&[], "x", "g").contains("which no model reads"));
    }
}
