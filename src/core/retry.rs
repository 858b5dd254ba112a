//! When to try again: backoff with equal jitter that follows an outage's
//! length, from randomness the caller seeded, so every delay is
//! reproducible in tests.

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

/// When to try again while the collector fails. The wait after the n-th
/// failure in a row is drawn between half a ceiling and the ceiling
/// ("equal jitter": two tries are never closer than half of it, and never
/// further apart than all of it, so many clients spread out and none waits
/// long past a recovery). The ceiling is twice the base after the first
/// failure and four times it after more, so the end of a short outage is
/// seen within `4 × base`; from then on it grows with the outage, to a
/// sixteenth of how long it has lasted, up to `outage_max_ms`, so a long
/// one costs few requests. It never exceeds `max_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub base_ms: Millis,
    pub max_ms: Millis,
    /// The ceiling a long outage grows to (`circuitOpenMs`).
    pub outage_max_ms: Millis,
}

impl RetryPolicy {
    /// The policy `config` sets.
    pub fn of(config: &super::config::Config) -> Self {
        RetryPolicy {
            base_ms: config.retry_base_ms,
            max_ms: config.retry_max_ms,
            outage_max_ms: config.circuit_open_ms,
        }
    }

    /// The ceiling after `failures` failures in a row (at least 1), the
    /// outage having lasted `outage_ms`.
    pub fn ceiling(&self, failures: u32, outage_ms: Millis) -> Millis {
        // A shift, not saturating_mul, which costs wasm32 a 128-bit multiply;
        // the base is at most 600,000 (NUMERIC_FIELDS), so it cannot overflow.
        let fast = self.base_ms << if failures <= 1 { 1 } else { 2 };
        let grown = (outage_ms / 16).min(self.outage_max_ms);
        fast.max(grown).min(self.max_ms)
    }

    /// The wait before the next attempt.
    pub fn delay(&self, failures: u32, outage_ms: Millis, jitter: &mut Jitter) -> Millis {
        let ceiling = self.ceiling(failures, outage_ms);
        let half = ceiling / 2;
        half + jitter.up_to(ceiling - half)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: RetryPolicy = RetryPolicy {
        base_ms: 1_000,
        max_ms: 60_000,
        outage_max_ms: 30_000,
    };

    #[test]
    fn the_ceiling_is_twice_the_base_then_four_times_it_while_an_outage_is_short() {
        let ceilings: Vec<_> = (1..=6).map(|n| POLICY.ceiling(n, 10_000)).collect();
        assert_eq!(ceilings, [2_000, 4_000, 4_000, 4_000, 4_000, 4_000]);
    }

    #[test]
    fn the_ceiling_grows_with_a_long_outage_up_to_its_cap() {
        assert_eq!(POLICY.ceiling(9, 64_000), 4_000);
        assert_eq!(POLICY.ceiling(9, 160_000), 10_000);
        assert_eq!(POLICY.ceiling(9, 3_600_000), 30_000);
    }

    #[test]
    fn the_ceiling_never_exceeds_the_retry_maximum() {
        let policy = RetryPolicy {
            max_ms: 3_000,
            ..POLICY
        };
        assert_eq!(policy.ceiling(5, 0), 3_000);
        assert_eq!(policy.ceiling(5, 3_600_000), 3_000);
    }

    #[test]
    fn delays_lie_between_half_the_ceiling_and_the_ceiling_and_spread_over_it() {
        let mut jitter = Jitter::new(7);
        let delays: Vec<_> = (0..1_000)
            .map(|_| POLICY.delay(3, 0, &mut jitter))
            .collect();
        assert!(delays.iter().all(|&d| (2_000..=4_000).contains(&d)));
        assert!(
            delays.iter().any(|&d| d < 2_100),
            "reaches half the ceiling"
        );
        assert!(delays.iter().any(|&d| d > 3_900), "reaches the ceiling");
    }

    #[test]
    fn a_ten_second_outage_costs_at_most_six_tries_and_is_seen_over_within_four_seconds() {
        // The shortest waits the jitter can draw, and the longest.
        for seed in 0..200 {
            let mut jitter = Jitter::new(seed);
            let (mut at, mut failures, mut tries) = (0, 0, 0);
            while at < 10_000 {
                tries += 1;
                failures += 1;
                let wait = POLICY.delay(failures, at, &mut jitter);
                assert!(wait <= 4_000, "waited {wait} ms after {failures} failures");
                at += wait;
            }
            assert!(tries <= 6, "seed {seed}: {tries} tries in 10 s");
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_delays() {
        let (mut a, mut b) = (Jitter::new(42), Jitter::new(42));
        for failures in 1..20 {
            let outage = u64::from(failures) * 7_000;
            assert_eq!(
                POLICY.delay(failures, outage, &mut a),
                POLICY.delay(failures, outage, &mut b)
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
