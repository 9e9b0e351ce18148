//! What a run did: per collection, per table, per error class.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::dead_letter::DeadLetter;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Everything loaded, references resolved, constraints added.
    Completed,
    /// An earlier run had completed already: this one wrote nothing (the figures are that run's).
    AlreadyComplete,
    /// Stopped on request after committing the current batches; running again resumes.
    Interrupted,
    /// Stopped because `--max-errors` was exceeded; running again resumes.
    TooManyErrors,
}

/// One collection's figures.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CollectionReport {
    pub documents: u64,
    pub dead_letters: u64,
    /// Rows written per table.
    pub rows: BTreeMap<String, u64>,
    pub seconds: f64,
    pub batches: u64,
    pub retries: u64,
    /// How a live source split the collection, and why (planned by this invocation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub split: Option<String>,
}

impl CollectionReport {
    pub fn rate(&self) -> f64 {
        if self.seconds > 0.0 {
            self.documents as f64 / self.seconds
        } else {
            0.0
        }
    }
}

/// A group of dead letters with the same class and field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorGroup {
    pub collection: String,
    pub class: String,
    pub field: String,
    pub count: u64,
    pub example_id: String,
    pub example_message: String,
}

/// What resolving one reference did after the load, counted exactly (every row, no cap).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReferenceCount {
    /// The collection whose documents hold the reference.
    pub collection: String,
    pub table: String,
    pub column: String,
    /// `table.column` the reference points at.
    pub target: String,
    /// The reference's policy: `reject`, `null`, `skip` or `keep`.
    pub action: String,
    /// Rows whose value pointed at nothing.
    pub rows: u64,
    /// Distinct values among those rows.
    pub distinct_values: u64,
    /// Documents of `collection` removed as a whole: rejected (`reject`), or whose collection
    /// row was dropped (`skip` on the collection's own table); 0 for every other action.
    pub documents_removed: u64,
}

/// The summary of a run (this invocation; counts include resumed work from checkpoints).
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub outcome: Outcome,
    pub collections: BTreeMap<String, CollectionReport>,
    /// Dead letters grouped by (collection, class, field), largest first.
    pub error_groups: Vec<ErrorGroup>,
    /// Dangling references handled after the load, per reference and action (every run's:
    /// read from the state).
    pub references: Vec<ReferenceCount>,
    /// Collections absent from the source that may be (`#[migrate(optional)]`, `--absent-ok`):
    /// loaded as empty.
    pub absent: Vec<String>,
    /// Seconds this invocation spent per stage: `setup` (state, tables), `load`, `references`
    /// (keys, foreign keys and indexes, or resolving dangling references first), `constraints`.
    pub stage_seconds: BTreeMap<String, f64>,
    pub seconds: f64,
    /// Keys of the source the models drop, and declared keys no document has, from the key
    /// census (`None` when there is none to report from).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keys: Option<crate::census::KeyFindings>,
    /// `--schema-mode existing`: each column written adapted to the existing column's type
    /// (`Task.id: uuid written as its canonical text`), as the check before the load listed it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub adaptations: Vec<String>,
}

impl RunReport {
    pub fn documents(&self) -> u64 {
        self.collections.values().map(|c| c.documents).sum()
    }

    pub fn rows(&self) -> u64 {
        self.collections
            .values()
            .flat_map(|c| c.rows.values())
            .sum()
    }

    pub fn dead_letters(&self) -> u64 {
        self.collections.values().map(|c| c.dead_letters).sum()
    }

    /// Documents a `skip` reference dropped as a whole (their collection row was removed).
    pub fn dropped_by_policy(&self) -> u64 {
        self.references
            .iter()
            .filter(|r| r.action == "skip")
            .map(|r| r.documents_removed)
            .sum()
    }

    /// Documents read whose collection row is in the target.
    pub fn landed(&self) -> u64 {
        self.documents()
            .saturating_sub(self.dead_letters())
            .saturating_sub(self.dropped_by_policy())
    }
}

/// Groups the errors of dead letters by (collection, class, field), largest group first: a
/// document with three bad fields counts in three groups.
pub fn group_errors<'a>(letters: impl IntoIterator<Item = &'a DeadLetter>) -> Vec<ErrorGroup> {
    let mut groups: BTreeMap<(String, String, String), ErrorGroup> = BTreeMap::new();
    for l in letters {
        for issue in l.issues() {
            let key = (
                l.collection.clone(),
                issue.class.clone(),
                pattern(&issue.field),
            );
            groups
                .entry(key)
                .and_modify(|g| g.count += 1)
                .or_insert_with(|| ErrorGroup {
                    collection: l.collection.clone(),
                    class: issue.class.clone(),
                    field: pattern(&issue.field),
                    count: 1,
                    example_id: l.document_id.clone(),
                    example_message: issue.message.clone(),
                });
        }
    }
    let mut out: Vec<ErrorGroup> = groups.into_values().collect();
    out.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| a.collection.cmp(&b.collection))
    });
    out
}

/// `items[3].price` -> `items[].price`.
fn pattern(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut in_index = false;
    for c in field.chars() {
        match c {
            '[' => {
                in_index = true;
                out.push('[');
            }
            ']' => {
                in_index = false;
                out.push(']');
            }
            _ if in_index => {}
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dead_letter::Stage;

    fn letter(collection: &str, class: &str, field: &str) -> DeadLetter {
        DeadLetter {
            collection: collection.into(),
            document_id: "1".into(),
            stage: Stage::Transform,
            field: field.into(),
            class: class.into(),
            message: "m".into(),
            document: None,
            errors: Vec::new(),
            root_id: None,
        }
    }

    #[test]
    fn errors_group_by_class_and_field_pattern() {
        let letters = vec![
            letter("items", "wrong_type", "items[3].price"),
            letter("items", "wrong_type", "items[0].price"),
            letter("users", "missing", "email"),
        ];
        let mut three = letter("users", "missing", "name");
        three.errors = ["name", "age", "email"]
            .iter()
            .map(|f| crate::dead_letter::FieldIssue {
                field: f.to_string(),
                class: "missing".into(),
                message: "m".into(),
            })
            .collect();
        let groups = group_errors(std::iter::once(&three));
        assert_eq!(groups.len(), 3, "each error of a document is counted");
        let groups = group_errors(&letters);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].field, "items[].price");
        assert_eq!(groups[0].count, 2);
        assert_eq!(groups[1].class, "missing");
    }
}
