//! After a run: does the target hold what the source says it should?
//!
//! For every collection of the schema:
//!
//! 1. **counts**: every document is read from the source again (after an oplog replay, the
//!    documents it changed as it left them: see [`replayed`]) and transformed; documents with a
//!    dead letter, and documents and rows a `skip` reference action removed, are left out; the
//!    rows each table should have are compared with `count(*)`.
//! 2. **references**: rows whose reference points at nothing are counted set-based; only `keep`
//!    references may have any.
//! 3. **samples**: `sample` documents spread over the collection are transformed into binary COPY
//!    payloads, loaded into temp tables shaped like the targets and compared inside PostgreSQL,
//!    column by column for the collection table and row by row for junction and child tables.
//!
//! Memory stays flat: the source is streamed; only the exclusions the run recorded, the documents
//! an oplog replay touched (of one collection at a time) and the sampled documents are held.

mod edits;
mod orphans;
mod replayed;
mod report;
mod sample;
mod scan;

pub use report::{
    never_seen_text, CollectionValidation, Mismatch, ReferenceCheck, TableCheck, ValidationReport,
    NO_ROW,
};

use sqlx::PgConnection;
use tracing::Instrument;

use crate::pipeline::config::SchemaMode;
use crate::run_error::RunError;
use crate::schema::{ModelHandle, Schema};
use crate::sink::sql::{self, Namespace};
use crate::source::Source;
use crate::state::StateStore;

/// Compares `source` with the tables in `target_schema` after a run whose state is in `state`,
/// comparing `sample` documents per collection column by column.
///
/// Source reads are blocking: they run on their own thread (with the runtime told so on a
/// multi-threaded runtime). Failures of the comparison are in the report
/// ([`ValidationReport::passed`]); an `Err` means validation itself could not run (no run in
/// this target, an unreadable source, a database error).
pub async fn validate(
    schema: &Schema,
    source: &dyn Source,
    conn: &mut PgConnection,
    target_schema: &str,
    state: &StateStore,
    sample: usize,
) -> Result<ValidationReport, RunError> {
    crate::allocator::set_activity(crate::allocator::Activity::Validating);
    let Some((fingerprint, _)) = state.current(conn).await? else {
        return Err(RunError::Internal(format!(
            "nothing to validate: no migration has run in this target (state schema `{}` is empty \
             or missing)",
            state.schema()
        )));
    };
    state.adopt_load_time(conn).await?;
    let adapted;
    let schema = if fingerprint.schema_mode == SchemaMode::Existing.as_str() {
        adapted = existing_fit(schema, conn, target_schema).await?;
        &adapted
    } else {
        schema
    };
    let checkpoints = state.checkpoints(conn).await?;
    let validator = Validator {
        schema,
        source,
        ns: Namespace(Some(target_schema)),
        state,
        sample,
    };
    let mut collections = Vec::with_capacity(schema.models().len());
    for model in schema.models() {
        let read: i64 = checkpoints
            .iter()
            .filter(|c| c.collection == model.collection())
            .map(|c| c.documents)
            .sum();
        let span = tracing::info_span!("validate", collection = model.collection());
        let result = validator
            .collection(conn, model, u64::try_from(read).unwrap_or(0))
            .instrument(span)
            .await?;
        collections.push(result);
    }
    Ok(ValidationReport {
        sample,
        collections,
    })
}

/// A run into a user's own tables wrote through adapters (a uuid as text, a timestamp into
/// `timestamp(3)`): the expected rows are written the same way, so they compare with what the
/// load wrote. The tables must still fit the models.
async fn existing_fit(
    schema: &Schema,
    conn: &mut PgConnection,
    target_schema: &str,
) -> Result<Schema, RunError> {
    let fit = crate::sink::existing::check(conn, schema, target_schema).await?;
    if !fit.mismatches.is_empty() {
        return Err(RunError::SchemaMismatch {
            mismatches: fit.mismatches,
        });
    }
    Ok(schema.adapted(&fit.adapters))
}

/// What every collection's validation shares.
struct Validator<'a> {
    schema: &'a Schema,
    source: &'a dyn Source,
    ns: Namespace<'a>,
    state: &'a StateStore,
    sample: usize,
}

impl Validator<'_> {
    /// Validates one collection; the run read `read` of its documents.
    async fn collection(
        &self,
        conn: &mut PgConnection,
        model: &ModelHandle,
        read: u64,
    ) -> Result<CollectionValidation, RunError> {
        let exclusions = scan::Exclusions::load(conn, self.state, model).await?;
        let replayed = replayed::Replayed::load(conn, self.state, model.collection()).await?;
        // The documents the target holds: what was read minus what the run left out, so that
        // the sample is `--sample` documents exactly when there are that many.
        let expected = read.saturating_sub(exclusions.excluded());
        let sampling = scan::Sampling::new(self.sample, expected);
        let source = self.source;
        let scanned =
            off_the_runtime(|| scan::scan(source, model, &exclusions, &replayed, sampling))
                .map_err(|reason| {
                    RunError::Internal(format!(
                        "reading `{}` from the source for validation failed: {reason}",
                        model.collection()
                    ))
                })??;
        tracing::debug!(documents = scanned.documents, "source read");

        let def = model.def();
        let mut tables = Vec::with_capacity(def.tables.len());
        for (table, expected) in def.tables.iter().zip(&scanned.expected) {
            let actual: i64 = sqlx::query_scalar(&sql::count_rows(self.ns, &table.name))
                .fetch_one(&mut *conn)
                .await
                .map_err(RunError::db(format!(
                    "counting the rows of `{}`",
                    table.name
                )))?;
            tables.push(TableCheck {
                table: table.name.clone(),
                expected: *expected,
                actual: u64::try_from(actual).unwrap_or(0),
            });
        }
        let references = orphans::check(conn, self.schema, self.ns, model).await?;
        let mismatches = sample::compare(conn, self.ns, model, &scanned.sample).await?;
        let keys = crate::census::coverage::collection_coverage(def, &scanned.census);
        Ok(CollectionValidation {
            collection: model.collection().to_string(),
            source_documents: scanned.documents,
            dead_letters: scanned.dead_letters,
            skipped: scanned.skipped,
            unrecorded_rejections: scanned.unrecorded,
            rejection_examples: scanned.unrecorded_examples,
            tables,
            references,
            sampled_documents: scanned.sample.len() as u64,
            mismatches,
            dropped_keys: keys.dropped,
            never_seen_keys: keys.never_seen,
        })
    }
}

/// Runs blocking work on its own thread and waits for it; on a multi-threaded runtime the
/// worker thread is handed over first, so other tasks keep running.
fn off_the_runtime<R: Send>(work: impl FnOnce() -> R + Send) -> Result<R, String> {
    let run = || {
        std::thread::scope(|scope| {
            std::thread::Builder::new()
                .name("validate-read".into())
                .spawn_scoped(scope, work)
                .map_err(|e| format!("cannot start a reader thread: {e}"))?
                .join()
                .map_err(|_| "the reader thread panicked".to_string())
        })
    };
    let flavor = tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor());
    if matches!(flavor, Ok(tokio::runtime::RuntimeFlavor::MultiThread)) {
        tokio::task::block_in_place(run)
    } else {
        run()
    }
}
