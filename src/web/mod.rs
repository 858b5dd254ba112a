//! The browser shell (wasm32 only). Each browser capability lives in its own
//! file; only this layer touches wasm-bindgen, web-sys and js-sys.
