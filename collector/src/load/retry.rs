//! How the loader retries a failing store: full-jitter
//! backoff between writes, and a circuit breaker that stops trying a store
//! that keeps failing (closed; open after `BREAKER_THRESHOLD` failed writes
//! in a row, for `BREAKER_OPEN_FOR`; half-open: one trial write).

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant};

/// Backoff of a failing store's retries: full jitter over this, doubling.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(100);
pub const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Failed writes in a row that open the circuit, and how long it stays open.
pub const BREAKER_THRESHOLD: u32 = 3;
pub const BREAKER_OPEN_FOR: Duration = Duration::from_secs(2);

/// A full-jitter delay for the `attempt`-th retry (1-based): uniformly
/// random between 0 and min(`MAX_BACKOFF`, `FIRST_BACKOFF` × 2^(attempt-1)).
pub fn full_jitter(attempt: u32) -> Duration {
    let ceiling = FIRST_BACKOFF
        .saturating_mul(1 << attempt.saturating_sub(1).min(16))
        .min(MAX_BACKOFF);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u32(attempt);
    let fraction = (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64;
    ceiling.mul_f64(fraction)
}

/// The circuit breaker's states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    Open { until: Instant },
    HalfOpen,
}

/// Stops writing to a store that keeps failing, then tries one write.
#[derive(Debug)]
pub struct Breaker {
    pub state: BreakerState,
    failures: u32,
}

impl Default for Breaker {
    fn default() -> Self {
        Breaker {
            state: BreakerState::Closed,
            failures: 0,
        }
    }
}

impl Breaker {
    /// How long to wait before a write may be tried, `None` if it may now
    /// (an open circuit whose time is up turns half-open).
    pub fn wait(&mut self, now: Instant) -> Option<Duration> {
        match self.state {
            BreakerState::Open { until } if until > now => Some(until - now),
            BreakerState::Open { .. } => {
                self.state = BreakerState::HalfOpen;
                None
            }
            _ => None,
        }
    }

    pub fn succeeded(&mut self) {
        self.state = BreakerState::Closed;
        self.failures = 0;
    }

    pub fn failed(&mut self, now: Instant) {
        self.failures += 1;
        if self.state == BreakerState::HalfOpen || self.failures >= BREAKER_THRESHOLD {
            self.state = BreakerState::Open {
                until: now + BREAKER_OPEN_FOR,
            };
        }
    }

    /// 0 closed, 1 open, 2 half-open (the metric's value).
    pub fn code(&self) -> u8 {
        match self.state {
            BreakerState::Closed => 0,
            BreakerState::Open { .. } => 1,
            BreakerState::HalfOpen => 2,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_jitter_stays_under_a_doubling_ceiling_capped_at_the_maximum() {
        for attempt in 1..40 {
            let ceiling = FIRST_BACKOFF
                .saturating_mul(1 << (attempt - 1).min(16))
                .min(MAX_BACKOFF);
            for _ in 0..50 {
                assert!(full_jitter(attempt) <= ceiling);
            }
        }
        // Spread, not a constant: 200 draws under 5 s are not all equal.
        let draws: std::collections::HashSet<_> = (0..200).map(|_| full_jitter(30)).collect();
        assert!(draws.len() > 100);
    }

    #[test]
    fn the_breaker_opens_after_failures_in_a_row_then_tries_once() {
        let mut breaker = Breaker::default();
        let t0 = Instant::now();
        breaker.failed(t0);
        breaker.failed(t0);
        assert_eq!(breaker.wait(t0), None, "closed below the threshold");
        breaker.failed(t0);
        assert_eq!(breaker.wait(t0), Some(BREAKER_OPEN_FOR));
        assert_eq!(breaker.code(), 1);
        let later = t0 + BREAKER_OPEN_FOR;
        assert_eq!(breaker.wait(later), None);
        assert_eq!(breaker.state, BreakerState::HalfOpen);
        // The trial fails: open again at once, without three more failures.
        breaker.failed(later);
        assert_eq!(breaker.wait(later), Some(BREAKER_OPEN_FOR));
        assert_eq!(breaker.wait(later + BREAKER_OPEN_FOR), None);
        breaker.succeeded();
        assert_eq!(breaker.state, BreakerState::Closed);
        breaker.failed(later);
        assert_eq!(breaker.wait(later), None, "the count started over");
    }
}
