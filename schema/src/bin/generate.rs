//! Writes `generated/`: the DDL and load plan of every schema in this crate.
//! Run from the repository root: `cargo run -p schema --bin generate`.

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("generated");
    for (dir, title, schema) in schema::generated_schemas() {
        let schema = match schema {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: schema `{title}` is inconsistent: {e}");
                return ExitCode::FAILURE;
            }
        };
        match migrator::artifacts::write(&schema, title, &root.join(dir)) {
            Ok(files) => {
                for f in files {
                    println!("wrote {}", f.display());
                }
            }
            Err(e) => {
                eprintln!("error: writing generated/{dir}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
