//! `references`: what the run did with dangling references (the counts of
//! `_migrator.reference_counts`, then the references of `_migrator.reference_issues` one by
//! one, each naming the `_id` of the document that holds it).

use anyhow::Context;
use serde::Serialize;
use sqlx::Row;

use super::options::exit;
use crate::model::IdStrategy;
use crate::report::ReferenceCount;
use crate::schema::Schema;
use crate::sink::sql;
use crate::state::{connect, StateStore};

/// Which references to show.
#[derive(Debug, Clone)]
pub struct Filter {
    pub collection: Option<String>,
    pub action: Option<String>,
    pub limit: usize,
}

/// One recorded dangling reference.
#[derive(Debug, Serialize)]
struct Issue {
    collection: String,
    /// The `_id` of the document holding it, as the source has it where the key maps back
    /// (ordered UUIDs, kept keys); the stored key otherwise.
    document: String,
    table: String,
    column: String,
    value: String,
    action: String,
}

pub async fn show(
    pg_url: &str,
    state: &StateStore,
    schema: &Schema,
    filter: &Filter,
    json: bool,
) -> anyhow::Result<u8> {
    let mut conn = connect(pg_url).await?;
    if state.current(&mut conn).await?.is_none() {
        say!(
            "no migration has started in this target (state schema `{}`)",
            state.schema()
        );
        return Ok(exit::OK);
    }
    // A state written by an earlier version gains the tables read here.
    state.init(&mut conn).await?;
    let counts: Vec<ReferenceCount> = crate::references::counts(&mut conn, state.schema())
        .await
        .context("reading the reference counts")?
        .into_iter()
        .filter(|c| {
            filter
                .collection
                .as_ref()
                .is_none_or(|w| *w == c.collection)
        })
        .filter(|c| filter.action.as_ref().is_none_or(|w| *w == c.action))
        .collect();
    let rows = sqlx::query(&sql::select_reference_issues_filtered(state.schema()))
        .bind(&filter.collection)
        .bind(&filter.action)
        .bind(i64::try_from(filter.limit).unwrap_or(i64::MAX))
        .fetch_all(&mut conn)
        .await
        .context("reading the dangling references")?;
    let issues: Vec<Issue> = rows
        .iter()
        .map(|r| {
            let collection: String = r.get(0);
            let key: String = r.get(1);
            Issue {
                document: document_id(schema, &collection, &key),
                collection,
                table: r.get(2),
                column: r.get(3),
                value: r.get(4),
                action: r.get(5),
            }
        })
        .collect();
    if json {
        say!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "counts": counts,
                "references": issues,
            }))?
        );
        return Ok(exit::OK);
    }
    if counts.is_empty() {
        say!("no dangling references: every reference points at a row");
        return Ok(exit::OK);
    }
    say!("Dangling references handled after the load (every one counted):");
    say!("{}", super::summary::references_table(&counts).trim_end());
    if issues.is_empty() {
        return Ok(exit::OK);
    }
    say!(
        "\n{:<8} {:<20} {:<34} {:<28} value",
        "action",
        "collection",
        "document",
        "table.column"
    );
    for i in &issues {
        say!(
            "{:<8} {:<20} {:<34} {:<28} {}",
            i.action,
            i.collection,
            i.document,
            format!("{}.{}", i.table, i.column),
            i.value
        );
    }
    let total: u64 = counts
        .iter()
        .filter(|c| c.action != "reject")
        .map(|c| c.rows)
        .sum();
    if issues.len() as u64 >= filter.limit as u64 && total > issues.len() as u64 {
        say!(
            "(the first {}; `--limit N` shows more; `keep` records at most 10,000 per \
             reference; rejected documents are in `errors list`)",
            issues.len()
        );
    }
    Ok(exit::OK)
}

/// The `_id` of a collection's document from its stored key, where the key maps back.
fn document_id(schema: &Schema, collection: &str, key: &str) -> String {
    let strategy = schema
        .models()
        .iter()
        .find(|m| m.collection() == collection)
        .map(|m| m.def().id_strategy);
    let object_id = || {
        uuid::Uuid::parse_str(key)
            .ok()
            .and_then(|u| crate::id::ordered_uuid_to_object_id(&u))
    };
    match strategy {
        Some(IdStrategy::Ordered) => match object_id() {
            Some(oid) => format!("_id ObjectId({})", oid.to_hex()),
            None => format!("key {key}"),
        },
        Some(IdStrategy::Keep) => format!("_id {key}"),
        _ => format!("key {key}"),
    }
}
