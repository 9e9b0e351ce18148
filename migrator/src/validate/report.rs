//! [`ValidationReport`]: what validation found, as JSON (serde) and as text for people.

use std::fmt;

use serde::{Serialize, Serializer};

use crate::census::{DroppedKey, NeverSeen};

/// One sentence on a declared key no document has.
pub fn never_seen_text(n: &NeverSeen) -> String {
    let closest = match (&n.closest, n.closest_documents) {
        (Some(c), Some(docs)) => format!("; closest key seen: `{c}` ({docs} documents)"),
        (Some(c), None) => format!("; closest key seen: `{c}`"),
        _ => String::new(),
    };
    format!(
        "`{}`: declared key `{}` ({}) is in no document{closest}",
        n.collection, n.path, n.target
    )
}

/// The most mismatches listed per collection in the text output (JSON has all of them).
const LISTED_MISMATCHES: usize = 20;

/// Everything validation compared, per collection in schema order.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidationReport {
    /// How many documents per collection were compared column by column.
    pub sample: usize,
    pub collections: Vec<CollectionValidation>,
}

/// One collection: its documents in the source against its rows in the target.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CollectionValidation {
    pub collection: String,
    /// Documents read from the source.
    pub source_documents: u64,
    /// Documents with a dead letter (not expected in the target).
    pub dead_letters: u64,
    /// Documents whose collection row a `skip` reference action removed.
    pub skipped: u64,
    /// Documents the model rejects that have no dead letter (the source changed, or the run
    /// lost them): each is a failure.
    pub unrecorded_rejections: u64,
    /// A few of them: `_id` and reason.
    pub rejection_examples: Vec<String>,
    /// Expected and actual rows per table, in the model's table order.
    pub tables: Vec<TableCheck>,
    /// Orphaned values per reference.
    pub references: Vec<ReferenceCheck>,
    /// Documents compared column by column.
    pub sampled_documents: u64,
    /// Differences found in the sampled documents.
    pub mismatches: Vec<Mismatch>,
    /// Key paths of the source the model does not read (from the key census): one holding a
    /// value fails validation, unless the model ignores it explicitly.
    pub dropped_keys: Vec<DroppedKey>,
    /// Keys the model reads that no document has (a warning), each with the closest seen key.
    pub never_seen_keys: Vec<NeverSeen>,
}

/// Rows of one table: what the source says, what the target holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableCheck {
    pub table: String,
    pub expected: u64,
    pub actual: u64,
}

impl TableCheck {
    pub fn matches(&self) -> bool {
        self.expected == self.actual
    }
}

/// Rows of a table whose reference points at nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReferenceCheck {
    pub table: String,
    pub column: String,
    pub target_table: String,
    pub target_column: String,
    /// The reference's missing policy (`reject`, `null`, `skip`, `keep`), or `parent` for the
    /// link of a junction or child row to its parent row.
    pub policy: String,
    pub orphans: u64,
    /// Whether orphans are allowed (`keep`): they are counted but do not fail validation.
    pub allowed: bool,
}

impl ReferenceCheck {
    pub fn failed(&self) -> bool {
        self.orphans > 0 && !self.allowed
    }
}

/// One difference between what a sampled document should be and what the target holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    pub collection: String,
    /// The document's `_id` as relaxed Extended JSON.
    pub document_id: String,
    pub table: String,
    /// The column that differs; `None` when a whole row is missing or unexpected.
    pub column: Option<String>,
    /// As PostgreSQL prints it; a whole row as `column=value, ...`; `(no row)` when absent.
    pub expected: String,
    pub actual: String,
}

/// The text that stands for a row that is not there.
pub const NO_ROW: &str = "(no row)";

impl CollectionValidation {
    /// One sentence per thing that failed.
    pub fn problems(&self) -> Vec<String> {
        let c = &self.collection;
        let mut out = Vec::new();
        if self.unrecorded_rejections > 0 {
            out.push(format!(
                "`{c}`: {} document(s) fail their model but have no dead letter (e.g. {})",
                self.unrecorded_rejections,
                self.rejection_examples.join("; ")
            ));
        }
        for t in self.tables.iter().filter(|t| !t.matches()) {
            out.push(format!(
                "`{c}`: table `{}` has {} rows, expected {} ({})",
                t.table,
                t.actual,
                t.expected,
                difference(t.expected, t.actual)
            ));
        }
        for r in self.references.iter().filter(|r| r.failed()) {
            out.push(format!(
                "`{c}`: {} row(s) of `{}.{}` point at no `{}.{}` (policy {})",
                r.orphans, r.table, r.column, r.target_table, r.target_column, r.policy
            ));
        }
        for m in &self.mismatches {
            out.push(m.to_string());
        }
        for d in self.dropped_keys.iter().filter(|d| d.non_null > 0) {
            out.push(format!(
                "`{c}`: key `{}` is dropped: {} document(s) have it, {} value(s) not null{} \
                 (read it, or say `#[migrate(ignore = [\"{}\"])]`)",
                d.path,
                d.documents,
                d.non_null,
                example(d),
                d.path
            ));
        }
        out
    }

    pub fn passed(&self) -> bool {
        self.unrecorded_rejections == 0
            && self.tables.iter().all(TableCheck::matches)
            && !self.references.iter().any(ReferenceCheck::failed)
            && self.mismatches.is_empty()
            && !self.dropped_keys.iter().any(|d| d.non_null > 0)
    }
}

/// `, e.g. _id X` when the key has an example.
fn example(d: &DroppedKey) -> String {
    d.example_id
        .as_ref()
        .map(|id| format!(", e.g. _id {id}"))
        .unwrap_or_default()
}

fn difference(expected: u64, actual: u64) -> String {
    if actual > expected {
        format!("{} extra", actual - expected)
    } else {
        format!("{} missing", expected - actual)
    }
}

impl ValidationReport {
    /// True when every count matches, no reference is orphaned (outside `keep`), and every
    /// sampled document is identical in the target.
    pub fn passed(&self) -> bool {
        self.collections.iter().all(CollectionValidation::passed)
    }

    /// One sentence per thing that failed, all collections.
    pub fn problems(&self) -> Vec<String> {
        self.collections
            .iter()
            .flat_map(CollectionValidation::problems)
            .collect()
    }
}

impl Serialize for ValidationReport {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Json<'a> {
            passed: bool,
            sample: usize,
            collections: &'a [CollectionValidation],
        }
        Json {
            passed: self.passed(),
            sample: self.sample,
            collections: &self.collections,
        }
        .serialize(s)
    }
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` _id {}: {}",
            self.collection, self.document_id, self.table
        )?;
        match &self.column {
            Some(column) => write!(
                f,
                ".{column} is {}, expected {}",
                self.actual, self.expected
            ),
            None if self.actual == NO_ROW => write!(f, " lacks row {}", self.expected),
            None => write!(f, " has unexpected row {}", self.actual),
        }
    }
}

impl fmt::Display for ValidationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let problems = self.problems().len();
        if problems == 0 {
            write!(f, "validation passed")?;
        } else {
            write!(f, "validation FAILED: {problems} problem(s)")?;
        }
        // What the comparison leaves out, always said: it compares what landed.
        let rejected: u64 = self.collections.iter().map(|c| c.dead_letters).sum();
        let skipped: u64 = self.collections.iter().map(|c| c.skipped).sum();
        let read: u64 = self.collections.iter().map(|c| c.source_documents).sum();
        writeln!(
            f,
            " over {} of {read} source documents: {rejected} rejected (dead letters, not \
             compared), {skipped} dropped by a `skip` reference",
            read.saturating_sub(rejected).saturating_sub(skipped)
        )?;
        for c in &self.collections {
            writeln!(f)?;
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

impl fmt::Display for CollectionValidation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.passed() { "ok" } else { "FAILED" };
        writeln!(
            f,
            "{}: {verdict} - {} source documents, {} dead letters, {} skipped, {} sampled",
            self.collection,
            self.source_documents,
            self.dead_letters,
            self.skipped,
            self.sampled_documents
        )?;
        if self.unrecorded_rejections > 0 {
            writeln!(
                f,
                "  FAILED {} document(s) fail their model without a dead letter: {}",
                self.unrecorded_rejections,
                self.rejection_examples.join("; ")
            )?;
        }
        let width = self.tables.iter().map(|t| t.table.len()).max().unwrap_or(0);
        for t in &self.tables {
            let note = if t.matches() {
                String::new()
            } else {
                format!("  FAILED ({})", difference(t.expected, t.actual))
            };
            writeln!(
                f,
                "  table {:<width$}  expected {:>10}  actual {:>10}{note}",
                t.table, t.expected, t.actual
            )?;
        }
        for r in &self.references {
            let note = match (r.orphans, r.allowed) {
                (0, _) => String::new(),
                (_, true) => "  (allowed: keep)".to_string(),
                (_, false) => "  FAILED".to_string(),
            };
            writeln!(
                f,
                "  reference {}.{} -> {}.{} ({}): {} orphaned rows{note}",
                r.table, r.column, r.target_table, r.target_column, r.policy, r.orphans
            )?;
        }
        for m in self.mismatches.iter().take(LISTED_MISMATCHES) {
            writeln!(f, "  FAILED mismatch: {m}")?;
        }
        if self.mismatches.len() > LISTED_MISMATCHES {
            writeln!(
                f,
                "  ... and {} more mismatches (see the JSON report)",
                self.mismatches.len() - LISTED_MISMATCHES
            )?;
        }
        for d in &self.dropped_keys {
            let verdict = if d.non_null > 0 {
                "FAILED"
            } else {
                "(only nulls)"
            };
            writeln!(
                f,
                "  {verdict} key {} dropped: {} document(s), {} not null{}",
                d.path,
                d.documents,
                d.non_null,
                example(d)
            )?;
        }
        for n in &self.never_seen_keys {
            writeln!(f, "  warning: {}", never_seen_text(n))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collection() -> CollectionValidation {
        CollectionValidation {
            collection: "posts".into(),
            source_documents: 3,
            dead_letters: 1,
            skipped: 0,
            unrecorded_rejections: 0,
            rejection_examples: Vec::new(),
            tables: vec![TableCheck {
                table: "posts".into(),
                expected: 2,
                actual: 2,
            }],
            references: vec![ReferenceCheck {
                table: "posts".into(),
                column: "author_id".into(),
                target_table: "authors".into(),
                target_column: "id".into(),
                policy: "keep".into(),
                orphans: 4,
                allowed: true,
            }],
            sampled_documents: 2,
            mismatches: Vec::new(),
            dropped_keys: Vec::new(),
            never_seen_keys: Vec::new(),
        }
    }

    #[test]
    fn allowed_orphans_pass_and_are_shown() {
        let report = ValidationReport {
            sample: 10,
            collections: vec![collection()],
        };
        assert!(report.passed());
        let text = report.to_string();
        assert!(
            text.starts_with(
                "validation passed over 2 of 3 source documents: 1 rejected (dead letters, not \
                 compared), 0 dropped by a `skip` reference\n"
            ),
            "never `passed` without the rejected count: {text}"
        );
        assert!(text.contains("4 orphaned rows  (allowed: keep)"), "{text}");
        let json = serde_json::to_value(&report).expect("json");
        assert_eq!(json["passed"], true);
        assert_eq!(json["collections"][0]["references"][0]["orphans"], 4);
    }

    #[test]
    fn every_failure_is_named() {
        let mut c = collection();
        c.tables[0].actual = 1;
        c.references[0].allowed = false;
        c.references[0].policy = "skip".into();
        c.mismatches.push(Mismatch {
            collection: "posts".into(),
            document_id: "7".into(),
            table: "posts".into(),
            column: Some("title".into()),
            expected: "a".into(),
            actual: "b".into(),
        });
        c.mismatches.push(Mismatch {
            collection: "posts".into(),
            document_id: "8".into(),
            table: "post_tags".into(),
            column: None,
            expected: "post_id=8, tag_id=1".into(),
            actual: NO_ROW.into(),
        });
        let report = ValidationReport {
            sample: 10,
            collections: vec![c],
        };
        assert!(!report.passed());
        assert_eq!(
            report.problems(),
            vec![
                "`posts`: table `posts` has 1 rows, expected 2 (1 missing)",
                "`posts`: 4 row(s) of `posts.author_id` point at no `authors.id` (policy skip)",
                "`posts` _id 7: posts.title is b, expected a",
                "`posts` _id 8: post_tags lacks row post_id=8, tag_id=1",
            ]
        );
        let text = report.to_string();
        assert!(
            text.starts_with("validation FAILED: 4 problem(s) over 2 of 3 source documents"),
            "{text}"
        );
        assert!(text.contains("posts: FAILED"), "{text}");
        assert_eq!(
            serde_json::to_value(&report).expect("json")["passed"],
            false
        );
    }
}
