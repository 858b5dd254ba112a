//! The files that hold what the core's tables say (`src/generate.rs`) say
//! it: a table changed in the core and not generated again fails here, and
//! so does a default the README writes by hand that is not the core's.
#![cfg(not(target_arch = "wasm32"))]

use analytics_wasm::generate::{all, apply};

#[test]
fn every_generated_file_is_up_to_date() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for generated in all() {
        let file = std::fs::read_to_string(root.join(generated.path)).expect(generated.path);
        let next = apply(&file, &generated).expect("its markers");
        assert!(
            next == file,
            "{} is not what the core's tables make: run `cargo run --bin generate`",
            generated.path
        );
    }
}

/// The README's table keeps only the options most apps set, written by hand
/// beside the ones that are not numbers: each numeric default it gives must
/// be the core's.
#[test]
fn the_readme_gives_the_cores_numeric_defaults() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let defaults = analytics_wasm::core::Config::default().numeric_fields();
    let mut checked = 0;
    for line in readme.lines() {
        // | `flushAt` | `number` | `20` | …
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() < 5 || cells[2] != "`number`" {
            continue;
        }
        let name = cells[1].trim_matches('`');
        let (_, default) = defaults
            .iter()
            .find(|(field, _)| field.name == name)
            .unwrap_or_else(|| {
                panic!("README.md gives `{name}` as a number the core does not have")
            });
        assert_eq!(
            cells[3].trim_matches('`').replace(',', ""),
            default.to_string(),
            "README.md's default of `{name}`"
        );
        checked += 1;
    }
    assert!(
        checked >= 3,
        "README.md's configuration table was not found ({checked} numeric rows)"
    );
}
