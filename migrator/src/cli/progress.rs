//! Draws progress events: bars on a terminal, periodic plain lines otherwise.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::progress::{Event, Observer};

struct Counts {
    documents: u64,
    dead: u64,
    estimated: Option<u64>,
}

/// Progress on stderr.
pub struct Display {
    bars: Option<(MultiProgress, ProgressBar)>,
    per_collection: Mutex<HashMap<String, (Option<ProgressBar>, Counts)>>,
    last_line: Mutex<Instant>,
    started: Instant,
}

impl std::fmt::Debug for Display {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Display").finish_non_exhaustive()
    }
}

const LINE_EVERY: Duration = Duration::from_secs(5);

impl Display {
    /// The overall bar's length is set when the run has listed the source's collections.
    pub fn new() -> Self {
        let bars = std::io::stderr().is_terminal().then(|| {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(8));
            let overall = multi.add(ProgressBar::new(0));
            overall.set_style(style("overall"));
            (multi, overall)
        });
        Display {
            bars,
            per_collection: Mutex::new(HashMap::new()),
            last_line: Mutex::new(Instant::now()),
            started: Instant::now(),
        }
    }

    /// Removes the bars before the summary is printed.
    pub fn finish(&self) {
        if let Some((multi, overall)) = &self.bars {
            overall.finish_and_clear();
            let _ = multi.clear();
        }
    }

    fn plain_line(&self, force: bool) {
        let Ok(mut last) = self.last_line.lock() else {
            return;
        };
        if !force && last.elapsed() < LINE_EVERY {
            return;
        }
        *last = Instant::now();
        let Ok(map) = self.per_collection.lock() else {
            return;
        };
        let mut names: Vec<&String> = map.keys().collect();
        names.sort();
        let elapsed = self.started.elapsed().as_secs_f64().max(0.001);
        let total: u64 = map.values().map(|(_, c)| c.documents).sum();
        let parts: Vec<String> = names
            .iter()
            .filter_map(|n| {
                let (_, c) = map.get(*n)?;
                Some(match c.estimated {
                    Some(e) => format!("{n} {}/{e}", c.documents),
                    None => format!("{n} {}", c.documents),
                })
            })
            .collect();
        let dead: u64 = map.values().map(|(_, c)| c.dead).sum();
        eprintln!(
            "[{:>6.1}s] {total} documents ({:.0}/s), {dead} rejected; {}",
            elapsed,
            total as f64 / elapsed,
            parts.join(", ")
        );
    }
}

fn style(prefix: &str) -> ProgressStyle {
    ProgressStyle::with_template(&format!(
        "{prefix:>16} {{bar:30}} {{pos:>9}}/{{len:9}} {{per_sec:>12}} eta {{eta:>4}} {{msg}}"
    ))
    .unwrap_or_else(|_| ProgressStyle::default_bar())
}

impl Observer for Display {
    fn event(&self, event: &Event) {
        match event {
            Event::Listed {
                estimated_documents,
            } => {
                if let (Some((_, overall)), Some(n)) = (&self.bars, estimated_documents) {
                    overall.set_length(*n);
                }
            }
            Event::CollectionStarted {
                collection,
                estimated,
                already_done,
                ..
            } => {
                let bar = self.bars.as_ref().map(|(multi, _)| {
                    let bar = multi.add(ProgressBar::new(estimated.unwrap_or(0)));
                    bar.set_style(style(&truncate(collection)));
                    bar.set_position(*already_done);
                    bar
                });
                if let Ok(mut map) = self.per_collection.lock() {
                    map.insert(
                        collection.clone(),
                        (
                            bar,
                            Counts {
                                documents: *already_done,
                                dead: 0,
                                estimated: *estimated,
                            },
                        ),
                    );
                }
                if let Some((_, overall)) = &self.bars {
                    overall.inc(*already_done);
                }
            }
            Event::BatchCommitted {
                collection,
                documents,
                dead_letters,
                ..
            } => {
                if let Ok(mut map) = self.per_collection.lock() {
                    if let Some((bar, counts)) = map.get_mut(collection) {
                        counts.documents += documents;
                        counts.dead += dead_letters;
                        if let Some(bar) = bar {
                            bar.inc(*documents);
                            if counts.dead > 0 {
                                bar.set_message(format!("{} rejected", counts.dead));
                            }
                        }
                    }
                }
                match &self.bars {
                    Some((_, overall)) => overall.inc(*documents),
                    None => self.plain_line(false),
                }
            }
            Event::CollectionFinished { collection } => {
                if let Ok(mut map) = self.per_collection.lock() {
                    if let Some((Some(bar), _)) = map.get_mut(collection) {
                        bar.finish_and_clear();
                    }
                }
            }
            Event::Stage { name } => {
                self.finish_line(&format!("stage: {name}"));
            }
            Event::Note { message } => self.finish_line(message),
        }
    }
}

impl Display {
    fn finish_line(&self, text: &str) {
        match &self.bars {
            Some((multi, _)) => {
                let _ = multi.println(text);
            }
            None => {
                self.plain_line(true);
                eprintln!("{text}");
            }
        }
    }
}

fn truncate(name: &str) -> String {
    if name.chars().count() <= 16 {
        name.to_string()
    } else {
        let cut: String = name.chars().take(15).collect();
        format!("{cut}…")
    }
}
