//! Medians, ratios, the targets of issue 5, the printed table and the JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::contenders::{Contender, RunResult};

/// The median of several runs of one contender.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub contender: Contender,
    pub label: &'static str,
    pub runs: usize,
    /// Whether every run produced exactly migrator's tables, foreign keys and indexes.
    pub valid: bool,
    pub differences: Vec<String>,
    pub wall_seconds: f64,
    pub documents_per_second: f64,
    pub rows_per_second: f64,
    /// The largest peak RSS of the client over the runs.
    pub peak_rss_mb: f64,
    pub client_cpu_seconds: f64,
    pub server_cpu_seconds: f64,
    /// CPU of the Mongo-wire server (live source only).
    pub source_cpu_seconds: f64,
    pub other_cpu_seconds: f64,
    pub phases: BTreeMap<String, f64>,
}

pub fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

pub fn summarize(
    contender: Contender,
    runs: &[RunResult],
    documents: u64,
    rows: u64,
) -> Option<Summary> {
    let mine: Vec<&RunResult> = runs.iter().filter(|r| r.contender == contender).collect();
    if mine.is_empty() {
        return None;
    }
    let wall = median(mine.iter().map(|r| r.cost.wall_seconds).collect());
    let mut phase_names: Vec<&String> = mine.iter().flat_map(|r| r.phases.keys()).collect();
    phase_names.sort();
    phase_names.dedup();
    let phases = phase_names
        .into_iter()
        .map(|p| {
            let values = mine
                .iter()
                .filter_map(|r| r.phases.get(p).copied())
                .collect();
            (p.clone(), median(values))
        })
        .collect();
    let mut differences: Vec<String> = mine
        .iter()
        .flat_map(|r| r.differences.iter().cloned())
        .collect();
    differences.sort();
    differences.dedup();
    Some(Summary {
        contender,
        label: contender.label(),
        runs: mine.len(),
        valid: differences.is_empty(),
        differences,
        wall_seconds: wall,
        documents_per_second: documents as f64 / wall,
        rows_per_second: rows as f64 / wall,
        peak_rss_mb: mine
            .iter()
            .map(|r| r.cost.client.max_rss_kb as f64 / 1024.0)
            .fold(0.0, f64::max),
        client_cpu_seconds: median(mine.iter().map(|r| r.cost.client_cpu_seconds()).collect()),
        server_cpu_seconds: median(mine.iter().map(|r| r.cost.server_cpu_seconds).collect()),
        source_cpu_seconds: median(mine.iter().map(|r| r.cost.source_cpu_seconds).collect()),
        other_cpu_seconds: median(mine.iter().map(|r| r.cost.other_cpu_seconds).collect()),
        phases,
    })
}

/// Peak RSS of migrator at two scales.
#[derive(Debug, Clone, Serialize)]
pub struct MemoryPoint {
    pub scale: f64,
    pub documents: u64,
    pub wall_seconds: f64,
    pub peak_rss_mb: f64,
}

/// One target of the issue and whether it is met.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub name: String,
    pub wanted: String,
    pub measured: Option<f64>,
    pub met: Option<bool>,
    /// For a ratio of two contenders: the ratio of each round's two runs (run i of one against
    /// run i of the other, which ran next to each other), in run order. The machine's speed
    /// drifts, so this spread says how far one median can be trusted.
    pub by_run: Vec<f64>,
}

/// The ratio `a / b` of each round where both ran and produced migrator's tables.
fn ratios_by_run(runs: &[RunResult], a: Contender, b: Contender) -> Vec<f64> {
    let wall = |c: Contender, run: usize| {
        runs.iter()
            .find(|r| r.contender == c && r.run == run && r.differences.is_empty())
            .map(|r| r.cost.wall_seconds)
    };
    let mut rounds: Vec<usize> = runs.iter().map(|r| r.run).collect();
    rounds.sort_unstable();
    rounds.dedup();
    rounds
        .into_iter()
        .filter_map(|run| Some(wall(a, run)? / wall(b, run)?))
        .collect()
}

/// The median wall time of `contender`, if it ran and produced migrator's tables.
fn valid_wall(summaries: &[Summary], contender: Contender) -> Option<f64> {
    summaries
        .iter()
        .find(|s| s.contender == contender && s.valid)
        .map(|s| s.wall_seconds)
}

pub fn targets(summaries: &[Summary], runs: &[RunResult], memory: &[MemoryPoint]) -> Vec<Target> {
    let get = |c: Contender| valid_wall(summaries, c);
    let ratio = |a: Contender, b: Contender| {
        let median = get(a).zip(get(b)).map(|(a, b)| a / b);
        (median, ratios_by_run(runs, a, b))
    };
    let mut rss: Vec<f64> = summaries
        .iter()
        .filter(|s| {
            matches!(
                s.contender,
                Contender::Migrator | Contender::MigratorMongo | Contender::MigratorArchive
            )
        })
        .map(|s| s.peak_rss_mb)
        .collect();
    rss.extend(memory.iter().map(|m| m.peak_rss_mb));
    let peak = rss.into_iter().reduce(f64::max);
    // `met` tells whether a measured value meets the target `wanted` states.
    let target = |name: &str,
                  wanted: &str,
                  met: &dyn Fn(f64) -> bool,
                  (measured, by_run): (Option<f64>, Vec<f64>)| Target {
        name: name.into(),
        wanted: wanted.into(),
        measured,
        met: measured.map(met),
        by_run,
    };
    use Contender::{Ceiling, Migrator, MigratorMongo, Node, Python};
    vec![
        target(
            "migrator (dump) time / ceiling time",
            "<= 1.15",
            &|m| m <= 1.15,
            ratio(Migrator, Ceiling),
        ),
        target(
            "Python COPY baseline time / migrator time",
            ">= 4",
            &|m| m >= 4.0,
            ratio(Python, Migrator),
        ),
        target(
            "Node INSERT baseline time / migrator time",
            ">= 5",
            &|m| m >= 5.0,
            ratio(Node, Migrator),
        ),
        target(
            "migrator (Mongo-wire) time / migrator (dump) time",
            "<= 1.3",
            &|m| m <= 1.3,
            ratio(MigratorMongo, Migrator),
        ),
        target(
            "migrator peak RSS, every scale (MB)",
            "< 250",
            &|m| m < 250.0,
            (peak, Vec::new()),
        ),
    ]
}

/// The table printed at the end (Markdown, so it can go into the README as it is).
pub fn table(summaries: &[Summary]) -> String {
    let ceiling = valid_wall(summaries, Contender::Ceiling);
    let migrator = valid_wall(summaries, Contender::Migrator);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| contender | wall s | docs/s | rows/s | peak RSS MB | client CPU s | PostgreSQL CPU s | Mongo CPU s | other CPU s | vs ceiling | vs migrator |"
    );
    let _ = writeln!(out, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
    for s in summaries {
        let x = |base: Option<f64>| match (base, s.valid) {
            (_, false) => "INVALID".to_string(),
            (Some(b), true) => format!("{:.2}x", s.wall_seconds / b),
            (None, true) => "-".to_string(),
        };
        let rss = if s.contender == Contender::Ceiling {
            "-".to_string()
        } else {
            format!("{:.0}", s.peak_rss_mb)
        };
        let source = if s.contender == Contender::MigratorMongo {
            format!("{:.2}", s.source_cpu_seconds)
        } else {
            "-".to_string()
        };
        let _ = writeln!(
            out,
            "| {} | {:.2} | {:.0} | {:.0} | {rss} | {:.2} | {:.2} | {source} | {:.2} | {} | {} |",
            s.label,
            s.wall_seconds,
            s.documents_per_second,
            s.rows_per_second,
            s.client_cpu_seconds,
            s.server_cpu_seconds,
            s.other_cpu_seconds,
            x(ceiling),
            x(migrator),
        );
    }
    out
}

pub fn targets_text(targets: &[Target]) -> String {
    let mut out = String::new();
    for t in targets {
        let measured = t
            .measured
            .map_or_else(|| "not measured".to_string(), |m| format!("{m:.2}"));
        let verdict = match t.met {
            Some(true) => "met",
            Some(false) => "MISSED",
            None => "not measured",
        };
        let spread = match (
            t.by_run.iter().copied().reduce(f64::min),
            t.by_run.iter().copied().reduce(f64::max),
        ) {
            (Some(lo), Some(hi)) if t.by_run.len() > 1 => {
                format!(" (run by run {lo:.2} to {hi:.2})")
            }
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "- {}: {measured}{spread} (target {}): {verdict}",
            t.name, t.wanted
        );
    }
    out
}

pub fn phases_text(summaries: &[Summary]) -> String {
    let mut out = String::new();
    for s in summaries {
        if s.phases.is_empty() {
            continue;
        }
        let parts: Vec<String> = s
            .phases
            .iter()
            .map(|(k, v)| format!("{k} {v:.2} s"))
            .collect();
        let _ = writeln!(out, "- {}: {}", s.label, parts.join(", "));
    }
    out
}

/// Where the time goes: the CPU each contender uses on this machine, and the shortest wall time
/// that much CPU allows on `cores` cores shared by everything (the client, PostgreSQL and the
/// rest), next to the ceiling's time, and for migrator's other sources next to the dump run's
/// (the live target's floor).
pub fn cpu_floor_text(summaries: &[Summary], cores: usize) -> String {
    let mut out = String::new();
    let cores = cores.max(1) as f64;
    let ceiling = valid_wall(summaries, Contender::Ceiling);
    let dump = valid_wall(summaries, Contender::Migrator);
    for s in summaries {
        let cpu = s.client_cpu_seconds
            + s.server_cpu_seconds
            + s.source_cpu_seconds
            + s.other_cpu_seconds;
        let floor = cpu / cores;
        let mut versus = ceiling.map_or_else(String::new, |c| {
            format!(", {:.2}x the ceiling's time", floor / c)
        });
        if let (Contender::MigratorMongo | Contender::MigratorArchive, Some(d)) =
            (s.contender, dump)
        {
            versus.push_str(&format!(", {:.2}x the dump run's", floor / d));
        }
        let _ = writeln!(
            out,
            "- {}: {cpu:.2} CPU s (client {:.2}, PostgreSQL {:.2}, Mongo {:.2}, other {:.2}); on {cores} cores no faster than {floor:.2} s{versus}; measured {:.2} s",
            s.label,
            s.client_cpu_seconds,
            s.server_cpu_seconds,
            s.source_cpu_seconds,
            s.other_cpu_seconds,
            s.wall_seconds,
        );
    }
    // migrator's time includes creating its tables; the ceiling's does not.
    let tables = summaries
        .iter()
        .find(|s| s.contender == Contender::Ceiling)
        .and_then(|s| s.phases.get(CEILING_TABLES).copied());
    if let (Some(c), Some(t), Some(m)) =
        (ceiling, tables, valid_wall(summaries, Contender::Migrator))
    {
        let _ = writeln!(
            out,
            "- the ceiling's time leaves out creating its tables ({t:.2} s); with them it would be {:.2} s, and migrator (dump) {:.2}x of it (the target is measured without them)",
            c + t,
            m / (c + t),
        );
    }
    out
}

/// The ceiling's phase that creates its tables, outside its timed wall.
pub const CEILING_TABLES: &str = "tables, not timed";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::Cost;

    fn run(contender: Contender, run: usize, wall: f64, valid: bool) -> RunResult {
        RunResult {
            contender,
            run,
            cost: Cost {
                wall_seconds: wall,
                ..Cost::default()
            },
            phases: BTreeMap::new(),
            differences: if valid {
                Vec::new()
            } else {
                vec!["rows differ".into()]
            },
        }
    }

    /// The summaries of `contenders` over `runs` (of 100 documents and 200 rows).
    fn summaries(runs: &[RunResult], contenders: &[Contender]) -> Vec<Summary> {
        contenders
            .iter()
            .filter_map(|&c| summarize(c, runs, 100, 200))
            .collect()
    }

    #[test]
    fn ratios_pair_each_round_and_leave_out_invalid_runs() {
        let runs = [
            run(Contender::Migrator, 1, 1.0, true),
            run(Contender::Ceiling, 1, 0.8, true),
            run(Contender::Migrator, 2, 1.2, true),
            run(Contender::Ceiling, 2, 1.0, false),
            run(Contender::Migrator, 3, 0.9, true),
            run(Contender::Ceiling, 3, 1.0, true),
        ];
        let by_run = ratios_by_run(&runs, Contender::Migrator, Contender::Ceiling);
        assert_eq!(by_run.len(), 2, "round 2's ceiling is invalid: {by_run:?}");
        assert!((by_run[0] - 1.25).abs() < 1e-9, "{by_run:?}");
        assert!((by_run[1] - 0.9).abs() < 1e-9, "{by_run:?}");

        let summaries = summaries(&runs, &[Contender::Migrator, Contender::Ceiling]);
        let targets = targets(&summaries, &runs, &[]);
        let dump = &targets[0];
        assert_eq!(dump.by_run, by_run);
        let text = targets_text(&targets);
        assert!(
            text.contains("run by run 0.90 to 1.25"),
            "the spread is printed: {text}"
        );
        // A ratio with no runs of one side is not measured and prints no spread.
        assert!(targets[1].by_run.is_empty() && targets[1].measured.is_none());
    }

    #[test]
    fn the_live_floor_is_set_against_the_dump_run() {
        let runs = [
            run(Contender::Migrator, 1, 1.0, true),
            run(Contender::Ceiling, 1, 0.8, true),
            run(Contender::MigratorMongo, 1, 1.5, true),
        ];
        let mut summaries = summaries(
            &runs,
            &[
                Contender::Migrator,
                Contender::Ceiling,
                Contender::MigratorMongo,
            ],
        );
        // 2.5 CPU seconds on 2 cores: no faster than 1.25 s.
        summaries[2].server_cpu_seconds = 2.0;
        summaries[2].source_cpu_seconds = 0.5;
        let text = cpu_floor_text(&summaries, 2);
        let live = text
            .lines()
            .find(|l| l.contains(Contender::MigratorMongo.label()))
            .unwrap_or_default();
        assert!(
            live.contains("no faster than 1.25 s, 1.56x the ceiling's time, 1.25x the dump run's"),
            "{text}"
        );
        let dump = text
            .lines()
            .find(|l| l.starts_with(&format!("- {}:", Contender::Migrator.label())))
            .unwrap_or_default();
        assert!(!dump.contains("the dump run's"), "{text}");
    }
}
