//! The files that hold what the core's tables say (`src/generate.rs`) say
//! it: a table changed in the core and not generated again fails here.
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
