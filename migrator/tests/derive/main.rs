//! What `#[derive(Migrate)]` generates, exercised end to end: model descriptions, decoding with
//! error paths, and the rows documents become.

mod decode_errors;
mod description;
mod enums;
mod key_fates;
mod row_sets;

use migrator::bson::{doc, oid::ObjectId, Document, RawBsonRef, RawDocumentBuf};
use migrator::model::ColumnDef;
use migrator::{FieldError, Migrate, RowSet};

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
