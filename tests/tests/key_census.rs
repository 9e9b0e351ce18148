//! Dropped keys are never silent: models that miss keys of their documents (a case-different
//! key, a misspelled optional field, undeclared keys) through the binary: the run summary,
//! `validate` (exit 3), `coverage` and `status` name every dropped and never-seen key with its
//! counts; the same keys ignored by name or by `unknown_fields = "ignore"` pass.

use migrator_e2e::cli::{Cli, SchemaChoice};
use migrator_e2e::data::Dataset;
use migrator_e2e::keys;
use migrator_e2e::pg::TestDb;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_e2e-migrate");

fn dump() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    Dataset::from_documents(vec![
        ("contacts", keys::documents()),
        ("contacts_ignored", keys::documents()),
        ("contacts_lenient", keys::documents()),
    ])
    .write_dump(dir.path());
    dir
}

/// The line of `text` that mentions `needle` (panics naming both if none does).
fn line<'a>(text: &'a str, needle: &str) -> &'a str {
    text.lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with `{needle}` in:\n{text}"))
}

#[test]
fn dropped_and_never_seen_keys_are_named_by_the_summary_validate_coverage_and_status() {
    let db = TestDb::create("key_census");
    let dir = dump();
    let source = dir.path().to_str().expect("a UTF-8 path");
    let cli = Cli::new(BIN, SchemaChoice::Keys, db.url());

    let run = cli.run(&["migrate", "--source", source]);
    run.expect_code(0);
    let out = &run.stdout;
    // Every dropped key of `contacts`, with its documents, values and an example `_id`; the two
    // other collections drop nothing.
    assert!(out.contains("Dropped keys"), "{out}");
    assert!(
        line(out, "contacts.Custom_Note").contains("4 not null"),
        "{out}"
    );
    assert!(line(out, "contacts.Custom_Note").contains("_id 1"), "{out}");
    assert!(
        line(out, "contacts.phone_number").contains("5 not null"),
        "{out}"
    );
    assert!(
        line(out, "contacts.phone_number").contains("_id 2"),
        "{out}"
    );
    assert!(
        line(out, "contacts.legacy_score").contains("3 not null"),
        "{out}"
    );
    assert!(
        line(out, "contacts.legacy_score").contains("_id 3"),
        "{out}"
    );
    assert!(
        line(out, "contacts.nickname").contains("0 not null"),
        "{out}"
    );
    let dropped = out
        .split("Dropped keys")
        .nth(1)
        .and_then(|rest| rest.split("Declared keys").next())
        .unwrap_or_default();
    assert_eq!(dropped.matches(" contacts.").count(), 4, "{dropped}");
    assert!(
        !dropped.contains("contacts_ignored") && !dropped.contains("contacts_lenient"),
        "{dropped}"
    );
    // Declared keys no document has, with the key that was meant.
    let note = line(out, "declared key `custom_note`");
    assert!(
        note.contains("`contacts`") && note.contains("`Custom_Note` (4 documents)"),
        "{note}"
    );
    let phone = line(out, "declared key `phone_numbr`");
    assert!(phone.contains("`phone_number` (5 documents)"), "{phone}");
    // Reported for the lenient and ignoring models too: a declared key never seen is a mistake
    // whatever the model drops on purpose.
    assert_eq!(
        out.matches("declared key `custom_note`").count(),
        3,
        "{out}"
    );

    // validate fails (exit 3) on the keys holding values, not on the key holding only nulls.
    let validate = cli.run(&["validate", "--source", source]);
    validate.expect_code(3);
    let v = &validate.stdout;
    for (key, documents) in [("Custom_Note", 4), ("phone_number", 5), ("legacy_score", 3)] {
        let l = line(v, &format!("FAILED key {key} dropped"));
        assert!(l.contains(&format!("{documents} document(s)")), "{l}");
    }
    assert!(
        line(v, "key nickname dropped").contains("(only nulls)"),
        "{v}"
    );
    assert!(line(v, "contacts: FAILED").starts_with("contacts:"), "{v}");
    assert!(
        line(v, "contacts_ignored: ok").contains("10 source documents"),
        "{v}"
    );
    assert!(
        line(v, "contacts_lenient: ok").contains("10 source documents"),
        "{v}"
    );
    assert!(v.contains("closest key seen: `Custom_Note`"), "{v}");

    let json = cli.run(&["validate", "--source", source, "--json"]);
    json.expect_code(3);
    let report: Value = serde_json::from_str(&json.stdout).expect("validate --json is JSON");
    assert_eq!(report["passed"], false);
    let contacts = &report["collections"][0];
    assert_eq!(contacts["collection"], "contacts");
    let dropped: Vec<(String, u64, u64)> = contacts["dropped_keys"]
        .as_array()
        .expect("dropped_keys")
        .iter()
        .map(|d| {
            (
                d["path"].as_str().unwrap_or_default().to_string(),
                d["documents"].as_u64().unwrap_or(0),
                d["non_null"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        dropped,
        [
            ("Custom_Note".to_string(), 4, 4),
            ("legacy_score".to_string(), 3, 3),
            ("nickname".to_string(), 2, 0),
            ("phone_number".to_string(), 5, 5),
        ]
    );

    // coverage: every path with its types and fate, from the census the run stored.
    let coverage = cli.run(&["coverage", "--json"]);
    coverage.expect_code(0);
    let coverage: Value = serde_json::from_str(&coverage.stdout).expect("coverage --json is JSON");
    let fates = |collection: usize| -> Vec<(String, String, u64)> {
        coverage["collections"][collection]["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .map(|k| {
                (
                    k["path"].as_str().unwrap_or_default().to_string(),
                    k["fate"]["fate"].as_str().unwrap_or_default().to_string(),
                    k["documents"].as_u64().unwrap_or(0),
                )
            })
            .collect()
    };
    let s = |p: &str, f: &str, n: u64| (p.to_string(), f.to_string(), n);
    assert_eq!(coverage["collections"][0]["collection"], "contacts");
    assert_eq!(coverage["collections"][0]["documents"], 10);
    assert_eq!(
        fates(0),
        [
            s("Custom_Note", "dropped", 4),
            s("_id", "column", 10),
            s("address", "column", 10),
            s("address.city", "inside_column", 10),
            s("address.zip", "inside_column", 10),
            s("legacy_score", "dropped", 3),
            s("name", "column", 10),
            s("nickname", "dropped", 2),
            s("phone_number", "dropped", 5),
        ]
    );
    let ignored: Vec<String> = fates(1).into_iter().map(|(_, f, _)| f).collect();
    assert_eq!(
        ignored.iter().filter(|f| *f == "ignored").count(),
        4,
        "{ignored:?}"
    );
    let lenient: Vec<String> = fates(2).into_iter().map(|(_, f, _)| f).collect();
    assert_eq!(
        lenient.iter().filter(|f| *f == "ignored").count(),
        4,
        "{lenient:?}"
    );
    assert_eq!(
        coverage["collections"][0]["keys"][3]["types"]["string"], 10,
        "address.city's types"
    );

    let human = cli.run(&["coverage"]);
    human.expect_code(0);
    assert!(
        line(&human.stdout, "legacy_score").contains("DROPPED"),
        "{}",
        human.stdout
    );
    assert!(line(&human.stdout, "address.zip").contains("inside jsonb contacts.address"));

    let status = cli.run(&["status"]);
    status.expect_code(0);
    let census = line(&status.stdout, "key census:");
    assert!(census.contains("4 dropped (3 holding values)"), "{census}");
    assert!(line(&status.stdout, "dropped contacts.legacy_score").contains("3 documents"));
}

#[test]
fn a_dry_run_names_the_dropped_keys_too() {
    let dir = dump();
    let source = dir.path().to_str().expect("a UTF-8 path");
    let cli = Cli::new(
        BIN,
        SchemaChoice::Keys,
        "postgres://unused@127.0.0.1:1/none",
    );
    let run = cli.run(&["migrate", "--dry-run", "--source", source]);
    run.expect_code(0);
    assert!(
        line(&run.stdout, "contacts.legacy_score").contains("3 not null"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("declared key `phone_numbr`"),
        "{}",
        run.stdout
    );
}
