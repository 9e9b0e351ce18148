//! All SQL text of the project. Identifiers go through [`crate::naming::quote_ident`]; values
//! never enter SQL text (the few literals DDL cannot parameterise, enum labels, go through
//! [`crate::naming::quote_literal`]).
//!
//! Grouped by what the SQL is for: the target's `tables` (types, tables, keys), its
//! `constraints` (foreign keys, indexes), `copy` (the binary COPY statements), the run's
//! `state`, its `dead_letters`, the `foreign_keys` of a user's own tables, the `references`
//! resolved after the load, what `validate` compares, and `session` settings. Every item is
//! reachable as `sql::item`.

mod census;
mod constraints;
mod copy;
mod dead_letters;
mod follow;
mod foreign_keys;
mod oplog;
mod references;
mod session;
mod state;
mod tables;
mod validate;

pub use self::census::*;
pub use self::constraints::*;
pub use self::copy::*;
pub use self::dead_letters::*;
pub use self::follow::*;
pub use self::foreign_keys::*;
pub use self::oplog::*;
pub use self::references::*;
pub use self::session::*;
pub use self::state::*;
pub use self::tables::*;
pub use self::validate::*;

use crate::naming::{quote_ident, quote_qualified};

/// A place tables live: an optional PostgreSQL schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Namespace<'a>(pub Option<&'a str>);

impl Namespace<'_> {
    pub fn qualify(&self, name: &str) -> String {
        quote_qualified(self.0, name)
    }
}

fn column_list(columns: &[String]) -> String {
    columns
        .iter()
        .map(|c| quote_ident(c))
        .collect::<Vec<_>>()
        .join(", ")
}
