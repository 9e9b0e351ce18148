//! The rows a document becomes, in every table, with defaults, skips and serde names applied.

use migrator::bson::{doc, Document};
use migrator::{Cell, IdKey, IdStrategy, Key, Migrate};

use super::{decode, oid, order_doc, rows, LegacyAccount, Meta, Order, Status};

#[test]
fn a_document_becomes_rows_in_every_table() {
    let set = rows::<Order>(&order_doc());
    insta::assert_yaml_snapshot!(set.to_tables());
}

#[test]
fn junction_rows_collapse_duplicates_keeping_the_first_position() {
    let set = rows::<Order>(&order_doc());
    let tag_key = |n| {
        Cell::Uuid(match oid(n).key(IdStrategy::V5) {
            Key::Uuid(u) => u,
            other => panic!("v5 keys are uuids, got {other:?}"),
        })
    };
    let tags: Vec<_> = set
        .rows(1)
        .iter()
        .map(|r| (r[1].clone(), r[2].clone()))
        .collect();
    assert_eq!(
        tags,
        [
            (tag_key(20), Cell::Int(0)),
            (tag_key(21), Cell::Int(1)),
            (tag_key(22), Cell::Int(3)),
        ]
    );
    let natural = rows::<LegacyAccount>(&doc! {
        "_id": 7,
        "e-mail": "x@example.com",
        "Watchers": ["a@example.com", "b@example.com", "a@example.com"],
        "Session": "dropped",
    });
    assert_eq!(
        natural.rows(1),
        [
            vec![Cell::Int(7), Cell::Text("a@example.com".into())],
            vec![Cell::Int(7), Cell::Text("b@example.com".into())],
        ]
    );
}

#[test]
fn nested_child_rows_point_at_their_parent_rows() {
    let set = rows::<Order>(&order_doc());
    let order_key = Cell::Uuid(match oid(1).key(IdStrategy::Ordered) {
        Key::Uuid(u) => u,
        other => panic!("ordered keys are uuids, got {other:?}"),
    });
    let items = set.rows(2);
    assert_eq!(items.len(), 2);
    assert!(items.iter().all(|r| r[1] == order_key));
    assert_eq!(items[1][4], Cell::Double(3.0));
    let first_item_id = items[0][0].clone();
    let reviews = set.rows(3);
    assert_eq!(reviews.len(), 2);
    assert!(reviews.iter().all(|r| r[1] == first_item_id));
    assert_eq!(
        reviews.iter().map(|r| r[2].clone()).collect::<Vec<_>>(),
        [Cell::Int(0), Cell::Int(1)]
    );
    // `labels: null` gives no rows; the first item's one label does.
    assert_eq!(set.rows(4).len(), 1);
    assert_eq!(set.rows(4)[0][0], first_item_id);
    // Child ids are deterministic: the same document gives the same rows.
    assert_eq!(rows::<Order>(&order_doc()), set);
}

#[test]
fn defaults_skip_and_serde_names_apply() {
    let mut doc = order_doc();
    doc.remove("items");
    doc.insert("items", Vec::<Document>::new());
    let order: Order = decode(&doc).expect("decodes");
    assert_eq!(order.currency, "EUR");
    assert!(order.notes.is_empty());
    assert_eq!(order.total, 1250);
    assert_eq!(order.cached_total, 0);
    assert_eq!(order.status, Status::InTransit);
    assert_eq!(order.history, [Status::Pending, Status::InTransit]);
    assert_eq!(
        order.meta,
        Some(Meta {
            channel: "web".into(),
            priority: 2
        })
    );
    assert_eq!(order.contact_email.as_deref(), Some("ada@example.com"));
    assert_eq!(order.courier_id, None);
    assert_eq!(order.id(), &oid(1));

    let account: LegacyAccount = decode(&doc! {
        "_id": 3, "e-mail": "a@b.c", "DisplayName": "A", "Watchers": [], "Session": "s",
    })
    .expect("decodes");
    assert_eq!(account.email, "a@b.c");
    assert_eq!(account.display_name.as_deref(), Some("A"));
    assert_eq!(account.session, None);
}
