//! When to try again: exponential backoff with full jitter, from randomness
//! the caller seeded, so every delay is reproducible in tests.

use super::time::Millis;

/// A small deterministic generator (SplitMix64), seeded by the caller.
#[derive(Debug, Clone)]
pub struct Jitter {
    state: u64,
}

impl Jitter {
    pub fn new(seed: u64) -> Self {
        Jitter { state: seed }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A value uniformly drawn from `0..=max`.
    pub fn up_to(&mut self, max: u64) -> u64 {
        match max.checked_add(1) {
            Some(span) => self.next_u64() % span,
            None => self.next_u64(),
        }
    }
}

/// Exponential backoff: the ceiling after `n` consecutive failures is
/// `base * 2^(n-1)` capped at `max`; the delay is drawn uniformly below it
/// ("full jitter"), which spreads many clients' retries after an outage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub base_ms: Millis,
    pub max_ms: Millis,
}

impl RetryPolicy {
    /// The backoff ceiling after `failures` consecutive failures (at least 1).
    pub fn ceiling(&self, failures: u32) -> Millis {
        let doublings = failures.saturating_sub(1).min(62);
        // A shift that cannot overflow, or the cap: saturating_mul would
        // cost wasm32 a 128-bit multiply.
        let doubled = if doublings < self.base_ms.leading_zeros() {
            self.base_ms << doublings
        } else {
            Millis::MAX
        };
        doubled.min(self.max_ms)
    }

    /// The delay before the next attempt.
    pub fn delay(&self, failures: u32, jitter: &mut Jitter) -> Millis {
        jitter.up_to(self.ceiling(failures))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: RetryPolicy = RetryPolicy {
        base_ms: 1_000,
        max_ms: 60_000,
    };

    #[test]
    fn ceiling_doubles_from_the_base_up_to_the_cap() {
        let ceilings: Vec<_> = (1..=8).map(|n| POLICY.ceiling(n)).collect();
        assert_eq!(
            ceilings,
            [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000]
        );
        assert_eq!(POLICY.ceiling(u32::MAX), 60_000);
    }

    #[test]
    fn delays_stay_within_the_ceiling_and_spread_over_it() {
        let mut jitter = Jitter::new(7);
        let delays: Vec<_> = (0..1_000).map(|_| POLICY.delay(3, &mut jitter)).collect();
        assert!(delays.iter().all(|&d| d <= 4_000));
        assert!(
            delays.iter().any(|&d| d < 1_000),
            "full jitter reaches low delays"
        );
        assert!(
            delays.iter().any(|&d| d > 3_000),
            "full jitter reaches the ceiling"
        );
    }

    #[test]
    fn the_same_seed_gives_the_same_delays() {
        let (mut a, mut b) = (Jitter::new(42), Jitter::new(42));
        for failures in 1..20 {
            assert_eq!(
                POLICY.delay(failures, &mut a),
                POLICY.delay(failures, &mut b)
            );
        }
    }

    #[test]
    fn up_to_the_largest_value_does_not_overflow() {
        let mut jitter = Jitter::new(1);
        jitter.up_to(u64::MAX);
        assert_eq!(jitter.up_to(0), 0);
    }
}
