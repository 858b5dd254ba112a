//! The one wake-up timer, armed for the core's `next_wakeup()`. Re-armed
//! only when the wake-up moves earlier, so `track()` rarely touches it.
//! Also `sleep` and `within`, for waits the shell bounds in time.

use std::future::Future;
use std::task::Poll;

use gloo_timers::callback::Timeout;
use js_sys::{Function, Promise};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

/// Resolves after `ms` milliseconds; dropping it cancels the timer.
pub async fn sleep(ms: u32) {
    let mut timeout = None;
    let promise = Promise::new(&mut |resolve: Function, _reject: Function| {
        timeout = Some(Timeout::new(ms, move || {
            let _ = resolve.call0(&JsValue::NULL);
        }));
    });
    let _ = JsFuture::from(promise).await;
    drop(timeout);
}

/// `future`'s output, or `None` when `ms` milliseconds pass first (the
/// future is then dropped; work it started in the browser goes on).
pub async fn within<T>(ms: u32, future: impl Future<Output = T>) -> Option<T> {
    let mut future = std::pin::pin!(future);
    let mut deadline = std::pin::pin!(sleep(ms));
    std::future::poll_fn(|cx| {
        if let Poll::Ready(value) = future.as_mut().poll(cx) {
            return Poll::Ready(Some(value));
        }
        deadline.as_mut().poll(cx).map(|()| None)
    })
    .await
}

#[derive(Default)]
pub struct WakeTimer {
    armed_for: Option<u64>,
    timeout: Option<Timeout>,
}

impl WakeTimer {
    /// Arms for `at` (epoch ms) unless already armed for that time or sooner.
    pub fn arm(&mut self, at: u64, now: u64, on_fire: impl FnOnce() + 'static) {
        if self.armed_for.is_some_and(|armed| armed <= at) {
            return;
        }
        // Browsers clamp and may fire a millisecond early; aim one late.
        let delay = at
            .saturating_sub(now)
            .saturating_add(1)
            .min(u64::from(u32::MAX >> 1));
        self.armed_for = Some(at);
        self.timeout = Some(Timeout::new(delay as u32, on_fire));
    }

    /// The timer fired (or is no longer wanted).
    pub fn clear(&mut self) {
        self.armed_for = None;
        if let Some(timeout) = self.timeout.take() {
            timeout.cancel();
        }
    }

    pub fn disarm_after_fire(&mut self) {
        self.armed_for = None;
        self.timeout = None;
    }
}
