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
        .wait_at_most(Duration::from_secs(120));
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
