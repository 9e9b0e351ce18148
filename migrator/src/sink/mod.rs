//! PostgreSQL: DDL, all SQL text, and the binary COPY encoder.

pub mod constraints;
pub mod copy;
pub mod ddl;
pub mod postgres;
pub mod sql;
