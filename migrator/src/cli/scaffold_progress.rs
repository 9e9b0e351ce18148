//! `scaffold`'s progress while it reads the source: a bar on a terminal (documents read of the
//! source's estimate, the collection being read), a line per collection and every few seconds
//! otherwise.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

const LINE_EVERY: Duration = Duration::from_secs(2);

/// Progress of one read of the source (the scan, or the second read).
#[derive(Debug)]
pub(super) struct ScanProgress {
    bar: Option<ProgressBar>,
    /// Documents of the collections finished.
    finished: u64,
    last_line: Instant,
    /// What each line says after the count (`documents`, `documents read again`).
    what: &'static str,
}

impl ScanProgress {
    /// `estimated`: the documents expected in all (the source's estimates, each bounded by
    /// `--sample`), if known. A bar only when stderr is a terminal.
    pub(super) fn new(estimated: Option<u64>, what: &'static str) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar =
                ProgressBar::with_draw_target(estimated, ProgressDrawTarget::stderr_with_hz(8));
            let style = ProgressStyle::with_template(
                "{bar:30} {pos:>9}/{len:9} documents {per_sec:>12} eta {eta:>4} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar
        });
        ScanProgress {
            bar,
            finished: 0,
            last_line: Instant::now(),
            what,
        }
    }

    /// `collection` has `documents` read so far (`done`: all of it).
    pub(super) fn update(&mut self, collection: &str, documents: u64, done: bool) {
        let position = self.finished + documents;
        if done {
            self.finished = position;
        }
        match &self.bar {
            Some(bar) => {
                if bar.length().is_some_and(|l| l < position) {
                    bar.set_length(position);
                }
                bar.set_position(position);
                bar.set_message(collection.to_string());
                if done {
                    bar.println(format!("  {collection}: {documents} {}", self.what));
                }
            }
            None => {
                if done || self.last_line.elapsed() >= LINE_EVERY {
                    self.last_line = Instant::now();
                    eprintln!(
                        "  {collection}: {documents} {}{}",
                        self.what,
                        if done { "" } else { " so far" }
                    );
                }
            }
        }
    }

    /// Removes the bar (before the report is printed).
    pub(super) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_add_up_over_collections() {
        let mut p = ScanProgress {
            bar: Some(ProgressBar::with_draw_target(
                Some(10),
                ProgressDrawTarget::hidden(),
            )),
            finished: 0,
            last_line: Instant::now(),
            what: "documents",
        };
        p.update("a", 4, false);
        assert_eq!(p.bar.as_ref().map(ProgressBar::position), Some(4));
        p.update("a", 6, true);
        p.update("b", 3, false);
        assert_eq!(p.bar.as_ref().map(ProgressBar::position), Some(9));
        // Past the estimate the bar grows instead of overflowing.
        p.update("b", 7, true);
        assert_eq!(p.bar.as_ref().map(ProgressBar::position), Some(13));
        assert_eq!(p.bar.as_ref().and_then(ProgressBar::length), Some(13));
    }
}
