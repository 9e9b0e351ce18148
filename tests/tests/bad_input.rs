//! Bad input through the fixture schema: each case names the file or collection, the `_id` and
//! the field, and loses nothing already written. Corrupt files stop the run after committing
//! what came before and resume once fixed; bad documents become dead letters and the run goes on.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use bson::{doc, Bson, Document};
use migrator::model::MissingPolicy;
use migrator::pipeline::config::RunConfig;
use migrator::progress::{Event, Observer};
use migrator::report::{Outcome, RunReport};
use migrator::run_error::RunError;
use migrator::sink::ddl::Ddl;
use migrator::source::{DumpSource, SourceError};
use migrator::Schema;
use migrator_e2e::cli::{Cli, SchemaChoice};
use migrator_e2e::data::{bson_bytes, canonical_lines, Dataset};
use migrator_e2e::expect::orphans;
use migrator_e2e::fixture::{self, doc_mut, docs_mut, CLEAN_ROWS};
use migrator_e2e::pg::{TableHashes, TestDb, STATE, TARGET};

const BIN: &str = env!("CARGO_BIN_EXE_e2e-migrate");

fn schema() -> Schema {
    fixture::schema().expect("the fixture schema")
}

type Data = Vec<(&'static str, Vec<Document>)>;

fn dump(data: Data) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    Dataset::from_documents(data).write_dump(dir.path());
    dir
}

fn config(db: &TestDb, batch: usize) -> RunConfig {
    let mut config = db.config();
    config.batch_documents = batch;
    config
}

fn run_dump(db: &TestDb, dir: &Path, batch: usize) -> Result<RunReport, RunError> {
    let source = Arc::new(DumpSource::open(dir).expect("the dump opens"));
    db.run(&schema(), source, config(db, batch))
}

fn completed(db: &TestDb, dir: &Path, batch: usize) -> RunReport {
    let report = run_dump(db, dir, batch).unwrap_or_else(|e| panic!("the run failed: {e}"));
    assert_eq!(report.outcome, Outcome::Completed);
    report
}

fn clean_counts() -> BTreeMap<String, i64> {
    CLEAN_ROWS
        .iter()
        .map(|(t, n)| (t.to_string(), *n))
        .collect()
}

/// Every table of the clean data set after an uninterrupted run.
fn clean_hashes() -> &'static TableHashes {
    static CLEAN: OnceLock<TableHashes> = OnceLock::new();
    CLEAN.get_or_init(|| {
        let db = TestDb::create("bad_input_clean");
        let dir = dump(fixture::clean());
        completed(&db, dir.path(), 1000);
        assert_eq!(db.table_counts(), clean_counts());
        assert!(db.dead_letters().is_empty());
        assert!(db.reference_issues().is_empty());
        db.table_hashes()
    })
}

/// The rows per table a run's summary reports.
fn reported_rows(report: &RunReport) -> BTreeMap<String, i64> {
    report
        .collections
        .values()
        .flat_map(|c| c.rows.iter())
        .map(|(table, n)| (table.clone(), i64::try_from(*n).expect("a row count")))
        .collect()
}

/// (collection, `_id`, stage, field, class) of every dead letter.
fn letters(db: &TestDb) -> Vec<[String; 5]> {
    db.dead_letters()
        .into_iter()
        .map(|l| std::array::from_fn(|i| l[i].clone()))
        .collect()
}

fn letter(collection: &str, id: &str, stage: &str, field: &str, class: &str) -> [String; 5] {
    [collection, id, stage, field, class].map(str::to_string)
}

fn message_of(db: &TestDb, collection: &str, id: &str) -> String {
    db.dead_letters()
        .into_iter()
        .find(|l| l[0] == collection && l[1] == id)
        .map(|l| l[5].clone())
        .unwrap_or_else(|| panic!("no dead letter for {collection} {id}"))
}

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

/// A table of the target already there (create mode): the run stops naming it before it writes
/// anything, not even its own state; once the table is gone the same run goes through.
#[test]
fn a_table_already_in_the_target_stops_the_run_before_any_row() {
    let db = TestDb::create("table_in_the_way");
    let dir = dump(fixture::clean());
    db.rows("CREATE TABLE public.shipments (stray integer)");
    let error = run_dump(&db, dir.path(), 5).expect_err("shipments exists");
    let message = error.to_string();
    assert!(
        message.contains("`public` already holds shipments, which this run creates"),
        "{message}"
    );
    assert_eq!(db.tables(TARGET), ["shipments"], "nothing else created");
    assert_eq!(db.table_count("shipments"), 0);
    assert_eq!(db.stage(), None, "no run recorded");

    db.rows("DROP TABLE public.shipments");
    completed(&db, dir.path(), 5);
    assert_eq!(&db.table_hashes(), clean_hashes());
}

/// A run stopped after creating some of its tables (here the name of the table created last is
/// taken by a type, which the check before creating does not look for) creates the rest when it
/// resumes, and ends with the tables of an uninterrupted run.
#[test]
fn a_run_stopped_while_creating_its_tables_creates_the_rest_on_resume() {
    let db = TestDb::create("tables_half_created");
    let dir = dump(fixture::clean());
    // The smallest collection loads last, so its table is created last.
    let mut sizes: Vec<(u64, String)> = std::fs::read_dir(dir.path())
        .expect("the dump")
        .filter_map(|e| {
            let path = e.ok()?.path();
            let name = path
                .file_name()?
                .to_str()?
                .strip_suffix(".bson")?
                .to_string();
            Some((std::fs::metadata(&path).ok()?.len(), name))
        })
        .collect();
    sizes.sort();
    assert!(sizes.len() > 2 && sizes[0].0 < sizes[1].0, "{sizes:?}");
    let last = sizes[0].1.clone();
    db.rows(&format!("CREATE TYPE public.{last} AS ENUM ('x')"));
    let error = run_dump(&db, dir.path(), 5).expect_err("the type is in the way");
    let message = error.to_string();
    assert!(
        message.contains(&format!("CREATE TABLE \"public\".\"{last}\""))
            && message.contains("already exists"),
        "{message}"
    );
    assert_eq!(db.stage().as_deref(), Some("loading"));
    let created = db.tables(TARGET);
    assert!(
        created.len() > 1 && !created.contains(&last),
        "the other tables exist: {created:?}"
    );

    db.rows(&format!("DROP TYPE public.{last}"));
    completed(&db, dir.path(), 5);
    assert_eq!(&db.table_hashes(), clean_hashes());
}

/// The summary's rows are the rows in the tables even when the references stage is resumed
/// after an attempt that removed some (a skip or a rejection commits before the stage ends): the
/// resumed run finds nothing left to remove, and counts the tables rather than trusting the
/// rows its batches wrote.
#[test]
fn a_resumed_references_stage_reports_the_rows_that_are_there() {
    let db = TestDb::create("references_resumed_rows");
    let dir = dump(fixture::clean());
    let source = Arc::new(DumpSource::open(dir.path()).expect("the dump opens"));
    let mut load_only = config(&db, 5);
    load_only.skip_finish = true;
    let loaded = db
        .run(&schema(), source, load_only)
        .unwrap_or_else(|e| panic!("the load failed: {e}"));
    assert_eq!(loaded.outcome, Outcome::Completed);
    assert_eq!(db.stage().as_deref(), Some("references"));
    // What the earlier attempt left: one junction row removed, committed.
    let removed = db.rows(&format!(
        "DELETE FROM {TARGET}.order_products WHERE ctid = \
         (SELECT min(ctid) FROM {TARGET}.order_products) RETURNING order_id::text"
    ));
    assert_eq!(removed.len(), 1);

    let report = completed(&db, dir.path(), 5);
    let reported = reported_rows(&report);
    let mut expected = clean_counts();
    *expected
        .get_mut("order_products")
        .expect("the junction table") -= 1;
    assert_eq!(db.table_counts(), expected);
    assert_eq!(reported, expected);
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

/// Values of the wrong type, also deep in a child array, and a value outside the enum: dead
/// letters with the field path and the reason; the rows that hang off them are skipped.
#[test]
fn wrong_types_become_dead_letters_with_field_path_and_reason() {
    let db = TestDb::create("wrong_types");
    let mut data = fixture::clean();
    doc_mut(&mut data, "orders", 5).insert("customer_id", "seven");
    let order = doc_mut(&mut data, "orders", 8);
    order.insert(
        "lines",
        vec![
            Bson::Document(doc! {"sku": "a", "quantity": 1, "price": 1.0}),
            Bson::Document(doc! {"sku": "b", "quantity": "many", "price": 1.0}),
        ],
    );
    doc_mut(&mut data, "orders", 11).insert("status", "lost");
    doc_mut(&mut data, "products", 4).insert("price", true);
    let dir = dump(data);
    completed(&db, dir.path(), 4);

    assert_eq!(
        letters(&db),
        vec![
            letter("orders", "11", "transform", "status", "not_in_enum"),
            letter("orders", "5", "transform", "customer_id", "wrong_type"),
            letter(
                "orders",
                "8",
                "transform",
                "lines[1].quantity",
                "wrong_type"
            ),
            letter("products", "4", "transform", "price", "wrong_type"),
        ]
    );
    // The offending value is shown beside the expected type.
    let reason = message_of(&db, "orders", "8");
    assert!(reason.contains("found string \"many\""), "{reason}");
    let reason = message_of(&db, "products", "4");
    assert!(reason.contains("found bool true"), "{reason}");
    let reason = message_of(&db, "orders", "11");
    assert!(
        reason.contains("`lost`") && reason.contains("pending"),
        "{reason}"
    );
    let rows = db.table_counts();
    assert_eq!(rows["orders"], 27);
    assert_eq!(rows["products"], 9);
    // Shipments of the three rejected orders are skipped; junction rows to product 4 too.
    assert_eq!(rows["shipments"], 17);
    let issues = db.reference_issues();
    let skipped: Vec<(&str, &str)> = issues
        .iter()
        .filter(|i| i[2] == "shipments")
        .map(|i| (i[4].as_str(), i[5].as_str()))
        .collect();
    assert_eq!(skipped, [("11", "skip"), ("5", "skip"), ("8", "skip")]);
    assert!(issues
        .iter()
        .filter(|i| i[2] == "order_products")
        .all(|i| i[4] == "4" && i[5] == "skip"));
    assert_eq!(
        db.count("SELECT 1 FROM public.order_products WHERE product_id = 4"),
        0
    );

    // The CLI lists them by collection, field and class, with an `_id`.
    let cli = Cli::new(BIN, SchemaChoice::Fixture, db.url());
    let listed = cli.run(&["errors", "list"]);
    listed.expect_code(0);
    for field in ["lines[].quantity", "customer_id", "status", "price"] {
        assert!(listed.stdout.contains(field), "{field}: {}", listed.stdout);
    }
    assert!(listed.stdout.contains("_id 5"), "{}", listed.stdout);
}

/// `unknown_fields = "reject"` rejects a product with an extra key, naming it; other models
/// ignore extra keys.
#[test]
fn unknown_fields_are_rejected_where_the_model_says_so() {
    let db = TestDb::create("unknown_fields");
    let mut data = fixture::clean();
    doc_mut(&mut data, "products", 3).insert("colour", "red");
    doc_mut(&mut data, "customers", 2).insert("nickname", "bee");
    let dir = dump(data);
    completed(&db, dir.path(), 1000);
    assert_eq!(
        letters(&db),
        vec![letter(
            "products",
            "3",
            "transform",
            "colour",
            "unknown_field"
        )]
    );
    assert_eq!(db.table_count("products"), 9);
    assert_eq!(
        db.table_count("customers"),
        12,
        "extra keys elsewhere are ignored"
    );
    assert_eq!(
        db.count("SELECT 1 FROM public.order_products WHERE product_id = 3"),
        0
    );
}

/// One dangling reference per policy: `reject` removes the order with its junction and child
/// rows (and the shipment of it is skipped in turn), `null` clears the column, `skip` drops the
/// junction row or the document's row, `keep` keeps the value without a foreign key.
#[test]
fn dangling_references_follow_their_policy() {
    let db = TestDb::create("dangling");
    let mut data = fixture::clean();
    doc_mut(&mut data, "orders", 2).insert("customer_id", 999);
    doc_mut(&mut data, "orders", 6).insert("coupon_id", 77);
    doc_mut(&mut data, "orders", 10).insert("products", vec![1, 55]);
    doc_mut(&mut data, "orders", 15).insert("referrer", "ghost@example.com");
    doc_mut(&mut data, "shipments", 20).insert("order_id", 404);
    let dir = dump(data);
    let report = completed(&db, dir.path(), 7);

    assert_eq!(
        letters(&db),
        vec![letter(
            "orders",
            "2",
            "reference",
            "customer_id",
            "missing_reference"
        )]
    );
    let reason = message_of(&db, "orders", "2");
    assert!(
        reason.contains("customers.id") && reason.contains("999"),
        "{reason}"
    );
    assert_eq!(
        db.count("SELECT 1 FROM public.orders WHERE id = 2")
            + db.count("SELECT 1 FROM public.order_lines WHERE order_id = 2")
            + db.count("SELECT 1 FROM public.order_products WHERE order_id = 2")
            + db.count("SELECT 1 FROM public.shipments WHERE order_id = 2"),
        0,
        "the rejected order and everything hanging off it are gone"
    );
    assert_eq!(
        db.scalar("SELECT coalesce(coupon_id::text, 'NULL') FROM public.orders WHERE id = 6")
            .as_deref(),
        Some("NULL")
    );
    assert_eq!(
        db.count("SELECT 1 FROM public.order_products WHERE order_id = 10"),
        1
    );
    assert_eq!(
        db.scalar("SELECT referrer FROM public.orders WHERE id = 15")
            .as_deref(),
        Some("ghost@example.com")
    );
    assert_eq!(db.count("SELECT 1 FROM public.shipments WHERE id = 20"), 0);

    let issues: Vec<(String, String, String, String)> = db
        .reference_issues()
        .into_iter()
        .map(|i| (i[2].clone(), i[3].clone(), i[4].clone(), i[5].clone()))
        .collect();
    let want = [
        ("order_products", "product_id", "55", "skip"),
        ("orders", "coupon_id", "77", "null"),
        ("orders", "referrer", "ghost@example.com", "keep"),
        ("shipments", "order_id", "2", "skip"),
        ("shipments", "order_id", "404", "skip"),
    ];
    let mut got = issues.clone();
    got.sort();
    let want: Vec<(String, String, String, String)> = want
        .iter()
        .map(|(a, b, c, d)| (a.to_string(), b.to_string(), c.to_string(), d.to_string()))
        .collect();
    assert_eq!(got, want);
    let counted: Vec<(&str, &str, &str, u64, u64, u64)> = report
        .references
        .iter()
        .map(|r| {
            (
                r.table.as_str(),
                r.column.as_str(),
                r.action.as_str(),
                r.rows,
                r.distinct_values,
                r.documents_removed,
            )
        })
        .collect();
    assert_eq!(
        counted,
        [
            ("order_products", "product_id", "skip", 1, 1, 0),
            ("orders", "coupon_id", "null", 1, 1, 0),
            ("orders", "customer_id", "reject", 1, 1, 1),
            ("orders", "referrer", "keep", 1, 1, 0),
            ("shipments", "order_id", "skip", 2, 2, 2),
        ],
        "{:?}",
        report.references
    );

    let schema = schema();
    for o in orphans(&db, &schema) {
        match o.policy {
            MissingPolicy::Keep => assert_eq!(o.count, 1, "{o:?}"),
            _ => assert_eq!(o.count, 0, "{o:?}"),
        }
    }
    let fks: Vec<String> = db.foreign_keys().into_iter().map(|(n, _)| n).collect();
    let wanted: Vec<String> = {
        let mut w: Vec<String> = Ddl::new(&schema, Some(TARGET))
            .foreign_keys
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        w.sort();
        w
    };
    assert_eq!(fks, wanted);
    assert!(fks.iter().any(|f| f.contains("coupon_id")));
    assert!(
        !fks.iter().any(|f| f.contains("referrer")),
        "no key for a kept reference"
    );
}

/// Two documents with the same `_id`, and two customers with the same unique email, in one
/// batch: the second of each is a load-stage dead letter naming the column; the rest lands.
#[test]
fn duplicate_ids_are_load_stage_dead_letters() {
    let db = TestDb::create("duplicate_ids");
    let mut data = fixture::clean();
    let customers = docs_mut(&mut data, "customers");
    customers.insert(
        3,
        doc! {"_id": 3, "name": "again", "email": "other@example.com"},
    );
    customers.push(doc! {"_id": 13, "name": "copycat", "email": fixture::email(1)});
    let dir = dump(data);
    completed(&db, dir.path(), 20);
    assert_eq!(
        letters(&db),
        vec![
            letter("customers", "13", "load", "email", "unique_violation"),
            letter("customers", "3", "load", "id", "unique_violation"),
        ]
    );
    let reason = message_of(&db, "customers", "3");
    assert!(reason.contains("already exists"), "{reason}");
    assert_eq!(
        db.scalar("SELECT name FROM public.customers WHERE id = 3")
            .as_deref(),
        Some("customer 3"),
        "the first document with the `_id` stays"
    );
    assert_eq!(&db.table_hashes(), clean_hashes());
}

/// Which of two documents sharing a unique value is kept does not depend on how the source is
/// split: the first in the file, for 1, 2 and 7 partitions. The pair sits far apart (the first
/// near the end of the first partition, the second at the start of a later one), so partitions
/// loading side by side would commit the second first.
#[test]
fn the_first_of_two_repeats_is_kept_whatever_the_partitions() {
    let mut data = fixture::clean();
    let padding = "p".repeat(1000);
    let customers = docs_mut(&mut data, "customers");
    for i in 0..1000 {
        let email = match i {
            130 | 520 => "shared@example.com".to_string(),
            _ => format!("bulk{i}@example.com"),
        };
        customers.push(
            doc! {"_id": 1000 + i, "name": format!("bulk {i}"), "email": email, "bio": &padding},
        );
    }
    let dir = dump(data);
    for partitions in [1, 2, 7] {
        let db = TestDb::create(&format!("repeats_partitions_{partitions}"));
        let source = Arc::new(DumpSource::open(dir.path()).expect("the dump opens"));
        let mut config = config(&db, 5);
        config.partitions = partitions;
        config.adaptive_partitions = false;
        config.jobs = 2;
        let report = db
            .run(&schema(), source, config)
            .unwrap_or_else(|e| panic!("the run with {partitions} partitions failed: {e}"));
        assert_eq!(report.outcome, Outcome::Completed);
        assert_eq!(
            db.scalar("SELECT id::text FROM public.customers WHERE email = 'shared@example.com'")
                .as_deref(),
            Some("1130"),
            "{partitions} partitions: the first document in the file is kept"
        );
        assert_eq!(
            letters(&db),
            vec![letter(
                "customers",
                "1520",
                "load",
                "email",
                "unique_violation"
            )],
            "{partitions} partitions"
        );
    }
}

/// Records the events of a run and stops it when the collection `stop_on` starts loading again
/// (its keys were refused).
#[derive(Default)]
struct StopOnReload {
    stop_on: &'static str,
    stop: Arc<AtomicBool>,
    notes: Mutex<Vec<String>>,
    committed: Mutex<BTreeSet<String>>,
}

impl StopOnReload {
    /// Runs the dump in `dir` (batches of 5) watched by `self`, stopped by its flag.
    fn run(self: &Arc<Self>, db: &TestDb, dir: &Path) -> RunReport {
        let source = Arc::new(DumpSource::open(dir).expect("the dump opens"));
        db.run_observed(
            &schema(),
            source,
            config(db, 5),
            self.clone(),
            Arc::clone(&self.stop),
        )
        .unwrap_or_else(|e| panic!("the run failed: {e}"))
    }
}

impl Observer for StopOnReload {
    fn event(&self, event: &Event) {
        match event {
            Event::Note { message } => {
                if message.contains(&format!("loading `{}` again", self.stop_on)) {
                    self.stop.store(true, Ordering::SeqCst);
                }
                self.notes.lock().expect("notes").push(message.clone());
            }
            Event::BatchCommitted { collection, .. } => {
                self.committed
                    .lock()
                    .expect("collections")
                    .insert(collection.clone());
            }
            _ => {}
        }
    }
}

/// Keys are built after the load. A unique email that repeats makes PostgreSQL refuse the keys
/// of `customers` as a whole: `customers` alone is emptied and loaded again into its tables with
/// their keys, so the repeat is a dead letter naming its `_id` and column and the first document
/// stays. Stopped as that second load starts, the run resumes it (and reads nothing else again);
/// the rows and the summary are those of a load into keyed tables.
#[test]
fn refused_keys_load_their_collection_again_and_resume() {
    let db = TestDb::create("keys_refused");
    let mut data = fixture::clean();
    docs_mut(&mut data, "customers")
        .push(doc! {"_id": 13, "name": "copycat", "email": fixture::email(1)});
    let dir = dump(data);
    let observer = Arc::new(StopOnReload {
        stop_on: "customers",
        ..StopOnReload::default()
    });
    let stopped = observer.run(&db, dir.path());
    assert_eq!(stopped.outcome, Outcome::Interrupted);
    let notes = observer.notes.lock().expect("notes").clone();
    assert!(
        notes.iter().any(|n| n.contains("customers_email_key")),
        "the note names the refused key: {notes:?}"
    );
    // Forgotten and emptied together, with the stage that sends the run back to loading.
    assert_eq!(db.stage().as_deref(), Some("loading"));
    assert_eq!(db.table_counts().get("customers"), Some(&0));
    // Planned again as one partition (read in the file's order), none of it loaded.
    assert_eq!(
        db.scalar(&format!(
            "SELECT count(*)::text || ' ' || sum(documents)::text FROM {STATE}.checkpoints \
             WHERE collection = 'customers'"
        ))
        .as_deref(),
        Some("1 0")
    );
    assert!(letters(&db).iter().all(|l| l[0] != "customers"));

    let resumed = Arc::new(StopOnReload::default());
    let report = resumed.run(&db, dir.path());
    assert_eq!(report.outcome, Outcome::Completed);
    assert_eq!(
        *resumed.committed.lock().expect("collections"),
        BTreeSet::from(["customers".to_string()]),
        "only the collection whose keys were refused is read again"
    );
    assert_eq!(
        letters(&db),
        vec![letter(
            "customers",
            "13",
            "load",
            "email",
            "unique_violation"
        )]
    );
    assert_eq!(&db.table_hashes(), clean_hashes());
    let reported = reported_rows(&report);
    assert_eq!(reported, clean_counts());
    assert_eq!(
        db.scalar(&format!(
            "SELECT count(*)::text FROM pg_constraint WHERE conname = 'customers_email_key' \
             AND connamespace = '{TARGET}'::regnamespace"
        ))
        .as_deref(),
        Some("1")
    );
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

/// `--max-errors 2` stops the run (exit 4) after the batch that passes it; raising the limit
/// resumes it, and every dead letter is recorded once.
#[test]
fn max_errors_stops_the_run_and_a_raised_limit_resumes() {
    let db = TestDb::create("max_errors");
    let mut data = fixture::clean();
    let bad = [3, 6, 9, 12, 21, 27];
    for id in bad {
        doc_mut(&mut data, "orders", id).insert("status", 0);
    }
    let dir = dump(data);
    let cli = Cli::new(BIN, SchemaChoice::Fixture, db.url());
    let source = dir.path().display().to_string();
    let args = |limit: &'static str| {
        vec![
            "migrate",
            "--source",
            source.as_str(),
            "--batch-size",
            "4",
            "--max-errors",
            limit,
        ]
    };
    let stopped = cli.run(&args("2"));
    stopped.expect_code(4);
    assert!(
        stopped.stdout.contains("stopped after")
            && stopped.stdout.contains("--max-errors exceeded"),
        "{}",
        stopped.stdout
    );
    assert_eq!(db.stage().as_deref(), Some("loading"));
    let first = letters(&db).len();
    assert!(
        (3..6).contains(&first),
        "{first} dead letters when it stopped"
    );
    assert!(db.table_count("orders") < 24, "the run stopped early");

    // Completed with the 6 rejections: exit 6 unless they are accepted.
    let mut resumed = args("10");
    resumed.extend(["--accept-rejected", "6"]);
    cli.run(&resumed).expect_code(0);
    let got = letters(&db);
    let mut want: Vec<[String; 5]> = bad
        .iter()
        .map(|id| {
            letter(
                "orders",
                &id.to_string(),
                "transform",
                "status",
                "wrong_type",
            )
        })
        .collect();
    want.sort();
    assert_eq!(got, want, "each bad order once");
    // The dead-letter file of the two runs has each of them once too.
    let file = std::fs::read_to_string(cli.dir().join("migrator-dead-letters.jsonl"))
        .expect("the dead-letter file");
    let mut ids: Vec<String> = file
        .lines()
        .map(|line| {
            let letter: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
            letter["document_id"]
                .as_str()
                .expect("document_id")
                .to_string()
        })
        .collect();
    ids.sort();
    let mut want_ids: Vec<String> = bad.iter().map(i32::to_string).collect();
    want_ids.sort();
    assert_eq!(ids, want_ids, "{file}");
    assert_eq!(db.table_count("orders"), 24);
    assert_eq!(db.stage().as_deref(), Some("done"));
}

/// `--dry-run` reads and transforms everything, reports the rejections, and writes nothing:
/// no schema, no table, no dead-letter file.
#[test]
fn dry_run_writes_nothing() {
    let db = TestDb::create("dry_run");
    let mut data = fixture::clean();
    doc_mut(&mut data, "orders", 4).insert("customer_id", "four");
    let dir = dump(data);
    let cli = Cli::new(BIN, SchemaChoice::Fixture, db.url());
    let source = dir.path().display().to_string();
    let done = cli.run(&["migrate", "--dry-run", "--source", source.as_str()]);
    done.expect_code(0);
    assert!(
        done.stdout.contains("dry run: nothing was written"),
        "{}",
        done.stdout
    );
    assert!(done.stdout.contains("customer_id"), "{}", done.stdout);
    let schemas = db.rows(
        "SELECT nspname::text FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' \
         AND nspname <> 'information_schema' ORDER BY 1",
    );
    assert_eq!(schemas, vec![vec![Some("public".to_string())]]);
    assert!(db.tables(TARGET).is_empty());
    let files: Vec<_> = std::fs::read_dir(cli.dir())
        .expect("dir")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| !n.starts_with("run-"))
        .collect();
    assert!(files.is_empty(), "{files:?}");
}

/// Holds the load back when the last collection finishes, until the keys of the first one to
/// finish exist (polled from a thread of its own, at most 20 s): they are built while the load
/// goes on, not after it.
struct HoldUntilEarlyKeys {
    url: String,
    finished: Mutex<Vec<String>>,
    /// Whether the first collection's primary key was there before the load ended.
    seen: AtomicBool,
}

impl Observer for HoldUntilEarlyKeys {
    fn event(&self, event: &Event) {
        let Event::CollectionFinished { collection } = event else {
            return;
        };
        let mut finished = self.finished.lock().expect("finished");
        finished.push(collection.clone());
        if finished.len() < fixture::COLLECTIONS.len() {
            return;
        }
        let first = finished[0].clone();
        let url = self.url.clone();
        let found = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async move {
                use sqlx::Connection;
                let mut conn = sqlx::PgConnection::connect(&url).await.expect("connect");
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
                while std::time::Instant::now() < deadline {
                    let keyed: bool = sqlx::query_scalar(
                        "SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE contype = 'p' \
                         AND conrelid = to_regclass($1))",
                    )
                    .bind(format!("public.{first}"))
                    .fetch_one(&mut conn)
                    .await
                    .expect("query");
                    if keyed {
                        return true;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                false
            })
        })
        .join()
        .expect("the polling thread");
        self.seen.store(found, Ordering::SeqCst);
    }
}

/// The keys (and indexes) of a collection are built as soon as its load is done, while the
/// other collections load; the run then ends as an uninterrupted one does.
#[test]
fn keys_of_loaded_collections_are_built_while_the_others_load() {
    let db = TestDb::create("early_keys");
    let dir = dump(fixture::clean());
    let observer = Arc::new(HoldUntilEarlyKeys {
        url: db.url().to_string(),
        finished: Mutex::new(Vec::new()),
        seen: AtomicBool::new(false),
    });
    let source = Arc::new(DumpSource::open(dir.path()).expect("the dump opens"));
    let report = db
        .run_observed(
            &schema(),
            source,
            config(&db, 5),
            observer.clone(),
            Arc::new(AtomicBool::new(false)),
        )
        .unwrap_or_else(|e| panic!("the run failed: {e}"));
    assert_eq!(report.outcome, Outcome::Completed);
    assert!(
        observer.seen.load(Ordering::SeqCst),
        "the first collection loaded had its primary key before the load ended"
    );
    assert_eq!(&db.table_hashes(), clean_hashes());
    assert!(db.dead_letters().is_empty());
}
