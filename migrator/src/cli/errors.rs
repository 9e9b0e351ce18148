//! `errors list`, `errors show` and `errors export`: the rejected documents of a run.

use anyhow::Context;

use super::options::{exit, ErrorsCommand};
use crate::dead_letter::DeadLetterFile;
use crate::sink::sql;
use crate::state::connect;

use super::commands::Target;

pub(super) async fn errors(command: &ErrorsCommand, target: &Target) -> anyhow::Result<u8> {
    let mut conn = connect(&target.pg_url).await?;
    let state = target.state();
    if state.current(&mut conn).await?.is_none() {
        say!(
            "no migration has started in this target (state schema `{}`)",
            target.state_schema
        );
        return Ok(exit::OK);
    }
    match command {
        ErrorsCommand::List {
            collection,
            class,
            limit,
        } => {
            let groups = crate::pipeline::run::error_groups(&state, &mut conn, 10).await?;
            if groups.is_empty() {
                say!("no rejected documents");
                return Ok(exit::OK);
            }
            say!(
                "{:>8}  {:<20} {:<28} {:<22} example",
                "count",
                "collection",
                "field",
                "class"
            );
            for g in &groups {
                say!(
                    "{:>8}  {:<20} {:<28} {:<22} _id {}: {}",
                    g.count,
                    g.collection,
                    g.field,
                    g.class,
                    g.example_id,
                    g.example_message
                );
            }
            let rows = sqlx::query(&sql::select_dead_letters_filtered(&target.state_schema))
                .bind(collection)
                .bind(class)
                .bind(i64::try_from(*limit).unwrap_or(i64::MAX))
                .fetch_all(&mut conn)
                .await
                .context("reading dead letters")?;
            say!("\nlatest {}:", rows.len());
            for row in &rows {
                let (id, l) = crate::dead_letter::from_row(row);
                for (n, e) in l.issues().iter().enumerate() {
                    let head = if n == 0 {
                        format!(
                            "  #{id} {} _id {} [{}]",
                            l.collection,
                            l.document_id,
                            l.stage.as_str()
                        )
                    } else {
                        "      and".to_string()
                    };
                    say!("{head} {} {}: {}", e.field, e.class, e.message);
                }
            }
            say!("\n(`errors show ID` prints one with its document; `errors export FILE` writes them all)");
        }
        ErrorsCommand::Show { id } => {
            let row = sqlx::query(&sql::select_dead_letter(&target.state_schema))
                .bind(id)
                .fetch_optional(&mut conn)
                .await
                .context("reading the dead letter")?;
            let Some(row) = row else {
                eprintln!("error: no rejected document #{id}");
                return Ok(exit::FAILED);
            };
            let (_, l) = crate::dead_letter::from_row(&row);
            say!("collection: {}\n_id:        {}\nstage:      {}\nfield:      {}\nclass:      {}\nreason:     {}", l.collection, l.document_id, l.stage.as_str(), l.field, l.class, l.message);
            if let Some(root) = &l.root_id {
                say!("root:       _id {root} (the rejected document the chain starts at)");
            }
            if !l.errors.is_empty() {
                say!("errors:     {}", l.errors.len());
                for e in &l.errors {
                    say!("  {} {}: {}", e.field, e.class, e.message);
                }
            }
            if let Some(doc) = &l.document {
                let pretty = serde_json::from_str::<serde_json::Value>(doc)
                    .and_then(|v| serde_json::to_string_pretty(&v))
                    .unwrap_or_else(|_| doc.clone());
                say!("document:\n{pretty}");
            }
        }
        ErrorsCommand::Export { file } => {
            let letters = crate::dead_letter::load_all(&mut conn, &target.state_schema)
                .await
                .context("reading dead letters")?;
            DeadLetterFile::new(file.clone())
                .rewrite(&letters)
                .with_context(|| format!("writing {}", file.display()))?;
            say!(
                "wrote {} rejected documents to {}",
                letters.len(),
                file.display()
            );
        }
    }
    Ok(exit::OK)
}
