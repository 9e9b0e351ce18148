//! sample_analytics: accounts and the customers that hold them.

use std::collections::BTreeMap;

use migrator::bson::{oid::ObjectId, DateTime, Document};
use migrator::Migrate;

/// `accounts`: `account_id` is the natural key customers use, and is not unique in the data
/// (627788 appears twice): the unique constraint sends the second one to the dead letters.
#[derive(Debug, Migrate)]
#[migrate(collection = "accounts")]
pub struct Account {
    #[migrate(id)]
    pub id: ObjectId,
    #[migrate(unique)]
    pub account_id: i32,
    pub limit: i32,
    pub products: Vec<String>,
}

/// `customers`: `accounts` is an array of `account_id`s (a many-to-many through a natural key).
#[derive(Debug, Migrate)]
#[migrate(collection = "customers")]
pub struct Customer {
    #[migrate(id)]
    pub id: ObjectId,
    pub username: String,
    pub name: String,
    pub address: String,
    pub birthdate: DateTime,
    pub email: String,
    /// Present in 1 of 500 documents.
    pub active: Option<bool>,
    #[migrate(
        junction = "customer_accounts",
        references = Account,
        key = "account_id",
        target_column = "account_id",
        on_missing = "skip"
    )]
    pub accounts: Vec<i32>,
    /// A map keyed by random hex ids, often empty: kept as jsonb.
    pub tier_and_details: BTreeMap<String, Document>,
}
