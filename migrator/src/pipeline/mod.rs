//! The run loop: partitions read and transformed on their own threads, batches written through
//! bounded channels (a full channel blocks the reader), checkpoints with every batch.

pub mod absent;
pub mod batch;
mod changes;
pub mod config;
pub mod dry_run;
mod early;
mod finished;
pub mod malformed;
pub mod memory;
pub mod reader;
mod reload;
pub mod run;
pub mod tables;
