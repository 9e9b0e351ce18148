//! Isolating the documents of a batch PostgreSQL refused, with bounded lock use.
//!
//! The batch is split in halves, each piece COPYed under a savepoint, until every refused
//! document is alone: those become dead letters with PostgreSQL's reason, the others land, in
//! the batch's order (of two documents with one key, the first is kept). Every savepoint is
//! released or rolled back and released before the next one is taken, so they never nest.
//!
//! A piece that lands keeps a lock on its subtransaction's id until the batch's transaction
//! ends, in PostgreSQL's lock table, which every session of the server shares (its size is
//! `max_locks_per_transaction` times the connections). A batch where every other document is
//! refused (each document twice in its file) lands thousands of pieces: that filled the table
//! ("out of shared memory"). So once [`KEPT_PIECES`] pieces are kept, they are rolled back
//! together (releasing their locks) and their documents COPYed again as one piece: a writer holds
//! at most that many such locks, whatever the batch.

use bson::RawDocument;
use sqlx::PgConnection;

use super::postgres::{classify, copy_payloads, Failure};
use super::sql;
use crate::dead_letter::{sqlstate_class, DeadLetter, Stage};
use crate::pipeline::batch::encode;
use crate::schema::ModelHandle;
use crate::transform::describe_id;

/// Pieces a refused batch keeps under their own subtransactions before they are merged into one.
pub const KEPT_PIECES: usize = 32;

/// Splits `docs` (which PostgreSQL refused as a whole with `first`) until every refused document
/// is alone; those become dead letters with PostgreSQL's reason, the others land and their rows
/// are added to `rows`. Runs inside the batch's transaction.
pub(super) async fn isolate(
    conn: &mut PgConnection,
    model: &ModelHandle,
    copy_sql: &[String],
    docs: &[&RawDocument],
    first: Box<dyn sqlx::error::DatabaseError>,
    rows: &mut [u64],
    dead: &mut Vec<DeadLetter>,
) -> Result<(), Failure> {
    if docs.len() <= 1 {
        if let Some(doc) = docs.first() {
            dead.push(load_dead_letter(model, doc, first.as_ref()));
        }
        return Ok(());
    }
    execute(conn, sql::SAVEPOINT_ISOLATION).await?;
    let mut kept = Kept::default();
    let mid = docs.len() / 2;
    let mut stack = vec![(mid, docs.len()), (0, mid)];
    while let Some((start, end)) = stack.pop() {
        let (payloads, counts) = encode(model, &docs[start..end]);
        execute(conn, sql::SAVEPOINT_PIECE).await?;
        match copy_payloads(conn, copy_sql, &payloads).await {
            Ok(()) => {
                execute(conn, sql::RELEASE_PIECE).await?;
                for (total, n) in rows.iter_mut().zip(counts) {
                    *total += n;
                }
                kept.push(start, end);
                if kept.pieces >= KEPT_PIECES {
                    kept.merge(conn, model, copy_sql, docs).await?;
                }
            }
            Err(Failure::Document(db)) => {
                execute(conn, sql::ROLLBACK_PIECE).await?;
                execute(conn, sql::RELEASE_PIECE).await?;
                if end - start == 1 {
                    dead.push(load_dead_letter(model, docs[start], db.as_ref()));
                } else {
                    let mid = start + (end - start) / 2;
                    stack.push((mid, end));
                    stack.push((start, mid));
                }
            }
            Err(other) => return Err(other),
        }
    }
    execute(conn, sql::RELEASE_ISOLATION).await
}

/// The documents landed so far (ranges of the batch, in order) and how many subtransactions
/// hold them.
#[derive(Debug, Default)]
struct Kept {
    ranges: Vec<(usize, usize)>,
    pieces: usize,
}

impl Kept {
    fn push(&mut self, start: usize, end: usize) {
        match self.ranges.last_mut() {
            Some(last) if last.1 == start => last.1 = end,
            _ => self.ranges.push((start, end)),
        }
        self.pieces += 1;
    }

    /// Rolls back every kept piece (ending their subtransactions and their locks) and COPYs
    /// their documents again at once. They landed together in this order a moment ago, so they
    /// land again unless another session changed the tables meanwhile: then the batch is tried
    /// again from the start.
    async fn merge(
        &mut self,
        conn: &mut PgConnection,
        model: &ModelHandle,
        copy_sql: &[String],
        docs: &[&RawDocument],
    ) -> Result<(), Failure> {
        execute(conn, sql::ROLLBACK_ISOLATION).await?;
        let landed: Vec<&RawDocument> = self
            .ranges
            .iter()
            .flat_map(|&(start, end)| docs[start..end].iter().copied())
            .collect();
        let (payloads, _) = encode(model, &landed);
        match copy_payloads(conn, copy_sql, &payloads).await {
            Ok(()) => {
                self.pieces = 1;
                Ok(())
            }
            Err(Failure::Document(db)) => Err(Failure::Transient(sqlx::Error::Protocol(format!(
                "documents of `{}` that had just landed were refused when copied again, so \
                 another session changed the table meanwhile ({}); trying the batch again",
                model.collection(),
                db.message()
            )))),
            Err(other) => Err(other),
        }
    }
}

async fn execute(conn: &mut PgConnection, statement: &str) -> Result<(), Failure> {
    sqlx::query(statement)
        .execute(conn)
        .await
        .map(drop)
        .map_err(classify)
}

/// A dead letter for a document PostgreSQL refused, naming the column where it can.
fn load_dead_letter(
    model: &ModelHandle,
    doc: &RawDocument,
    db: &dyn sqlx::error::DatabaseError,
) -> DeadLetter {
    let code = db.code().map(|c| c.to_string()).unwrap_or_default();
    let pg = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>();
    let detail = pg.and_then(|p| p.detail()).map(str::to_string);
    let table = pg.and_then(|p| p.table()).map(str::to_string);
    let column = pg.and_then(|p| p.column()).map(str::to_string);
    let constraint = pg.and_then(|p| p.constraint()).map(str::to_string);
    let field = column
        .or_else(|| {
            let constraint = constraint.as_deref()?;
            let table = model
                .def()
                .tables
                .iter()
                .find(|t| Some(t.name.as_str()) == table.as_deref())?;
            let pkey = crate::naming::constraint_name(&table.name, &[], "pkey");
            if pkey == constraint {
                return Some(table.primary_key.join(", "));
            }
            table
                .uniques
                .iter()
                .find(|cols| {
                    let cols: Vec<&str> = cols.iter().map(String::as_str).collect();
                    crate::naming::constraint_name(&table.name, &cols, "key") == constraint
                })
                .map(|cols| cols.join(", "))
        })
        .unwrap_or_default();
    let mut message = db.message().to_string();
    if let Some(d) = detail {
        message.push_str(": ");
        message.push_str(&d);
    }
    DeadLetter {
        collection: model.collection().to_string(),
        document_id: describe_id(doc),
        stage: Stage::Load,
        field,
        class: sqlstate_class(&code).to_string(),
        message,
        document: crate::dead_letter::document_json(doc),
        errors: Vec::new(),
        root_id: None,
    }
}
