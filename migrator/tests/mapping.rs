//! The mapping (`migrator mapping`): every column's kind and what reproducing it needs, read from
//! the models the derive describes.

use migrator::bson::{oid::ObjectId, Document, RawBsonRef};
use migrator::Migrate;
use serde_json::{json, Value};

#[derive(Debug, Migrate)]
#[migrate(collection = "users")]
struct User {
    #[migrate(id)]
    id: ObjectId,
    #[migrate(unique)]
    email: String,
}

#[derive(Debug, Migrate)]
#[migrate(collection = "tags")]
struct Tag {
    #[migrate(id, strategy = "v5")]
    id: ObjectId,
    label: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Migrate)]
#[migrate(name = "order_state", repr = "text", rename_all = "lowercase")]
enum State {
    Open,
    Closed,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Meta {
    channel: String,
    priority_level: Option<i32>,
}

fn doubled(value: RawBsonRef<'_>) -> Result<i64, String> {
    match value {
        RawBsonRef::Int32(i) => Ok(i64::from(i) * 2),
        _ => Err("expected an int32".into()),
    }
}

fn default_currency() -> String {
    "EUR".to_string()
}

#[derive(Debug, Migrate)]
#[migrate(collection = "orders", rename_all = "camelCase")]
struct Order {
    #[migrate(id)]
    id: ObjectId,
    #[migrate(references = User)]
    customer_id: ObjectId,
    #[migrate(references = User, key = "email", on_missing = "keep")]
    contact: Option<String>,
    state: State,
    #[migrate(with = doubled)]
    total: i64,
    #[migrate(default = "default_currency")]
    currency: String,
    #[migrate(default)]
    notes: Vec<String>,
    #[migrate(jsonb)]
    meta: Option<Meta>,
    extra: Option<Document>,
    #[migrate(as_text)]
    legacy_id: ObjectId,
    #[migrate(junction, references = Tag, position)]
    tags: Vec<ObjectId>,
    #[migrate(child)]
    items: Vec<Item>,
}

#[derive(Debug, Migrate)]
#[migrate(embedded)]
struct Item {
    sku: String,
    #[migrate(child = "item_notes", parent_column = "item_id", default)]
    notes: Vec<Note>,
}

#[derive(Debug, Migrate)]
#[migrate(embedded)]
struct Note {
    text: String,
}

fn mapping() -> Value {
    let schema = migrator::schema![User, Tag, Order].expect("a consistent schema");
    migrator::mapping::mapping(&schema, Some("app"))
}

fn table<'a>(mapping: &'a Value, name: &str) -> &'a Value {
    mapping["collections"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| c["tables"].as_array().into_iter().flatten())
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no table {name}"))
}

fn column<'a>(table: &'a Value, name: &str) -> &'a Value {
    table["columns"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no column {name} in {}", table["name"]))
}

#[test]
fn every_column_kind_says_what_it_needs() {
    let mapping = mapping();
    assert_eq!(mapping["format"], "migrator-mapping/1");
    let orders = table(&mapping, "orders");
    let cases = [
        (
            "id",
            json!({"kind": "id", "key": "_id", "strategy": "ordered", "type": "uuid"}),
        ),
        (
            "customer_id",
            json!({"kind": "reference", "key": "customerId", "on_missing": "reject",
                   "target": {"table": "users", "column": "id", "strategy": "ordered"}}),
        ),
        (
            "contact",
            json!({"kind": "reference", "nullable": true, "on_missing": "keep",
                   "target": {"table": "users", "column": "email", "strategy": null}}),
        ),
        (
            "state",
            json!({"kind": "enum", "enum": "order_state", "type": "text"}),
        ),
        (
            "total",
            json!({"kind": "scalar", "type": "bigint", "with": "doubled"}),
        ),
        ("currency", json!({"kind": "scalar", "default": "EUR"})),
        (
            "notes",
            json!({"kind": "array", "element": "text", "default": []}),
        ),
        (
            "meta",
            json!({"kind": "jsonb", "serde": {"type": "Meta", "fields": ["channel", "priorityLevel"]}}),
        ),
        (
            "extra",
            json!({"kind": "jsonb", "json": "relaxed_extended_json", "nullable": true}),
        ),
        (
            "legacy_id",
            json!({"kind": "object_id_text", "type": "text"}),
        ),
    ];
    for (name, expected) in cases {
        let got = column(orders, name);
        for (key, value) in expected.as_object().into_iter().flatten() {
            assert_eq!(&got[key], value, "{name}.{key} in {got}");
        }
    }
    assert!(column(orders, "total").get("default").is_none());
}

#[test]
fn junction_and_child_tables_name_their_parent_and_array() {
    let mapping = mapping();
    let tags = table(&mapping, "orders_tags");
    assert_eq!(tags["role"], "junction");
    assert_eq!(tags["parent"], "orders");
    assert_eq!(tags["array_key"], "tags");
    let kinds: Vec<&Value> = tags["columns"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| &c["kind"])
        .collect();
    assert_eq!(kinds, ["parent_key", "reference", "position"]);
    assert_eq!(column(tags, "tag_id")["key"], "");
    assert_eq!(column(tags, "tag_id")["target"]["strategy"], "v5");

    let notes = table(&mapping, "item_notes");
    assert_eq!(notes["role"], "child");
    assert_eq!(notes["parent"], "orders_items");
    assert_eq!(notes["array"], "items[].notes");
    assert_eq!(notes["array_key"], "notes");
    assert_eq!(
        column(notes, "id"),
        &json!({"name": "id", "type": "uuid", "nullable": false, "source": "<row id>",
                "field": "notes", "kind": "child_row_id"})
    );
    assert_eq!(column(notes, "item_id")["kind"], "parent_key");
    assert_eq!(column(notes, "text")["key"], "text");
}

#[test]
fn the_ddl_and_conventions_come_along() {
    let mapping = mapping();
    let tables = mapping["ddl"]["tables"].as_array().expect("tables");
    assert_eq!(tables.len(), 6);
    assert!(tables
        .iter()
        .all(|t| t.as_str().is_some_and(|s| s.contains("\"app\"."))));
    assert!(!mapping["ddl"]["foreign_keys"]
        .as_array()
        .expect("foreign keys")
        .is_empty());
    assert_eq!(
        mapping["conventions"]["child_row_namespace"],
        migrator::id::CHILD_ROW_NAMESPACE.to_string()
    );
    assert_eq!(
        mapping["enums"]["order_state"]["labels"],
        json!(["open", "closed"])
    );
}
