//! Kill-and-resume loops: the same command run again and again, each run SIGKILLed at a moment
//! chosen by the test, until one completes.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::cli::{Cli, Finished};
use crate::pg::TestDb;

/// When a run dies.
#[derive(Debug, Clone, Copy)]
pub enum Moment {
    /// This long after it starts: connecting, checking the state, the first batches.
    AfterStart(Duration),
    /// This long after its first commit of its own (at once if the load is already done).
    AfterProgress(Duration),
    /// This long after the run reaches a stage (`references`, `constraints`) or a later one.
    InStage(&'static str, Duration),
}

/// What the killed runs went through.
#[derive(Debug, Default)]
pub struct Kills {
    pub kills: u32,
    pub runs: u32,
    /// Runs refused for a moment because the killed run's session still held the target.
    pub locked: u32,
    /// The stage recorded at each kill.
    pub stages: BTreeMap<String, u32>,
}

/// The stages a run goes through, in order.
const STAGES: [&str; 5] = ["new", "loading", "references", "constraints", "done"];

/// Whether `current` is `stage` or a later one, short of `done`.
pub fn reached(current: Option<&str>, stage: &str) -> bool {
    let at = |s: &str| STAGES.iter().position(|x| *x == s);
    match (current.and_then(at), at(stage)) {
        (Some(now), Some(wanted)) => now >= wanted && now < STAGES.len() - 1,
        _ => false,
    }
}

/// Documents committed so far (0 before the run's state exists).
pub fn committed(db: &TestDb) -> i64 {
    if db.stage().is_none() {
        return 0;
    }
    db.checkpoint_totals().values().map(|c| c.1).sum()
}

/// Runs `args` again and again, SIGKILLing each run at the moment `next` gives (from the kills
/// so far), until one exits 0. Any other failure, or `max_runs` runs, panics.
pub fn kill_until_done(
    db: &TestDb,
    cli: &Cli,
    args: &[&str],
    max_runs: u32,
    mut next: impl FnMut(u32) -> Moment,
) -> Kills {
    let mut k = Kills::default();
    loop {
        k.runs += 1;
        assert!(
            k.runs < max_runs,
            "no run finished after {} attempts: {k:?}",
            k.runs
        );
        let moment = next(k.kills);
        let before = committed(db);
        let mut running = cli.spawn(args);
        let mut deadline = match moment {
            Moment::AfterStart(delay) => Some(Instant::now() + delay),
            _ => None,
        };
        let ended = loop {
            if let Some(done) = running.try_finish() {
                break Some(done);
            }
            match (deadline, moment) {
                (Some(at), _) if Instant::now() >= at => break None,
                (None, Moment::AfterProgress(delay)) => {
                    let loading = matches!(db.stage().as_deref(), None | Some("new" | "loading"));
                    if !loading || committed(db) > before {
                        deadline = Some(Instant::now() + delay);
                    }
                }
                (None, Moment::InStage(stage, delay)) if reached(db.stage().as_deref(), stage) => {
                    deadline = Some(Instant::now() + delay);
                }
                _ => {}
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        let done: Finished = match ended {
            Some(done) => done,
            None => running.kill().expect("a child to kill"),
        };
        match done.code {
            None => {
                k.kills += 1;
                let stage = db.stage().unwrap_or_else(|| "none".into());
                *k.stages.entry(stage).or_default() += 1;
            }
            Some(0) => {
                // A kill after the run recorded `done` leaves the next one nothing to do.
                assert!(
                    done.stdout.contains("Migration completed")
                        || done.stdout.contains("Already complete"),
                    "{}",
                    done.stdout
                );
                return k;
            }
            // The killed run's session can outlive it by a moment; the next one waits.
            Some(5) => {
                k.locked += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
            Some(code) => panic!(
                "a resumed run failed with code {code} after {} kills ({moment:?})\n--- stdout\n{}\n--- stderr\n{}",
                k.kills, done.stdout, done.stderr
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_are_reached_in_order_short_of_done() {
        assert!(reached(Some("references"), "references"));
        assert!(reached(Some("constraints"), "references"));
        assert!(!reached(Some("loading"), "references"));
        assert!(!reached(Some("done"), "references"));
        assert!(!reached(None, "loading"));
    }
}
