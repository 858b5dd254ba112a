//! The two clocks the shell gives the core (see `core::engine`): a
//! monotonic one, on which every timer and every age within a page load is
//! measured, and the wall clock, for what is wall-clock by nature (event
//! timestamps, `sentAt`, `Retry-After` dates, stored events' age, the tab
//! leases other pages read).

use std::cell::Cell;

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    fn performance_now() -> f64;
}

thread_local! {
    /// `performance.timeOrigin`: when this page (or worker) started.
    static ORIGIN: Cell<Option<f64>> = const { Cell::new(None) };
}

fn time_origin() -> f64 {
    ORIGIN.with(|origin| match origin.get() {
        Some(at) => at,
        None => {
            let performance = js_sys::Reflect::get(&js_sys::global(), &"performance".into());
            let at = performance
                .and_then(|p| js_sys::Reflect::get(&p, &"timeOrigin".into()))
                .ok()
                .and_then(|at| at.as_f64())
                .unwrap_or_else(|| js_sys::Date::now() - performance_now());
            origin.set(Some(at));
            at
        }
    })
}

/// Milliseconds on a clock that never jumps: `performance.timeOrigin +
/// performance.now()`, which starts near the wall clock at page load and
/// then ignores whatever users, NTP or a waking laptop do to it.
pub fn monotonic_ms() -> u64 {
    (time_origin() + performance_now()) as u64
}

/// The wall clock (`Date.now()`), which may move either way at any time.
pub fn wall_ms() -> u64 {
    js_sys::Date::now() as u64
}
