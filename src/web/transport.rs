//! Sending batch bodies: `fetch` with a timeout, and `sendBeacon` (falling
//! back to `fetch` with `keepalive`) for a hidden page. Bodies are sent as
//! `text/plain;charset=UTF-8`, a CORS-safelisted type, so no preflight is
//! needed. The outcome is reported as it is; the core classifies it.

use std::cell::Cell;
use std::rc::Rc;

use gloo_timers::callback::Timeout;
use js_sys::Reflect;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, RequestInit, Response};

use crate::core::SendOutcome;

/// A send's result, owned so it can outlive the response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Response {
        status: u16,
        retry_after: Option<String>,
        body: String,
    },
    NetworkError,
    Timeout,
}

impl Delivery {
    pub fn as_outcome(&self) -> SendOutcome<'_> {
        match self {
            Delivery::Response {
                status,
                retry_after,
                body,
            } => SendOutcome::Response {
                status: *status,
                retry_after: retry_after.as_deref(),
                body,
            },
            Delivery::NetworkError => SendOutcome::NetworkError,
            Delivery::Timeout => SendOutcome::Timeout,
        }
    }
}

/// Bodies at least this long are worth compressing.
pub const COMPRESS_FROM_BYTES: usize = 1024;

/// `body` gzipped with the browser's `CompressionStream`, when it has one.
pub async fn gzip(body: &js_sys::Uint8Array) -> Option<js_sys::Uint8Array> {
    let global = js_sys::global();
    let constructor: js_sys::Function = Reflect::get(&global, &"CompressionStream".into())
        .ok()?
        .dyn_into()
        .ok()?;
    let compressor = Reflect::construct(&constructor, &js_sys::Array::of1(&"gzip".into())).ok()?;
    let blob = web_sys::Blob::new_with_u8_array_sequence(&js_sys::Array::of1(body)).ok()?;
    let stream = blob.stream();
    let pipe_through: js_sys::Function = Reflect::get(&stream, &"pipeThrough".into())
        .ok()?
        .dyn_into()
        .ok()?;
    let compressed = pipe_through.call1(&stream, &compressor).ok()?;
    let response = Response::new_with_opt_readable_stream(Some(compressed.unchecked_ref())).ok()?;
    let buffer = JsFuture::from(response.array_buffer().ok()?).await.ok()?;
    Some(js_sys::Uint8Array::new(&buffer))
}

/// POSTs `body` to `endpoint`; `keepalive` lets it outlive the page;
/// `compress` gzips bodies of `COMPRESS_FROM_BYTES` or more (declared with
/// `Content-Encoding: gzip`, which the collector must accept and allow in
/// CORS).
pub async fn fetch(
    endpoint: &str,
    body: String,
    timeout_ms: u64,
    keepalive: bool,
    compress: bool,
) -> Delivery {
    let Some(window) = web_sys::window() else {
        return Delivery::NetworkError;
    };
    let init = RequestInit::new();
    init.set_method("POST");
    // Bytes, not a JS string: one copy out of wasm memory, where a string
    // would be decoded to UTF-16 and encoded back to UTF-8 by fetch.
    let plain = js_sys::Uint8Array::from(body.as_bytes());
    let worth_compressing = compress && body.len() >= COMPRESS_FROM_BYTES;
    drop(body);
    let compressed = match worth_compressing {
        true => gzip(&plain).await,
        false => None,
    };
    let headers = js_sys::Object::new();
    let _ = Reflect::set(
        &headers,
        &"Content-Type".into(),
        &"text/plain;charset=UTF-8".into(),
    );
    match compressed {
        Some(bytes) => {
            let _ = Reflect::set(&headers, &"Content-Encoding".into(), &"gzip".into());
            init.set_body(&bytes);
        }
        None => init.set_body(&plain),
    }
    init.set_headers(&headers);
    if keepalive {
        let _ = Reflect::set(&init, &"keepalive".into(), &JsValue::TRUE);
    }
    let controller = AbortController::new().ok();
    let timed_out = Rc::new(Cell::new(false));
    let _deadline = controller.as_ref().map(|controller| {
        init.set_signal(Some(&controller.signal()));
        let controller = controller.clone();
        let timed_out = timed_out.clone();
        Timeout::new(timeout_ms.min(u64::from(u32::MAX >> 1)) as u32, move || {
            timed_out.set(true);
            controller.abort();
        })
    });
    let response = match JsFuture::from(window.fetch_with_str_and_init(endpoint, &init)).await {
        Ok(response) => response,
        Err(_) if timed_out.get() => return Delivery::Timeout,
        Err(_) => return Delivery::NetworkError,
    };
    let Ok(response) = response.dyn_into::<Response>() else {
        return Delivery::NetworkError;
    };
    let status = response.status();
    // Cross-origin, this needs `Access-Control-Expose-Headers: Retry-After`.
    let retry_after = response.headers().get("retry-after").ok().flatten();
    let body = match response.text() {
        Ok(text) => JsFuture::from(text)
            .await
            .ok()
            .and_then(|t| t.as_string())
            .unwrap_or_default(),
        Err(_) => String::new(),
    };
    if timed_out.get() && status == 0 {
        return Delivery::Timeout;
    }
    Delivery::Response {
        status,
        retry_after,
        body,
    }
}

/// Queues `body` with `navigator.sendBeacon`: `Some(accepted)`, or `None`
/// when the browser has no `sendBeacon`.
pub fn beacon(endpoint: &str, body: &str) -> Option<bool> {
    let navigator = web_sys::window()?.navigator();
    let has_beacon = Reflect::get(&navigator, &"sendBeacon".into())
        .ok()
        .is_some_and(|f| f.is_function());
    if !has_beacon {
        return None;
    }
    Some(
        navigator
            .send_beacon_with_opt_str(endpoint, Some(body))
            .unwrap_or(false),
    )
}
