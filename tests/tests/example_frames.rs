//! Frames that lie, in a generated dump of the example: a length prefix covering the next
//! document too (the second one used to be swallowed without a word: 798 of 800 teams, one dead
//! letter), and a document whose `_id` cannot be read (its dead letter used to say neither where
//! it was nor what it held). Every document is accounted for, by `_id` where it can be read,
//! with its byte offset.

use std::collections::BTreeMap;
use std::sync::Arc;

use bson::RawDocumentBuf;
use migrator::report::Outcome;
use migrator::source::DumpSource;
use migrator_e2e::data::{bson_bytes, read_file};
use migrator_e2e::example;
use migrator_e2e::pg::{TestDb, STATE};
use schema::generator::FaultConfig;

fn id_of(doc: &RawDocumentBuf) -> String {
    migrator::transform::describe_id(doc)
}

#[test]
fn a_length_prefix_covering_the_next_document_and_an_unreadable_id_are_reported_by_offset() {
    let dir = tempfile::tempdir().expect("temp dir");
    let generator = example::generator(
        42,
        0.1,
        FaultConfig {
            per_kind: 0,
            oversized: 0,
        },
    );
    let manifest = example::write_dump(&generator, dir.path());
    let file = dir.path().join("teams.bson");
    let teams = read_file(&file);
    assert!(teams.len() > 20, "{} teams", teams.len());
    let offset = |i: usize| -> usize { teams[..i].iter().map(|d| d.as_bytes().len()).sum() };
    let mut bytes = bson_bytes(&teams);

    // Team 10's prefix covers team 11 as well.
    let (covering, covered) = (10, 11);
    let both = teams[covering].as_bytes().len() + teams[covered].as_bytes().len();
    let at = offset(covering);
    bytes[at..at + 4].copy_from_slice(&i32::try_from(both).expect("small").to_le_bytes());
    // Team 15's `_id` has an element type no BSON has.
    let unreadable = 15;
    let type_byte = offset(unreadable) + 4;
    assert_eq!(bytes[type_byte], 0x07, "an ObjectId `_id` first");
    bytes[type_byte] = 0x7a;
    std::fs::write(&file, &bytes).expect("write teams.bson");

    let db = TestDb::create("example_frames");
    let source = Arc::new(DumpSource::open(dir.path()).expect("the dump opens"));
    let report = db
        .run(&example::schema(), source, db.config())
        .unwrap_or_else(|e| panic!("the run failed: {}", example::chain(&e)));
    assert_eq!(report.outcome, Outcome::Completed);

    let expected_teams = i64::try_from(manifest.tables["teams"]).expect("a count") - 3;
    assert_eq!(
        db.table_count("teams"),
        expected_teams,
        "three teams not loaded"
    );

    let rows = db.rows(&format!(
        "SELECT document_id, class, message, document FROM {STATE}.dead_letters \
         WHERE collection = 'teams' AND stage = 'transform' ORDER BY id"
    ));
    let letters: BTreeMap<String, (String, String, String)> = rows
        .into_iter()
        .map(|r| {
            let mut it = r.into_iter().map(Option::unwrap_or_default);
            let mut next = || it.next().unwrap_or_default();
            (next(), (next(), next(), next()))
        })
        .collect();
    assert_eq!(letters.len(), 3, "{letters:#?}");

    let first = &letters[&id_of(&teams[covering])];
    let second_at = offset(covered);
    assert!(
        first
            .1
            .contains(&format!("the document at byte {at} of `teams`'s source"))
            && first.1.contains(&format!(
                "covers 1 whole document after it: `_id` {} at byte {second_at}",
                id_of(&teams[covered])
            )),
        "{first:?}"
    );
    assert!(first.2.contains("$binary"), "its bytes are kept: {first:?}");

    let second = &letters[&id_of(&teams[covered])];
    assert_eq!(second.0, "invalid");
    assert!(
        second.1.contains(&format!(
            "at byte {second_at}, inside the frame of the document at byte {at}"
        )),
        "{second:?}"
    );
    // Its own document, readable as JSON.
    let json: serde_json::Value = serde_json::from_str(&second.2).expect("JSON");
    assert!(json.get("_id").is_some(), "{json}");

    let third = &letters["<unreadable>"];
    assert!(
        third.1.contains(&format!(
            "the document at byte {} of `teams`'s source",
            offset(unreadable)
        )),
        "{third:?}"
    );
    assert!(third.2.contains("$binary"), "its bytes are kept: {third:?}");
}
