//! A mongodump made with `--oplog` while the application wrote: its `oplog.bson` is replayed
//! after the load, and every table then equals a fresh migration of the database as it was at
//! the dump's end (the oracle), row by row, with the same documents rejected. The same with the
//! replay killed (`kill -9`) again and again. What the replay cannot apply stops it naming the
//! entry.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use bson::{doc, Bson, Document};
use migrator_e2e::cli::{Cli, SchemaChoice};
use migrator_e2e::fixture;
use migrator_e2e::follow::rejected;
use migrator_e2e::oplog::{assert_replayed_as_fresh, History};
use migrator_e2e::pg::TestDb;

const BIN: &str = env!("CARGO_BIN_EXE_e2e-migrate");

fn migrate(db: &TestDb, dir: &Path, extra: &[&str]) -> migrator_e2e::cli::Finished {
    let cli = Cli::new(BIN, SchemaChoice::Fixture, db.url());
    let source = dir.display().to_string();
    let mut args = vec!["migrate", "--source", &source, "--accept-rejected", "100%"];
    args.extend_from_slice(extra);
    cli.run(&args)
}

/// A fresh migration of the final documents.
fn oracle(history: &History, dir: &Path) -> TestDb {
    let db = TestDb::create("oplog_oracle");
    let source = history.write_final(&dir.join("final"));
    migrate(&db, &source, &[]).expect_code(0);
    db
}

/// The fixture's database with writes of every kind logged while the dump reads it.
fn written_during_the_dump() -> History {
    let mut h = History::new(fixture::clean());
    // Inserted before the dump reads customers: in the file and in the oplog.
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
    // A transaction over two entries: a customer and an order of theirs.
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
    // A product added to the junction array, a child line changed inside.
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
    // Child lines removed: the array cut.
    for (id, keep) in [(4, 0usize), (5, 1)] {
        h.update(
            "orders",
            id,
            doc! {"$v": 2, "diff": {"slines": {"a": true, "l": keep as i32}}},
            |d| d.get_array_mut("lines").expect("lines").truncate(keep),
        );
    }
    h.replace("coupons", doc! {"_id": 2, "code": "NEW2"});
    // A referenced customer deleted: its orders (2, 14, 26) are rejected (`reject`).
    h.delete("customers", 3);
    h.dump_reads("products");
    h.update(
        "products",
        4,
        doc! {"$v": 2, "diff": {"d": {"description": false}}},
        |d| {
            d.remove("description");
        },
    );
    h.update(
        "products",
        6,
        doc! {"$v": 1, "$unset": {"description": true}},
        |d| {
            d.remove("description");
        },
    );
    // An order made invalid (no such status), another made valid again below.
    h.update(
        "orders",
        7,
        doc! {"$v": 2, "diff": {"u": {"status": "lost"}}},
        |d| {
            d.insert("status", "lost");
        },
    );
    h.update(
        "orders",
        23,
        doc! {"$v": 2, "diff": {"u": {"status": "lost"}}},
        |d| {
            d.insert("status", "lost");
        },
    );
    // A referenced order deleted: its shipment goes (`skip`).
    h.delete("orders", 8);
    // Updated, then deleted before the dump reads orders: its update finds no document.
    h.update(
        "orders",
        9,
        doc! {"$v": 2, "diff": {"u": {"status": "pending"}}},
        |d| {
            d.insert("status", "pending");
        },
    );
    h.delete("orders", 9);
    h.insert(
        "orders",
        doc! {"_id": 32, "status": "pending", "customer_id": 1, "products": [], "lines": []},
    );
    h.update(
        "orders",
        32,
        doc! {"$v": 2, "diff": {"i": {"referrer": "c1@example.com", "coupon_id": 3}}},
        |d| {
            d.insert("referrer", "c1@example.com");
            d.insert("coupon_id", 3);
        },
    );
    h.dump_reads("orders");
    h.update(
        "orders",
        23,
        doc! {"$v": 2, "diff": {"u": {"status": "shipped"}}},
        |d| {
            d.insert("status", "shipped");
        },
    );
    h.update(
        "orders",
        10,
        doc! {"$v": 2, "diff": {"sproducts": {"a": true, "u0": 4}}},
        |d| {
            d.get_array_mut("products").expect("products")[0] = Bson::Int32(4);
        },
    );
    h.update("orders", 13, doc! {"$set": {"lines.0.quantity": 42}}, |d| {
        let lines = d.get_array_mut("lines").expect("lines");
        if let Some(Bson::Document(line)) = lines.get_mut(0) {
            line.insert("quantity", 42);
        }
    });
    // A prepared transaction aborted: nothing of it lands.
    h.transaction(5, true, |h| {
        h.insert(
            "orders",
            doc! {"_id": 33, "status": "pending", "customer_id": 1, "products": [], "lines": []},
        );
    });
    // Entries of no model: a no-op, another database, an index build, another collection.
    h.other("n", "", doc! {"msg": "periodic noop"});
    h.other("i", "other.orders", doc! {"_id": 1, "x": 1});
    h.other(
        "c",
        "shop.$cmd",
        doc! {"createIndexes": "orders", "v": 2, "key": {"status": 1}, "name": "status_1"},
    );
    h.other("i", "shop.logs", doc! {"_id": 1, "line": "hello"});
    h.insert(
        "shipments",
        doc! {"_id": 21, "order_id": 31, "carrier": "dhl"},
    );
    // A referenced coupon deleted: the orders' coupon_id is set to NULL (`null`).
    h.delete("coupons", 1);
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
fn a_dump_made_while_writing_is_replayed_to_the_state_at_its_end() {
    let history = written_during_the_dump();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let dump = history.write_dump(&dir.path().join("dump"));
    let expected = oracle(&history, dir.path());

    let db = TestDb::create("oplog_replay");
    let done = migrate(&db, &dump, &["--follow-batch", "4"]);
    done.expect_code(0);
    assert!(
        done.stdout.contains("oplog.bson replayed:")
            && done
                .stdout
                .contains(&format!("{} entries", history.entries())),
        "no replay line:\n{}",
        done.stdout
    );
    assert_replayed_as_fresh(&db, &expected, "the replay");
    let orders: BTreeSet<String> = rejected(&db)
        .into_iter()
        .filter(|(c, _)| c == "orders")
        .map(|(_, id)| id)
        .collect();
    assert_eq!(orders, ["14", "2", "26", "7"].map(String::from).into());

    // Run again: the replay is not applied twice.
    let again = migrate(&db, &dump, &[]);
    again.expect_code(0);
    assert!(
        again.stdout.contains("replayed (by an earlier run)"),
        "{}",
        again.stdout
    );
    assert_replayed_as_fresh(&db, &expected, "the second run");

    // Without the replay the load is the fuzzy snapshot: it differs (the test can fail).
    let fuzzy = TestDb::create("oplog_fuzzy");
    let kept = migrate(&fuzzy, &dump, &["--no-oplog-replay"]);
    kept.expect_code(0);
    assert!(
        kept.stderr.contains("was not replayed (--no-oplog-replay)"),
        "{}",
        kept.stderr
    );
    assert_ne!(fuzzy.table_hashes(), expected.table_hashes());
}

#[test]
fn validate_compares_with_the_state_the_replay_left() {
    let history = written_during_the_dump();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let dump = history.write_dump(&dir.path().join("dump"));
    let db = TestDb::create("oplog_validate");
    // `migrate --validate`: the replay first, then every document compared with its final state
    // (inserted ones there, deleted ones absent, updated ones as replayed).
    let done = migrate(&db, &dump, &["--validate", "--sample", "1000"]);
    done.expect_code(0);
    let (replayed, passed) = (
        done.stdout.find("oplog.bson replayed:"),
        done.stdout.find("validation passed"),
    );
    assert!(
        matches!((replayed, passed), (Some(r), Some(p)) if r < p),
        "the replay, then the validation:\n{}",
        done.stdout
    );
    let cli = Cli::new(BIN, SchemaChoice::Fixture, db.url());
    let source = dump.display().to_string();
    let validate = || cli.run(&["validate", "--source", &source, "--sample", "1000"]);
    let ok = validate();
    ok.expect_code(0);
    // Counted as at the dump's end: coupon 1 deleted after its file was read (3 in the file),
    // the orders the oplog made invalid rejected (4 dead letters; 3 at the load).
    for line in [
        "coupons: ok - 2 source documents",
        "orders: ok - 30 source documents, 4 dead letters",
    ] {
        assert!(ok.stdout.contains(line), "{line}:\n{}", ok.stdout);
    }

    // A replayed row changed by hand: order 1 back to the dump's status.
    db.scalar("UPDATE public.orders SET status = 'shipped' WHERE id = 1 RETURNING id::text");
    let changed = validate();
    changed.expect_code(3);
    assert!(
        changed
            .stdout
            .contains("mismatch: `orders` _id 1: orders.status is shipped, expected cancelled"),
        "{}",
        changed.stdout
    );
    db.scalar("UPDATE public.orders SET status = 'cancelled' WHERE id = 1 RETURNING id::text");
    validate().expect_code(0);
    // An inserted document's row deleted by hand: the count says so.
    db.scalar("DELETE FROM public.orders WHERE id = 32 RETURNING id::text");
    let gone = validate();
    gone.expect_code(3);
    assert!(
        gone.stdout.contains("FAILED (1 missing)"),
        "{}",
        gone.stdout
    );
}

/// Many orders, each changed many times while the dump reads them.
fn a_long_oplog() -> History {
    let mut data = fixture::clean();
    let orders = fixture::docs_mut(&mut data, "orders");
    for i in 31..=600 {
        let mut order: Document = orders[0].clone();
        order.insert("_id", i);
        order.insert("customer_id", 1 + i % 12);
        orders.push(order);
    }
    let mut h = History::new(data);
    for name in ["customers", "coupons", "products", "shipments"] {
        h.dump_reads(name);
    }
    let statuses = ["pending", "shipped", "cancelled"];
    for round in 0..4 {
        if round == 2 {
            h.dump_reads("orders");
        }
        for i in 1..=600 {
            let status = statuses[(i + round) as usize % 3];
            let product = 1 + (i + round) % 10;
            h.update("orders", i, doc! {"$v": 2, "diff": {"u": {"status": status}, "sproducts": {"a": true, "u0": product}}}, |d| {
                d.insert("status", status);
                let products = d.get_array_mut("products").expect("products");
                match products.first_mut() {
                    Some(first) => *first = Bson::Int32(product),
                    None => products.push(Bson::Int32(product)),
                }
            });
            if i % 97 == round {
                h.delete("orders", i);
                h.insert("orders", doc! {"_id": i, "status": "pending", "customer_id": 2, "products": [], "lines": []});
            }
        }
    }
    h
}

#[test]
fn a_replay_killed_again_and_again_resumes_where_it_committed() {
    let history = a_long_oplog();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let dump = history.write_dump(&dir.path().join("dump"));
    let expected = oracle(&history, dir.path());

    let db = TestDb::create("oplog_kill");
    let cli = Cli::new(BIN, SchemaChoice::Fixture, db.url());
    let source = dump.display().to_string();
    let args = [
        "migrate",
        "--source",
        &source,
        "--accept-rejected",
        "100%",
        "--follow-batch",
        "10",
    ];
    let position = || {
        let exists = db.scalar("SELECT (to_regclass('_migrator.oplog_replay') IS NOT NULL)::text");
        if exists.as_deref() != Some("true") {
            return "-1".to_string();
        }
        db.scalar(
            "SELECT next_offset::text || CASE WHEN done THEN ' done' ELSE '' END \
             FROM _migrator.oplog_replay",
        )
        .unwrap_or_else(|| "-1".into())
    };
    let mut kills_in_replay = 0;
    let mut offsets = BTreeSet::new();
    for _ in 0..12 {
        let before = position();
        let mut run = cli.spawn(&args);
        let started = Instant::now();
        // Killed once the replay has committed a window past where it stood.
        loop {
            let now = position();
            if now != before && now != "-1" && !now.ends_with("done") {
                break;
            }
            if now.ends_with("done") || started.elapsed() > Duration::from_secs(60) {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let at = position();
        let killed = run.kill().expect("a run to kill");
        if killed.code.is_some() {
            // It ended on its own first: the replay is done.
            killed.expect_code(0);
            break;
        }
        if !at.ends_with("done") && at != "-1" {
            kills_in_replay += 1;
            offsets.insert(at);
        }
    }
    eprintln!(
        "{kills_in_replay} kills during the replay of {} entries, at offsets {offsets:?}",
        history.entries()
    );
    assert!(
        kills_in_replay >= 5,
        "only {kills_in_replay} kills landed during the replay"
    );
    assert!(
        offsets.len() >= 5,
        "the kills found the replay at {offsets:?}"
    );
    // Killed mid-replay (unless the last run finished first): `status` says where it resumes.
    if !position().ends_with("done") {
        let status = cli.run(&["status"]);
        assert!(
            status.stdout.contains("oplog replay of ")
                && status.stdout.contains(": in progress, resumes at byte "),
            "{}",
            status.stdout
        );
    }
    let done = cli.run(&args);
    done.expect_code(0);
    let status = cli.run(&["status"]);
    assert!(
        status.stdout.contains(": done; 2454 entries applied"),
        "{}",
        status.stdout
    );
    assert!(
        done.stdout.contains("oplog.bson replayed"),
        "{}",
        done.stdout
    );
    assert!(position().ends_with("done"));
    assert_replayed_as_fresh(&db, &expected, "after the kills");
}

#[test]
fn what_the_replay_cannot_apply_stops_it_naming_the_entry() {
    let mut history = History::new(fixture::clean());
    for name in fixture::COLLECTIONS {
        history.dump_reads(name);
    }
    history.update(
        "orders",
        1,
        doc! {"$v": 2, "diff": {"u": {"status": "cancelled"}}},
        |d| {
            d.insert("status", "cancelled");
        },
    );
    history.other("c", "shop.$cmd", doc! {"drop": "shipments"});
    let dir = tempfile::tempdir().expect("a temporary directory");
    let dump = history.write_dump(&dir.path().join("dump"));
    let db = TestDb::create("oplog_refused");
    let failed = migrate(&db, &dump, &[]);
    failed.expect_code(1);
    assert!(
        failed.stderr.contains("oplog.bson: the oplog entry at Timestamp(1765000000, 3) on `shop.$cmd`: `drop` of collection `shipments`"),
        "{}",
        failed.stderr
    );
    // Nothing of the replay was written: the load stands as read, order 1 as the dump has it.
    assert_eq!(
        db.scalar("SELECT status::text FROM public.orders WHERE id = 1")
            .as_deref(),
        Some("shipped")
    );
    // The top level of the dump is no database: its oplog is not a collection.
    let top = migrate(&db, &dir.path().join("dump"), &["--restart"]);
    top.expect_code(1);
    assert!(
        top.stderr.contains("open one database directory: shop"),
        "{}",
        top.stderr
    );
}

/// Referrers a replay window rejected or skipped come back when a later window writes their
/// target again, as the replay left them: order 14 as its oplog entry changed it (a kept
/// document), orders 2 and 26 as the dump's file holds them; the shipments of those orders and
/// of an order made invalid and valid again with them.
#[test]
fn referrers_come_back_when_a_later_entry_writes_their_target_again() {
    let mut h = History::new(fixture::clean());
    for collection in fixture::COLLECTIONS {
        h.dump_reads(collection);
    }
    h.delete("customers", 3);
    h.update(
        "orders",
        14,
        doc! {"$v": 2, "diff": {"u": {"status": "pending"}}},
        |d| {
            d.insert("status", "pending");
        },
    );
    let status = |h: &mut History, status: &'static str| {
        h.update(
            "orders",
            20,
            doc! {"$v": 2, "diff": {"u": {"status": status}}},
            |d| {
                d.insert("status", status);
            },
        );
    };
    status(&mut h, "lost");
    h.insert(
        "customers",
        doc! {"_id": 3, "name": "customer 3", "email": "c3@example.com"},
    );
    status(&mut h, "shipped");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let dump = h.write_dump(&dir.path().join("dump"));
    let expected = oracle(&h, dir.path());
    let db = TestDb::create("oplog_restore");
    // One entry per window: the rejections commit before the customer comes back.
    migrate(&db, &dump, &["--follow-batch", "1"]).expect_code(0);
    assert_replayed_as_fresh(&db, &expected, "the restored referrers");
    assert!(rejected(&db).is_empty(), "{:?}", rejected(&db));
    assert_eq!(
        db.count("SELECT 1 FROM public.shipments WHERE id IN (2, 14, 20)"),
        3
    );
    assert_eq!(
        db.scalar("SELECT status::text FROM public.orders WHERE id = 14")
            .as_deref(),
        // Cancelled in the dump's file.
        Some("pending")
    );
}
