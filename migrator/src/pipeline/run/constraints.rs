//! The constraints stage: the keys, foreign keys and indexes the references stage did not add
//! (a resumed run, a foreign key refused), then the `done` record.

use std::sync::Arc;

use sqlx::PgConnection;

use super::super::config::SchemaMode;
use super::{Invocation, Shared};
use crate::progress::Event;
use crate::run_error::RunError;
use crate::sink::constraints::{self, Added, Work};
use crate::sink::ddl::Ddl;
use crate::state::{RunStage, StateStore};

/// Adds what is left of the constraints and records the run `done`.
pub(super) async fn stage(
    shared: &Arc<Shared>,
    state: &StateStore,
    control: &mut PgConnection,
    ddl: &Ddl,
    run: &mut Invocation,
) -> Result<(), RunError> {
    let config = &shared.config;
    shared.observer.event(&Event::Stage {
        name: "constraints".into(),
    });
    if config.schema_mode == SchemaMode::Create && !run.constraints_added {
        let added = constraints::add(
            &config.pg_url,
            &config.target_schema,
            ddl,
            config.jobs,
            Work::ALL,
        )
        .await?;
        // Every reference is resolved by now, every key was added in the references stage:
        // a refusal is an error.
        match added {
            Added::All => {}
            Added::ForeignKeyRefused(e) => return Err(e),
            Added::KeysRefused(refused) => {
                return Err(refused.into_iter().next().map_or_else(
                    || RunError::Internal("keys refused without an error".into()),
                    |r| r.error,
                ));
            }
        }
    }
    state.set_stage(control, RunStage::Done).await?;
    shared.time_stage("constraints", &mut run.mark);
    Ok(())
}
