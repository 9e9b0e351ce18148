//! A user directory: one large collection and two small ones, the shape most applications
//! have (the benchmark's large-collection workload).
//!
//! `users` (300,000 at size 1) each have a nested profile, a Decimal128 balance, their
//! organization and 0 to 4 roles; `orgs` (1,000) and `roles` (50) are what they point at. The
//! `_id`s are ObjectIds whose timestamps follow the users' sign-up dates over three years, as
//! an application's would.

pub mod generator;

use migrator::bson::{oid::ObjectId, DateTime, Decimal128};
use migrator::Migrate;
use serde::{Deserialize, Serialize};

/// `roles`: what a user may do.
#[derive(Debug, Migrate)]
#[migrate(collection = "roles", rename_all = "camelCase")]
pub struct Role {
    #[migrate(id)]
    pub id: ObjectId,
    #[migrate(unique)]
    pub name: String,
    pub permissions: Vec<String>,
}

/// `orgs`: the organizations users belong to.
#[derive(Debug, Migrate)]
#[migrate(collection = "orgs", rename_all = "camelCase")]
pub struct Org {
    #[migrate(id)]
    pub id: ObjectId,
    pub name: String,
    #[migrate(unique)]
    pub slug: String,
    pub created_at: DateTime,
}

/// A user's postal address, inside the profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    pub street: String,
    pub city: String,
    pub postal_code: String,
    pub country: String,
}

/// A user's profile, kept as jsonb.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub display_name: String,
    pub bio: Option<String>,
    pub locale: String,
    pub address: Address,
    pub interests: Vec<String>,
}

/// `users`: the large collection; `role_ids` becomes the `user_roles` junction.
#[derive(Debug, Migrate)]
#[migrate(collection = "users", rename_all = "camelCase")]
pub struct User {
    #[migrate(id)]
    pub id: ObjectId,
    #[migrate(references = Org, index)]
    pub org_id: ObjectId,
    #[migrate(unique)]
    pub email: String,
    pub name: String,
    pub balance: Decimal128,
    #[migrate(jsonb)]
    pub profile: Profile,
    #[migrate(junction = "user_roles", references = Role, target_column = "role_id")]
    pub role_ids: Vec<ObjectId>,
    pub active: bool,
    pub created_at: DateTime,
    pub last_login_at: Option<DateTime>,
}

/// The three models as one schema.
pub fn schema() -> Result<migrator::Schema, migrator::SchemaError> {
    migrator::schema![Role, Org, User]
}
