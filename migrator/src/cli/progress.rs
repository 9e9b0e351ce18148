//! Draws progress events: bars on a terminal, periodic plain lines otherwise.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::progress::{Event, Observer};

/// One collection's progress. The source's count is an estimate (a dump file's is extrapolated
/// from its first documents), so the total grows when the count passes it and becomes the count
/// when the collection is done: a total is never less than what was counted.
#[derive(Debug, Default, PartialEq)]
struct Counts {
    documents: u64,
    dead: u64,
    estimated: Option<u64>,
}

impl Counts {
    /// Counts a committed batch; returns how much the total grew.
    fn add(&mut self, documents: u64, dead: u64) -> u64 {
        self.documents += documents;
        self.dead += dead;
        match self.estimated {
            Some(e) if self.documents > e => {
                self.estimated = Some(self.documents);
                self.documents - e
            }
            _ => 0,
        }
    }

    /// The collection is done: its total is what was counted. Returns the total's change.
    fn finish(&mut self) -> i64 {
        let before = self.estimated.unwrap_or(0);
        self.estimated = Some(self.documents);
        i64::try_from(self.documents).unwrap_or(i64::MAX) - i64::try_from(before).unwrap_or(0)
    }

    /// `name done/total` (or `name done` without a total).
    fn text(&self, name: &str) -> String {
        match self.estimated {
            Some(e) => format!("{name} {}/{e}", self.documents),
            None => format!("{name} {}", self.documents),
        }
    }
}

/// Progress on stderr.
pub struct Display {
    bars: Option<(MultiProgress, ProgressBar)>,
    per_collection: Mutex<HashMap<String, (Option<ProgressBar>, Counts)>>,
    last_line: Mutex<Instant>,
    started: Instant,
    /// Whether the run reported a stage after the load (see [`Display::past_the_load`]).
    past_the_load: AtomicBool,
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
            past_the_load: AtomicBool::new(false),
        }
    }

    /// Whether the run has moved on from the load to its last stage (a run stops at that
    /// boundary if asked to before it reports the stage).
    pub fn past_the_load(&self) -> bool {
        self.past_the_load.load(Ordering::SeqCst)
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
            .filter_map(|n| Some(map.get(*n)?.1.text(n)))
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
                // A collection loaded again after its keys were refused: a load once more.
                self.past_the_load.store(false, Ordering::SeqCst);
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
                let mut grew = 0;
                if let Ok(mut map) = self.per_collection.lock() {
                    if let Some((bar, counts)) = map.get_mut(collection) {
                        grew = counts.add(*documents, *dead_letters);
                        if let Some(bar) = bar {
                            if let Some(total) = counts.estimated {
                                bar.set_length(total);
                            }
                            bar.inc(*documents);
                            if counts.dead > 0 {
                                bar.set_message(format!("{} rejected", counts.dead));
                            }
                        }
                    }
                }
                match &self.bars {
                    Some((_, overall)) => {
                        overall.inc_length(grew);
                        overall.inc(*documents);
                        // Collections the source could not count have no share in the total.
                        if overall.length().is_some_and(|l| overall.position() > l) {
                            overall.set_length(overall.position());
                        }
                    }
                    None => self.plain_line(false),
                }
            }
            Event::CollectionFinished { collection } => {
                if let Ok(mut map) = self.per_collection.lock() {
                    if let Some((bar, counts)) = map.get_mut(collection) {
                        let change = counts.finish();
                        if let Some(bar) = bar {
                            bar.finish_and_clear();
                        }
                        if let Some((_, overall)) = &self.bars {
                            let length = overall.length().unwrap_or(0);
                            overall.set_length(length.saturating_add_signed(change));
                        }
                    }
                }
            }
            Event::Stage { name } => {
                self.past_the_load.store(true, Ordering::SeqCst);
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

#[cfg(test)]
mod tests {
    use super::Counts;

    #[test]
    fn a_total_grows_with_the_count_and_is_the_count_at_the_end() {
        // An estimate too low (966 documents where 870 were extrapolated).
        let mut low = Counts {
            estimated: Some(870),
            ..Counts::default()
        };
        assert_eq!(low.add(800, 0), 0);
        assert_eq!(low.text("movies"), "movies 800/870");
        assert_eq!(low.add(166, 2), 96);
        assert_eq!(low.text("movies"), "movies 966/966");
        assert_eq!(low.finish(), 0);
        // An estimate too high ends at the count too.
        let mut high = Counts {
            estimated: Some(110),
            ..Counts::default()
        };
        assert_eq!(high.add(109, 0), 0);
        assert_eq!(high.finish(), -1);
        assert_eq!(high.text("users"), "users 109/109");
        // No estimate: a count, then the count as the total.
        let mut none = Counts::default();
        assert_eq!(none.add(5, 0), 0);
        assert_eq!(none.text("carts"), "carts 5");
        assert_eq!(none.finish(), 5);
        assert_eq!(none.text("carts"), "carts 5/5");
    }
}
