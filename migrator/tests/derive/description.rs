//! `model()`: the tables, columns, ids and references a derived model describes.

use migrator::bson::doc;
use migrator::model::{RefTarget, TableRole};
use migrator::{Cell, Embedded, IdKey, IdStrategy, Migrate, MissingPolicy, PgType, PgValue};

use super::{columns, oid, rows, LegacyAccount, LineItem, Order, Person, Review, Tag, Team, User};

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
