//! What `#[derive(Migrate)]` generates, exercised end to end: model descriptions, decoding with
//! error paths, and the rows documents become.

use migrator::bson::{doc, oid::ObjectId, Document, RawBsonRef, RawDocument, RawDocumentBuf};
use migrator::model::{ColumnDef, EnumDef, EnumRepr, RefTarget, TableRole};
use migrator::{
    Cell, Embedded, FieldError, FieldErrorKind, FromBson, IdKey, IdStrategy, Key, Migrate,
    MissingPolicy, PgType, PgValue, RowSet,
};

// ---------------------------------------------------------------------------------------------
// Models.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Migrate)]
#[migrate(rename_all = "lowercase")]
enum Role {
    Admin,
    Member,
    #[migrate(rename = "read-only")]
    ReadOnly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Migrate)]
#[migrate(name = "order_state", repr = "text")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum Status {
    Pending,
    InTransit,
    Delivered,
}

#[derive(Debug, Migrate)]
#[migrate(collection = "users")]
struct User {
    #[migrate(id)]
    id: ObjectId,
    #[migrate(unique)]
    email: String,
    name: String,
    role: Role,
}

#[derive(Debug, Migrate)]
#[migrate(collection = "tags")]
struct Tag {
    #[migrate(id, strategy = "v5")]
    id: ObjectId,
    #[migrate(unique)]
    label: String,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Meta {
    channel: String,
    priority: i32,
}

fn cents(value: RawBsonRef<'_>) -> Result<i64, String> {
    match value {
        RawBsonRef::String(s) => {
            let (units, cents) = s
                .split_once('.')
                .ok_or_else(|| format!("`{s}` has no cents"))?;
            let units: i64 = units
                .parse()
                .map_err(|_| format!("`{s}` is not an amount"))?;
            let cents: i64 = cents
                .parse()
                .map_err(|_| format!("`{s}` is not an amount"))?;
            Ok(units * 100 + cents)
        }
        RawBsonRef::Int32(i) => Ok(i64::from(i) * 100),
        _ => Err("expected an amount".to_string()),
    }
}

fn default_currency() -> String {
    "EUR".to_string()
}

#[derive(Debug, Migrate)]
#[migrate(collection = "shopOrders", rename_all = "camelCase")]
struct Order {
    #[migrate(id)]
    id: ObjectId,
    #[migrate(references = User)]
    customer_id: ObjectId,
    #[migrate(references = User, on_missing = "null")]
    courier_id: Option<ObjectId>,
    #[migrate(references = User, key = "email", on_missing = "keep")]
    contact_email: Option<String>,
    status: Status,
    history: Vec<Status>,
    #[migrate(with = cents)]
    total: i64,
    #[migrate(default = "default_currency")]
    currency: String,
    #[migrate(default)]
    notes: Vec<String>,
    #[migrate(jsonb)]
    meta: Option<Meta>,
    #[migrate(as_text, index)]
    legacy_id: ObjectId,
    #[migrate(junction, references = Tag, position)]
    tags: Vec<ObjectId>,
    #[migrate(child)]
    items: Vec<LineItem>,
    #[migrate(skip)]
    cached_total: u32,
}

#[derive(Debug, Migrate)]
#[migrate(embedded)]
struct LineItem {
    sku: String,
    price: f64,
    #[migrate(child = "item_reviews", parent_column = "item_id", default)]
    reviews: Vec<Review>,
    #[migrate(junction, references = Tag, target_column = "label_id")]
    labels: Option<Vec<ObjectId>>,
}

#[derive(Debug, Migrate)]
#[migrate(embedded, unknown_fields = "reject")]
struct Review {
    rating: i32,
    #[migrate(references = User)]
    author: ObjectId,
}

/// Keeps its integer ids, rejects undeclared keys and names keys with serde.
#[derive(Debug, Migrate)]
#[migrate(unknown_fields = "reject", table = "legacy_accounts")]
#[serde(rename_all = "PascalCase")]
struct LegacyAccount {
    #[migrate(id)]
    id: i32,
    #[serde(rename = "e-mail")]
    email: String,
    display_name: Option<String>,
    #[migrate(junction = "account_watchers", references = User, key = "email", target_column = "email")]
    watchers: Vec<String>,
    #[migrate(skip)]
    session: Option<String>,
}

/// Models that reference each other, and themselves.
#[derive(Debug, Migrate)]
#[migrate(collection = "people")]
struct Person {
    #[migrate(id)]
    id: ObjectId,
    #[migrate(references = Person, on_missing = "null")]
    manager: Option<ObjectId>,
    #[migrate(references = Team)]
    team: i32,
}

#[derive(Debug, Migrate)]
#[migrate(collection = "teams")]
struct Team {
    #[migrate(id)]
    id: i32,
    #[migrate(references = Person)]
    lead: ObjectId,
    #[migrate(junction, references = Person, target_column = "member_id")]
    members: Vec<ObjectId>,
}

// ---------------------------------------------------------------------------------------------
// Helpers.

fn oid(n: u8) -> ObjectId {
    let mut bytes = [0x5a, 0x94, 0x27, 0x64, 0, 0, 0, 0, 0, 0, 0, 0];
    bytes[11] = n;
    ObjectId::from_bytes(bytes)
}

fn raw(doc: &Document) -> RawDocumentBuf {
    RawDocumentBuf::try_from(doc).expect("test documents serialize")
}

fn decode<T: Migrate>(doc: &Document) -> Result<T, FieldError> {
    T::decode(&raw(doc))
}

fn rows<T: Migrate>(doc: &Document) -> RowSet {
    let model = T::model();
    let mut set = RowSet::new(&model);
    migrator::transform::transform::<T, _>(&model.collection, &raw(doc), &mut set)
        .expect("the document transforms");
    set
}

fn columns(table: &migrator::TableDef) -> Vec<(&str, String, bool, &str)> {
    table
        .columns
        .iter()
        .map(|c: &ColumnDef| (c.name.as_str(), c.ty.sql(), c.nullable, c.source.as_str()))
        .collect()
}

fn order_doc() -> Document {
    doc! {
        "_id": oid(1),
        "customerId": oid(10),
        "courierId": null,
        "contactEmail": "ada@example.com",
        "status": "IN_TRANSIT",
        "history": ["PENDING", "IN_TRANSIT"],
        "total": "12.50",
        "meta": { "channel": "web", "priority": 2 },
        "legacyId": oid(99),
        "tags": [oid(20), oid(21), oid(20), oid(22), oid(21)],
        "items": [
            {
                "sku": "A-1",
                "price": 9.5,
                "reviews": [
                    { "rating": 5, "author": oid(10) },
                    { "rating": 3, "author": oid(11) },
                ],
                "labels": [oid(20)],
            },
            { "sku": "B-2", "price": 3, "labels": null },
        ],
        "ignoredKey": true,
    }
}

// ---------------------------------------------------------------------------------------------
// model().

#[test]
fn model_lists_tables_in_field_order_with_nested_tables_after_their_parent() {
    let model = Order::model();
    assert_eq!(model.rust_name, "Order");
    assert_eq!(model.collection, "shopOrders");
    assert_eq!(model.id_strategy, IdStrategy::Ordered);
    let names: Vec<_> = model.tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "shop_orders",
            "shop_orders_tags",
            "shop_orders_items",
            "item_reviews",
            "shop_orders_items_labels",
        ]
    );
    assert_eq!(<LineItem as Embedded>::TABLE_COUNT, 3);
    assert_eq!(<Review as Embedded>::TABLE_COUNT, 1);
}

#[test]
fn own_table_has_the_id_first_then_stored_fields_in_order() {
    let model = Order::model();
    let table = model.table();
    assert_eq!(table.role, TableRole::Collection);
    assert_eq!(table.source, "shopOrders");
    assert_eq!(
        columns(table),
        [
            ("id", "uuid".to_string(), false, "_id"),
            ("customer_id", "uuid".to_string(), false, "customerId"),
            ("courier_id", "uuid".to_string(), true, "courierId"),
            ("contact_email", "text".to_string(), true, "contactEmail"),
            ("status", "text".to_string(), false, "status"),
            ("history", "text[]".to_string(), false, "history"),
            ("total", "bigint".to_string(), false, "total"),
            ("currency", "text".to_string(), false, "currency"),
            ("notes", "text[]".to_string(), false, "notes"),
            ("meta", "jsonb".to_string(), true, "meta"),
            ("legacy_id", "text".to_string(), false, "legacyId"),
        ]
    );
    assert_eq!(table.primary_key, ["id"]);
    assert_eq!(table.indexes, [vec!["legacy_id".to_string()]]);
    let refs: Vec<_> = table
        .references
        .iter()
        .map(|r| (r.column.as_str(), r.target.clone(), r.on_missing))
        .collect();
    let user = |key: Option<&str>| RefTarget::Model {
        rust_name: "User",
        type_id: std::any::TypeId::of::<User>(),
        key: key.map(str::to_string),
    };
    assert_eq!(
        refs,
        [
            ("customer_id", user(None), MissingPolicy::Reject),
            ("courier_id", user(None), MissingPolicy::SetNull),
            ("contact_email", user(Some("email")), MissingPolicy::Keep),
        ]
    );
}

#[test]
fn junction_tables_reference_their_owner_and_their_target() {
    let model = Order::model();
    let tags = &model.tables[1];
    assert_eq!(
        tags.role,
        TableRole::Junction {
            field: "tags".into()
        }
    );
    assert_eq!(tags.source, "shopOrders.tags[]");
    assert_eq!(
        columns(tags),
        [
            ("order_id", "uuid".to_string(), false, "<parent key>"),
            ("tag_id", "uuid".to_string(), false, "tags[]"),
            ("position", "integer".to_string(), false, "<array position>"),
        ]
    );
    assert_eq!(tags.primary_key, ["order_id", "tag_id"]);
    assert_eq!(tags.indexes, [vec!["tag_id".to_string()]]);
    assert_eq!(tags.references[0].target, RefTarget::Table(0));
    assert!(matches!(
        &tags.references[1].target,
        RefTarget::Model {
            rust_name: "Tag",
            key: None,
            ..
        }
    ));

    let labels = &model.tables[4];
    assert_eq!(
        labels.role,
        TableRole::Junction {
            field: "items[].labels".into()
        }
    );
    assert_eq!(labels.source, "shopOrders.items[].labels[]");
    assert_eq!(labels.primary_key, ["line_item_id", "label_id"]);
    assert_eq!(labels.references[0].target, RefTarget::Table(2));

    let watchers = &LegacyAccount::model().tables[1];
    assert_eq!(watchers.name, "account_watchers");
    assert_eq!(
        columns(watchers),
        [
            (
                "legacy_account_id",
                "integer".to_string(),
                false,
                "<parent key>"
            ),
            ("email", "text".to_string(), false, "Watchers[]"),
        ]
    );
}

#[test]
fn child_tables_hold_id_parent_and_position_then_their_columns() {
    let model = Order::model();
    let items = &model.tables[2];
    assert_eq!(
        items.role,
        TableRole::Child {
            field: "items".into()
        }
    );
    assert_eq!(items.source, "shopOrders.items[]");
    assert_eq!(
        columns(items),
        [
            ("id", "uuid".to_string(), false, "<row id>"),
            ("parent_id", "uuid".to_string(), false, "<parent key>"),
            ("position", "integer".to_string(), false, "<array position>"),
            ("sku", "text".to_string(), false, "items[].sku"),
            (
                "price",
                "double precision".to_string(),
                false,
                "items[].price"
            ),
        ]
    );
    assert_eq!(
        items.uniques,
        [vec!["parent_id".to_string(), "position".to_string()]]
    );
    assert_eq!(items.references[0].target, RefTarget::Table(0));

    let reviews = &model.tables[3];
    assert_eq!(reviews.source, "shopOrders.items[].reviews[]");
    assert_eq!(
        reviews.role,
        TableRole::Child {
            field: "items[].reviews".into()
        }
    );
    assert_eq!(
        columns(reviews)[1..].to_vec(),
        [
            ("item_id", "uuid".to_string(), false, "<parent key>"),
            ("position", "integer".to_string(), false, "<array position>"),
            (
                "rating",
                "integer".to_string(),
                false,
                "items[].reviews[].rating"
            ),
            (
                "author",
                "uuid".to_string(),
                false,
                "items[].reviews[].author"
            ),
        ]
    );
    assert_eq!(reviews.references[0].target, RefTarget::Table(2));
    assert_eq!(reviews.references[0].column, "item_id");
    assert!(matches!(
        &reviews.references[1].target,
        RefTarget::Model {
            rust_name: "User",
            ..
        }
    ));
}

#[test]
fn ids_keep_their_strategy_and_type() {
    assert_eq!(Tag::ID_STRATEGY, IdStrategy::V5);
    assert_eq!(LegacyAccount::ID_STRATEGY, IdStrategy::Keep);
    let model = LegacyAccount::model();
    assert_eq!(model.collection, "legacy_account");
    assert_eq!(model.table().name, "legacy_accounts");
    assert_eq!(model.table().columns[0].ty, PgType::Integer);
    // A reference's column takes the target's key type: Tag keeps v5 UUIDs.
    assert_eq!(Order::model().tables[1].columns[1].ty, PgType::Uuid);
}

#[test]
fn the_models_form_a_consistent_schema() {
    let schema = migrator::schema![User, Tag, Order, LegacyAccount];
    assert!(schema.is_ok(), "{schema:?}");
}

#[test]
fn models_can_reference_each_other_and_themselves() {
    let schema = migrator::schema![Person, Team];
    assert!(schema.is_ok(), "{schema:?}");
    let set = rows::<Person>(&doc! { "_id": oid(1), "manager": oid(2), "team": 7 });
    let manager = oid(2).key(IdStrategy::Ordered);
    assert_eq!(set.rows(0)[0][1], manager.to_cell());
    assert_eq!(set.rows(0)[0][2], Cell::Int(7));
    let team = rows::<Team>(&doc! { "_id": 7, "lead": oid(1), "members": [oid(1), oid(2)] });
    assert_eq!(team.rows(1).len(), 2);
    assert_eq!(team.rows(1)[1], [Cell::Int(7), manager.to_cell()]);
}

// ---------------------------------------------------------------------------------------------
// Rows.

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

// ---------------------------------------------------------------------------------------------
// Decode errors.

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

// ---------------------------------------------------------------------------------------------
// Enums.

#[test]
fn enums_read_labels_and_describe_their_type() {
    let value = |s: &str| migrator::bson::RawBson::String(s.to_string());
    assert_eq!(
        Role::from_bson(value("read-only").as_raw_bson_ref()),
        Ok(Role::ReadOnly)
    );
    assert_eq!(
        Role::from_bson(value("admin").as_raw_bson_ref()),
        Ok(Role::Admin)
    );
    let e = Role::from_bson(value("Admin").as_raw_bson_ref()).expect_err("labels are exact");
    assert_eq!(
        e.kind(),
        &FieldErrorKind::NotInEnum {
            value: "Admin".into(),
            expected: &["admin", "member", "read-only"],
        }
    );
    let e = Role::from_bson(migrator::bson::RawBson::Int32(1).as_raw_bson_ref())
        .expect_err("not a string");
    assert_eq!(e.to_string(), "expected string, found int32 1");
    assert_eq!(
        Role::column_type(),
        (
            PgType::Enum(EnumDef {
                name: "role",
                values: &["admin", "member", "read-only"],
                repr: EnumRepr::Native,
            }),
            false
        )
    );
    assert_eq!(Role::Member.to_cell(), Cell::Enum("member".into()));
    let mut buf = Vec::new();
    Role::Member.encode(&mut buf);
    assert_eq!(buf, b"\0\0\0\x06member");
    let (ty, _) = Status::column_type();
    assert_eq!(ty.sql(), "text");
    assert_eq!(<Vec<Status>>::column_type().0.sql(), "text[]");
}
