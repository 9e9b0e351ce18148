//! PostgreSQL: DDL, all SQL text, the binary COPY encoder and the buffers it fills.

pub mod adapt;
pub mod constraints;
pub mod copy;
pub mod ddl;
pub mod existing;
pub mod extensions;
pub mod foreign_keys;
pub mod isolate;
pub mod pool;
pub mod postgres;
pub mod sql;
