//! The example application's migration binary: `example-app migrate --source DIR ...`.

fn main() -> std::process::ExitCode {
    migrator::cli::main(schema::example::schema)
}
