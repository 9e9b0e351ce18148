//! The human summary of a run, and where to look next.

use crate::report::{Outcome, ReferenceCount, RunReport};
use crate::validate::ValidationReport;

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A rate needs a time long enough to measure: below this, `docs/s` shows `-`.
const MEASURABLE_SECONDS: f64 = 0.1;

/// Documents per second, or `-` for a time too short to measure a rate by.
fn rate(documents: u64, seconds: f64) -> String {
    if seconds >= MEASURABLE_SECONDS {
        format!("{:.0}", documents as f64 / seconds)
    } else {
        "-".to_string()
    }
}

/// The run summary, then the commands to look at what it wrote.
pub fn render(report: &RunReport, pg_url: &str, state_schema: &str) -> String {
    let mut out = body(report);
    out.push_str(&super::next::after_run(
        super::program_name(),
        pg_url,
        state_schema,
    ));
    out
}

/// A dry run's summary, then the command of the real run.
pub fn render_dry_run(report: &RunReport, source: &str, pg_url: &str) -> String {
    let mut out = body(report);
    out.push_str(&super::next::after_dry_run(
        super::program_name(),
        source,
        pg_url,
    ));
    out
}

/// Per collection, slowest collections, error groups, reference actions.
fn body(report: &RunReport) -> String {
    let mut out = String::new();
    out.push('\n');
    out.push_str(&headline(report));
    out.push_str("\n\n");
    if !report.absent.is_empty() {
        out.push_str(&format!(
            "Absent from the source (allowed; loaded as empty): {}\n\n",
            report.absent.join(", ")
        ));
    }
    out.push_str(&format!(
        "{:<24} {:>12} {:>9} {:>9} {:>12}  rows per table\n",
        "collection", "documents", "rejected", "busy s", "docs/s"
    ));
    for (name, c) in &report.collections {
        let tables: Vec<String> = c
            .rows
            .iter()
            .map(|(t, n)| format!("{t}={}", thousands(*n)))
            .collect();
        let rate = rate(c.documents, c.seconds);
        out.push_str(&format!(
            "{:<24} {:>12} {:>9} {:>9.2} {:>12}  {}\n",
            name,
            thousands(c.documents),
            thousands(c.dead_letters),
            c.seconds,
            rate,
            tables.join(" ")
        ));
    }
    let mut slowest: Vec<(&String, f64)> = report
        .collections
        .iter()
        .map(|(n, c)| (n, c.seconds))
        .collect();
    slowest.sort_by(|a, b| b.1.total_cmp(&a.1));
    let slowest: Vec<String> = slowest
        .iter()
        .take(5)
        .filter(|(_, s)| *s > 0.0)
        .map(|(n, s)| format!("{n} ({s:.2}s)"))
        .collect();
    out.push_str(
        "busy s: from a collection's first document read to its last batch, summed over its \
         partitions (a migration loads collections and partitions side by side, so the column \
         can add up to more than the run); docs/s: documents per busy second, from 0.1 s on.\n",
    );
    if !slowest.is_empty() {
        out.push_str(&format!("\nSlowest (busy s): {}\n", slowest.join(", ")));
    }
    let splits: Vec<String> = report
        .collections
        .iter()
        .filter_map(|(n, c)| Some(format!("  {n}: {}\n", c.split.as_ref()?)))
        .collect();
    if !splits.is_empty() {
        out.push_str("\nHow the live collections were read:\n");
        out.push_str(&splits.concat());
    }
    if !report.error_groups.is_empty() {
        out.push_str("\nRejected documents (top groups):\n");
        for g in &report.error_groups {
            out.push_str(&format!(
                "  {:>7} {}.{} {}: {} (e.g. _id {})\n",
                thousands(g.count),
                g.collection,
                if g.field.is_empty() {
                    "<document>"
                } else {
                    &g.field
                },
                g.class,
                g.example_message,
                g.example_id
            ));
        }
    }
    if !report.references.is_empty() {
        out.push_str("\nDangling references handled after the load (every one counted):\n");
        out.push_str(&references_table(&report.references));
    }
    if let Some(keys) = &report.keys {
        out.push_str(&super::coverage::findings_text(keys));
    }
    out
}

/// The summary's first line: how the run ended and what became of every document read.
fn headline(report: &RunReport) -> String {
    let outcome = match report.outcome {
        Outcome::Completed => format!("Migration completed in {:.1}s", report.seconds),
        Outcome::AlreadyComplete => {
            "Already complete: an earlier run finished this migration; nothing was done or \
             written. Its figures"
                .to_string()
        }
        Outcome::Interrupted => format!(
            "Migration interrupted after {:.1}s (run the same command again to resume)",
            report.seconds
        ),
        Outcome::TooManyErrors => format!(
            "Migration stopped after {:.1}s: --max-errors exceeded (fix the data or the models, \
             then run again to resume)",
            report.seconds
        ),
    };
    let mut line = format!(
        "{outcome}: {} documents read: {} landed, {} rejected",
        thousands(report.documents()),
        thousands(report.landed()),
        thousands(report.dead_letters()),
    );
    let dropped = report.dropped_by_policy();
    if dropped > 0 {
        line.push_str(&format!(
            ", {} dropped by a `skip` reference",
            thousands(dropped)
        ));
    }
    line.push_str(&format!("; {} rows.", thousands(report.rows())));
    line
}

/// One line per reference and action: rows, distinct values, documents removed.
pub fn references_table(counts: &[ReferenceCount]) -> String {
    let mut out = String::new();
    for r in counts {
        let removed = match (r.action.as_str(), r.documents_removed) {
            (_, 0) => String::new(),
            ("reject", n) => format!(", {} documents rejected", thousands(n)),
            (_, n) => format!(", {} documents dropped", thousands(n)),
        };
        out.push_str(&format!(
            "  {:<6} {}.{} -> {}: {} rows ({} distinct values){removed}\n",
            r.action,
            r.table,
            r.column,
            r.target,
            thousands(r.rows),
            thousands(r.distinct_values),
        ));
    }
    out
}

/// The validation verdict in one line plus details.
pub fn render_validation(report: &ValidationReport) -> String {
    format!("{report}")
}

#[cfg(test)]
mod tests {
    use super::rate;

    #[test]
    fn a_rate_needs_a_measurable_time() {
        // 1143 documents in a millisecond read "1143020 docs/s" before.
        assert_eq!(rate(1143, 0.001), "-");
        assert_eq!(rate(0, 0.0), "-");
        assert_eq!(rate(1000, 0.5), "2000");
        assert_eq!(rate(30, 0.1), "300");
    }
}
