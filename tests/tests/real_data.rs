//! The real data end to end: every real collection as a mongodump directory, migrated into
//! PostgreSQL through the real-data models; rows per table, every dead letter, the dangling
//! references handled by their policies, no orphans where a foreign key exists.

use std::collections::BTreeSet;
use std::sync::Arc;

use migrator::model::MissingPolicy;
use migrator::report::Outcome;
use migrator::sink::ddl::Ddl;
use migrator::source::DumpSource;
use migrator_e2e::data::Dataset;
use migrator_e2e::expect::{oid_text, orphans, RealOutcome};
use migrator_e2e::pg::{TestDb, TARGET};

#[test]
fn real_data_migrates_with_every_rejection_explained() {
    let schema = schema::real_data::schema().expect("the real-data schema");
    let data = Dataset::real();
    let expected = RealOutcome::of(&data);
    let dir = tempfile::tempdir().expect("temp dir");
    data.write_dump(dir.path());
    let db = TestDb::create("real_data");

    let source = Arc::new(DumpSource::open(dir.path()).expect("the dump opens"));
    let report = db
        .run(&schema, source, db.config())
        .unwrap_or_else(|e| panic!("the run failed: {e}"));
    assert_eq!(report.outcome, Outcome::Completed);
    assert_eq!(db.stage().as_deref(), Some("done"));

    // Every table, and nothing else, with the rows the data says.
    let want: std::collections::BTreeMap<String, i64> = expected
        .rows
        .iter()
        .map(|(t, n)| (t.to_string(), *n))
        .collect();
    assert_eq!(db.table_counts(), want, "rows per table");
    assert!(
        (220..=240).contains(&expected.dangling_comments.len()),
        "about 230 comments dangle, not {}",
        expected.dangling_comments.len()
    );

    // The report agrees with the tables.
    let read: u64 = report.collections.values().map(|c| c.documents).sum();
    let total: usize = data.collections.iter().map(|c| c.docs.len()).sum();
    assert_eq!(read, total as u64, "every document was read once");

    // Dead letters: one per stage kind, each naming the collection, `_id`, field and class.
    let letters = db.dead_letters();
    let of_stage =
        |stage: &str| -> Vec<&[String; 6]> { letters.iter().filter(|l| l[2] == stage).collect() };
    let transform = of_stage("transform");
    assert_eq!(transform.len(), 1, "{transform:?}");
    assert_eq!(
        transform[0][..5],
        [
            "movies".to_string(),
            oid_text(&expected.rejected_movie),
            "transform".into(),
            "imdb.rating".into(),
            "invalid".into()
        ]
    );
    let load = of_stage("load");
    assert_eq!(load.len(), 1, "{load:?}");
    assert_eq!(
        load[0][..5],
        [
            "accounts".to_string(),
            oid_text(&expected.duplicate_account),
            "load".into(),
            "account_id".into(),
            "unique_violation".into()
        ]
    );
    assert!(load[0][5].contains("627788"), "{}", load[0][5]);
    let reference = of_stage("reference");
    let rejected: BTreeSet<String> = reference.iter().map(|l| l[1].clone()).collect();
    let want: BTreeSet<String> = expected.dangling_comments.iter().map(oid_text).collect();
    assert_eq!(rejected, want, "comments rejected for dangling references");
    assert_eq!(reference.len(), want.len(), "one dead letter per comment");
    // A comment on the movie rejected above is a cascade: its own class, naming that movie's
    // `_id` as the root; the others reference movies that are not in the source at all.
    let rejected_movie = expected.rejected_movie.to_hex();
    let mut cascades = 0;
    for l in &reference {
        let class = if l[5].contains(&rejected_movie) {
            cascades += 1;
            assert!(
                l[5].contains(&format!(
                    "the rejections start at _id {}",
                    oid_text(&expected.rejected_movie)
                )),
                "the cascade names its root: {}",
                l[5]
            );
            "rejected_reference"
        } else {
            "missing_reference"
        };
        assert_eq!(
            (l[0].as_str(), l[3].as_str(), l[4].as_str()),
            ("comments", "movie_id", class),
            "{l:?}"
        );
        assert!(
            l[5].contains("movies.id"),
            "the message names the target: {}",
            l[5]
        );
    }
    assert!(cascades > 0, "a comment on the rejected movie is a cascade");
    assert_eq!(
        letters.len(),
        2 + want.len(),
        "no other dead letters: {letters:?}"
    );
    // Every dead letter keeps its original document.
    assert_eq!(
        db.count("SELECT 1 FROM _migrator.dead_letters WHERE document IS NULL"),
        0
    );

    // sessions.user_id dangles and is kept, recorded as such.
    let issues = db.reference_issues();
    let kept: Vec<(String, String)> = expected
        .dangling_sessions
        .iter()
        .map(|(_, email)| ("user_id".to_string(), email.clone()))
        .collect();
    assert_eq!(
        issues
            .iter()
            .map(|i| (i[3].clone(), i[4].clone()))
            .collect::<Vec<_>>(),
        kept
    );
    assert!(issues.iter().all(|i| i[0] == "sessions" && i[5] == "keep"));
    assert_eq!(
        db.count("SELECT 1 FROM public.sessions s WHERE NOT EXISTS (SELECT 1 FROM public.users u WHERE u.email = s.user_id)"),
        1,
        "the dangling session is still there"
    );

    // No orphans where a foreign key is enforced; the foreign keys exist.
    for o in orphans(&db, &schema) {
        if o.enforced {
            assert_eq!(o.count, 0, "orphans in {}.{}", o.table, o.column);
        } else {
            assert_eq!(o.policy, MissingPolicy::Keep, "{o:?}");
        }
    }
    let fks: BTreeSet<String> = db
        .foreign_keys()
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    let wanted: BTreeSet<String> = Ddl::new(&schema, Some(TARGET))
        .foreign_keys
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert!(wanted.len() >= 6, "{wanted:?}");
    assert_eq!(fks, wanted, "foreign keys in pg_constraint");
    assert!(
        !fks.iter().any(|f| f.starts_with("sessions_user_id")),
        "no foreign key for a kept reference"
    );
}
