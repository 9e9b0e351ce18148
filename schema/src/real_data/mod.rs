//! Models for the real MongoDB exports in `../shared/data`: MongoDB's sample_analytics and
//! sample_mflix data sets and MongoDB University's mongomart.

pub mod analytics;
pub mod convert;
pub mod mflix;
pub mod mongomart;

use migrator::{Schema, SchemaError};

/// Every real-data model, as one schema.
pub fn schema() -> Result<Schema, SchemaError> {
    migrator::schema![
        analytics::Account,
        analytics::Customer,
        mflix::User,
        mflix::Theater,
        mflix::Session,
        mflix::Movie,
        mflix::Comment,
        mongomart::Item,
        mongomart::Cart,
    ]
}
