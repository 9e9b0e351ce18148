//! Referrers come back when what they point at comes back. A follow that deletes a referenced
//! document acts on its referrers by their policies (`reject`: the orders of a customer become
//! dead letters and their shipments are skipped in turn; `null`: the orders' coupon is cleared;
//! `skip`: the junction rows of a product go). When the document is inserted again (or made
//! valid again), a fresh migration of the source has the referrers whole: so must the followed
//! target, with their dead letters gone. The same for a document that dangled at the load.

use bson::{doc, Document, RawDocumentBuf};
use migrator_e2e::cli::SchemaChoice;
use migrator_e2e::fixture;
use migrator_e2e::follow::{drain, rejected, source, Binary};
use migrator_e2e::mongo::MongoDb;
use migrator_e2e::pg::TestDb;

const FOLLOWED: Binary = Binary {
    exe: env!("CARGO_BIN_EXE_e2e-migrate"),
    schema: SchemaChoice::Fixture,
};

fn raw(docs: &[Document]) -> Vec<RawDocumentBuf> {
    docs.iter()
        .map(|d| RawDocumentBuf::try_from(d).expect("a document"))
        .collect()
}

fn delete(mongo: &MongoDb, collection: &str, id: i32) {
    mongo.command(doc! {"delete": collection, "deletes": [{"q": {"_id": id}, "limit": 1}]});
}

fn set(mongo: &MongoDb, collection: &str, id: i32, fields: Document) {
    mongo.command(
        doc! {"update": collection, "updates": [{"q": {"_id": id}, "u": {"$set": fields}}]},
    );
}

/// Whether `collection` `_id` `id` is a dead letter.
fn is_rejected(db: &TestDb, collection: &str, id: i32) -> bool {
    rejected(db).contains(&(collection.to_string(), id.to_string()))
}

#[test]
fn referrers_removed_while_their_target_was_missing_come_back_with_it() {
    let mongo = MongoDb::create("follow_restore");
    let data = fixture::clean();
    for (name, docs) in &data {
        mongo.insert(name, &raw(docs));
    }
    // An order whose customer does not exist yet: rejected by the load.
    let early =
        doc! {"_id": 31, "status": "pending", "customer_id": 99, "products": [1], "lines": []};
    mongo.insert("orders", &raw(std::slice::from_ref(&early)));
    let db = TestDb::create("follow_restore");
    let cli = FOLLOWED.cli(&db);
    cli.run(&[
        "migrate",
        "--source",
        &source(&mongo),
        "--accept-rejected",
        "100%",
    ])
    .expect_code(0);
    assert!(is_rejected(&db, "orders", 31), "order 31 was not rejected");

    // Customer 2 (orders 1, 13, 25; shipments 1, 13), coupon 3 and product 4 deleted; customer
    // 5 made invalid (orders 4, 16, 28).
    let original = |collection: &str, id: i32| {
        fixture::clean()
            .into_iter()
            .find(|(name, _)| *name == collection)
            .and_then(|(_, docs)| docs.into_iter().find(|d| d.get_i32("_id").ok() == Some(id)))
            .expect("a fixture document")
    };
    delete(&mongo, "customers", 2);
    delete(&mongo, "coupons", 3);
    delete(&mongo, "products", 4);
    set(&mongo, "customers", 5, doc! {"name": 5});
    drain(&cli, &mongo);
    for order in [1, 13, 25, 4, 16] {
        assert!(
            is_rejected(&db, "orders", order),
            "order {order} was not rejected"
        );
    }
    assert_eq!(
        db.count("SELECT 1 FROM public.shipments WHERE id IN (1, 13, 4, 16)"),
        0,
        "the shipments of rejected orders were not skipped"
    );
    assert_eq!(
        db.count("SELECT 1 FROM public.order_products WHERE product_id = 4"),
        0
    );
    FOLLOWED.assert_same(&db, &mongo);

    // All back, and order 31's customer made.
    mongo.insert(
        "customers",
        &raw(&[
            original("customers", 2),
            doc! {"_id": 99, "name": "late", "email": "c99@example.com"},
        ]),
    );
    mongo.insert("coupons", &raw(&[original("coupons", 3)]));
    mongo.insert("products", &raw(&[original("products", 4)]));
    set(&mongo, "customers", 5, doc! {"name": "customer 5"});
    drain(&cli, &mongo);
    for order in [1, 13, 25, 4, 16, 31] {
        assert!(
            !is_rejected(&db, "orders", order),
            "order {order} is still a dead letter"
        );
    }
    assert_eq!(
        db.count("SELECT 1 FROM public.shipments WHERE id IN (1, 13, 4, 16)"),
        4,
        "the shipments of the orders back are not back"
    );
    assert_eq!(
        db.count("SELECT 1 FROM public.orders WHERE coupon_id = 3"),
        db.count("SELECT 1 FROM public.orders WHERE id IN (2, 11, 14, 23, 26)"),
        "the orders' coupon is not back"
    );
    FOLLOWED.assert_same(&db, &mongo);
    // Nothing awaits any more.
    assert_eq!(db.count("SELECT 1 FROM _migrator.awaiting_targets"), 0);
}
