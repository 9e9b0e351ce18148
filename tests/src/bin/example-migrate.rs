//! The migrator CLI over the example application's 26 models, as `example-app` in the schema
//! crate, built in this package so tests can spawn, interrupt and kill it
//! (`env!("CARGO_BIN_EXE_example-migrate")`). It ignores `E2E_SCHEMA`.

fn main() -> std::process::ExitCode {
    migrator::cli::main(schema::example::schema)
}
