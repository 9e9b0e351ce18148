//! Misuses of `#[derive(Migrate)]`, one per file, and the errors they produce.
//!
//! Regenerate the expected output with `TRYBUILD=overwrite cargo test -p migrator --test ui`
//! and read every changed `.stderr`: each error should point at the mistake and say what to do.

#[test]
fn misuses_are_compile_errors() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
