//! The one `Config`: every tunable of the queue with its default and
//! allowed range, and validation that names the field, the value and the
//! range. The endpoint and write key are the shell's: it alone sends.

/// Appends `value` in decimal (no `core::fmt`: its machinery would be the
/// largest thing in the wasm).
fn push_u64(out: &mut String, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    for &digit in &digits[at..] {
        out.push(char::from(digit));
    }
}

/// Every setting of the queue. Field names in errors use the camelCase names
/// the JavaScript API exposes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
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
    /// Most bytes of one encoded event (Segment refuses a message over
    /// 32 KB with a 400 for its whole batch); larger is refused at `track`.
    pub max_event_bytes: u32,
    /// The retry policy's unit: the first retry waits 1–2 of it, later
    /// ones 2–4 while an outage is short (see `retry`).
    pub retry_base_ms: u64,
    /// Largest retry delay ceiling.
    pub retry_max_ms: u64,
    /// Longest wait a `Retry-After` header can impose.
    pub max_retry_after_ms: u64,
    /// Consecutive failed sends that open the circuit.
    pub circuit_failure_threshold: u32,
    /// The longest wait between probes that a long outage grows to (the
    /// wait is a sixteenth of the outage's length until then).
    pub circuit_open_ms: u64,
    /// Events older than this are dropped as expired.
    pub max_event_age_ms: u64,
    /// Longest time a tracked event lives only in memory.
    pub persist_debounce_ms: u64,
    /// A send not answered in this time is reported as a timeout.
    pub request_timeout_ms: u64,
    /// How long an event restored from storage, or handed to `sendBeacon`,
    /// waits before the collector is asked whether it holds it: a request
    /// the page that held it left in flight lands meanwhile.
    pub receipt_grace_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            flush_at: 20,
            flush_interval_ms: 5_000,
            flush_concurrency: 2,
            max_batch_events: 500,
            max_batch_bytes: 500_000,
            max_beacon_bytes: 65_536,
            // A burst of 10,000 events tracked in one loop is kept whole:
            // measured in Chromium, 10,000 events of 10 properties (about
            // 1.1 KB each encoded) retain 8.9 MB of heap; the byte bound
            // caps what any burst can hold (100,000 events: 6.4 MB retained,
            // the newest 10,000 kept, the rest dropped and counted).
            max_queue_events: 10_000,
            max_queue_bytes: 16_000_000,
            max_event_bytes: 32_768,
            retry_base_ms: 1_000,
            retry_max_ms: 60_000,
            max_retry_after_ms: 300_000,
            circuit_failure_threshold: 5,
            circuit_open_ms: 30_000,
            max_event_age_ms: 7 * 24 * 3_600_000,
            persist_debounce_ms: 100,
            request_timeout_ms: 10_000,
            receipt_grace_ms: 3_000,
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
    /// No setting has this name.
    UnknownField { name: String },
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
            ConfigError::UnknownField { name } => {
                out.push_str("unknown config field \"");
                out.push_str(name);
                out.push('"');
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

/// A numeric setting: its camelCase name, allowed range and what it does.
/// This table is the single source of the rules and of their documentation:
/// the package's config check (`js/core-names.js`), the configuration table
/// of `docs/API.md` and the declarations of `js/index.d.ts` are generated
/// from it (`cargo run --bin generate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NumericField {
    pub name: &'static str,
    pub min: u64,
    pub max: u64,
    /// What it does, for people (Markdown).
    pub doc: &'static str,
}

const fn field(name: &'static str, min: u64, max: u64, doc: &'static str) -> NumericField {
    NumericField {
        name,
        min,
        max,
        doc,
    }
}

/// Every numeric setting. `retryMaxMs` also may not be below `retryBaseMs`.
pub const NUMERIC_FIELDS: [NumericField; 18] = [
    field("flushAt", 1, 1_000, "Pending events that start a flush (a trigger, not a cap: a batch takes every pending event that fits)."),
    field("flushIntervalMs", 1, 3_600_000, "Age of the oldest pending event that starts a flush."),
    field("flushConcurrency", 1, 16, "Most batches in flight at once by `fetch` (one at a time while the collector fails)."),
    field("maxBatchEvents", 1, 10_000, "Most events in one batch."),
    field("maxBatchBytes", 1_024, 16_000_000, "Most bytes of one `fetch` body, envelope included."),
    field("maxBeaconBytes", 1_024, 65_536, "Most bytes of one request sent as the page goes away, and of all of them in flight (the browsers' keepalive quota is 64 KB)."),
    field("maxQueueEvents", 1, 100_000, "Most events held (pending, in flight and unconfirmed); beyond it the oldest is dropped (`droppedOverflow`)."),
    field("maxQueueBytes", 1_024, 50_000_000, "Most encoded bytes held; beyond it the oldest is dropped."),
    field("maxEventBytes", 1_024, 16_000_000, "Most bytes of one encoded event (Segment refuses a message over 32 KB with a 400 for its whole batch); a larger event is refused at the call with an `input` error giving its size and the limit."),
    field("retryBaseMs", 1, 600_000, "The retry unit: while the collector fails, the first retry waits 1–2 of it, later ones 2–4, drawn at random; see `circuitOpenMs`."),
    field("retryMaxMs", 1, DAY_MS, "Longest wait between tries, whatever the rest says (at least `retryBaseMs`)."),
    field("maxRetryAfterMs", 0, DAY_MS, "Longest wait a `Retry-After` header can impose."),
    field("circuitFailureThreshold", 1, 1_000, "Failed sends in a row that open the circuit (reported once, as an error of type `delivery`)."),
    field("circuitOpenMs", 1, DAY_MS, "The longest wait between probes of a failing collector: once an outage has lasted a minute or so, the wait grows to a sixteenth of its length, up to this."),
    field("maxEventAgeMs", 60_000, 365 * DAY_MS, "Events older than this are dropped (`droppedExpired`)."),
    field("persistDebounceMs", 0, 60_000, "Longest time a tracked event lives only in memory."),
    field("requestTimeoutMs", 1_000, 300_000, "A send not answered within this is a timeout."),
    field("receiptGraceMs", 0, 600_000, "How long events left by an earlier page or a closed tab (and events handed to `sendBeacon`) wait before the collector is asked which of them it holds, so that a request the other page left in flight lands first (`docs/wire-contract.md`, Receipts)."),
];

impl Config {
    /// The numeric settings' values, in `NUMERIC_FIELDS` order.
    pub fn values(&self) -> [u64; 18] {
        [
            self.flush_at.into(),
            self.flush_interval_ms,
            self.flush_concurrency.into(),
            self.max_batch_events.into(),
            self.max_batch_bytes.into(),
            self.max_beacon_bytes.into(),
            self.max_queue_events.into(),
            self.max_queue_bytes.into(),
            self.max_event_bytes.into(),
            self.retry_base_ms,
            self.retry_max_ms,
            self.max_retry_after_ms,
            self.circuit_failure_threshold.into(),
            self.circuit_open_ms,
            self.max_event_age_ms,
            self.persist_debounce_ms,
            self.request_timeout_ms,
            self.receipt_grace_ms,
        ]
    }

    /// The config of these values (in `NUMERIC_FIELDS` order), or the index
    /// of the first one out of its range (`retryMaxMs` may also not be
    /// below `retryBaseMs`).
    pub fn from_values(values: [u64; 18]) -> Result<Config, usize> {
        for (index, (&(field_min, field_max), &value)) in RANGES.iter().zip(&values).enumerate() {
            let min = if index == RETRY_MAX {
                values[RETRY_BASE]
            } else {
                0
            };
            if value < field_min.max(min) || value > field_max {
                return Err(index);
            }
        }
        Ok(Config::unchecked(values))
    }

    /// The config of these values, as they are.
    fn unchecked(values: [u64; 18]) -> Config {
        // Every range above fits the u32 fields.
        let small = |index: usize| values[index] as u32;
        Config {
            flush_at: small(0),
            flush_interval_ms: values[1],
            flush_concurrency: small(2),
            max_batch_events: small(3),
            max_batch_bytes: small(4),
            max_beacon_bytes: small(5),
            max_queue_events: small(6),
            max_queue_bytes: small(7),
            max_event_bytes: small(8),
            retry_base_ms: values[RETRY_BASE],
            retry_max_ms: values[RETRY_MAX],
            max_retry_after_ms: values[11],
            circuit_failure_threshold: small(12),
            circuit_open_ms: values[13],
            max_event_age_ms: values[14],
            persist_debounce_ms: values[15],
            request_timeout_ms: values[16],
            receipt_grace_ms: values[17],
        }
    }

    /// The numeric settings with their current values, in table order.
    pub fn numeric_fields(&self) -> [(NumericField, u64); 18] {
        let values = self.values();
        core::array::from_fn(|index| (NUMERIC_FIELDS[index], values[index]))
    }

    /// Sets the numeric setting called `name` after checking its range.
    pub fn set_numeric(&mut self, name: &str, value: u64) -> Result<(), ConfigError> {
        let Some(index) = NUMERIC_FIELDS.iter().position(|f| f.name == name) else {
            return Err(ConfigError::UnknownField {
                name: name.to_string(),
            });
        };
        let field = NUMERIC_FIELDS[index];
        if value < field.min || value > field.max {
            return Err(out_of_range(index, value, field.min));
        }
        let mut values = self.values();
        values[index] = value;
        *self = Config::unchecked(values);
        Ok(())
    }

    /// Checks every field; the first problem found is returned.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let values = self.values();
        match Config::from_values(values) {
            Ok(_) => Ok(()),
            Err(index) => {
                let min = NUMERIC_FIELDS[index].min.max(match index {
                    RETRY_MAX => values[RETRY_BASE],
                    _ => 0,
                });
                Err(out_of_range(index, values[index], min))
            }
        }
    }
}

/// `NUMERIC_FIELDS`' ranges without their names, worked out at compile
/// time: checking values needs no names, so the wasm carries none.
const RANGES: [(u64, u64); 18] = {
    let mut ranges = [(0, 0); 18];
    let mut index = 0;
    while index < ranges.len() {
        ranges[index] = (NUMERIC_FIELDS[index].min, NUMERIC_FIELDS[index].max);
        index += 1;
    }
    ranges
};

const RETRY_BASE: usize = 9;
const RETRY_MAX: usize = 10;

fn out_of_range(index: usize, value: u64, min: u64) -> ConfigError {
    let field = NUMERIC_FIELDS[index];
    ConfigError::OutOfRange {
        field: field.name,
        value,
        min,
        max: field.max,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> Config {
        Config::default()
    }

    #[test]
    fn defaults_are_valid() {
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
    fn every_numeric_field_can_be_set_by_its_name() {
        for field in NUMERIC_FIELDS {
            let mut config = valid();
            assert_eq!(
                config.set_numeric(field.name, field.min),
                Ok(()),
                "{}",
                field.name
            );
            let value = config
                .numeric_fields()
                .iter()
                .find(|(f, _)| f.name == field.name)
                .unwrap()
                .1;
            assert_eq!(value, field.min, "{}", field.name);
        }
        let error = valid().set_numeric("flushat", 1).unwrap_err();
        assert_eq!(
            error.message(),
            "unknown config field \"flushat\"",
            "names are case-sensitive"
        );
    }

    #[test]
    fn defaults_lie_within_every_range() {
        for (field, value) in valid().numeric_fields() {
            assert!(
                (field.min..=field.max).contains(&value),
                "{} = {value}",
                field.name
            );
        }
    }

    #[test]
    fn a_value_too_large_for_the_field_is_reported_not_truncated() {
        let error = valid().set_numeric("flushAt", 1 << 40).unwrap_err();
        assert_eq!(
            error.message(),
            "flushAt must be between 1 and 1000, got 1099511627776"
        );
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
