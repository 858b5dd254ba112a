//! The circuit breaker: after enough consecutive failed sends, stop sending
//! until the retry policy's next try, then let one small probe decide
//! whether to resume. How long it stays open is the policy's (`retry`): it
//! follows the outage's length, so the end of a short one is seen soon.

use super::time::Millis;

/// The breaker's state, as shown in metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CircuitState {
    /// Sending normally.
    Closed,
    /// Not sending until `until`.
    Open { until: Millis },
    /// One probe batch may go; its result closes or reopens the circuit.
    HalfOpen { probe_in_flight: bool },
}

/// The states by `CircuitState::code`, as metrics name them.
pub const CIRCUIT_STATE_NAMES: [&str; 3] = ["closed", "open", "half-open"];

impl CircuitState {
    pub fn code(self) -> usize {
        match self {
            CircuitState::Closed => 0,
            CircuitState::Open { .. } => 1,
            CircuitState::HalfOpen { .. } => 2,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            CircuitState::Closed => "closed",
            CircuitState::Open { .. } => "open",
            CircuitState::HalfOpen { .. } => "half-open",
        }
    }
}

#[derive(Debug, Clone)]
pub struct CircuitBreaker {
    threshold: u32,
    consecutive_failures: u32,
    state: CircuitState,
}

/// What the breaker allows right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permit {
    /// Send as usual.
    Send,
    /// Send one small probe batch only.
    Probe,
    /// Send nothing.
    Blocked,
}

impl CircuitBreaker {
    pub fn new(threshold: u32) -> Self {
        CircuitBreaker {
            threshold: threshold.max(1),
            consecutive_failures: 0,
            state: CircuitState::Closed,
        }
    }

    pub fn state(&self) -> CircuitState {
        self.state
    }

    pub fn consecutive_failures(&self) -> u32 {
        self.consecutive_failures
    }

    /// Moves an open circuit whose time is up to half-open, then answers.
    pub fn permit(&mut self, now: Millis) -> Permit {
        if let CircuitState::Open { until } = self.state {
            if now >= until {
                self.state = CircuitState::HalfOpen {
                    probe_in_flight: false,
                };
            }
        }
        match self.state {
            CircuitState::Closed => Permit::Send,
            CircuitState::HalfOpen {
                probe_in_flight: false,
            } => Permit::Probe,
            _ => Permit::Blocked,
        }
    }

    /// Records that the probe batch left.
    pub fn probe_sent(&mut self) {
        if let CircuitState::HalfOpen { .. } = self.state {
            self.state = CircuitState::HalfOpen {
                probe_in_flight: true,
            };
        }
    }

    /// When an open circuit will next allow a probe.
    pub fn reopens_at(&self) -> Option<Millis> {
        match self.state {
            CircuitState::Open { until } => Some(until),
            _ => None,
        }
    }

    pub fn on_success(&mut self) {
        self.consecutive_failures = 0;
        self.state = CircuitState::Closed;
    }

    /// Records a failed send, the next try being due at `retry_at`;
    /// returns true when this opened the circuit (until then).
    pub fn on_failure(&mut self, retry_at: Millis) -> bool {
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        let was_open = matches!(self.state, CircuitState::Open { .. });
        let probe_failed = matches!(self.state, CircuitState::HalfOpen { .. });
        if probe_failed || self.consecutive_failures >= self.threshold {
            self.state = CircuitState::Open { until: retry_at };
            return !was_open;
        }
        false
    }

    /// A probe that ended without a verdict on the collector's health (e.g.
    /// 413) lets another probe go.
    pub fn on_inconclusive(&mut self) {
        if let CircuitState::HalfOpen { .. } = self.state {
            self.state = CircuitState::HalfOpen {
                probe_in_flight: false,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_closed_below_the_threshold() {
        let mut breaker = CircuitBreaker::new(3);
        breaker.on_failure(0);
        breaker.on_failure(0);
        assert_eq!(breaker.permit(0), Permit::Send);
    }

    #[test]
    fn opens_at_the_threshold_and_blocks_until_the_open_time_passes() {
        let mut breaker = CircuitBreaker::new(3);
        assert!(!breaker.on_failure(1_010));
        assert!(!breaker.on_failure(1_010));
        assert!(breaker.on_failure(1_010), "the third failure opens it");
        assert!(!breaker.on_failure(1_010), "already open");
        assert_eq!(breaker.state(), CircuitState::Open { until: 1_010 });
        assert_eq!(breaker.permit(1_009), Permit::Blocked);
        assert_eq!(breaker.permit(1_010), Permit::Probe);
    }

    #[test]
    fn half_open_allows_one_probe_at_a_time() {
        let mut breaker = CircuitBreaker::new(1);
        breaker.on_failure(100);
        assert_eq!(breaker.permit(100), Permit::Probe);
        breaker.probe_sent();
        assert_eq!(breaker.permit(100), Permit::Blocked);
    }

    #[test]
    fn a_successful_probe_closes_the_circuit() {
        let mut breaker = CircuitBreaker::new(1);
        breaker.on_failure(100);
        breaker.permit(100);
        breaker.probe_sent();
        breaker.on_success();
        assert_eq!(breaker.state(), CircuitState::Closed);
        assert_eq!(breaker.consecutive_failures(), 0);
    }

    #[test]
    fn a_failed_probe_reopens_the_circuit() {
        let mut breaker = CircuitBreaker::new(5);
        for _ in 0..5 {
            breaker.on_failure(100);
        }
        breaker.permit(100);
        breaker.probe_sent();
        breaker.on_failure(250);
        assert_eq!(breaker.state(), CircuitState::Open { until: 250 });
    }

    #[test]
    fn success_resets_the_failure_count() {
        let mut breaker = CircuitBreaker::new(2);
        breaker.on_failure(100);
        breaker.on_success();
        breaker.on_failure(100);
        assert_eq!(breaker.state(), CircuitState::Closed);
    }
}
