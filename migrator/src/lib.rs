//! migrator: typed, resumable MongoDB -> PostgreSQL migrations.
//!
//! Annotate one struct per collection with `#[derive(Migrate)]`, list them in a
//! [`schema!`], and run the generated transformations through the engine.

pub mod allocator;
pub mod artifacts;
mod bson_key;
pub mod census;
pub mod cli;
pub mod dead_letter;
pub mod error;
#[cfg(feature = "live")]
pub mod follow;
pub mod geo;
pub mod id;
pub mod mapping;
pub mod model;
pub mod naming;
pub mod pipeline;
pub mod plan;
pub mod prisma;
pub mod progress;
pub mod references;
pub mod report;
pub mod run_error;
pub mod scaffold;
pub mod schema;
pub mod sink;
pub mod source;
pub mod state;
pub mod testing;
pub mod transform;
pub mod validate;
pub mod value;

#[doc(hidden)]
pub mod __private;

/// A failed allocation ends the program with a message and exit code 7, not SIGABRT (see
/// [`allocator`]); the default feature `allocator` installs it.
#[cfg(feature = "allocator")]
#[global_allocator]
static ALLOCATOR: allocator::Guarded = allocator::Guarded::system();

pub use error::{DocumentError, FieldError, FieldErrorKind};
pub use id::{IdKey, Key};
pub use migrator_derive::Migrate;
pub use model::{IdStrategy, MissingPolicy, ModelDef, PgType, TableDef};
pub use schema::{ModelHandle, Schema, SchemaError};
pub use transform::{Embedded, Migrate, RowSet, RowSink};
pub use value::{load_time, ArrayElement, Cell, FromBson, PgValue, Vector};

/// Re-exported so models can name BSON types without their own dependency.
pub use bson;

/// The README's Rust examples, compiled and run as doctests.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
