//! The foreign keys of a user's own tables (`--schema-mode existing`), such as the ones Prisma
//! makes for its relations: not deferrable, in place while the data is loaded.
//!
//! The load writes with the foreign-key triggers off (`session_replication_role = replica`), so
//! the collections load in any order, cycles included; the references stage resolves the
//! dangling references with them off too, so a rejected document's rows are deleted before or
//! after the rows that reference them, each removal found again by the stage's next pass. That
//! is sound when every foreign key is a reference the models resolve: [`unresolved`] says,
//! before anything is written, which are not (a `keep` reference, a relation the models do not
//! declare), and [`violations`] checks every foreign key row by row once the references are
//! resolved.

use sqlx::{PgConnection, Row};

use super::sql;
use crate::model::{MissingPolicy, RefTarget};
use crate::run_error::RunError;
use crate::schema::Schema;

/// A foreign key as the catalog describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignKey {
    pub name: String,
    pub schema: String,
    pub table: String,
    pub columns: Vec<String>,
    pub target_schema: String,
    pub target: String,
    pub target_columns: Vec<String>,
}

impl ForeignKey {
    fn describe(&self) -> String {
        format!(
            "foreign key `{}` ({}.{} -> {}.{})",
            self.name,
            self.table,
            self.columns.join(", "),
            self.target,
            self.target_columns.join(", ")
        )
    }
}

/// The foreign keys from or to `tables` in `target_schema`.
pub async fn of_tables(
    conn: &mut PgConnection,
    target_schema: &str,
    tables: &[String],
) -> Result<Vec<ForeignKey>, RunError> {
    let rows = sqlx::query(sql::FOREIGN_KEYS)
        .bind(target_schema)
        .bind(tables)
        .fetch_all(&mut *conn)
        .await
        .map_err(RunError::db(
            "reading the foreign keys of the existing tables",
        ))?;
    Ok(rows
        .iter()
        .map(|r| ForeignKey {
            name: r.get(0),
            schema: r.get(1),
            table: r.get(2),
            columns: r.get(3),
            target_schema: r.get(4),
            target: r.get(5),
            target_columns: r.get(6),
        })
        .collect())
}

/// The foreign keys on the models' tables that the references stage would not make hold: each
/// must be a reference of its table to the same target column that is resolved (not `keep`),
/// or the link of a junction or child table to its parent.
pub fn unresolved(schema: &Schema, keys: &[ForeignKey], target_schema: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for key in keys.iter().filter(|k| k.schema == target_schema) {
        let Some((def, table)) = schema.models().iter().find_map(|m| {
            let def = m.def();
            def.tables
                .iter()
                .find(|t| t.name == key.table)
                .map(|t| (def, t))
        }) else {
            continue;
        };
        let [column] = key.columns.as_slice() else {
            problems.push(format!(
                "{}: a key of several columns is no reference of the models, so a value \
                 pointing at nothing would stay",
                key.describe()
            ));
            continue;
        };
        let reference = table.references.iter().find(|r| {
            r.column == *column
                && schema.resolve(def, &r.target).is_some_and(|t| {
                    t.table == key.target
                        && key.target_columns.len() == 1
                        && t.column == key.target_columns[0]
                })
        });
        match reference {
            Some(r)
                if r.on_missing == MissingPolicy::Keep
                    && matches!(r.target, RefTarget::Model { .. }) =>
            {
                let source = table.column(column).map_or(column.as_str(), |c| &c.source);
                problems.push(format!(
                    "{} forbids the values pointing at nothing that `{}` keeps \
                     (`on_missing = \"keep\"`): reject, null or skip them instead",
                    key.describe(),
                    source
                ));
            }
            Some(_) => {}
            None => problems.push(format!(
                "{} is no reference of the models, so a value pointing at nothing would stay: \
                 declare it with `#[migrate(references = ..)]`",
                key.describe()
            )),
        }
    }
    problems
}

/// The foreign keys that rows break, each with the number of rows.
pub async fn violations(
    conn: &mut PgConnection,
    keys: &[ForeignKey],
) -> Result<Vec<String>, RunError> {
    let mut broken = Vec::new();
    for key in keys {
        let rows: i64 = sqlx::query_scalar(&sql::count_foreign_key_violations(
            (&key.schema, &key.table, &key.columns),
            (&key.target_schema, &key.target, &key.target_columns),
        ))
        .fetch_one(&mut *conn)
        .await
        .map_err(RunError::db(format!("checking foreign key `{}`", key.name)))?;
        if rows > 0 {
            broken.push(format!(
                "{}: {rows} row(s) point at nothing",
                key.describe()
            ));
        }
    }
    Ok(broken)
}
