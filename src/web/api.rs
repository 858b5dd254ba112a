//! The `#[wasm_bindgen]` surface: the one class the npm package's JS entry
//! (`js/index.js`) drives. Users never see it directly.

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use super::config::settings_from_js;
use super::runtime::{self, Runtime, Shared};

#[wasm_bindgen]
pub struct Analytics {
    shared: Shared,
}

#[wasm_bindgen]
impl Analytics {
    /// Validates `config` and builds the queue; `emit(type, message)`
    /// receives every error report. Throws on bad config.
    #[wasm_bindgen(constructor)]
    pub fn new(config: JsValue, emit: Function) -> Result<Analytics, JsError> {
        let settings = settings_from_js(&config).map_err(|e| JsError::new(&e.message()))?;
        let shared = Runtime::new(settings, emit).map_err(|e| JsError::new(&e.message()))?;
        Ok(Analytics { shared })
    }

    /// Opens storage and restores persisted events; resolves when done.
    pub fn start(&self) -> Promise {
        let shared = self.shared.clone();
        future_to_promise(async move {
            runtime::start(shared).await;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Records one call. `kind`: 0 track, 1 identify, 2 page, 3 group,
    /// 4 alias. `json` is the serialized properties or traits; `at` the
    /// call's time in epoch ms when it was buffered, else 0.
    pub fn record(&self, kind: u8, name: &str, json: &str, at: f64) {
        let call = runtime::Call {
            kind,
            name,
            json,
            at,
        };
        runtime::record(&self.shared, call);
    }

    /// Sets who later events are attributed to (`user_id` empty: nobody).
    #[wasm_bindgen(js_name = setIdentity)]
    pub fn set_identity(&self, user_id: &str, anonymous_id: &str) {
        runtime::set_identity(&self.shared, user_id, anonymous_id);
    }

    /// Sets the `context` object (JSON text) sent with every later event.
    #[wasm_bindgen(js_name = setContext)]
    pub fn set_context(&self, json: &str) {
        runtime::set_context(&self.shared, json);
    }

    /// Opt-out: stops sending and deletes every persisted event no live
    /// tab owns, this page's included. The instance is closed afterwards.
    pub fn discard(&self) -> Promise {
        let shared = self.shared.clone();
        future_to_promise(async move {
            runtime::discard(shared).await;
            Ok(JsValue::UNDEFINED)
        })
    }

    pub fn flush(&self) -> Promise {
        runtime::flush(&self.shared)
    }

    /// Counters and gauges as JSON text.
    pub fn metrics(&self) -> String {
        runtime::metrics_json(&self.shared)
    }

    pub fn shutdown(&self) -> Promise {
        let shared = self.shared.clone();
        future_to_promise(async move {
            runtime::shutdown(shared).await;
            Ok(JsValue::UNDEFINED)
        })
    }
}
