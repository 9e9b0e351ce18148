//! mongomart: items with embedded reviews, and a cart holding embedded copies of items.

use migrator::bson::{oid::ObjectId, DateTime};
use migrator::Migrate;

use super::convert;

/// A review embedded in an item (and in the item copies inside carts).
#[derive(Debug, Migrate)]
#[migrate(embedded)]
pub struct Review {
    pub name: String,
    pub comment: String,
    pub stars: i32,
    /// Milliseconds since the epoch stored as a double.
    #[migrate(with = convert::millis_double)]
    pub date: DateTime,
}

/// `mongomart_item`: integer `_id`s; `reviews` present in 6 of 23.
#[derive(Debug, Migrate)]
#[migrate(collection = "mongomart_item", table = "items")]
pub struct Item {
    #[migrate(id)]
    pub id: i32,
    pub title: String,
    pub slogan: String,
    pub description: String,
    pub stars: i32,
    pub category: String,
    pub img_url: String,
    pub price: f64,
    #[migrate(child = "item_reviews", parent_column = "item_id")]
    pub reviews: Option<Vec<Review>>,
}

/// An item copied into a cart: its `_id` references the item; `price` mixes int32 and double.
#[derive(Debug, Migrate)]
#[migrate(embedded)]
pub struct CartItem {
    #[migrate(rename = "_id", column = "item_id", references = Item)]
    pub item_id: i32,
    pub title: String,
    pub slogan: String,
    pub description: String,
    pub stars: i32,
    pub category: String,
    pub img_url: String,
    pub price: f64,
    pub quantity: i32,
    #[migrate(child = "cart_item_reviews", parent_column = "cart_item_id")]
    pub reviews: Option<Vec<Review>>,
}

/// `mongomart_cart`: `userId` is an ObjectId written as a hex string.
#[derive(Debug, Migrate)]
#[migrate(
    collection = "mongomart_cart",
    table = "carts",
    rename_all = "camelCase"
)]
pub struct Cart {
    #[migrate(id)]
    pub id: ObjectId,
    #[migrate(with = convert::object_id_hex)]
    pub user_id: ObjectId,
    #[migrate(child = "cart_items", parent_column = "cart_id")]
    pub items: Vec<CartItem>,
}
