//! `--dry-run`: read and transform every document, write nothing, report what would happen.

use std::collections::BTreeMap;
use std::time::Instant;

use super::malformed;
use crate::census::{coverage, Census, KeyFindings, Tally};
use crate::dead_letter::DeadLetter;
use crate::plan::LoadPlan;
use crate::progress::{Event, Observer};
use crate::report::{group_errors, CollectionReport, Outcome, RunReport};
use crate::run_error::RunError;
use crate::schema::Schema;
use crate::source::{Position, Source};
use crate::transform::RowCounter;

/// Transforms every document of every collection; nothing is written anywhere.
pub fn dry_run(
    schema: &Schema,
    source: &dyn Source,
    observer: &dyn Observer,
) -> Result<RunReport, RunError> {
    let started = Instant::now();
    let mut collections = BTreeMap::new();
    let mut letters: Vec<DeadLetter> = Vec::new();
    let mut census = Census::new();
    let listed = source.collections()?;
    observer.event(&Event::listed(&listed));
    super::absent::report(schema, &listed, observer);
    let absent = super::absent::missing(schema, &listed, true);
    for m in LoadPlan::new(schema).order() {
        let model = &schema.models()[m];
        let collection = model.collection();
        if absent.contains(&collection) {
            continue;
        }
        let begun = Instant::now();
        let mut counter = RowCounter::new(model.def().tables.len());
        let mut report = CollectionReport::default();
        let mut tally = Tally::new();
        observer.event(&Event::CollectionStarted {
            collection: collection.to_string(),
            partitions: 1,
            estimated: listed
                .iter()
                .find(|c| c.name == collection)
                .and_then(|c| c.estimated_documents),
            already_done: 0,
        });
        for partition in source.partitions(collection, 1)? {
            let mut docs = source.read(collection, &partition, &Position::Start)?;
            while let Some(item) = docs.next_doc() {
                let (doc, next) = item?;
                report.documents += 1;
                tally.observe(doc);
                if let Err(e) = model.transform(doc, &mut counter) {
                    for mut letter in malformed::dead_letters(&e, doc, &next) {
                        report.dead_letters += 1;
                        letter.document = None;
                        letters.push(letter);
                    }
                }
            }
        }
        for (table, n) in model.def().tables.iter().zip(counter.counts()) {
            report.rows.insert(table.name.clone(), *n);
        }
        report.seconds = begun.elapsed().as_secs_f64();
        observer.event(&Event::BatchCommitted {
            collection: collection.to_string(),
            partition: 0,
            documents: report.documents,
            rows: counter.counts().iter().sum(),
            dead_letters: report.dead_letters,
            retries: 0,
        });
        observer.event(&Event::CollectionFinished {
            collection: collection.to_string(),
        });
        collections.insert(collection.to_string(), report);
        census.insert(collection.to_string(), tally.take());
    }
    let mut error_groups = group_errors(&letters);
    error_groups.truncate(10);
    Ok(RunReport {
        outcome: Outcome::Completed,
        collections,
        error_groups,
        references: Vec::new(),
        absent: absent.iter().map(|c| c.to_string()).collect(),
        stage_seconds: BTreeMap::new(),
        seconds: started.elapsed().as_secs_f64(),
        keys: Some(KeyFindings::of(&coverage(schema, &census))),
        adaptations: Vec::new(),
    })
}
