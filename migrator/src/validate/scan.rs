//! The source side: every document of a collection transformed again, minus the documents and
//! rows the run recorded as rejected or skipped, counted per table; a few kept for the sample.

use std::collections::{HashMap, HashSet};

use bson::{RawDocument, RawDocumentBuf};
use sqlx::{PgConnection, Row};

use super::edits::{RecordedAction, RowCounter, RowEdits};
use super::replayed::Replayed;
use crate::census::{KeyCensus, Tally};
use crate::model::{MissingPolicy, ModelDef};
use crate::run_error::RunError;
use crate::schema::ModelHandle;
use crate::sink::sql;
use crate::source::{Position, Source, SourceError};
use crate::state::StateStore;
use crate::transform::describe_id;

/// How many documents without a dead letter that fail their model are quoted in the report.
const REJECTION_EXAMPLES: usize = 3;

/// What the run left out of the target or changed on purpose, for one collection.
#[derive(Debug, Default)]
pub(super) struct Exclusions {
    /// `_id`s (relaxed Extended JSON) with a dead letter.
    dead: HashSet<String>,
    /// Keys of documents whose collection row a `skip` action removed.
    skipped: HashSet<String>,
    /// `skip` and `null` actions on the other rows, by document key.
    actions: HashMap<String, Vec<RecordedAction>>,
}

impl Exclusions {
    /// Reads the dead letters and the `skip` and `null` actions of `model`'s collection.
    pub(super) async fn load(
        conn: &mut PgConnection,
        state: &StateStore,
        model: &ModelHandle,
    ) -> Result<Exclusions, RunError> {
        let collection = model.collection();
        let dead: Vec<String> = sqlx::query_scalar(&sql::select_dead_letter_ids(state.schema()))
            .bind(collection)
            .fetch_all(&mut *conn)
            .await
            .map_err(RunError::db(format!(
                "reading the dead letters of `{collection}`"
            )))?;
        let kinds = [
            MissingPolicy::Skip.as_str(),
            MissingPolicy::SetNull.as_str(),
        ];
        let rows = sqlx::query(&sql::select_reference_actions(state.schema()))
            .bind(collection)
            .bind(&kinds[..])
            .fetch_all(&mut *conn)
            .await
            .map_err(RunError::db(format!(
                "reading the reference actions of `{collection}`"
            )))?;
        let mut out = Exclusions {
            dead: dead.into_iter().collect(),
            ..Exclusions::default()
        };
        let read = |e| RunError::db(format!("reading the reference actions of `{collection}`"))(e);
        for row in rows {
            let key: String = row.try_get(0).map_err(read)?;
            let table: String = row.try_get(1).map_err(read)?;
            let column: String = row.try_get(2).map_err(read)?;
            let value: String = row.try_get(3).map_err(read)?;
            let action: String = row.try_get(4).map_err(read)?;
            let skip = action == MissingPolicy::Skip.as_str();
            out.add(model.def(), key, &table, &column, value, skip);
        }
        Ok(out)
    }

    /// How many documents the run left out of the target (rejected, or their row skipped).
    pub(super) fn excluded(&self) -> u64 {
        (self.dead.len() + self.skipped.len()) as u64
    }

    fn add(
        &mut self,
        def: &ModelDef,
        key: String,
        table: &str,
        column: &str,
        value: String,
        skip: bool,
    ) {
        let Some(table) = def.tables.iter().position(|t| t.name == table) else {
            return;
        };
        if table == 0 && skip {
            self.skipped.insert(key);
            return;
        }
        let Some(column) = def.tables[table]
            .columns
            .iter()
            .position(|c| c.name == column)
        else {
            return;
        };
        self.actions.entry(key).or_default().push(RecordedAction {
            table,
            column,
            value,
            skip,
        });
    }
}

/// Which documents to keep for the column-by-column comparison: `limit` of the documents expected
/// in the target, spread evenly over them (all of them when there are no more than `limit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Sampling {
    limit: usize,
    expected: u64,
}

impl Sampling {
    /// Spreads `limit` samples over `expected` documents.
    pub(super) fn new(limit: usize, expected: u64) -> Sampling {
        Sampling { limit, expected }
    }

    /// Whether the document at `index` is the next sample, `taken` being taken already: the
    /// `k`-th sample is the document at `ceil(k * expected / limit)`, so `limit` samples fit in
    /// exactly `expected` documents (a step rounded up instead would take 51 of 101 for 100).
    fn wants(&self, index: u64, taken: usize) -> bool {
        if taken >= self.limit {
            return false;
        }
        let (taken, limit) = (taken as u128, self.limit as u128);
        let next = (taken * u128::from(self.expected)).div_ceil(limit);
        u128::from(index) >= next
    }
}

/// A document chosen for the comparison.
#[derive(Debug, Clone)]
pub(super) struct SampledDocument {
    pub(super) doc: RawDocumentBuf,
    /// `_id` as relaxed Extended JSON.
    pub(super) id: String,
    /// The stored primary key as text.
    pub(super) key: String,
    /// What the reference actions did to its rows (`None`: nothing).
    pub(super) edits: Option<RowEdits>,
}

/// The source side of one collection.
#[derive(Debug, Default)]
pub(super) struct CollectionScan {
    pub(super) documents: u64,
    pub(super) dead_letters: u64,
    pub(super) skipped: u64,
    pub(super) unrecorded: u64,
    pub(super) unrecorded_examples: Vec<String>,
    /// Expected rows per table index.
    pub(super) expected: Vec<u64>,
    pub(super) sample: Vec<SampledDocument>,
    /// The key census of every document read.
    pub(super) census: KeyCensus,
}

/// Reads every document of `model`'s collection (all partitions, from the start; the documents
/// an oplog replay changed as it left them) and counts the rows the target should hold. Blocking.
pub(super) fn scan(
    source: &dyn Source,
    model: &ModelHandle,
    exclusions: &Exclusions,
    replayed: &Replayed,
    sampling: Sampling,
) -> Result<CollectionScan, SourceError> {
    let collection = model.collection();
    let mut out = CollectionScan {
        expected: vec![0; model.def().tables.len()],
        ..CollectionScan::default()
    };
    let mut eligible = 0u64;
    let mut tally = Tally::new();
    let mut take = |doc: RawDocumentBuf| {
        out.documents += 1;
        tally.observe(&doc);
        let id = describe_id(&doc);
        if exclusions.dead.contains(&id) {
            out.dead_letters += 1;
            return;
        }
        let key = model.key_text(&doc);
        if key.as_ref().is_some_and(|k| exclusions.skipped.contains(k)) {
            out.skipped += 1;
            return;
        }
        let actions = key.as_ref().and_then(|k| exclusions.actions.get(k));
        let (counts, edits) = match expected_rows(model, &doc, actions) {
            Ok(expected) => expected,
            Err(reason) => {
                out.unrecorded += 1;
                if out.unrecorded_examples.len() < REJECTION_EXAMPLES {
                    out.unrecorded_examples.push(format!("_id {id}: {reason}"));
                }
                return;
            }
        };
        for (total, n) in out.expected.iter_mut().zip(counts) {
            *total += n;
        }
        if let Some(key) = key {
            if sampling.wants(eligible, out.sample.len()) {
                out.sample.push(SampledDocument {
                    doc,
                    id,
                    key,
                    edits,
                });
            }
        }
        eligible += 1;
    };
    let partitions = match source.partitions(collection, 1) {
        // Declared as possibly absent: absent, it is empty (as the run loaded it).
        Err(SourceError::MissingCollection { .. }) if model.def().may_be_absent => Vec::new(),
        other => other?,
    };
    for partition in partitions {
        for item in source.read(collection, &partition, &Position::Start)? {
            let doc = item?.doc;
            // An oplog replay brought it to its final state (or deleted it): read below.
            if !replayed.replaces(&doc) {
                take(doc);
            }
        }
    }
    for doc in replayed.present() {
        take(doc.clone());
    }
    out.census = tally.take();
    Ok(out)
}

/// The rows per table one document should have in the target, and what the reference actions
/// did to them; `Err` with the reason when the model rejects the document.
fn expected_rows(
    model: &ModelHandle,
    doc: &RawDocument,
    actions: Option<&Vec<RecordedAction>>,
) -> Result<(Vec<u64>, Option<RowEdits>), String> {
    match actions {
        None => {
            let mut counter = RowCounter::new(model.def().tables.len());
            model
                .transform(doc, &mut counter)
                .map_err(|e| e.error.to_string())?;
            Ok((counter.into_counts(), None))
        }
        Some(actions) => {
            let edits = RowEdits::new(model, doc, actions)?;
            Ok((edits.counts(), Some(edits)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_spread_over_the_collection() {
        for (limit, expected, picked) in [
            (3, 9, vec![0, 3, 6]),
            (3, 10, vec![0, 4, 7]),
            (5, 2, vec![0, 1]),
            (0, 10, vec![]),
            (2, 0, vec![0, 1]),
            (100, 101, (0..=100).filter(|i| *i != 1).collect()),
            (100, 100, (0..100).collect()),
            (2, 1000, vec![0, 500]),
        ] {
            let sampling = Sampling::new(limit, expected);
            let mut taken = Vec::new();
            for index in 0..expected.max(2) {
                if sampling.wants(index, taken.len()) {
                    taken.push(index);
                }
            }
            assert_eq!(taken, picked, "limit {limit}, expected {expected}");
        }
    }
}
