//! The oplog of a dump is replayed whatever form the dump takes: a `mongodump --archive --oplog`
//! carries it as a namespace of the archive (plain or gzip) and ends like a dump directory with
//! its `oplog.bson`, equal to a fresh migration of the final state. With `--limit` the replay
//! brings the sampled documents to the dump's end and adds no other.

use std::path::Path;

use bson::{doc, Bson};
use migrator_e2e::cli::{Cli, SchemaChoice};
use migrator_e2e::fixture;
use migrator_e2e::oplog::{assert_replayed_as_fresh, History};
use migrator_e2e::pg::TestDb;

const BIN: &str = env!("CARGO_BIN_EXE_e2e-migrate");

fn migrate(db: &TestDb, source: &Path, extra: &[&str]) -> migrator_e2e::cli::Finished {
    let cli = Cli::new(BIN, SchemaChoice::Fixture, db.url());
    let source = source.display().to_string();
    let mut args = vec!["migrate", "--source", &source, "--accept-rejected", "100%"];
    args.extend_from_slice(extra);
    cli.run(&args)
}

/// Writes of several kinds while the dump reads the fixture's collections.
fn written_while_dumping() -> History {
    let mut h = History::new(fixture::clean());
    // In the customers' file (at its end) and in the oplog.
    h.insert(
        "customers",
        doc! {"_id": 13, "name": "early", "email": "c13@example.com"},
    );
    h.dump_reads("customers");
    h.dump_reads("coupons");
    h.update(
        "customers",
        2,
        doc! {"$v": 1, "$set": {"name": "renamed"}},
        |d| {
            d.insert("name", "renamed");
        },
    );
    // In no file: a customer and an order of theirs, in one transaction.
    h.transaction(1, false, |h| {
        h.insert(
            "customers",
            doc! {"_id": 14, "name": "new", "email": "c14@example.com"},
        );
        h.insert(
            "orders",
            doc! {"_id": 31, "status": "pending", "customer_id": 14, "products": [1, 2],
            "lines": [{"sku": "SKU-1", "quantity": 2, "price": 2.5}], "coupon_id": 1},
        );
    });
    h.update(
        "orders",
        1,
        doc! {"$v": 2, "diff": {"u": {"status": "cancelled"}}},
        |d| {
            d.insert("status", "cancelled");
        },
    );
    h.update(
        "orders",
        2,
        doc! {"$v": 2, "diff": {"sproducts": {"a": true, "u2": 9}, "slines": {"a": true, "s0": {"u": {"quantity": 9}}}}},
        |d| {
            d.get_array_mut("products").expect("products").push(Bson::Int32(9));
            let lines = d.get_array_mut("lines").expect("lines");
            if let Some(Bson::Document(line)) = lines.get_mut(0) {
                line.insert("quantity", 9);
            }
        },
    );
    h.update(
        "orders",
        4,
        doc! {"$v": 2, "diff": {"slines": {"a": true, "l": 0}}},
        |d| d.get_array_mut("lines").expect("lines").truncate(0),
    );
    // A referenced customer deleted: its orders are rejected.
    h.delete("customers", 3);
    h.dump_reads("products");
    h.dump_reads("orders");
    h.update(
        "orders",
        5,
        doc! {"$v": 2, "diff": {"u": {"status": "shipped"}}},
        |d| {
            d.insert("status", "shipped");
        },
    );
    // A referenced coupon deleted: the orders' coupon_id is set to NULL.
    h.delete("coupons", 1);
    h.other("n", "", doc! {"msg": "periodic noop"});
    h.dump_reads("shipments");
    h.update(
        "shipments",
        1,
        doc! {"$v": 1, "$set": {"carrier": "fedex"}},
        |d| {
            d.insert("carrier", "fedex");
        },
    );
    h
}

#[test]
fn an_archive_made_with_its_oplog_is_replayed_to_the_state_at_its_end() {
    let history = written_while_dumping();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let oracle = TestDb::create("archive_oplog_oracle");
    migrate(
        &oracle,
        &history.write_final(&dir.path().join("final")),
        &[],
    )
    .expect_code(0);

    for gzip in [false, true] {
        let archive = dir.path().join(format!("dump-{gzip}.archive"));
        history.write_archive(&archive, gzip);
        let db = TestDb::create("archive_oplog");
        let done = migrate(&db, &archive, &["--follow-batch", "3"]);
        done.expect_code(0);
        let line = format!(
            "oplog: the oplog of {} replayed: {} entries",
            archive.display(),
            history.entries()
        );
        assert!(done.stdout.contains(&line), "{line}:\n{}", done.stdout);
        assert_replayed_as_fresh(&db, &oracle, &format!("gzip {gzip}"));

        let again = migrate(&db, &archive, &[]);
        again.expect_code(0);
        assert!(
            again.stdout.contains("replayed (by an earlier run)"),
            "{}",
            again.stdout
        );
        assert_replayed_as_fresh(&db, &oracle, &format!("gzip {gzip}, run again"));
    }

    // Without the replay the archive's collections stay as the dump read them: they differ.
    let archive = dir.path().join("dump-false.archive");
    let fuzzy = TestDb::create("archive_oplog_fuzzy");
    let kept = migrate(&fuzzy, &archive, &["--no-oplog-replay"]);
    kept.expect_code(0);
    assert!(
        kept.stderr.contains("was not replayed (--no-oplog-replay)"),
        "{}",
        kept.stderr
    );
    assert_ne!(fuzzy.table_hashes(), oracle.table_hashes());
}

#[test]
fn a_limited_load_replays_the_entries_of_its_sampled_documents_only() {
    let history = written_while_dumping();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let dump = history.write_dump(&dir.path().join("dump"));
    // The oracle: the final state of the documents the limited read loads (customer 13 and
    // order 31, written during the dump, are past the first five; customer 14 is in no file).
    let sampled = history.first_read(5);
    assert_eq!(sampled["customers"], [1, 2, 3, 4, 5]);
    let oracle = TestDb::create("limit_oplog_oracle");
    let final_sample = history.write_final_of(&dir.path().join("final"), &sampled);
    migrate(&oracle, &final_sample, &[]).expect_code(0);

    let db = TestDb::create("limit_oplog");
    let done = migrate(&db, &dump, &["--limit", "5", "--follow-batch", "2"]);
    done.expect_code(0);
    assert!(
        done.stdout.contains("oplog.bson replayed:")
            && done
                .stdout
                .contains(&format!("{} entries", history.entries())),
        "{}",
        done.stdout
    );
    assert_replayed_as_fresh(&db, &oracle, "--limit 5");
    // The replay changed sampled documents (it is not the load as read) and added none.
    assert_eq!(
        db.scalar("SELECT status::text FROM public.orders WHERE id = 1")
            .as_deref(),
        Some("cancelled")
    );
    assert_eq!(
        db.scalar("SELECT count(*)::text FROM public.customers WHERE id IN (13, 14)")
            .as_deref(),
        Some("0")
    );
}
