//! The migrator CLI over the real-data models (default) or the bad-input fixture
//! (`E2E_SCHEMA=fixture`) or the key census models (`E2E_SCHEMA=keys`), for tests that spawn,
//! interrupt and kill a real process.

use std::process::ExitCode;

fn main() -> ExitCode {
    match std::env::var("E2E_SCHEMA").as_deref() {
        Ok("fixture") => migrator::cli::main(migrator_e2e::fixture::schema),
        Ok("keys") => migrator::cli::main(migrator_e2e::keys::schema),
        Ok("real") | Err(_) => migrator::cli::main(schema::real_data::schema),
        Ok(other) => {
            eprintln!("error: E2E_SCHEMA must be `real`, `fixture` or `keys`, not `{other}`");
            ExitCode::from(migrator::cli::options::exit::USAGE)
        }
    }
}
