//! The end-to-end harness: a PostgreSQL database per test ([`pg::TestDb`]), a database per test
//! on the Mongo-wire server ([`mongo::MongoDb`]), data sets written as every kind of source
//! ([`data::Dataset`]), what a run must leave behind computed from the data ([`expect`]), the
//! `e2e-migrate` binary run, interrupted and killed ([`cli::Cli`]), seeded moments for
//! interruptions ([`moments::Moments`]) and kill-and-resume loops ([`kills`]), the fixture schema for bad-input tests
//! ([`fixture`]) and models that miss keys of their documents ([`keys`]), change workloads
//! ([`changes`] on the fixture, [`example_changes`] on the example application) and what the
//! follow tests share ([`follow`]: the oracle, the drain, the kill loops; [`example_follow`] on the
//! example).
//!
//! ```sh
//! bash .ci/test -p migrator-e2e      # starts PostgreSQL and the Mongo-wire server if needed
//! ```
//!
//! Both servers are required: a missing one fails the test that needs it, saying what to do.
//! PostgreSQL is `MIGRATOR_TEST_PG_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`),
//! the Mongo-wire server `MIGRATOR_TEST_MONGO_URI`. Every test database is dropped at the end,
//! also when the test fails, unless `E2E_KEEP_DATABASES=1`.

pub mod changes;
pub mod cli;
pub mod data;
pub mod example;
pub mod example_changes;
pub mod example_follow;
pub mod expect;
pub mod fixture;
pub mod follow;
pub mod keys;
pub mod kills;
pub mod moments;
pub mod mongo;
pub mod oplog;
pub mod pg;
pub mod prisma;
