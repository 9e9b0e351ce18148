//! Collections that may be absent from the source (`#[migrate(optional)]`, `--absent-ok`): an
//! absent one is reported and loaded as empty, its references dangling by their policy.

use crate::progress::{Event, Observer};
use crate::schema::Schema;
use crate::source::CollectionInfo;

/// The schema's collections missing from `available`: those allowed to be absent
/// (`allowed`), or the others.
pub fn missing<'a>(
    schema: &'a Schema,
    available: &[CollectionInfo],
    allowed: bool,
) -> Vec<&'a str> {
    schema
        .models()
        .iter()
        .filter(|m| m.def().may_be_absent == allowed)
        .map(|m| m.collection())
        .filter(|c| !available.iter().any(|a| a.name == *c))
        .collect()
}

/// Tells the observer which allowed collections are absent.
pub fn report(schema: &Schema, available: &[CollectionInfo], observer: &dyn Observer) {
    for collection in missing(schema, available, true) {
        observer.event(&Event::Note {
            message: format!(
                "`{collection}` is absent from the source (it may be): its tables stay empty and \
                 references to it dangle by their policy"
            ),
        });
    }
}
