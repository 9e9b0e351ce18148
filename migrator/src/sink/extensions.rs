//! The PostgreSQL extensions the models need: PostGIS for geometry columns. A run checks that the
//! server has them before it writes anything, and the DDL creates them (`CREATE EXTENSION IF NOT
//! EXISTS postgis`) before the tables.

use sqlx::PgConnection;

use super::sql;
use crate::run_error::RunError;
use crate::schema::Schema;

/// How to install PostGIS, in the error of a run whose server lacks it.
pub const INSTALL_POSTGIS: &str = "Install PostGIS on the database server (Debian or Ubuntu: `apt-get install postgresql-15-postgis-3`, with your PostgreSQL major version; other systems: https://postgis.net/documentation/getting_started/) and run again; the run creates the extension itself.";

/// Every geometry column of the schema, as `table.column`.
pub fn geometry_columns(schema: &Schema) -> Vec<String> {
    schema
        .models()
        .iter()
        .flat_map(|m| m.def().tables.iter())
        .flat_map(|t| {
            t.columns
                .iter()
                .filter(|c| c.ty.is_geometry())
                .map(move |c| format!("{}.{}", t.name, c.name))
        })
        .collect()
}

/// Stops a run whose models need PostGIS when the server cannot create it.
pub async fn require(conn: &mut PgConnection, schema: &Schema) -> Result<(), RunError> {
    let columns = geometry_columns(schema);
    if columns.is_empty() {
        return Ok(());
    }
    let what = format!("geometry columns ({})", columns.join(", "));
    require_extension(conn, "postgis", &what, INSTALL_POSTGIS).await
}

/// Stops with [`RunError::MissingExtension`] (saying `what` needs it and how to `install` it)
/// unless the server has `extension` available.
pub async fn require_extension(
    conn: &mut PgConnection,
    extension: &str,
    what: &str,
    install: &str,
) -> Result<(), RunError> {
    let available: bool = sqlx::query_scalar(sql::EXTENSION_AVAILABLE)
        .bind(extension)
        .fetch_one(conn)
        .await
        .map_err(RunError::db(format!(
            "checking that the extension `{extension}` is available"
        )))?;
    if available {
        return Ok(());
    }
    Err(RunError::MissingExtension {
        extension: extension.to_string(),
        what: what.to_string(),
        install: install.to_string(),
    })
}
