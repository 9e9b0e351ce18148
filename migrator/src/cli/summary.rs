//! The human summary of a run, and where to look next.

use crate::report::{Outcome, RunReport};
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

/// The run summary: per collection, slowest collections, error groups, reference actions.
pub fn render(report: &RunReport, pg_url: &str, state_schema: &str) -> String {
    let mut out = String::new();
    let outcome = match report.outcome {
        Outcome::Completed => "completed",
        Outcome::Interrupted => "interrupted (run the same command again to resume)",
        Outcome::TooManyErrors => {
            "stopped: --max-errors exceeded (fix the data or the models, then run again to resume)"
        }
    };
    out.push_str(&format!(
        "\nMigration {outcome} in {:.1}s: {} documents, {} rows, {} rejected.\n\n",
        report.seconds,
        thousands(report.documents()),
        thousands(report.rows()),
        thousands(report.dead_letters())
    ));
    out.push_str(&format!(
        "{:<24} {:>12} {:>9} {:>9} {:>12}  rows per table\n",
        "collection", "documents", "rejected", "seconds", "docs/s"
    ));
    for (name, c) in &report.collections {
        let tables: Vec<String> = c
            .rows
            .iter()
            .map(|(t, n)| format!("{t}={}", thousands(*n)))
            .collect();
        out.push_str(&format!(
            "{:<24} {:>12} {:>9} {:>9.2} {:>12.0}  {}\n",
            name,
            thousands(c.documents),
            thousands(c.dead_letters),
            c.seconds,
            c.rate(),
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
    if !slowest.is_empty() {
        out.push_str(&format!("\nSlowest: {}\n", slowest.join(", ")));
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
    if !report.reference_actions.is_empty() {
        out.push_str("\nDangling references handled after the load:\n");
        for (what, n) in &report.reference_actions {
            out.push_str(&format!("  {:>7} {what}\n", thousands(*n)));
        }
    }
    let program = super::program_name();
    out.push_str(&format!(
        "\nNext:\n  psql '{}' -c '\\dt'\n  {program} errors list          # rejected documents, grouped\n  \
         psql '{}' -c 'SELECT collection, class, field, message FROM {state_schema}.dead_letters LIMIT 20'\n",
        crate::state::redact_url(pg_url),
        crate::state::redact_url(pg_url)
    ));
    out
}

/// The validation verdict in one line plus details.
pub fn render_validation(report: &ValidationReport) -> String {
    format!("{report}")
}
