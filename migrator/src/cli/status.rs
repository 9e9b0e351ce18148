//! `status` and `coverage`: what the stored state says about a run.

use anyhow::Context;
use sqlx::Row;

use super::options::exit;
use crate::schema::Schema;
use crate::sink::sql;
use crate::state::connect;

use super::commands::Target;

pub(super) async fn status(target: &Target, schema: &Schema) -> anyhow::Result<u8> {
    let mut conn = connect(&target.pg_url).await?;
    let state = target.state();
    let Some((_, stage)) = state.current(&mut conn).await? else {
        say!(
            "no migration has started in this target (state schema `{}`)",
            target.state_schema
        );
        return Ok(exit::OK);
    };
    let checkpoints = state.checkpoints(&mut conn).await?;
    let dead: std::collections::BTreeMap<String, i64> =
        sqlx::query(&sql::count_dead_letters(&target.state_schema))
            .fetch_all(&mut conn)
            .await
            .context("counting dead letters")?
            .into_iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
    say!("stage: {}", stage.as_str());
    say!(
        "{:<24} {:>12} {:>9} {:>11}",
        "collection",
        "documents",
        "rejected",
        "partitions"
    );
    for model in schema.models() {
        let mine: Vec<_> = checkpoints
            .iter()
            .filter(|c| c.collection == model.collection())
            .collect();
        let docs: i64 = mine.iter().map(|c| c.documents).sum();
        let rejected = dead.get(model.collection()).copied().unwrap_or(0);
        let done = mine.iter().filter(|c| c.done).count();
        let progress = if mine.is_empty() {
            "not started".to_string()
        } else {
            format!("{done}/{} done", mine.len())
        };
        say!(
            "{:<24} {:>12} {:>9} {:>11}",
            model.collection(),
            docs,
            rejected,
            progress
        );
    }
    #[cfg(feature = "live")]
    if let Some(follow) = crate::follow::FollowState::read(&mut conn, &state).await? {
        say!("{}", super::follow::status_lines(&follow));
    }
    #[cfg(feature = "live")]
    if let Some(replay) = crate::follow::oplog::replay_status(&mut conn, &state).await? {
        say!("{}", super::replay::status_line(&replay));
    }
    let coverage = super::coverage::stored(&mut conn, &target.state_schema, schema).await?;
    let section = super::coverage::status_section(&coverage);
    if !section.is_empty() {
        say!("{}", section.trim_end());
    }
    Ok(exit::OK)
}

pub(super) async fn coverage(json: bool, target: &Target, schema: &Schema) -> anyhow::Result<u8> {
    let mut conn = connect(&target.pg_url).await?;
    let coverage = super::coverage::stored(&mut conn, &target.state_schema, schema).await?;
    if json {
        say!("{}", serde_json::to_string_pretty(&coverage)?);
    } else {
        say!("{}", super::coverage::render(&coverage).trim_end());
    }
    Ok(exit::OK)
}
