//! References that point at nothing, counted set-based per reference.

use sqlx::PgConnection;

use super::report::ReferenceCheck;
use crate::model::{MissingPolicy, PgType, RefTarget};
use crate::run_error::RunError;
use crate::schema::{ModelHandle, Schema};
use crate::sink::sql::{self, Namespace};

/// The orphaned rows of every reference of every table of `model`.
pub(super) async fn check(
    conn: &mut PgConnection,
    schema: &Schema,
    ns: Namespace<'_>,
    model: &ModelHandle,
) -> Result<Vec<ReferenceCheck>, RunError> {
    let def = model.def();
    let mut out = Vec::new();
    for table in &def.tables {
        for reference in &table.references {
            let Some(target) = schema.resolve(def, &reference.target) else {
                return Err(RunError::Internal(format!(
                    "the reference `{}.{}` of `{}` has no target in the schema",
                    table.name,
                    reference.column,
                    model.collection()
                )));
            };
            let array = table
                .column(&reference.column)
                .is_some_and(|c| matches!(c.ty, PgType::Array(_)));
            let query = sql::count_orphans(
                ns,
                &table.name,
                &reference.column,
                array,
                target.table,
                target.column,
            );
            let orphans: i64 = sqlx::query_scalar(&query)
                .fetch_one(&mut *conn)
                .await
                .map_err(RunError::db(format!(
                    "counting orphaned references in `{}.{}`",
                    table.name, reference.column
                )))?;
            let (policy, allowed) = match reference.target {
                RefTarget::Table(_) => ("parent", false),
                RefTarget::Model { .. } => (
                    reference.on_missing.as_str(),
                    reference.on_missing == MissingPolicy::Keep,
                ),
            };
            out.push(ReferenceCheck {
                table: table.name.clone(),
                column: reference.column.clone(),
                target_table: target.table.to_string(),
                target_column: target.column.to_string(),
                policy: policy.to_string(),
                orphans: u64::try_from(orphans).unwrap_or(0),
                allowed,
            });
        }
    }
    Ok(out)
}
