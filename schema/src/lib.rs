//! The schemas this repository ships: the real-data models (MongoDB's public sample data) and the
//! example application.

pub mod accounts;
pub mod example;
pub mod generator;
pub mod real_data;

use migrator::{Schema, SchemaError};

/// Every schema whose DDL and load plan are checked into `generated/`: (folder, title, schema).
pub fn generated_schemas() -> Vec<(&'static str, &'static str, Result<Schema, SchemaError>)> {
    vec![
        ("real_data", "Real-data models", real_data::schema()),
        ("example", "Example application", example::schema()),
    ]
}
