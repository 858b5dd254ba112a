//! The one `Config`: every tunable with its default and allowed range, and
//! validation that names the field, the value and the range.

use super::json::push_u64;

/// Every setting of the queue. Field names in errors use the camelCase names
/// the JavaScript API exposes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Collector URL: `http(s)://…` or a same-origin path starting with `/`.
    pub endpoint: String,
    /// Sent in the batch envelope when set.
    pub write_key: Option<String>,
    /// Pending events that start a flush (a trigger, not a cap).
    pub flush_at: u32,
    /// Age of the oldest pending event that starts a flush.
    pub flush_interval_ms: u64,
    /// Most batches in flight at once by `fetch`.
    pub flush_concurrency: u32,
    /// Most events in one batch.
    pub max_batch_events: u32,
    /// Most bytes in one `fetch` body, envelope included.
    pub max_batch_bytes: u32,
    /// Most bytes in one beacon body, and in all keepalive bodies in flight.
    pub max_beacon_bytes: u32,
    /// Most events held (pending and in flight); the oldest is dropped beyond.
    pub max_queue_events: u32,
    /// Most encoded bytes held; the oldest is dropped beyond.
    pub max_queue_bytes: u32,
    /// First retry delay ceiling; doubles per consecutive failure.
    pub retry_base_ms: u64,
    /// Largest retry delay ceiling.
    pub retry_max_ms: u64,
    /// Longest wait a `Retry-After` header can impose.
    pub max_retry_after_ms: u64,
    /// Consecutive failed sends that open the circuit.
    pub circuit_failure_threshold: u32,
    /// How long an open circuit blocks sends before a probe.
    pub circuit_open_ms: u64,
    /// Events older than this are dropped as expired.
    pub max_event_age_ms: u64,
    /// Longest time a tracked event lives only in memory.
    pub persist_debounce_ms: u64,
    /// A send not answered in this time is reported as a timeout.
    pub request_timeout_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            endpoint: String::new(),
            write_key: None,
            flush_at: 20,
            flush_interval_ms: 5_000,
            flush_concurrency: 2,
            max_batch_events: 500,
            max_batch_bytes: 500_000,
            max_beacon_bytes: 65_536,
            max_queue_events: 1_000,
            max_queue_bytes: 5_000_000,
            retry_base_ms: 1_000,
            retry_max_ms: 60_000,
            max_retry_after_ms: 300_000,
            circuit_failure_threshold: 5,
            circuit_open_ms: 30_000,
            max_event_age_ms: 7 * 24 * 3_600_000,
            persist_debounce_ms: 100,
            request_timeout_ms: 10_000,
        }
    }
}

/// A setting outside its allowed values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// `field` must lie in `min..=max`.
    OutOfRange {
        field: &'static str,
        value: u64,
        min: u64,
        max: u64,
    },
    /// `endpoint` is not an http(s) URL or an absolute path.
    Endpoint { value: String },
    /// `writeKey` holds characters a header or body cannot carry safely.
    WriteKey,
}

impl ConfigError {
    /// The message shown to the developer, e.g.
    /// `flushAt must be between 1 and 1000, got 0`.
    pub fn message(&self) -> String {
        let mut out = String::new();
        match self {
            ConfigError::OutOfRange {
                field,
                value,
                min,
                max,
            } => {
                out.push_str(field);
                out.push_str(" must be between ");
                push_u64(&mut out, *min);
                out.push_str(" and ");
                push_u64(&mut out, *max);
                out.push_str(", got ");
                push_u64(&mut out, *value);
            }
            ConfigError::Endpoint { value } => {
                out.push_str("endpoint must start with https://, http:// or /, got \"");
                out.push_str(value);
                out.push('"');
            }
            ConfigError::WriteKey => {
                out.push_str("writeKey must be 1 to 256 printable ASCII characters")
            }
        }
        out
    }
}

impl core::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for ConfigError {}

const DAY_MS: u64 = 86_400_000;

fn check(field: &'static str, value: u64, min: u64, max: u64) -> Result<(), ConfigError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(ConfigError::OutOfRange {
            field,
            value,
            min,
            max,
        })
    }
}

impl Config {
    /// Checks every field; the first problem found is returned.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let endpoint = self.endpoint.as_str();
        let endpoint_ok = match endpoint
            .strip_prefix("https://")
            .or_else(|| endpoint.strip_prefix("http://"))
        {
            Some(host_and_path) => !host_and_path.is_empty() && !host_and_path.starts_with('/'),
            None => endpoint.starts_with('/') && !endpoint.starts_with("//"),
        };
        if !endpoint_ok || endpoint.chars().any(char::is_whitespace) {
            return Err(ConfigError::Endpoint {
                value: self.endpoint.clone(),
            });
        }
        if let Some(key) = &self.write_key {
            if key.is_empty() || key.len() > 256 || !key.bytes().all(|b| (0x21..0x7f).contains(&b))
            {
                return Err(ConfigError::WriteKey);
            }
        }
        check("flushAt", self.flush_at.into(), 1, 1_000)?;
        check("flushIntervalMs", self.flush_interval_ms, 1, 3_600_000)?;
        check("flushConcurrency", self.flush_concurrency.into(), 1, 16)?;
        check("maxBatchEvents", self.max_batch_events.into(), 1, 10_000)?;
        check(
            "maxBatchBytes",
            self.max_batch_bytes.into(),
            1_024,
            16_000_000,
        )?;
        check(
            "maxBeaconBytes",
            self.max_beacon_bytes.into(),
            1_024,
            65_536,
        )?;
        check("maxQueueEvents", self.max_queue_events.into(), 1, 100_000)?;
        check(
            "maxQueueBytes",
            self.max_queue_bytes.into(),
            1_024,
            50_000_000,
        )?;
        check("retryBaseMs", self.retry_base_ms, 1, 600_000)?;
        check("retryMaxMs", self.retry_max_ms, self.retry_base_ms, DAY_MS)?;
        check("maxRetryAfterMs", self.max_retry_after_ms, 0, DAY_MS)?;
        check(
            "circuitFailureThreshold",
            self.circuit_failure_threshold.into(),
            1,
            1_000,
        )?;
        check("circuitOpenMs", self.circuit_open_ms, 1, DAY_MS)?;
        check("maxEventAgeMs", self.max_event_age_ms, 60_000, 365 * DAY_MS)?;
        check("persistDebounceMs", self.persist_debounce_ms, 0, 60_000)?;
        check("requestTimeoutMs", self.request_timeout_ms, 1_000, 300_000)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> Config {
        Config {
            endpoint: "https://collector.example.com/v1/batch".into(),
            ..Config::default()
        }
    }

    #[test]
    fn defaults_with_an_endpoint_are_valid() {
        assert_eq!(valid().validate(), Ok(()));
    }

    #[test]
    fn out_of_range_error_names_field_range_and_value() {
        let config = Config {
            flush_at: 0,
            ..valid()
        };
        let error = config.validate().unwrap_err();
        assert_eq!(error.message(), "flushAt must be between 1 and 1000, got 0");
    }

    #[test]
    fn retry_max_below_retry_base_is_refused() {
        let config = Config {
            retry_base_ms: 5_000,
            retry_max_ms: 1_000,
            ..valid()
        };
        assert_eq!(
            config.validate().unwrap_err().message(),
            "retryMaxMs must be between 5000 and 86400000, got 1000"
        );
    }

    #[test]
    fn endpoint_must_be_http_https_or_a_path() {
        for good in [
            "https://c.example/v1/batch",
            "http://127.0.0.1:8080/b",
            "/v1/batch",
        ] {
            let config = Config {
                endpoint: good.into(),
                ..valid()
            };
            assert_eq!(config.validate(), Ok(()), "{good}");
        }
        for bad in [
            "",
            "ftp://x",
            "javascript:alert(1)",
            "//cdn.example",
            "https://",
            "https://a b",
        ] {
            let config = Config {
                endpoint: bad.into(),
                ..valid()
            };
            let message = config.validate().unwrap_err().message();
            assert!(
                message.starts_with("endpoint must start with"),
                "{bad}: {message}"
            );
        }
    }

    #[test]
    fn write_key_must_be_printable_ascii() {
        let config = Config {
            write_key: Some("key\nwith newline".into()),
            ..valid()
        };
        assert_eq!(config.validate(), Err(ConfigError::WriteKey));
    }

    #[test]
    fn beacon_budget_cannot_exceed_the_browser_keepalive_quota() {
        let config = Config {
            max_beacon_bytes: 65_537,
            ..valid()
        };
        assert!(matches!(
            config.validate(),
            Err(ConfigError::OutOfRange {
                field: "maxBeaconBytes",
                ..
            })
        ));
    }
}
