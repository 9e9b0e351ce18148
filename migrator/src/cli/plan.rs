//! `plan --source`: how each collection would be read, asked of the source the way `migrate`
//! asks it (the same share of the jobs, the same most ranges).

use std::fmt::Write;

use anyhow::Context;

use super::options::SourceArgs;
use crate::pipeline::config::RunConfig;
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
    tokio::task::spawn_blocking(move || {
        let source = super::source::open(&args)?;
        let infos = source.collections()?;
        let by_size = infos.iter().all(|c| c.bytes_on_disk.is_some());
        let weight = |c: &crate::source::CollectionInfo| {
            if by_size {
                c.bytes_on_disk.unwrap_or(0)
            } else {
                c.estimated_documents.unwrap_or(0)
            }
        };
        let total: u64 = infos.iter().map(weight).sum();
        let mut out = format!(
            "How {} would be read ({} jobs):\n\n| collection | documents | ranges | why |\n|---|--:|--:|---|\n",
            source.describe(),
            config.jobs
        );
        for name in collections {
            let Some(info) = infos.iter().find(|c| c.name == name) else {
                let _ = writeln!(out, "| {name} | - | - | not in the source |");
                continue;
            };
            let max = config.partitions_for(weight(info), total, by_size);
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
        }
        Ok(out)
    })
    .await
    .context("planning stopped unexpectedly")?
}
