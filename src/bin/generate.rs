//! `cargo run --bin generate`: writes what JavaScript and the docs take from
//! the core's tables (see `analytics_wasm::generate`). `--check` writes
//! nothing and fails naming each file that is not up to date.

use std::process::ExitCode;

use analytics_wasm::generate::{all, apply};

fn main() -> ExitCode {
    let check = std::env::args().any(|arg| arg == "--check");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut stale = Vec::new();
    for generated in all() {
        let path = root.join(generated.path);
        let file = std::fs::read_to_string(&path).unwrap_or_default();
        let next = match apply(&file, &generated) {
            Ok(next) => next,
            Err(why) => {
                eprintln!("{why}");
                return ExitCode::FAILURE;
            }
        };
        if next == file {
            continue;
        }
        if check {
            stale.push(generated.path);
        } else if let Err(e) = std::fs::write(&path, next) {
            eprintln!("cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        } else {
            println!("wrote {}", generated.path);
        }
    }
    if !stale.is_empty() {
        eprintln!(
            "not up to date (run `cargo run --bin generate`): {}",
            stale.join(", ")
        );
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
