//! Session settings (commits, index builds, replica role, names) and whole databases (tests
//! and the benchmark create and drop their own).

use crate::naming::{quote_ident, quote_literal};

/// Writer sessions do not wait for the WAL flush of each commit (see `BatchWriter`).
pub const ASYNC_COMMIT: &str = "SET synchronous_commit = off";

/// Renames a session (`application_name`, shown in `pg_stat_activity`).
pub fn set_application_name(name: &str) -> String {
    format!("SET application_name = {}", quote_literal(name))
}

/// Index builds of the session use no parallel workers: for builds that run while the load keeps
/// every core busy, where workers only add their start and their coordination.
pub const SERIAL_BUILDS: &str = "SET max_parallel_maintenance_workers = 0";

/// One transaction does not wait for the WAL flush of its commit.
pub const ASYNC_COMMIT_LOCAL: &str = "SET LOCAL synchronous_commit = off";

/// Disables foreign-key triggers for the session (loading into existing tables that have them).
pub const SET_REPLICA_ROLE: &str = "SET session_replication_role = replica";

/// Turns them on again.
pub const RESET_REPLICA_ROLE: &str = "RESET session_replication_role";

pub fn create_database(name: &str) -> String {
    format!("CREATE DATABASE {}", quote_ident(name))
}

pub fn drop_database(name: &str) -> String {
    format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote_ident(name))
}
