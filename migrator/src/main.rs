//! The `migrator` binary: `migrator scaffold --source <source> --out <crate>` writes a schema
//! crate; the other commands need the models, so they run from that crate's own binary.

use std::process::ExitCode;

fn main() -> ExitCode {
    migrator::cli::main(|| migrator::Schema::new(Vec::new()))
}
