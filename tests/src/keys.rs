//! Models that miss keys of their documents, for the key census tests: the same `contacts`
//! documents read three ways.
//!
//! ```text
//! documents   _id, name, Custom_Note (a case-different key), phone_number, legacy_score
//!             (undeclared), nickname (undeclared, always null), address { city, zip }
//! contacts          declares custom_note and phone_numbr (misspelled), `address` as jsonb;
//!                   drops the rest
//! contacts_ignored  the same model, with `ignore = [..]` naming every key it leaves out
//! contacts_lenient  the same model, with `unknown_fields = "ignore"`
//! ```

use bson::{doc, Bson, Document};
use migrator::{Migrate, Schema, SchemaError};

#[derive(Debug, Migrate)]
#[migrate(collection = "contacts")]
pub struct Contact {
    #[migrate(id)]
    pub id: i32,
    pub name: String,
    /// The documents say `Custom_Note`.
    pub custom_note: Option<String>,
    /// Misspelled: the documents say `phone_number`.
    pub phone_numbr: Option<String>,
    pub address: Option<Document>,
}

#[derive(Debug, Migrate)]
#[migrate(
    collection = "contacts_ignored",
    ignore = ["Custom_Note", "phone_number", "legacy_score", "nickname"]
)]
pub struct ContactIgnoring {
    #[migrate(id)]
    pub id: i32,
    pub name: String,
    pub custom_note: Option<String>,
    pub phone_numbr: Option<String>,
    pub address: Option<Document>,
}

#[derive(Debug, Migrate)]
#[migrate(collection = "contacts_lenient", unknown_fields = "ignore")]
pub struct ContactLenient {
    #[migrate(id)]
    pub id: i32,
    pub name: String,
    pub custom_note: Option<String>,
    pub phone_numbr: Option<String>,
    pub address: Option<Document>,
}

pub fn schema() -> Result<Schema, SchemaError> {
    migrator::schema![Contact, ContactIgnoring, ContactLenient]
}

/// The documents of each collection: 10 contacts; `Custom_Note` in 4 (ids 1, 4, 7, 10),
/// `phone_number` in 5 (even ids), `legacy_score` in 3 (ids 3, 6, 9), `nickname` null in 2
/// (ids 1, 2), `address` in every one.
pub fn documents() -> Vec<Document> {
    (1..=10)
        .map(|i: i32| {
            let mut d = doc! { "_id": i, "name": format!("contact {i}") };
            if i % 3 == 1 {
                d.insert("Custom_Note", format!("note {i}"));
            }
            if i % 2 == 0 {
                d.insert("phone_number", format!("555-010{i}"));
            }
            if i % 3 == 0 {
                d.insert("legacy_score", i * 10);
            }
            if i <= 2 {
                d.insert("nickname", Bson::Null);
            }
            d.insert(
                "address",
                doc! { "city": "Lyon", "zip": format!("6900{i}") },
            );
            d
        })
        .collect()
}
