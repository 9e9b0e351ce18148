//! The sampled round trip: the expected rows of a few documents, COPYed into temp tables shaped
//! like the targets, compared with the target inside PostgreSQL.

use std::collections::HashMap;

use sqlx::postgres::PgRow;
use sqlx::{Connection, PgConnection, Row};

use super::edits::Edited;
use super::report::{Mismatch, NO_ROW};
use super::scan::SampledDocument;
use crate::model::{ModelDef, TableDef};
use crate::run_error::RunError;
use crate::schema::ModelHandle;
use crate::sink::copy::CopyEncoder;
use crate::sink::sql::{self, Namespace, ParentLink, SampledRows, TEMP};

/// Compares the sampled documents of `model` with the target; the temp tables are dropped again.
pub(super) async fn compare(
    conn: &mut PgConnection,
    ns: Namespace<'_>,
    model: &ModelHandle,
    sample: &[SampledDocument],
) -> Result<Vec<Mismatch>, RunError> {
    if sample.is_empty() {
        return Ok(Vec::new());
    }
    let def = model.def();
    let collection = model.collection();
    let mut encoder = CopyEncoder::new(def.tables.len());
    for s in sample {
        let result = match &s.edits {
            Some(edits) => model.transform(&s.doc, &mut Edited::new(&mut encoder, edits)),
            None => model.transform(&s.doc, &mut encoder),
        };
        result.map_err(|e| {
            RunError::Internal(format!(
                "sampled document {} no longer transforms: {e}",
                s.id
            ))
        })?;
    }
    let temps: Vec<String> = (0..def.tables.len())
        .map(|i| format!("expected_{i}"))
        .collect();
    let ids: HashMap<&str, &str> = sample
        .iter()
        .map(|s| (s.key.as_str(), s.id.as_str()))
        .collect();
    let context = |what: &str| format!("{what} for the sampled comparison of `{collection}`");

    // Everything in one transaction: an error rolls the temp tables back with it.
    let mut tx = conn
        .begin()
        .await
        .map_err(RunError::db(context("starting a transaction")))?;
    for (table, temp) in def.tables.iter().zip(&temps) {
        sqlx::query(&sql::create_temp_like(temp, ns, &table.name))
            .execute(&mut *tx)
            .await
            .map_err(RunError::db(context(&format!(
                "creating a temp table like `{}`",
                table.name
            ))))?;
    }
    for (index, (table, temp)) in def.tables.iter().zip(&temps).enumerate() {
        let Some(payload) = encoder.take(index) else {
            continue;
        };
        let copied = async {
            let mut copy = tx.copy_in_raw(&sql::copy_in_temp(temp, table)).await?;
            copy.send(payload.as_slice()).await?;
            copy.finish().await
        }
        .await;
        copied.map_err(RunError::db(context(&format!(
            "copying the expected rows of `{}`",
            table.name
        ))))?;
        sqlx::query(&sql::analyze_temp(temp))
            .execute(&mut *tx)
            .await
            .map_err(RunError::db(context("analyzing a temp table")))?;
    }

    let found = Found {
        collection,
        ids: &ids,
    };
    let mut mismatches = Vec::new();
    let root = def.table();
    let rows = sqlx::query(&sql::compare_columns(&temps[0], ns, root))
        .fetch_all(&mut *tx)
        .await
        .map_err(RunError::db(context(&format!(
            "comparing the columns of `{}`",
            root.name
        ))))?;
    for row in &rows {
        mismatches.push(found.column(root, row)?);
    }
    let root_key = root.primary_key.first().map_or("id", String::as_str);
    for (index, table) in def.tables.iter().enumerate().skip(1) {
        let expected_links = links(def, index, |p| TEMP.qualify(&temps[p]));
        let actual_links = links(def, index, |p| ns.qualify(&def.tables[p].name));
        let sampled = SampledRows {
            table,
            ns,
            expected: &temps[index],
            expected_links: &expected_links,
            actual_links: &actual_links,
            roots: &temps[0],
            root_key,
        };
        for missing in [true, false] {
            let rows = sqlx::query(&sql::except_rows(&sampled, missing))
                .fetch_all(&mut *tx)
                .await
                .map_err(RunError::db(context(&format!(
                    "comparing the rows of `{}`",
                    table.name
                ))))?;
            for row in &rows {
                mismatches.push(found.row(table, row, missing)?);
            }
        }
    }

    sqlx::query(&sql::drop_temp(&temps))
        .execute(&mut *tx)
        .await
        .map_err(RunError::db(context("dropping the temp tables")))?;
    tx.commit()
        .await
        .map_err(RunError::db(context("ending the transaction")))?;
    Ok(mismatches)
}

/// The links from table `index` up to the collection table, nearest parent first.
fn links(def: &ModelDef, index: usize, qualify: impl Fn(usize) -> String) -> Vec<ParentLink> {
    def.parent_chain(index)
        .into_iter()
        .map(|(parent, column)| ParentLink {
            parent: qualify(parent),
            key: def.tables[parent].key_column().to_string(),
            column: column.to_string(),
        })
        .collect()
}

/// Turns comparison rows into [`Mismatch`]es naming the document.
struct Found<'a> {
    collection: &'a str,
    ids: &'a HashMap<&'a str, &'a str>,
}

impl Found<'_> {
    fn document_id(&self, key: &str) -> String {
        self.ids
            .get(key)
            .map_or_else(|| key.to_string(), |id| id.to_string())
    }

    /// A row of [`sql::compare_columns`]: key, column index (-1: no target row), expected, actual.
    fn column(&self, table: &TableDef, row: &PgRow) -> Result<Mismatch, RunError> {
        let key: String = text(row, 0)?.unwrap_or_default();
        let index: i32 = row
            .try_get(1)
            .map_err(RunError::db("reading a column comparison"))?;
        let column = usize::try_from(index)
            .ok()
            .and_then(|i| table.columns.get(i))
            .map(|c| c.name.clone());
        let (expected, actual) = match column {
            Some(_) => (shown(text(row, 2)?), shown(text(row, 3)?)),
            None => {
                let pk = table.primary_key.join(", ");
                (format!("a row with {pk} = {key}"), NO_ROW.to_string())
            }
        };
        Ok(Mismatch {
            collection: self.collection.to_string(),
            document_id: self.document_id(&key),
            table: table.name.clone(),
            column,
            expected,
            actual,
        })
    }

    /// A row of [`sql::except_rows`]: root key, then every column.
    fn row(&self, table: &TableDef, row: &PgRow, missing: bool) -> Result<Mismatch, RunError> {
        let key: String = text(row, 0)?.unwrap_or_default();
        let mut parts = Vec::with_capacity(table.columns.len());
        for (i, column) in table.columns.iter().enumerate() {
            parts.push(format!("{}={}", column.name, shown(text(row, i + 1)?)));
        }
        let rendered = parts.join(", ");
        let (expected, actual) = if missing {
            (rendered, NO_ROW.to_string())
        } else {
            (NO_ROW.to_string(), rendered)
        };
        Ok(Mismatch {
            collection: self.collection.to_string(),
            document_id: self.document_id(&key),
            table: table.name.clone(),
            column: None,
            expected,
            actual,
        })
    }
}

fn text(row: &PgRow, index: usize) -> Result<Option<String>, RunError> {
    row.try_get(index)
        .map_err(RunError::db("reading a sampled comparison"))
}

fn shown(value: Option<String>) -> String {
    value.unwrap_or_else(|| "NULL".to_string())
}
