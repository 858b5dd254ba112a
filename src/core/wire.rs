//! The Segment-compatible batch body, assembled from pre-encoded events by
//! string building: `{"batch":[…],"sentAt":"…","writeKey":"…"}`.

use super::json::push_string;
use super::time::{push_iso8601, Millis, ISO8601_LEN};

const PREFIX: &str = "{\"batch\":[";
const SENT_AT: &str = "],\"sentAt\":\"";

/// The frame around a batch's events, fixed for a given configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// `,"writeKey":"…"` or empty, already escaped.
    write_key_member: String,
}

impl Envelope {
    pub fn new(write_key: Option<&str>) -> Self {
        let mut write_key_member = String::new();
        if let Some(key) = write_key {
            write_key_member.push_str(",\"writeKey\":");
            push_string(&mut write_key_member, key);
        }
        Envelope { write_key_member }
    }

    /// Bytes the frame adds around `events` events (the separating commas
    /// included), so that batch size = overhead + sum of event sizes.
    pub fn overhead(&self, events: usize) -> usize {
        PREFIX.len()
            + events.saturating_sub(1)
            + SENT_AT.len()
            + ISO8601_LEN
            + 1
            + self.write_key_member.len()
            + 1
    }

    /// Builds the body from encoded events; `sentAt` is `now`, so a retried
    /// batch reports when it was actually sent.
    pub fn body<'a>(
        &self,
        events: impl Iterator<Item = &'a str>,
        event_bytes: usize,
        count: usize,
        now: Millis,
    ) -> String {
        let mut out = String::with_capacity(self.overhead(count) + event_bytes);
        out.push_str(PREFIX);
        for (index, event) in events.enumerate() {
            if index > 0 {
                out.push(',');
            }
            out.push_str(event);
        }
        out.push_str(SENT_AT);
        push_iso8601(&mut out, now);
        out.push('"');
        out.push_str(&self.write_key_member);
        out.push('}');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::json::{parse, Value};
    use super::*;

    #[test]
    fn body_is_the_segment_batch_shape() {
        let envelope = Envelope::new(None);
        let events = [
            r#"{"type":"track","event":"a"}"#,
            r#"{"type":"track","event":"b"}"#,
        ];
        let bytes = events.iter().map(|e| e.len()).sum();
        let body = envelope.body(events.iter().copied(), bytes, 2, 1_000);
        assert_eq!(
            body,
            r#"{"batch":[{"type":"track","event":"a"},{"type":"track","event":"b"}],"sentAt":"1970-01-01T00:00:01.000Z"}"#
        );
    }

    #[test]
    fn overhead_matches_the_built_body_exactly() {
        for key in [None, Some("wk_123"), Some("needs\"escaping")] {
            let envelope = Envelope::new(key);
            for count in 0..4 {
                let events = vec![r#"{"x":1}"#; count];
                let bytes: usize = events.iter().map(|e| e.len()).sum();
                let body = envelope.body(events.iter().copied(), bytes, count, 123_456);
                assert_eq!(
                    body.len(),
                    envelope.overhead(count) + bytes,
                    "key {key:?}, {count} events"
                );
            }
        }
    }

    #[test]
    fn write_key_is_carried_in_the_body() {
        let body = Envelope::new(Some("wk_123")).body(core::iter::once("{}"), 2, 1, 0);
        let value = parse(&body).expect("valid JSON");
        assert_eq!(
            value.get("writeKey").and_then(Value::as_str),
            Some("wk_123")
        );
    }
}
