//! A small shop schema for bad-input tests: a reference under every policy, a junction, a child
//! table, a native enum, and one collection that rejects unknown fields.
//!
//! ```text
//! customers   id, name, email (unique)
//! coupons     id, code
//! products    id, sku (unique), price, description?        unknown fields rejected
//! orders      id, status (enum order_status),
//!             customer_id -> customers       reject
//!             coupon_id?  -> coupons         null
//!             referrer?   -> customers.email keep
//!             products[]  -> products        skip (junction order_products)
//!             lines[]                        child order_lines
//! shipments   id, order_id -> orders         skip
//! ```

use bson::{doc, Bson, Document};
use migrator::{Migrate, Schema, SchemaError};

#[derive(Debug, Migrate)]
#[migrate(collection = "customers")]
pub struct Customer {
    #[migrate(id)]
    pub id: i32,
    pub name: String,
    #[migrate(unique)]
    pub email: String,
}

#[derive(Debug, Migrate)]
#[migrate(collection = "coupons")]
pub struct Coupon {
    #[migrate(id)]
    pub id: i32,
    pub code: String,
}

#[derive(Debug, Migrate)]
#[migrate(collection = "products", unknown_fields = "reject")]
pub struct Product {
    #[migrate(id)]
    pub id: i32,
    #[migrate(unique)]
    pub sku: String,
    pub price: f64,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Migrate)]
#[migrate(name = "order_status", repr = "native", rename_all = "lowercase")]
pub enum OrderStatus {
    Pending,
    Shipped,
    Cancelled,
}

#[derive(Debug, Migrate)]
#[migrate(embedded)]
pub struct Line {
    pub sku: String,
    pub quantity: i32,
    pub price: f64,
}

#[derive(Debug, Migrate)]
#[migrate(collection = "orders")]
pub struct Order {
    #[migrate(id)]
    pub id: i32,
    pub status: OrderStatus,
    #[migrate(references = Customer, on_missing = "reject")]
    pub customer_id: i32,
    #[migrate(references = Coupon, on_missing = "null")]
    pub coupon_id: Option<i32>,
    #[migrate(references = Customer, key = "email", on_missing = "keep")]
    pub referrer: Option<String>,
    #[migrate(
        junction = "order_products",
        references = Product,
        owner_column = "order_id",
        target_column = "product_id",
        on_missing = "skip"
    )]
    pub products: Vec<i32>,
    #[migrate(child = "order_lines", parent_column = "order_id")]
    pub lines: Vec<Line>,
}

#[derive(Debug, Migrate)]
#[migrate(collection = "shipments")]
pub struct Shipment {
    #[migrate(id)]
    pub id: i32,
    #[migrate(references = Order, on_missing = "skip")]
    pub order_id: i32,
    pub carrier: String,
}

/// Every collection of the fixture.
pub const COLLECTIONS: [&str; 5] = ["customers", "coupons", "products", "orders", "shipments"];

/// The fixture schema.
pub fn schema() -> Result<Schema, SchemaError> {
    migrator::schema![Customer, Coupon, Product, Order, Shipment]
}

/// A clean data set for the fixture: every document fits its model and every reference
/// resolves. Tests break it in one place each.
///
/// customers 1..=12, coupons 1..=3, products 1..=10, orders 1..=30 (order `i` belongs to
/// customer `1 + i % 12`, has products `1 + i % 10` and `1 + 3i % 10`, `i % 3` lines, a coupon
/// unless `i % 4` is 0 (null) or 1 (absent), a referrer when `i % 5 == 0`), shipments 1..=20
/// (shipment `i` ships order `i`).
pub fn clean() -> Vec<(&'static str, Vec<Document>)> {
    let customers = (1..=12)
        .map(|i| doc! {"_id": i, "name": format!("customer {i}"), "email": email(i)})
        .collect();
    let coupons = (1..=3)
        .map(|i| doc! {"_id": i, "code": format!("SAVE{i}")})
        .collect();
    let products = (1..=10)
        .map(|i| {
            let mut d = doc! {"_id": i, "sku": format!("SKU-{i}"), "price": 1.25 * f64::from(i)};
            if i % 2 == 0 {
                d.insert("description", format!("product number {i}"));
            }
            d
        })
        .collect();
    let statuses = ["pending", "shipped", "cancelled"];
    let orders = (1..=30)
        .map(|i: i32| {
            let lines: Vec<Bson> = (0..i % 3)
                .map(|n| {
                    Bson::Document(doc! {
                        "sku": format!("SKU-{}", 1 + (i + n) % 10),
                        "quantity": 1 + n,
                        "price": 2.5,
                    })
                })
                .collect();
            let mut d = doc! {
                "_id": i,
                "status": statuses[(i % 3) as usize],
                "customer_id": 1 + i % 12,
                "products": [1 + i % 10, 1 + (3 * i) % 10],
                "lines": lines,
            };
            match i % 4 {
                0 => {
                    d.insert("coupon_id", Bson::Null);
                }
                1 => {}
                _ => {
                    d.insert("coupon_id", 1 + i % 3);
                }
            }
            if i % 5 == 0 {
                d.insert("referrer", email(1 + i % 12));
            }
            d
        })
        .collect();
    let shipments = (1..=20)
        .map(|i| doc! {"_id": i, "order_id": i, "carrier": if i % 2 == 0 { "ups" } else { "dhl" }})
        .collect();
    vec![
        ("customers", customers),
        ("coupons", coupons),
        ("products", products),
        ("orders", orders),
        ("shipments", shipments),
    ]
}

/// Rows per table of [`clean`].
pub const CLEAN_ROWS: [(&str, i64); 7] = [
    ("coupons", 3),
    ("customers", 12),
    ("order_lines", 30),
    ("order_products", 54),
    ("orders", 30),
    ("products", 10),
    ("shipments", 20),
];

pub fn email(customer: i32) -> String {
    format!("c{customer}@example.com")
}

/// The document with `_id` `id` of a collection of [`clean`] (or a changed copy of it).
pub fn doc_mut<'a>(
    data: &'a mut [(&'static str, Vec<Document>)],
    collection: &str,
    id: i32,
) -> &'a mut Document {
    data.iter_mut()
        .find(|(name, _)| *name == collection)
        .and_then(|(_, docs)| docs.iter_mut().find(|d| d.get_i32("_id").ok() == Some(id)))
        .unwrap_or_else(|| panic!("no {collection} {id} in the fixture"))
}

/// The documents of a collection of [`clean`].
pub fn docs_mut<'a>(
    data: &'a mut [(&'static str, Vec<Document>)],
    collection: &str,
) -> &'a mut Vec<Document> {
    data.iter_mut()
        .find(|(name, _)| *name == collection)
        .map(|(_, docs)| docs)
        .unwrap_or_else(|| panic!("no {collection} in the fixture"))
}
