//! The migration binary for the real-data models: `real-data migrate --source DIR ...`.

fn main() -> std::process::ExitCode {
    migrator::cli::main(schema::real_data::schema)
}
