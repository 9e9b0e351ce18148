//! Loading into tables that already exist (as Prisma migrate would have made them, foreign keys
//! and all): every mismatch is reported before anything is written, and a matching target ends
//! with exactly the rows a run that creates its own tables gets.

use std::sync::Arc;

use migrator::pipeline::config::SchemaMode;
use migrator::report::Outcome;
use migrator::run_error::RunError;
use migrator::sink::ddl::Ddl;
use migrator::source::DumpSource;
use migrator_e2e::data::Dataset;
use migrator_e2e::pg::{TestDb, TARGET};

/// Creates the real-data tables the way an ORM would: everything, foreign keys included, up front.
fn create_like_an_orm(db: &TestDb, schema: &migrator::Schema) {
    let ddl = Ddl::new(schema, Some(TARGET));
    let mut statements = ddl.types.clone();
    statements.extend(ddl.tables.iter().cloned());
    statements.extend(ddl.foreign_keys.iter().map(|(_, s)| s.clone()));
    statements.extend(ddl.indexes.iter().cloned());
    let mut conn = db.connect();
    db.block_on(migrator::sink::ddl::execute_all(
        &mut conn,
        "create the tables",
        &statements,
    ))
    .expect("the tables are created");
}

#[test]
fn existing_tables_with_foreign_keys_load_like_created_ones() {
    let schema = schema::real_data::schema().expect("the real-data schema");
    let dir = tempfile::tempdir().expect("temp dir");
    Dataset::real().write_dump(dir.path());

    let created = TestDb::create("existing_baseline");
    let source = Arc::new(DumpSource::open(dir.path()).expect("the dump opens"));
    let report = created
        .run(&schema, source.clone(), created.config())
        .unwrap_or_else(|e| panic!("the baseline run failed: {e}"));
    assert_eq!(report.outcome, Outcome::Completed);

    let existing = TestDb::create("existing_target");
    create_like_an_orm(&existing, &schema);
    let mut config = existing.config();
    config.schema_mode = SchemaMode::Existing;
    let report = existing
        .run(&schema, source, config)
        .unwrap_or_else(|e| panic!("the run into existing tables failed: {e}"));
    assert_eq!(report.outcome, Outcome::Completed);
    assert_eq!(
        existing.table_hashes(),
        created.table_hashes(),
        "every row the same as when the run creates its tables"
    );
    assert_eq!(existing.dead_letters(), created.dead_letters());
    // The foreign keys were there all along and hold: nothing dangles.
    assert_eq!(
        existing.foreign_keys(),
        created.foreign_keys(),
        "the same foreign keys"
    );
}

#[test]
fn mismatched_existing_tables_are_all_reported_before_anything_is_written() {
    let schema = schema::real_data::schema().expect("the real-data schema");
    let dir = tempfile::tempdir().expect("temp dir");
    Dataset::real().write_dump(dir.path());
    let db = TestDb::create("existing_mismatch");
    create_like_an_orm(&db, &schema);
    let mut conn = db.connect();
    db.block_on(migrator::sink::ddl::execute_all(
        &mut conn,
        "break the tables",
        &[
            "ALTER TABLE users DROP COLUMN password".to_string(),
            "ALTER TABLE theaters ALTER COLUMN theater_id TYPE text".to_string(),
            "ALTER TABLE items ADD COLUMN sku text NOT NULL".to_string(),
            "ALTER TABLE movies ALTER COLUMN plot SET NOT NULL".to_string(),
            "DROP TABLE cart_item_reviews".to_string(),
            // A foreign key on the reference whose dangling value is kept, one on no reference.
            "ALTER TABLE sessions ADD CONSTRAINT sessions_owner FOREIGN KEY (user_id) \
             REFERENCES users (email)"
                .to_string(),
            "ALTER TABLE comments ADD CONSTRAINT comment_author FOREIGN KEY (name) \
             REFERENCES users (email)"
                .to_string(),
        ],
    ))
    .expect("the tables are changed");
    let mut config = db.config();
    config.schema_mode = SchemaMode::Existing;
    let source = Arc::new(DumpSource::open(dir.path()).expect("the dump opens"));
    let err = db
        .run(&schema, source, config)
        .expect_err("the run must refuse these tables");
    let RunError::SchemaMismatch { mismatches } = &err else {
        panic!("expected a schema mismatch, got {err}");
    };
    let text = mismatches.join("\n");
    for expected in [
        "column `users.password` does not exist",
        "column `theaters.theater_id`: column is text, the model writes integer",
        "column `items.sku` is NOT NULL without a default and has no source in the model",
        "column `movies.plot` is NOT NULL, but `plot` may be missing or null",
        "table `public.cart_item_reviews` does not exist",
        "foreign key `sessions_owner` (sessions.user_id -> users.email) forbids the values \
         pointing at nothing that `user_id` keeps",
        "foreign key `comment_author` (comments.name -> users.email) is no reference of the \
         models",
    ] {
        assert!(text.contains(expected), "missing `{expected}` in:\n{text}");
    }
    assert_eq!(mismatches.len(), 7, "exactly the seven problems:\n{text}");
    for table in ["users", "theaters", "items", "movies", "accounts"] {
        assert_eq!(db.table_count(table), 0, "nothing written to {table}");
    }
}
