//! The key census in the CLI: the `coverage` command, the section of `status`, and the dropped
//! and never-seen keys of a run's summary.

use std::fmt::Write as _;

use sqlx::PgConnection;

use crate::census::{self, Coverage, KeyFindings};
use crate::report::RunReport;
use crate::schema::Schema;
use crate::validate::never_seen_text;

/// The coverage of the census stored in the target (empty if no run counted anything yet).
pub async fn stored(
    conn: &mut PgConnection,
    state_schema: &str,
    schema: &Schema,
) -> anyhow::Result<Coverage> {
    let census = census::store::load(conn, state_schema).await?;
    Ok(census::coverage(schema, &census))
}

/// Adds the stored census's findings to a run's report.
pub async fn add_findings(
    report: &mut RunReport,
    pg_url: &str,
    state_schema: &str,
    schema: &Schema,
) -> anyhow::Result<()> {
    let mut conn = crate::state::connect(pg_url).await?;
    let coverage = stored(&mut conn, state_schema, schema).await?;
    report.keys = Some(KeyFindings::of(&coverage));
    Ok(())
}

/// The run summary's section: every dropped key and every declared key never seen.
pub fn findings_text(findings: &KeyFindings) -> String {
    let mut out = String::new();
    if !findings.dropped.is_empty() {
        let _ = writeln!(
            out,
            "\nDropped keys (in the source, read by no model; `coverage` shows every key):"
        );
        for d in &findings.dropped {
            let below = match d.paths_below {
                0 => String::new(),
                n => format!(", {n} path(s) below it"),
            };
            let _ = writeln!(
                out,
                "  {:>7} {}.{}: {} not null{below}{}",
                d.documents,
                d.collection,
                d.path,
                d.non_null,
                d.example_id
                    .as_ref()
                    .map(|id| format!(" (e.g. _id {id})"))
                    .unwrap_or_default()
            );
        }
        let _ = writeln!(
            out,
            "  read them, or drop them on purpose with `#[migrate(ignore = [\"key\"])]` (or \
             `unknown_fields = \"ignore\"`); `validate` fails while a dropped key holds values"
        );
    }
    if !findings.never_seen.is_empty() {
        let _ = writeln!(out, "\nDeclared keys in no document:");
        for n in &findings.never_seen {
            let _ = writeln!(out, "  {}", never_seen_text(n));
        }
    }
    out
}

/// `coverage`: every key path of every collection and its fate.
pub fn render(coverage: &Coverage) -> String {
    let mut out = String::new();
    if coverage.collections.is_empty() {
        return "no key census yet: `migrate` counts the keys as it reads the source\n".into();
    }
    for c in &coverage.collections {
        let _ = writeln!(out, "{} ({} documents)", c.collection, c.documents);
        let width = c.keys.iter().map(|k| k.path.len()).max().unwrap_or(0);
        for k in &c.keys {
            let types: Vec<String> = k
                .stats
                .types
                .iter()
                .map(|(t, n)| format!("{t} {n}"))
                .collect();
            let _ = writeln!(
                out,
                "  {:<width$}  {:>9}  {:<32}  {}",
                k.path,
                k.stats.documents,
                types.join(", "),
                k.fate.describe()
            );
        }
        for n in &c.never_seen {
            let _ = writeln!(out, "  warning: {}", never_seen_text(n));
        }
        let _ = writeln!(out);
    }
    let dropped = coverage.dropped().count();
    let losing = coverage.losing().count();
    let _ = writeln!(
        out,
        "{dropped} dropped key(s), {losing} of them holding values; {} declared key(s) in no document",
        coverage.never_seen().count()
    );
    out
}

/// The section of `status`: one line per collection with dropped keys, or that there are none.
pub fn status_section(coverage: &Coverage) -> String {
    let mut out = String::new();
    if coverage.collections.is_empty() {
        return out;
    }
    let keys: usize = coverage.collections.iter().map(|c| c.keys.len()).sum();
    let _ = writeln!(
        out,
        "\nkey census: {keys} key paths in {} collections; {} dropped ({} holding values), {} \
         declared keys in no document (`coverage` for the details)",
        coverage.collections.len(),
        coverage.dropped().count(),
        coverage.losing().count(),
        coverage.never_seen().count()
    );
    for d in coverage.dropped() {
        let _ = writeln!(
            out,
            "  dropped {}.{}: {} documents, {} not null",
            d.collection, d.path, d.documents, d.non_null
        );
    }
    out
}
