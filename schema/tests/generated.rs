//! `generated/` must match what the schemas generate now.

use std::path::Path;

#[test]
fn generated_files_are_fresh() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../generated");
    for (dir, title, schema) in schema::generated_schemas() {
        let schema = schema.expect("schema is consistent");
        let stale = migrator::artifacts::stale(&schema, title, &root.join(dir));
        assert!(
            stale.is_empty(),
            "generated files are out of date: {stale:?}; run `cargo run -p schema --bin generate`"
        );
    }
}
