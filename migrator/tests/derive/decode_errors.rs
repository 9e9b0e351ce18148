//! Decode errors: each names the path to the value, its class and reason; a document reports
//! every bad field.

use migrator::bson::{doc, Document, RawDocument};
use migrator::{FieldError, Migrate, RowSet};

use super::{decode, oid, order_doc, raw, LegacyAccount, Order, User};

fn error<T: Migrate + std::fmt::Debug>(doc: Document) -> (String, String, String) {
    let e = decode::<T>(&doc).expect_err("the document is rejected");
    (e.path(), e.kind().class().to_string(), e.kind().to_string())
}

fn with(changes: Document) -> Document {
    let mut doc = order_doc();
    doc.extend(changes);
    doc
}

#[test]
fn decode_errors_name_the_path_to_the_value() {
    let item = |price: migrator::bson::Bson| doc! { "sku": "x", "price": price };
    let cases = [
        (
            with(
                doc! { "items": [item(1.into()), item(2.into()), item(3.into()), item("free".into())] },
            ),
            (
                "items[3].price",
                "wrong_type",
                "expected int32, int64 or double, found string \"free\"",
            ),
        ),
        (
            with(
                doc! { "items": [ { "sku": "x", "price": 1, "reviews": [ { "rating": 1, "author": oid(1) }, { "rating": "x", "author": oid(1) } ] } ] },
            ),
            (
                "items[0].reviews[1].rating",
                "wrong_type",
                "expected int32, int64 or double, found string \"x\"",
            ),
        ),
        (
            with(
                doc! { "items": [ { "sku": "x", "price": 1, "reviews": [ { "rating": 1, "author": oid(1), "extra": 1 } ] } ] },
            ),
            (
                "items[0].reviews[0].extra",
                "unknown_field",
                "field is not declared by the model (found int32 1)",
            ),
        ),
        (
            with(doc! { "items": [ 5 ] }),
            ("items[0]", "wrong_type", "expected object, found int32 5"),
        ),
        (
            with(doc! { "items": "none" }),
            (
                "items",
                "wrong_type",
                "expected array, found string \"none\"",
            ),
        ),
        (
            with(doc! { "tags": [oid(1), "nope"] }),
            (
                "tags[1]",
                "wrong_type",
                "expected objectId, found string \"nope\"",
            ),
        ),
        (
            with(doc! { "status": "LOST" }),
            (
                "status",
                "not_in_enum",
                "`LOST` is not one of `PENDING`, `IN_TRANSIT`, `DELIVERED`",
            ),
        ),
        (
            with(doc! { "total": "12" }),
            ("total", "custom", "`12` has no cents (found string \"12\")"),
        ),
        (
            with(doc! { "customerId": null }),
            ("customerId", "null", "required field is null"),
        ),
    ];
    for (doc, (path, class, message)) in cases {
        assert_eq!(
            error::<Order>(doc),
            (path.into(), class.into(), message.into())
        );
    }
    let mut missing = order_doc();
    missing.remove("total");
    assert_eq!(
        error::<Order>(missing),
        (
            "total".into(),
            "missing".into(),
            "required field is missing".into()
        )
    );
    let mut no_items = order_doc();
    no_items.remove("items");
    assert_eq!(error::<Order>(no_items).0, "items");
}

#[test]
fn rejected_unknown_fields_name_the_key() {
    assert_eq!(
        error::<LegacyAccount>(doc! { "_id": 1, "e-mail": "a", "Watchers": [], "email": "b" }),
        (
            "email".into(),
            "unknown_field".into(),
            "field is not declared by the model (found string \"b\")".into()
        )
    );
    // Skipped fields' keys are declared: accepted and ignored.
    assert!(decode::<LegacyAccount>(
        &doc! { "_id": 1, "e-mail": "a", "Watchers": [], "Session": 1 }
    )
    .is_ok());
}

#[test]
fn malformed_bson_is_an_invalid_value() {
    // A document whose only element has type byte 0x7f (none such exists).
    let bytes: &[u8] = &[10, 0, 0, 0, 0x7f, b'a', 0, 0, 0, 0];
    let doc = RawDocument::from_bytes(bytes).expect("the header is well formed");
    let e = Order::decode(doc).expect_err("malformed");
    assert_eq!(e.kind().class(), "invalid");
    assert!(e.to_string().contains("malformed BSON"), "{e}");
}

#[test]
fn transform_names_collection_and_id() {
    let model = Order::model();
    let mut set = RowSet::new(&model);
    let e = migrator::transform::transform::<Order, _>(
        &model.collection,
        &raw(&with(doc! { "status": 3 })),
        &mut set,
    )
    .expect_err("rejected");
    assert_eq!(e.collection, "shopOrders");
    assert!(e.id.contains("5a942764"), "{}", e.id);
    assert_eq!(e.error.path(), "status");
    assert!(set.counts().values().all(|n| *n == 0), "nothing written");
}

#[test]
fn a_document_with_three_bad_fields_reports_all_three() {
    // `email` missing, `name` of the wrong type, `role` outside the enum: every one is named,
    // in declaration order, and the dead letter carries them all.
    let doc = doc! { "_id": oid(1), "name": 7, "role": "owner" };
    let e = migrator::transform::transform::<User, _>(
        "users",
        &raw(&doc),
        &mut RowSet::new(&User::model()),
    )
    .expect_err("rejected");
    let all: Vec<(String, &str)> = e
        .error
        .all()
        .map(|f| (f.path(), f.kind().class()))
        .collect();
    assert_eq!(
        all,
        [
            ("email".to_string(), "missing"),
            ("name".to_string(), "wrong_type"),
            ("role".to_string(), "not_in_enum"),
        ]
    );
    let letter = migrator::dead_letter::DeadLetter::from_transform(&e, &raw(&doc));
    assert_eq!(
        (letter.field.as_str(), letter.class.as_str()),
        ("email", "missing")
    );
    let fields: Vec<&str> = letter.errors.iter().map(|i| i.field.as_str()).collect();
    assert_eq!(fields, ["email", "name", "role"]);
    // Inside a child element, each error keeps the element's path.
    let bad_item = doc! { "sku": 5, "price": "free" };
    let e = decode::<Order>(&with(doc! { "items": [bad_item] })).expect_err("rejected");
    let paths: Vec<String> = e.all().map(FieldError::path).collect();
    assert_eq!(paths, ["items[0].sku", "items[0].price"]);
}
