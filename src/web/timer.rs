//! The one wake-up timer, armed for the core's `next_wakeup()`. Re-armed
//! only when the wake-up moves earlier, so `track()` rarely touches it.

use gloo_timers::callback::Timeout;

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
