//! Bad documents: wrong types and undeclared keys become dead letters, dangling references
//! follow their policy, and `--max-errors` stops the run.

use bson::{doc, Bson};
use migrator::model::MissingPolicy;
use migrator::sink::ddl::Ddl;
use migrator_e2e::cli::{Cli, SchemaChoice};
use migrator_e2e::expect::orphans;
use migrator_e2e::fixture::{self, doc_mut};
use migrator_e2e::pg::{TestDb, TARGET};

use super::{completed, dump, letter, letters, message_of, schema, BIN};

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
