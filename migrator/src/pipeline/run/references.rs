//! The references stage: the keys (the tables were created without them), the foreign keys
//! and indexes, and the dangling references resolved. Keys refused send their collections back
//! to the load.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use sqlx::PgConnection;

use super::super::config::SchemaMode;
use super::{Invocation, Shared};
use crate::progress::Event;
use crate::run_error::RunError;
use crate::schema::Schema;
use crate::sink::constraints::{self, Added, Work};
use crate::sink::ddl::Ddl;
use crate::sink::{foreign_keys, sql};
use crate::state::{RunStage, StateStore};

/// Adds the keys and foreign keys and resolves the dangling references; leaves the run in the
/// `constraints` stage, or in `loading` when keys were refused and their collections load again.
pub(super) async fn stage(
    schema: &Schema,
    shared: &Arc<Shared>,
    state: &StateStore,
    control: &mut PgConnection,
    ddl: &Ddl,
    run: &mut Invocation,
) -> Result<(), RunError> {
    let config = &shared.config;
    shared.observer.event(&Event::Stage {
        name: "references".into(),
    });
    // Keys first (the tables were created without them), then the foreign keys, with the
    // indexes: a foreign key that is accepted proves that no value of its column dangles,
    // which is the usual case, and spares looking for dangling values a second time. Only
    // if one is refused are they all dropped and every reference resolved.
    let mut scope = crate::references::Scope::All;
    // The references that get no foreign key, resolved meanwhile (see below).
    let mut unenforced = None;
    if config.schema_mode == SchemaMode::Create {
        let enforced = crate::references::all_actionable_enforced(schema);
        let work = Work {
            keys: true,
            foreign_keys: enforced,
            indexes: enforced,
        };
        let adding = async {
            let sessions = match run.opened.take() {
                Some(sessions) => sessions?,
                None => constraints::open(&config.pg_url, config.jobs).await?,
            };
            constraints::add_on(sessions, &config.target_schema, ddl, work, run.busy.take()).await
        };
        // When every reference that can act gets a foreign key, the others only `keep`
        // their values: looking for those dangling changes no row, so it runs while the
        // constraints are added (should a constraint be refused, it is done again after).
        let added = if enforced {
            let resolving = resolve_references(
                schema,
                shared,
                state,
                control,
                crate::references::Scope::Unenforced,
            );
            let (added, resolved) = tokio::join!(adding, resolving);
            unenforced = Some(resolved);
            added?
        } else {
            adding.await?
        };
        match added {
            Added::All if enforced => {
                scope = crate::references::Scope::Unenforced;
                run.constraints_added = true;
            }
            Added::All => {}
            Added::ForeignKeyRefused(_) => {
                constraints::drop_foreign_keys(control, &config.target_schema, ddl).await?
            }
            Added::KeysRefused(refused) => {
                let observer = shared.observer.as_ref();
                run.reloaded
                    .reload(
                        schema,
                        config,
                        observer,
                        &shared.source,
                        state,
                        control,
                        refused,
                    )
                    .await?;
                shared.time_stage("references", &mut run.mark);
                run.stage = RunStage::Loading;
                return Ok(());
            }
        }
    }
    let resolved = match unenforced {
        Some(resolved) if scope == crate::references::Scope::Unenforced => resolved?,
        _ if config.schema_mode == SchemaMode::Existing => {
            resolve_among_foreign_keys(schema, shared, state, control).await?
        }
        _ => resolve_references(schema, shared, state, control, scope).await?,
    };
    // Created here, loaded by this invocation and nothing removed since: the rows written
    // are the rows there. (A resumed stage may follow an attempt that removed some.)
    if config.schema_mode == SchemaMode::Create && run.loaded_here && !resolved.rows_removed {
        shared.rows_as_written.store(true, Ordering::SeqCst);
    }
    shared.time_stage("references", &mut run.mark);
    run.stage = RunStage::Constraints;
    // With every constraint added already, the next record is `done` (one commit fewer; a
    // run stopped before it resumes in `references`, where everything is idempotent).
    if !run.constraints_added {
        state.set_stage(control, run.stage).await?;
    }
    Ok(())
}

/// Resolves the dangling references of `scope` (see [`crate::references::resolve`]).
async fn resolve_references(
    schema: &Schema,
    shared: &Shared,
    state: &StateStore,
    control: &mut PgConnection,
    scope: crate::references::Scope,
) -> Result<crate::references::Resolved, RunError> {
    crate::references::resolve(
        schema,
        shared.source.as_ref(),
        &shared.config,
        state,
        control,
        shared.dead_file.as_ref(),
        scope,
    )
    .await
}

/// In a user's own tables, whose foreign keys are in place: resolves every reference with the
/// foreign-key triggers off, as the load wrote (a rejected document's rows go before the rows
/// that reference them, which the next pass finds), then checks every foreign key row by row
/// (see [`crate::sink::foreign_keys`]).
async fn resolve_among_foreign_keys(
    schema: &Schema,
    shared: &Shared,
    state: &StateStore,
    control: &mut PgConnection,
) -> Result<crate::references::Resolved, RunError> {
    set_role(control, sql::SET_REPLICA_ROLE).await?;
    let resolved = resolve_references(
        schema,
        shared,
        state,
        control,
        crate::references::Scope::All,
    )
    .await;
    set_role(control, sql::RESET_REPLICA_ROLE).await?;
    let resolved = resolved?;
    let tables: Vec<String> = schema
        .models()
        .iter()
        .flat_map(|m| m.def().tables.iter().map(|t| t.name.clone()))
        .collect();
    let target = &shared.config.target_schema;
    let keys = foreign_keys::of_tables(control, target, &tables).await?;
    let violations = foreign_keys::violations(control, &keys).await?;
    if !violations.is_empty() {
        return Err(RunError::ForeignKeysBroken { violations });
    }
    Ok(resolved)
}

async fn set_role(control: &mut PgConnection, statement: &str) -> Result<(), RunError> {
    sqlx::query(statement)
        .execute(&mut *control)
        .await
        .map_err(RunError::db("setting session_replication_role"))?;
    Ok(())
}
