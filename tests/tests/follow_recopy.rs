//! A follow that stopped at a collection dropped, then at one renamed, goes on after `follow
//! --recopy` copies those collections again: every table then equals a fresh migration of the
//! source's final state, with the same documents rejected, and the changes the other
//! collections had meanwhile are not lost. The collection made again is read in ranges, two at
//! a time, and its key census is counted anew: it equals the fresh migration's.

use std::time::Duration;

use bson::{doc, RawDocumentBuf};
use migrator_e2e::changes::Workload;
use migrator_e2e::cli::{Cli, SchemaChoice};
use migrator_e2e::fixture;
use migrator_e2e::follow::{rejected, source};
use migrator_e2e::mongo::MongoDb;
use migrator_e2e::pg::TestDb;

const BIN: &str = env!("CARGO_BIN_EXE_e2e-migrate");

/// The target equals a fresh migration of the source, and so does the key census of the
/// collections `recopied`.
fn assert_same(followed: &TestDb, mongo: &MongoDb, recopied: &str) {
    let expected = TestDb::create("recopy_oracle");
    let cli = Cli::new(BIN, SchemaChoice::Fixture, expected.url());
    cli.run(&[
        "migrate",
        "--source",
        &source(mongo),
        "--accept-rejected",
        "100%",
        // A collection renamed away is absent from the source.
        "--absent-ok",
        "coupons",
    ])
    .expect_code(0);
    assert_eq!(
        followed.table_hashes(),
        expected.table_hashes(),
        "the target differs from a fresh migration of the final state"
    );
    assert_eq!(
        rejected(followed),
        rejected(&expected),
        "the dead letters differ"
    );
    let census = |db: &TestDb| -> Vec<[String; 4]> {
        db.key_census()
            .into_iter()
            .filter(|[collection, ..]| collection == recopied)
            .collect()
    };
    assert_eq!(
        census(followed),
        census(&expected),
        "the key census of `{recopied}` differs from a fresh migration's"
    );
}

fn follow(cli: &Cli, mongo: &MongoDb, extra: &[&str]) -> migrator_e2e::cli::Finished {
    let source = source(mongo);
    let mut args = vec![
        "follow",
        "--source",
        &source,
        "--until-caught-up",
        "0",
        "--on-invalid",
        "delete",
    ];
    args.extend_from_slice(extra);
    cli.spawn(&args).wait_at_most(Duration::from_secs(120))
}

fn docs(docs: Vec<bson::Document>) -> Vec<RawDocumentBuf> {
    docs.iter()
        .map(|d| RawDocumentBuf::try_from(d).expect("a document"))
        .collect()
}

#[test]
fn a_follow_stopped_by_a_drop_or_a_rename_goes_on_after_a_recopy() {
    let mongo = MongoDb::create("follow_recopy");
    for (name, data) in fixture::clean() {
        mongo.insert(name, &docs(data));
    }
    let db = TestDb::create("follow_recopy");
    let cli = Cli::new(BIN, SchemaChoice::Fixture, db.url());
    cli.run(&[
        "migrate",
        "--source",
        &source(&mongo),
        "--accept-rejected",
        "100%",
        "--follow",
        "--until-caught-up",
        "0",
    ])
    .expect_code(0);

    // Shipments dropped and made again, with more documents and another shape, while the
    // application writes.
    let workload = Workload::start(mongo.uri(), mongo.name(), 5, Duration::from_millis(2));
    std::thread::sleep(Duration::from_millis(400));
    mongo.command(doc! {"drop": "shipments"});
    mongo.insert(
        "shipments",
        &docs(
            (1..=3_000)
                .map(|i| {
                    let mut shipment = doc! {"_id": i, "order_id": 1 + i % 30, "carrier": "post"};
                    if i % 7 == 0 {
                        shipment.insert("tracking", format!("T{i}"));
                    }
                    shipment
                })
                .collect(),
        ),
    );
    std::thread::sleep(Duration::from_millis(400));
    let total = workload.stop();
    let stopped = follow(&cli, &mongo, &[]);
    stopped.expect_code(1);
    assert!(
        stopped
            .stderr
            .contains("collection `shipments` was dropped")
            && stopped
                .stderr
                .contains("run `follow --recopy` to copy collection `shipments` again"),
        "{}",
        stopped.stderr
    );
    // Run again without --recopy: the same stop, nothing applied past it.
    let again = follow(&cli, &mongo, &[]);
    again.expect_code(1);
    assert!(again.stderr.contains("follow --recopy"), "{}", again.stderr);
    let status = cli.run(&["status"]);
    assert!(
        status
            .stdout
            .contains("stopped: collection `shipments` was dropped"),
        "{}",
        status.stdout
    );

    // Read in the ranges `--split edges` cuts at once, two at a time.
    let recopied = follow(
        &cli,
        &mongo,
        &["--recopy", "--split", "edges", "--jobs", "2"],
    );
    recopied.expect_code(0);
    let ranges: u64 = recopied
        .stderr
        .split("re-copied `shipments` (")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no ranges said:\n{}", recopied.stderr));
    assert!(
        ranges > 1 && recopied.stderr.contains("ranges, 2 at a time)"),
        "shipments re-copied in {ranges} range(s):\n{}",
        recopied.stderr
    );
    assert!(total > 0);
    assert_same(&db, &mongo, "shipments");

    // Coupons renamed away (the orders' coupon_id set to NULL: `null`), then other writes the
    // follow must not miss: a customer inserted, an order deleted (its shipment goes: `skip`).
    mongo.admin(doc! {
        "renameCollection": format!("{}.coupons", mongo.name()),
        "to": format!("{}.coupons_archive", mongo.name()),
    });
    mongo.insert(
        "customers",
        &docs(vec![
            doc! {"_id": 500, "name": "late", "email": "c500@example.com"},
        ]),
    );
    mongo.command(doc! {"delete": "orders", "deletes": [{"q": {"_id": 3}, "limit": 1}]});
    let stopped = follow(&cli, &mongo, &[]);
    stopped.expect_code(1);
    assert!(
        stopped.stderr.contains("collection `coupons` was renamed"),
        "{}",
        stopped.stderr
    );
    follow(&cli, &mongo, &["--recopy"]).expect_code(0);
    assert_same(&db, &mongo, "coupons");
    // Nothing to copy again now.
    let nothing = follow(&cli, &mongo, &["--recopy"]);
    nothing.expect_code(1);
    assert!(
        nothing
            .stderr
            .contains("did not stop at a collection dropped or renamed"),
        "{}",
        nothing.stderr
    );
}
