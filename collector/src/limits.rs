//! Backpressure and rate limits: the bytes-in-flight budget (memory stays
//! bounded whatever the load: a request that does not fit is answered 503),
//! the drain-rate estimate that turns what is in flight into a `Retry-After`,
//! and the per-write-key token buckets answered 429. Each takes the time as
//! an argument where it matters, so the tests need no clock.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Bytes held by requests between the first byte of their body and the end
/// of their commit (bodies, decompressed bodies, parsed messages).
#[derive(Debug)]
pub struct Budget {
    limit: u64,
    used: AtomicU64,
}

impl Budget {
    pub fn new(limit: u64) -> Arc<Self> {
        Arc::new(Budget {
            limit,
            used: AtomicU64::new(0),
        })
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }

    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    /// Reserves `bytes`, or `None` when they do not fit.
    pub fn try_reserve(self: &Arc<Self>, bytes: u64) -> Option<Reservation> {
        self.take(bytes).then(|| Reservation {
            budget: self.clone(),
            bytes,
        })
    }

    fn take(&self, bytes: u64) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |used| {
                used.checked_add(bytes).filter(|&total| total <= self.limit)
            })
            .is_ok()
    }

    fn give_back(&self, bytes: u64) {
        self.used.fetch_sub(bytes, Ordering::AcqRel);
    }
}

/// Bytes reserved in a `Budget`, given back when dropped.
#[derive(Debug)]
pub struct Reservation {
    budget: Arc<Budget>,
    bytes: u64,
}

impl Reservation {
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Reserves `extra` more bytes, or returns false (and holds what it held).
    pub fn try_grow(&mut self, extra: u64) -> bool {
        let grown = self.budget.take(extra);
        if grown {
            self.bytes += extra;
        }
        grown
    }

    /// Holds exactly `bytes`: gives back the excess, or reserves the
    /// difference (returning false, and holding what it held, if it does
    /// not fit).
    pub fn try_resize(&mut self, bytes: u64) -> bool {
        if bytes <= self.bytes {
            self.shrink_to(bytes);
            true
        } else {
            self.try_grow(bytes - self.bytes)
        }
    }

    /// Gives back all but `bytes`.
    pub fn shrink_to(&mut self, bytes: u64) {
        if bytes < self.bytes {
            self.budget.give_back(self.bytes - bytes);
            self.bytes = bytes;
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.give_back(self.bytes);
    }
}

/// How fast the store drains what is in flight, from the commits so far.
#[derive(Debug, Default)]
pub struct Drain {
    state: Mutex<DrainState>,
}

#[derive(Debug, Default)]
struct DrainState {
    /// Exponentially weighted bytes per second of commit time.
    bytes_per_sec: Option<f64>,
    /// The start of the commit under way.
    busy_since: Option<Instant>,
}

impl Drain {
    pub fn commit_started(&self, now: Instant) {
        if let Ok(mut state) = self.state.lock() {
            state.busy_since = Some(now);
        }
    }

    /// Records a commit of `bytes` that ended `now` (successful or not: a
    /// failing store drains too, by refusing).
    pub fn commit_ended(&self, bytes: u64, now: Instant) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        if let Some(start) = state.busy_since.take() {
            let secs = now.saturating_duration_since(start).as_secs_f64().max(1e-4);
            let sample = bytes as f64 / secs;
            state.bytes_per_sec = Some(match state.bytes_per_sec {
                Some(rate) => rate * 0.8 + sample * 0.2,
                None => sample,
            });
        }
    }

    /// How long the commit under way has run, if one is.
    pub fn busy_for(&self, now: Instant) -> Option<Duration> {
        let state = self.state.lock().ok()?;
        state
            .busy_since
            .map(|start| now.saturating_duration_since(start))
    }

    /// The wait after which `in_flight` bytes should have drained: in-flight
    /// over the drain rate, plus how long the current commit has already
    /// taken (a stalled store drains nothing), in whole seconds between 1
    /// and `max`.
    pub fn retry_after(&self, in_flight: u64, now: Instant, max: Duration) -> Duration {
        let Ok(state) = self.state.lock() else {
            return max;
        };
        let draining = match state.bytes_per_sec {
            Some(rate) if rate > 0.0 => in_flight as f64 / rate,
            _ => 1.0,
        };
        let stalled = state.busy_since.map_or(0.0, |start| {
            now.saturating_duration_since(start).as_secs_f64()
        });
        let secs = (draining + stalled)
            .ceil()
            .clamp(1.0, max.as_secs_f64().max(1.0));
        Duration::from_secs(secs as u64)
    }
}

/// Token buckets of events per second, one per configured write key.
#[derive(Debug)]
pub struct RateLimit {
    per_sec: f64,
    burst: f64,
    buckets: HashMap<String, Mutex<Bucket>>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RateLimit {
    /// `per_sec` events per second per write key, with bursts of `burst`.
    pub fn new<'a>(
        per_sec: f64,
        burst: f64,
        write_keys: impl IntoIterator<Item = &'a String>,
        now: Instant,
    ) -> Self {
        RateLimit {
            per_sec,
            burst,
            buckets: write_keys
                .into_iter()
                .map(|key| {
                    let bucket = Bucket {
                        tokens: burst,
                        at: now,
                    };
                    (key.clone(), Mutex::new(bucket))
                })
                .collect(),
        }
    }

    /// Takes `events` tokens from `write_key`'s bucket, or says how long
    /// until there are enough. A request larger than the burst costs the
    /// burst (it could never pass otherwise). Unknown keys are not limited
    /// here (they are refused 401 before).
    pub fn take(&self, write_key: &str, events: usize, now: Instant) -> Result<(), Duration> {
        let Some(bucket) = self.buckets.get(write_key) else {
            return Ok(());
        };
        let Ok(mut bucket) = bucket.lock() else {
            return Ok(());
        };
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.per_sec).min(self.burst);
        bucket.at = now;
        let cost = (events as f64).min(self.burst);
        if bucket.tokens >= cost {
            bucket.tokens -= cost;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (cost - bucket.tokens) / self.per_sec,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_refuses_what_does_not_fit_and_takes_back_what_is_dropped() {
        let budget = Budget::new(100);
        let a = budget.try_reserve(60).expect("60 of 100 fits");
        assert!(budget.try_reserve(41).is_none());
        let mut b = budget.try_reserve(40).expect("40 more fits exactly");
        assert_eq!(budget.used(), 100);
        assert!(!b.try_grow(1));
        b.shrink_to(10);
        assert_eq!(budget.used(), 70);
        assert!(b.try_grow(30));
        assert!(b.try_resize(5));
        assert_eq!(budget.used(), 65);
        assert!(!b.try_resize(41), "60 + 41 is over 100");
        assert_eq!(budget.used(), 65, "a failed resize keeps what was held");
        drop(a);
        drop(b);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn retry_after_is_in_flight_over_the_drain_rate() {
        let drain = Drain::default();
        let t0 = Instant::now();
        let max = Duration::from_secs(60);
        assert_eq!(
            drain.retry_after(1 << 30, t0, max),
            Duration::from_secs(1),
            "no estimate yet"
        );
        drain.commit_started(t0);
        drain.commit_ended(1_000_000, t0 + Duration::from_millis(100)); // 10 MB/s
        let now = t0 + Duration::from_secs(1);
        assert_eq!(
            drain.retry_after(50_000_000, now, max),
            Duration::from_secs(5)
        );
        assert_eq!(
            drain.retry_after(1_000, now, max),
            Duration::from_secs(1),
            "at least 1 s"
        );
        assert_eq!(
            drain.retry_after(10_000_000_000, now, max),
            max,
            "at most max"
        );
    }

    #[test]
    fn retry_after_grows_with_a_stalled_commit() {
        let drain = Drain::default();
        let t0 = Instant::now();
        drain.commit_started(t0);
        drain.commit_ended(1_000_000, t0 + Duration::from_millis(100));
        drain.commit_started(t0 + Duration::from_secs(1));
        let later = t0 + Duration::from_secs(8);
        assert_eq!(drain.busy_for(later), Some(Duration::from_secs(7)));
        assert_eq!(
            drain.retry_after(10_000_000, later, Duration::from_secs(60)),
            Duration::from_secs(8)
        );
    }

    #[test]
    fn a_token_bucket_allows_its_rate_and_says_when_to_come_back() {
        let t0 = Instant::now();
        let keys = ["wk".to_string()];
        let limit = RateLimit::new(100.0, 200.0, &keys, t0);
        assert_eq!(limit.take("wk", 150, t0), Ok(()));
        assert_eq!(limit.take("wk", 100, t0), Err(Duration::from_millis(500)));
        assert_eq!(
            limit.take("wk", 100, t0 + Duration::from_millis(500)),
            Ok(())
        );
        assert_eq!(
            limit.take("other", 1_000_000, t0),
            Ok(()),
            "unknown keys are 401s, not 429s"
        );
        // A batch larger than the burst costs the burst.
        let later = t0 + Duration::from_secs(10);
        assert_eq!(limit.take("wk", 2_500, later), Ok(()));
    }
}
