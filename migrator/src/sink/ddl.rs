//! DDL for a whole schema, in the order a load needs it: enum types, tables (columns and checks),
//! then, after the data is in, primary keys and unique constraints, foreign keys and indexes.
//! Adding foreign keys last is what makes reference cycles and self-references load without
//! special cases; building keys last sorts each index once instead of growing it row by row.

use std::collections::BTreeSet;

use sqlx::{Connection, Executor, PgConnection};

use super::sql::{self, Namespace};
use crate::model::{MissingPolicy, TableDef};
use crate::plan::LoadPlan;
use crate::run_error::RunError;
use crate::schema::Schema;

/// The DDL of a schema, split by when it runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ddl {
    /// What the column types need, before the tables: `CREATE EXTENSION IF NOT EXISTS postgis`
    /// when a column is a geometry, then `CREATE TYPE` for native enums.
    pub types: Vec<String>,
    /// `CREATE TABLE` in load order (a collection's table, then its junction and child tables),
    /// keys included: the tables as they end up.
    pub tables: Vec<String>,
    /// `CREATE TABLE` as a run creates them to load into (no keys yet), in the same order.
    pub load_tables: Vec<String>,
    /// Each table's primary key and unique constraints, built after the load (tables without
    /// keys have none here).
    pub keys: Vec<TableKeys>,
    /// Foreign keys, added after the load: (constraint name, statement).
    pub foreign_keys: Vec<(String, String)>,
    /// Indexes on foreign-key columns and `index` fields, added after the load.
    pub indexes: Vec<String>,
    /// For each of `foreign_keys`: (table, referenced table), unqualified.
    pub foreign_key_tables: Vec<(String, String)>,
    /// For each of `indexes`: its table, unqualified.
    pub index_tables: Vec<String>,
    /// References that get no foreign key (`on_missing = "keep"`): `table.column -> target`.
    pub unchecked: Vec<String>,
}

/// The keys of one table, added by one statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableKeys {
    /// The table, unqualified.
    pub table: String,
    /// Its constraint names (primary key first).
    pub names: Vec<String>,
    /// `ALTER TABLE .. ADD CONSTRAINT .., ADD CONSTRAINT ..`.
    pub statement: String,
}

impl TableKeys {
    /// Whether every one of these keys is among `existing` constraint names.
    pub fn exist_in(&self, existing: &BTreeSet<String>) -> bool {
        self.names.iter().all(|n| existing.contains(n))
    }
}

impl Ddl {
    /// Renders the DDL of `schema`, tables qualified with `pg_schema` if given.
    pub fn new(schema: &Schema, pg_schema: Option<&str>) -> Ddl {
        let ns = Namespace(pg_schema);
        let plan = LoadPlan::new(schema);
        let mut ddl = Ddl::default();
        if !super::extensions::geometry_columns(schema).is_empty() {
            ddl.types.push(sql::CREATE_POSTGIS.to_string());
        }
        for e in schema.enum_types().values() {
            if e.repr == crate::model::EnumRepr::Native {
                ddl.types.push(sql::create_enum(ns, e));
            }
        }
        for m in plan.order() {
            let def = schema.models()[m].def();
            for table in &def.tables {
                ddl.tables.push(sql::create_table(ns, table));
                ddl.load_tables.push(sql::create_table_for_load(ns, table));
                if let Some(statement) = sql::add_keys(ns, table) {
                    ddl.keys.push(TableKeys {
                        table: table.name.clone(),
                        names: sql::key_names(table),
                        statement,
                    });
                }
                let mut indexed: BTreeSet<Vec<String>> = BTreeSet::new();
                for reference in &table.references {
                    let Some(target) = schema.resolve(def, &reference.target) else {
                        continue;
                    };
                    if reference.on_missing == MissingPolicy::Keep {
                        ddl.unchecked.push(format!(
                            "{}.{} -> {}.{}",
                            table.name, reference.column, target.table, target.column
                        ));
                    }
                    if reference.on_missing != MissingPolicy::Keep && target.enforceable {
                        ddl.foreign_keys.push((
                            sql::foreign_key_name(&table.name, &reference.column),
                            sql::add_foreign_key(
                                ns,
                                &table.name,
                                &reference.column,
                                target.table,
                                target.column,
                            ),
                        ));
                        ddl.foreign_key_tables
                            .push((table.name.clone(), target.table.to_string()));
                    }
                    let cols = vec![reference.column.clone()];
                    if !is_key_prefix(table, &reference.column) && indexed.insert(cols.clone()) {
                        ddl.indexes.push(sql::create_index(ns, &table.name, &cols));
                        ddl.index_tables.push(table.name.clone());
                    }
                }
                for cols in &table.indexes {
                    if indexed.insert(cols.clone()) {
                        let index = match geometry_column(table, cols) {
                            Some(column) => sql::create_gist_index(ns, &table.name, column),
                            None => sql::create_index(ns, &table.name, cols),
                        };
                        ddl.indexes.push(index);
                        ddl.index_tables.push(table.name.clone());
                    }
                }
            }
        }
        ddl
    }

    /// Every statement in order, as one script.
    pub fn to_sql(&self) -> String {
        let mut out = String::new();
        let fks: Vec<String> = self.foreign_keys.iter().map(|(_, s)| s.clone()).collect();
        for (title, stmts) in [
            ("Types (extensions and enums)", &self.types),
            ("Tables", &self.tables),
            ("Foreign keys (added after the load)", &fks),
            ("Indexes (added after the load)", &self.indexes),
        ] {
            if stmts.is_empty() {
                continue;
            }
            out.push_str(&format!("-- {title}\n\n"));
            for s in stmts {
                out.push_str(s);
                out.push_str(";\n\n");
            }
        }
        if !self.unchecked.is_empty() {
            out.push_str(
                "-- References without a foreign key (on_missing = \"keep\": a value that points at\n\
                 -- nothing is kept as it is, and counted by the run)\n",
            );
            for r in &self.unchecked {
                out.push_str(&format!("-- {r}\n"));
            }
        }
        out
    }
}

/// The column of a one-column index on a geometry, which gets a GiST index.
fn geometry_column<'a>(table: &TableDef, cols: &'a [String]) -> Option<&'a str> {
    match cols {
        [column] if table.column(column).is_some_and(|c| c.ty.is_geometry()) => Some(column),
        _ => None,
    }
}

/// A column that leads the primary key or a unique constraint already has an index.
fn is_key_prefix(table: &TableDef, column: &str) -> bool {
    table.primary_key.first().map(String::as_str) == Some(column)
        || table
            .uniques
            .iter()
            .any(|u| u.first().map(String::as_str) == Some(column))
}

/// Runs `statements` in one transaction, sent as one script (one round trip however many
/// there are). If the script fails, the transaction is rolled back and the statements are run
/// again one at a time, so the error names the one that fails.
pub async fn execute_all(
    conn: &mut PgConnection,
    what: &str,
    statements: &[String],
) -> Result<(), RunError> {
    if statements.is_empty() {
        return Ok(());
    }
    let script = statements.join(";\n");
    let mut tx = conn
        .begin()
        .await
        .map_err(RunError::db(format!("starting to {what}")))?;
    match tx.execute(script.as_str()).await {
        Ok(_) => tx
            .commit()
            .await
            .map_err(RunError::db(format!("committing: {what}"))),
        Err(error) => {
            tx.rollback()
                .await
                .map_err(RunError::db(format!("rolling back: {what}")))?;
            Err(failing_statement(conn, what, statements)
                .await
                .unwrap_or_else(|| RunError::db(what.to_string())(error)))
        }
    }
}

/// Runs `statements` one by one in a transaction that is rolled back, and returns the error of
/// the first that fails, naming it (`None` if none fails this time).
async fn failing_statement(
    conn: &mut PgConnection,
    what: &str,
    statements: &[String],
) -> Option<RunError> {
    let mut tx = conn.begin().await.ok()?;
    let mut failed = None;
    for stmt in statements {
        if let Err(e) = tx.execute(stmt.as_str()).await {
            failed = Some(RunError::db(format!("{what}: {}", first_line(stmt)))(e));
            break;
        }
    }
    let _ = tx.rollback().await;
    failed
}

/// Adds the foreign keys that do not exist yet and every index (idempotent, for resumes).
pub async fn add_constraints(
    conn: &mut PgConnection,
    target_schema: &str,
    ddl: &Ddl,
) -> Result<(), RunError> {
    for (name, stmt) in &ddl.foreign_keys {
        let exists: bool = sqlx::query_scalar(sql::CONSTRAINT_EXISTS)
            .bind(name)
            .bind(target_schema)
            .fetch_one(&mut *conn)
            .await
            .map_err(RunError::db(format!("checking for constraint {name}")))?;
        if !exists {
            sqlx::query(stmt)
                .execute(&mut *conn)
                .await
                .map_err(RunError::db(format!("adding foreign key {name}")))?;
        }
    }
    for stmt in &ddl.indexes {
        let stmt = sql::if_missing(stmt);
        sqlx::query(&stmt)
            .execute(&mut *conn)
            .await
            .map_err(RunError::db(format!(
                "creating index: {}",
                first_line(&stmt)
            )))?;
    }
    Ok(())
}

fn first_line(stmt: &str) -> &str {
    stmt.lines().next().unwrap_or(stmt)
}
