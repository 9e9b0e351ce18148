//! Source files that are broken, empty, very large or missing: the run names the file (and the
//! byte or line), commits what came before, and resumes once the file is fixed.

use migrator::run_error::RunError;
use migrator::source::SourceError;
use migrator_e2e::cli::{Cli, SchemaChoice};
use migrator_e2e::data::{bson_bytes, canonical_lines, Dataset};
use migrator_e2e::fixture::{self, doc_mut, docs_mut};
use migrator_e2e::pg::{TestDb, TARGET};

use super::{
    clean_counts, clean_hashes, completed, dump, letter, letters, message_of, run_dump, Data, BIN,
};

/// A bad length prefix in the middle of `orders.bson`: the run stops naming the file and the
/// byte, the orders before it are committed, and after the file is fixed the same run resumes.
#[test]
fn corrupt_bson_in_the_middle_of_a_file() {
    let db = TestDb::create("corrupt_bson");
    let data = fixture::clean();
    let dir = dump(data.clone());
    let orders: Vec<bson::RawDocumentBuf> = Dataset::from_documents(data).docs("orders").to_vec();
    let good = bson_bytes(&orders[..12]);
    let corrupt = [
        good.clone(),
        vec![0xff, 0xff, 0xff, 0x7f],
        bson_bytes(&orders[12..]),
    ]
    .concat();
    let path = dir.path().join("orders.bson");
    std::fs::write(&path, corrupt).expect("write");

    let cli = Cli::new(BIN, SchemaChoice::Fixture, db.url());
    let source = dir.path().display().to_string();
    let args = ["migrate", "--source", source.as_str(), "--batch-size", "5"];
    let failed = cli.run(&args);
    failed.expect_code(1);
    let expected = format!(
        "{}: corrupt BSON at byte {}: bad length prefix 2147483647",
        path.display(),
        good.len()
    );
    assert!(failed.stderr.contains(&expected), "{}", failed.stderr);
    assert_eq!(
        db.table_count("orders"),
        12,
        "the orders before the corruption"
    );
    assert_eq!(db.checkpoint_totals()["orders"].1, 12);
    assert!(!db.tables(TARGET).is_empty());
    assert_eq!(
        db.stage().as_deref(),
        Some("loading"),
        "the run stopped in the load"
    );

    std::fs::write(&path, bson_bytes(&orders)).expect("fix the file");
    cli.run(&args).expect_code(0);
    assert_eq!(
        &db.table_hashes(),
        clean_hashes(),
        "resumed: every row once"
    );
    assert!(db.dead_letters().is_empty());
}

/// A document whose frame is sound but whose inside is not (invalid UTF-8 in a string): the
/// file reads on, and the document is a dead letter naming its `_id` and the field.
#[test]
fn a_document_malformed_inside_is_a_dead_letter() {
    let db = TestDb::create("malformed_inside");
    let data = fixture::clean();
    let dir = dump(data.clone());
    let orders: Vec<bson::RawDocumentBuf> = Dataset::from_documents(data).docs("orders").to_vec();
    let mut bytes = bson_bytes(&orders);
    let seventh: usize = orders[..6].iter().map(|d| d.as_bytes().len()).sum();
    let status = b"status\0";
    let at = seventh
        + orders[6]
            .as_bytes()
            .windows(status.len())
            .position(|w| w == status)
            .expect("order 7 has a status");
    // The key, the string's length prefix, then its first byte.
    bytes[at + status.len() + 4] = 0xff;
    std::fs::write(dir.path().join("orders.bson"), bytes).expect("write");

    let report = completed(&db, dir.path(), 4);
    assert_eq!(report.collections["orders"].documents, 30);
    assert_eq!(
        letters(&db),
        vec![letter("orders", "7", "transform", "status", "invalid")]
    );
    let reason = message_of(&db, "orders", "7");
    assert!(
        reason.contains("malformed BSON") && reason.contains("UTF-8"),
        "{reason}"
    );
    assert_eq!(db.table_counts()["orders"], 29);
}

/// A line of an export that is not JSON, and one whose `$oid` is not hexadecimal: each stops the
/// run naming the file, the byte and the line, after committing the documents before it.
#[test]
fn invalid_extended_json_in_an_export() {
    let data = fixture::clean();
    let lines: Vec<String> = canonical_lines(Dataset::from_documents(data.clone()).docs("orders"))
        .lines()
        .map(str::to_string)
        .collect();
    let cases = [
        (
            r#"{"_id": {"$numberInt": "8"}, "status": "pending", "customer_id": }"#,
            "line 8",
        ),
        (
            r#"{"_id": {"$oid": "not-hex"}, "status": "pending"}"#,
            "line 8",
        ),
    ];
    for (i, (bad, line)) in cases.iter().enumerate() {
        let db = TestDb::create(&format!("invalid_ejson_{i}"));
        let dir = tempfile::tempdir().expect("temp dir");
        Dataset::from_documents(data.clone()).write_export(dir.path());
        let path = dir.path().join("orders.json");
        let mut broken = lines.clone();
        broken[7] = bad.to_string();
        std::fs::write(&path, broken.join("\n") + "\n").expect("write");

        let cli = Cli::new(BIN, SchemaChoice::Fixture, db.url());
        let source = dir.path().display().to_string();
        let args = ["migrate", "--source", source.as_str(), "--batch-size", "5"];
        let failed = cli.run(&args);
        failed.expect_code(1);
        let offset: usize = lines[..7].iter().map(|l| l.len() + 1).sum();
        let prefix = format!("{}: invalid Extended JSON at byte ", path.display());
        assert!(
            failed.stderr.contains(&prefix) && failed.stderr.contains(&format!("({line})")),
            "{}",
            failed.stderr
        );
        let at: usize = failed.stderr
            [failed.stderr.find(&prefix).expect("prefix") + prefix.len()..]
            .split(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .expect("a byte offset");
        // The offset is the document's first byte: where line 8 starts.
        assert_eq!(
            at, offset,
            "byte {at} is not where line 8 starts ({offset}): {}",
            failed.stderr
        );
        assert_eq!(db.table_count("orders"), 7, "the orders before line 8");

        std::fs::write(&path, lines.join("\n") + "\n").expect("fix the file");
        cli.run(&args).expect_code(0);
        assert_eq!(
            &db.table_hashes(),
            clean_hashes(),
            "case {i}: resumed, every row once"
        );
    }
}

/// A document just under BSON's 16 MiB limit migrates whole.
#[test]
fn a_document_near_the_16_mb_limit_migrates() {
    let db = TestDb::create("big_document");
    let mut data = fixture::clean();
    let size = 16 * 1024 * 1024 - 1024;
    let text = "x".repeat(size);
    doc_mut(&mut data, "products", 1).insert("description", text);
    let bytes = doc_mut(&mut data, "products", 1)
        .to_vec()
        .expect("serialize");
    assert!(
        bytes.len() > 16_000_000 && bytes.len() <= 16 * 1024 * 1024,
        "{}",
        bytes.len()
    );
    let dir = dump(data);
    completed(&db, dir.path(), 1000);
    assert!(db.dead_letters().is_empty());
    assert_eq!(
        db.scalar("SELECT length(description)::text FROM public.products WHERE id = 1"),
        Some(size.to_string())
    );
    assert_eq!(db.table_counts(), clean_counts());
}

/// An empty `.bson` file: an empty table, and the run completes.
#[test]
fn an_empty_collection_gives_an_empty_table() {
    let db = TestDb::create("empty_collection");
    let mut data = fixture::clean();
    docs_mut(&mut data, "shipments").clear();
    let dir = dump(data);
    assert_eq!(
        std::fs::metadata(dir.path().join("shipments.bson"))
            .expect("file")
            .len(),
        0
    );
    completed(&db, dir.path(), 1000);
    let mut want = clean_counts();
    want.insert("shipments".into(), 0);
    assert_eq!(db.table_counts(), want);
    assert_eq!(db.checkpoint_totals()["shipments"], (1, 0, 0, 0, true));
    assert_eq!(db.stage().as_deref(), Some("done"));
}

/// Collections the models need but the source lacks are all named, before anything is written.
#[test]
fn a_missing_collection_is_named_and_nothing_is_written() {
    let db = TestDb::create("missing_collection");
    let data: Data = fixture::clean()
        .into_iter()
        .filter(|(name, _)| *name != "shipments" && *name != "coupons")
        .collect();
    let dir = dump(data);
    let err = run_dump(&db, dir.path(), 1000).expect_err("collections are missing");
    assert!(
        matches!(
            &err,
            RunError::Source(SourceError::MissingCollection { .. })
        ),
        "{err:?}"
    );
    let cli = Cli::new(BIN, SchemaChoice::Fixture, db.url());
    let source = dir.path().display().to_string();
    let failed = cli.run(&["migrate", "--source", source.as_str()]);
    failed.expect_code(1);
    for name in ["`coupons`", "`shipments`"] {
        assert!(failed.stderr.contains(name), "{name}: {}", failed.stderr);
    }
    assert!(
        failed
            .stderr
            .contains(&format!("mongodump directory {source}")),
        "{}",
        failed.stderr
    );
    assert!(db.tables(TARGET).is_empty(), "no table was created");
    assert_eq!(db.stage(), None, "no run was recorded");
}
