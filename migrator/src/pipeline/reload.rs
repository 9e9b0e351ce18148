//! Loading collections again when their keys are refused.
//!
//! A run creates its tables without keys and builds them after the load. If values repeat (two
//! documents with one `_id`, one unique email twice), PostgreSQL refuses a table's keys as a
//! whole and cannot say which document came first. The collections owning those tables are then
//! loaded again, from the start, into their tables emptied and given their keys: the load refuses
//! each repeat as it comes, as a dead letter naming the document's `_id` and the column, exactly
//! as a load into tables that have keys from the start does. Each is read as one partition, so
//! the document kept is the first in the source's order. The other collections stay as they are.

use std::collections::BTreeSet;
use std::sync::Arc;

use sqlx::{Connection, PgConnection};

use super::config::RunConfig;
use crate::progress::{Event, Observer};
use crate::run_error::RunError;
use crate::schema::Schema;
use crate::sink::constraints::{self, RefusedKeys};
use crate::sink::ddl::Ddl;
use crate::sink::sql::{self, Namespace};
use crate::source::{Partition, Source, SourceStamp};
use crate::state::{RunStage, StateStore};

/// The collections an invocation has loaded again so far.
#[derive(Debug, Default)]
pub struct Reloaded(BTreeSet<String>);

impl Reloaded {
    /// Empties the tables of the collections owning `refused`, adds their keys, forgets their
    /// load and records the `loading` stage, in one transaction: the next load reads those
    /// collections again (a run killed after the commit does so when it resumes, before it the
    /// keys are tried again). Foreign keys already added are dropped first (they would keep
    /// the tables from being emptied) and added again after the load.
    #[allow(clippy::too_many_arguments)] // the run's parts it touches, each once
    pub async fn reload(
        &mut self,
        schema: &Schema,
        config: &RunConfig,
        observer: &dyn Observer,
        source: &Arc<dyn Source>,
        state: &StateStore,
        control: &mut PgConnection,
        refused: Vec<RefusedKeys>,
    ) -> Result<(), RunError> {
        let mut collections: Vec<String> = Vec::new();
        let mut tables: Vec<String> = Vec::new();
        for RefusedKeys { table, error } in refused {
            let Some(owner) = schema
                .models()
                .iter()
                .find(|m| m.def().tables.iter().any(|t| t.name == table))
            else {
                return Err(RunError::Internal(format!(
                    "table `{table}` belongs to no collection ({error})"
                )));
            };
            let collection = owner.collection().to_string();
            // Loaded again into tables with keys, its rows cannot break them: if they do,
            // something else wrote there.
            if self.0.contains(&collection) {
                return Err(error);
            }
            observer.event(&Event::Note {
                message: format!(
                    "`{collection}`: values repeat where table `{table}` needs them unique \
                     ({error}); loading `{collection}` again into its tables with their keys, so \
                     each repeat is a dead letter"
                ),
            });
            if !collections.contains(&collection) {
                tables.extend(owner.def().tables.iter().map(|t| t.name.clone()));
                collections.push(collection);
            }
        }
        let ddl = Ddl::new(schema, Some(&config.target_schema));
        constraints::drop_foreign_keys(control, &config.target_schema, &ddl).await?;
        let what = format!("emptying `{}` to load again", collections.join("`, `"));
        let ns = Namespace(Some(&config.target_schema));
        let mut statements = vec![sql::truncate_tables(
            ns,
            &tables.iter().map(String::as_str).collect::<Vec<_>>(),
        )];
        let existing = constraints::existing_names(control, &config.target_schema).await?;
        statements.extend(
            ddl.keys
                .iter()
                .filter(|k| tables.contains(&k.table))
                .filter(|k| !k.exist_in(&existing))
                .map(|k| k.statement.clone()),
        );
        // What each source is now: forgetting the load forgets its stamp, and the plan below
        // records it again, so a resume still notices a source that changes after this.
        let stamps = {
            let source = Arc::clone(source);
            let names = collections.clone();
            tokio::task::spawn_blocking(move || {
                names
                    .iter()
                    .map(|c| source.stamp(c))
                    .collect::<Result<Vec<Option<SourceStamp>>, _>>()
            })
            .await
            .map_err(|e| RunError::Internal(format!("stamping the sources to load again: {e}")))??
        };
        let mut tx = control.begin().await.map_err(RunError::db(what.clone()))?;
        for statement in &statements {
            sqlx::query(statement)
                .execute(&mut *tx)
                .await
                .map_err(RunError::db(what.clone()))?;
        }
        state.forget_loads(&mut tx, &collections, &tables).await?;
        // Each is read again as one partition, in the source's order (a file's order, or `_id`
        // order live): the first of two documents sharing a value is the one kept, whatever
        // `--partitions` and `--jobs` say. Planned here, so a resume reads it the same way.
        for (collection, stamp) in collections.iter().zip(&stamps) {
            state
                .plan_partitions(&mut tx, collection, &[Partition::whole()], stamp.as_ref())
                .await?;
        }
        state.set_stage(&mut tx, RunStage::Loading).await?;
        tx.commit().await.map_err(RunError::db(what))?;
        self.0.extend(collections);
        Ok(())
    }
}
