//! What the follow tests share: the oracle (a fresh migration of the source's final state) and
//! the comparison with it, the drain (`follow --until-caught-up 0` once writes stopped), and a
//! loop of follows killed (`kill -9`) at random moments.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::cli::{Cli, SchemaChoice};
use crate::mongo::MongoDb;
use crate::pg::TestDb;

/// The `--source` of the test's database on the Mongo-wire server.
pub fn source(mongo: &MongoDb) -> String {
    format!("{}/{}", mongo.uri().trim_end_matches('/'), mongo.name())
}

/// Dead letters as (collection, `_id`): which documents are rejected.
pub fn rejected(db: &TestDb) -> BTreeSet<(String, String)> {
    db.dead_letters()
        .into_iter()
        .map(|[collection, id, ..]| (collection, id))
        .collect()
}

/// The binary a follow test runs, and its schema.
#[derive(Debug, Clone, Copy)]
pub struct Binary<'a> {
    pub exe: &'a str,
    pub schema: SchemaChoice,
}

impl Binary<'_> {
    pub fn cli(&self, db: &TestDb) -> Cli {
        Cli::new(self.exe, self.schema, db.url())
    }

    /// A fresh migration of the source as it is now: the oracle.
    pub fn oracle(&self, mongo: &MongoDb) -> TestDb {
        let db = TestDb::create("follow_oracle");
        self.cli(&db)
            .run(&[
                "migrate",
                "--source",
                &source(mongo),
                "--accept-rejected",
                "100%",
            ])
            .expect_code(0);
        db
    }

    /// Every table of `followed` equals the oracle's, row by row, and the dead letters name the
    /// same documents.
    pub fn assert_same(&self, followed: &TestDb, mongo: &MongoDb) {
        let expected = self.oracle(mongo);
        let (got, want) = (followed.table_hashes(), expected.table_hashes());
        let differing: Vec<String> = want
            .iter()
            .filter(|(table, hash)| got.get(*table) != Some(hash))
            .map(|(table, (rows, _))| {
                let followed_rows = got.get(table).map_or(-1, |(n, _)| *n);
                format!("{table} ({followed_rows} rows followed, {rows} in the oracle)")
            })
            .collect();
        assert!(
            differing.is_empty() && got.len() == want.len(),
            "the followed target differs from a fresh migration of the final state: {}",
            differing.join(", ")
        );
        let (got, want) = (rejected(followed), rejected(&expected));
        assert_eq!(
            got.symmetric_difference(&want).collect::<Vec<_>>(),
            Vec::<&(String, String)>::new(),
            "the dead letters differ ({} followed, {} in the oracle)",
            got.len(),
            want.len()
        );
    }
}

/// Drains the changes left: `follow --until-caught-up 0` after the writes stopped. Returns its
/// stderr.
pub fn drain(cli: &Cli, mongo: &MongoDb) -> String {
    drain_within(cli, mongo, Duration::from_secs(120))
}

/// [`drain`], waiting at most `limit` for it (a long backlog on a loaded machine).
pub fn drain_within(cli: &Cli, mongo: &MongoDb, limit: Duration) -> String {
    let done = cli
        .spawn(&[
            "follow",
            "--source",
            &source(mongo),
            "--until-caught-up",
            "0",
            "--on-invalid",
            "delete",
        ])
        .wait_at_most(limit);
    done.expect_code(0);
    assert!(
        done.stdout.contains("final resume token"),
        "no final token printed:\n{}",
        done.stdout
    );
    done.stderr
}

/// What [`kill_follows`] did.
#[derive(Debug, Clone, Copy)]
pub struct Killed {
    pub kills: u32,
    /// Attempts that found the killed follow's lock still held (exit 5) and went on.
    pub locked: u32,
    pub took: Duration,
}

/// Starts `follow` and kills it (`kill -9`) after a random 150 to 750 ms, `kills` times (the
/// seeded moments are the same from run to run; what the follow did by then is not).
pub fn kill_follows(cli: &Cli, mongo: &MongoDb, kills: u32, seed: u64) -> Killed {
    let mut rng = seed | 1;
    let started = Instant::now();
    let mut done = Killed {
        kills: 0,
        locked: 0,
        took: Duration::ZERO,
    };
    while done.kills < kills {
        let source = source(mongo);
        let mut follow = cli.spawn(&["follow", "--source", &source, "--on-invalid", "delete"]);
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        std::thread::sleep(Duration::from_millis(150 + rng % 600));
        match follow.kill() {
            // The follow killed before still held the lock (its session not yet ended): exit 5,
            // as documented; the next attempt goes ahead.
            Some(ended) if ended.code == Some(5) => done.locked += 1,
            Some(ended) => {
                assert_eq!(
                    ended.code, None,
                    "the follow ended on its own:\n{}",
                    ended.stderr
                );
                done.kills += 1;
            }
            None => done.kills += 1,
        }
        assert!(
            done.locked < 20,
            "the lock of a killed follow was never released"
        );
    }
    done.took = started.elapsed();
    done
}

/// The follow's recorded position in `db` (its resume token, as text).
pub fn position(db: &TestDb) -> Option<String> {
    db.scalar("SELECT token::text FROM _migrator.follow")
}

/// How [`kill_after_commits`] kills.
#[derive(Debug, Clone, Copy)]
pub struct KillPlan<'a> {
    pub kills: u32,
    /// Seeds the delays (the same from run to run; what the follow did by then is not).
    pub seed: u64,
    /// The longest delay after a follow's first commit before it is killed.
    pub max_delay: Duration,
    /// Arguments after `follow --source URI` (`--follow-batch 50`, `--on-invalid delete`).
    pub args: &'a [&'a str],
    /// The whole loop's bound: generous, it only stops a follow that never commits.
    pub within: Duration,
}

/// Starts `follow` and kills it (`kill -9`) `plan.kills` times, each time only once the follow
/// has committed a position newer than the one before it started (so every kill lands in a
/// follow that is applying changes, whatever the machine's load), after a further random delay
/// of up to `plan.max_delay`. Returns the kills and the positions each run had committed.
pub fn kill_after_commits(
    cli: &Cli,
    db: &TestDb,
    mongo: &MongoDb,
    plan: &KillPlan<'_>,
) -> (Killed, Vec<String>) {
    let mut rng = plan.seed | 1;
    let started = Instant::now();
    let deadline = started + plan.within;
    let mut done = Killed {
        kills: 0,
        locked: 0,
        took: Duration::ZERO,
    };
    let mut positions = Vec::new();
    let source = source(mongo);
    let mut args = vec!["follow", "--source", source.as_str()];
    args.extend_from_slice(plan.args);
    // A run that ended on its own: a killed run's session still held the lock (exit 5, as
    // documented: the next attempt goes ahead) or a failure.
    let ended = |ended: crate::cli::Finished, done: &mut Killed| {
        assert_eq!(
            ended.code,
            Some(5),
            "a follow ended on its own after {} kills:\n{}",
            done.kills,
            ended.stderr
        );
        done.locked += 1;
        assert!(
            done.locked < 50,
            "the lock of a killed follow was never released"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    while done.kills < plan.kills {
        let before = position(db);
        let mut follow = cli.spawn(&args);
        let committed = loop {
            if let Some(finished) = follow.try_finish() {
                break Err(finished);
            }
            let now = position(db);
            if now != before {
                break Ok(now);
            }
            if Instant::now() > deadline {
                let finished = follow.kill().expect("a follow to kill");
                panic!(
                    "{} kills in {:?}: the last follow committed nothing (its position stayed \
                     {before:?})\n{}",
                    done.kills, plan.within, finished.stderr
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let committed = match committed {
            Ok(now) => now,
            Err(finished) => {
                ended(finished, &mut done);
                continue;
            }
        };
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let delay_ms = u64::try_from(plan.max_delay.as_millis()).unwrap_or(u64::MAX);
        std::thread::sleep(Duration::from_millis(rng % delay_ms.max(1)));
        match follow.kill() {
            Some(finished) if finished.code.is_some() => ended(finished, &mut done),
            _ => {
                done.kills += 1;
                positions.extend(committed);
            }
        }
    }
    done.took = started.elapsed();
    (done, positions)
}
