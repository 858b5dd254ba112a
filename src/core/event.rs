//! One analytics event: its input, its `messageId`, its encoding into the
//! Segment-compatible JSON object (done once, at `track`), and the form it
//! takes in storage.

use super::json::{is_object_text, push_string, push_u64};
use super::time::{push_iso8601, Millis};

/// The Segment call types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Track,
    Identify,
    Page,
    Group,
    Alias,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Track => "track",
            EventKind::Identify => "identify",
            EventKind::Page => "page",
            EventKind::Group => "group",
            EventKind::Alias => "alias",
        }
    }

    /// The wire field that carries `EventInput::name` for this kind, and
    /// whether the kind requires it.
    fn name_field(self) -> Option<(&'static str, bool)> {
        match self {
            EventKind::Track => Some(("event", true)),
            EventKind::Page => Some(("name", false)),
            EventKind::Group => Some(("groupId", true)),
            EventKind::Alias => Some(("previousId", true)),
            EventKind::Identify => None,
        }
    }

    /// The wire field that carries `EventInput::properties_json`.
    fn properties_field(self) -> Option<&'static str> {
        match self {
            EventKind::Track | EventKind::Page => Some("properties"),
            EventKind::Identify | EventKind::Group => Some("traits"),
            EventKind::Alias => None,
        }
    }
}

/// What the caller tracks. JSON members arrive already serialized (the
/// browser's `JSON.stringify` ran once); the core splices them in verbatim.
#[derive(Debug, Clone, Copy)]
pub struct EventInput<'a> {
    pub kind: EventKind,
    /// `event` (track), `name` (page), `groupId` (group), `previousId` (alias).
    pub name: Option<&'a str>,
    pub user_id: Option<&'a str>,
    pub anonymous_id: &'a str,
    /// `properties` (track, page) or `traits` (identify, group): a JSON object.
    pub properties_json: Option<&'a str>,
    /// `context`: a JSON object.
    pub context_json: Option<&'a str>,
    /// When the call happened, if not now (calls buffered while loading).
    pub timestamp: Option<Millis>,
}

/// An event refused at `track`; no other event is affected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrackError {
    /// A required string field is missing or empty.
    MissingField {
        kind: EventKind,
        field: &'static str,
    },
    /// A JSON member is not an object.
    NotAnObject { field: &'static str },
    /// The encoded event cannot fit in any batch.
    TooLarge { size: usize, limit: usize },
}

impl TrackError {
    pub fn message(&self) -> String {
        let mut out = String::new();
        match self {
            TrackError::MissingField { kind, field } => {
                out.push_str(kind.as_str());
                out.push_str(" requires a non-empty ");
                out.push_str(field);
            }
            TrackError::NotAnObject { field } => {
                out.push_str(field);
                out.push_str(" must be a JSON object");
            }
            TrackError::TooLarge { size, limit } => {
                out.push_str("event is ");
                push_u64(&mut out, *size as u64);
                out.push_str(" bytes encoded, larger than the limit of ");
                push_u64(&mut out, *limit as u64);
                out.push_str(" bytes");
            }
        }
        out
    }
}

impl core::fmt::Display for TrackError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for TrackError {}

/// A UUID (version 4 layout) identifying one event for collector dedupe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MessageId([u8; 16]);

impl MessageId {
    /// Builds a v4 UUID from 16 random bytes the caller supplies.
    pub fn from_random(mut bytes: [u8; 16]) -> Self {
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        MessageId(bytes)
    }

    /// Parses the 36-character hyphenated form, either case.
    pub fn parse(text: &str) -> Option<Self> {
        let raw = text.as_bytes();
        if raw.len() != 36 {
            return None;
        }
        let mut bytes = [0u8; 16];
        let mut nibbles = 0;
        for (index, &c) in raw.iter().enumerate() {
            if matches!(index, 8 | 13 | 18 | 23) {
                if c != b'-' {
                    return None;
                }
                continue;
            }
            let value = (c as char).to_digit(16)? as u8;
            bytes[nibbles / 2] |= if nibbles % 2 == 0 { value << 4 } else { value };
            nibbles += 1;
        }
        Some(MessageId(bytes))
    }

    /// The id as one number, for sorting.
    pub fn as_u128(&self) -> u128 {
        u128::from_be_bytes(self.0)
    }

    /// The hyphenated lowercase text, without the formatting machinery.
    pub fn to_text(&self) -> String {
        let mut out = String::with_capacity(36);
        self.push_to(&mut out);
        out
    }

    pub fn push_to(&self, out: &mut String) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut text = [b'-'; 36];
        let mut at = 0;
        for (index, byte) in self.0.iter().enumerate() {
            if matches!(index, 4 | 6 | 8 | 10) {
                at += 1;
            }
            text[at] = HEX[usize::from(byte >> 4)];
            text[at + 1] = HEX[usize::from(byte & 0xf)];
            at += 2;
        }
        out.push_str(core::str::from_utf8(&text).unwrap_or_default());
    }
}

impl core::fmt::Display for MessageId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.to_text())
    }
}

/// Position in the queue's total order: tracked events get increasing
/// sequence numbers, and the queue keeps pending events sorted by them.
pub type Seq = u64;

/// An event held by the queue, already encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedEvent {
    pub seq: Seq,
    pub id: MessageId,
    /// When it was queued, on the queue's monotonic clock: its age.
    pub created_at: Millis,
    /// When it was tracked, by the wall clock: what storage keeps, so a
    /// later page load can tell its age.
    pub created_wall: Millis,
    /// The complete JSON object as it goes into a batch. A `String`, not a
    /// `Box<str>`: shrinking it would cost a copy per event.
    pub json: String,
    /// Send attempts that did not deliver it.
    pub attempts: u32,
    /// Its batch was refused with no word on which event was at fault: the
    /// next batch holding it holds at most this many events, all with the
    /// same `split` (0: not being split).
    pub split: u32,
}

impl QueuedEvent {
    pub fn bytes(&self) -> usize {
        self.json.len()
    }

    pub fn to_stored(&self) -> StoredEvent {
        StoredEvent {
            message_id: self.id.to_text(),
            created_at_ms: self.created_wall,
            json: self.json.clone(),
        }
    }
}

/// The form an event takes in browser storage, and comes back in on restore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub message_id: String,
    pub created_at_ms: Millis,
    pub json: String,
}

/// Encodes `input` as the Segment event object it will be sent as.
pub fn encode(input: &EventInput<'_>, id: MessageId, now: Millis) -> Result<String, TrackError> {
    let kind = input.kind;
    if input.anonymous_id.is_empty() {
        return Err(TrackError::MissingField {
            kind,
            field: "anonymousId",
        });
    }
    if kind == EventKind::Alias && input.user_id.is_none_or(str::is_empty) {
        return Err(TrackError::MissingField {
            kind,
            field: "userId",
        });
    }
    let properties_field = kind.properties_field();
    if let (Some(field), Some(text)) = (properties_field, input.properties_json) {
        if !is_object_text(text) {
            return Err(TrackError::NotAnObject { field });
        }
    }
    if let Some(text) = input.context_json {
        if !is_object_text(text) {
            return Err(TrackError::NotAnObject { field: "context" });
        }
    }

    // Fixed members take about 240 bytes; sizing once avoids regrowth.
    let capacity = 256
        + input.anonymous_id.len()
        + input.user_id.map_or(0, str::len)
        + input.properties_json.map_or(0, str::len)
        + input.context_json.map_or(0, str::len)
        + input.name.map_or(0, str::len);
    let mut out = String::with_capacity(capacity);
    out.push_str("{\"type\":\"");
    out.push_str(kind.as_str());
    out.push('"');
    if let Some((field, required)) = kind.name_field() {
        match input.name.filter(|name| !name.is_empty()) {
            Some(name) => {
                out.push_str(",\"");
                out.push_str(field);
                out.push_str("\":");
                push_string(&mut out, name);
            }
            None if required => return Err(TrackError::MissingField { kind, field }),
            None => {}
        }
    }
    if let Some(field) = properties_field {
        out.push_str(",\"");
        out.push_str(field);
        out.push_str("\":");
        out.push_str(input.properties_json.unwrap_or("{}"));
    }
    out.push_str(",\"messageId\":\"");
    id.push_to(&mut out);
    out.push_str("\",\"anonymousId\":");
    push_string(&mut out, input.anonymous_id);
    if let Some(user_id) = input.user_id.filter(|user_id| !user_id.is_empty()) {
        out.push_str(",\"userId\":");
        push_string(&mut out, user_id);
    }
    out.push_str(",\"timestamp\":\"");
    push_iso8601(&mut out, input.timestamp.unwrap_or(now));
    out.push('"');
    if let Some(context) = input.context_json {
        out.push_str(",\"context\":");
        out.push_str(context);
    }
    out.push('}');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::json::{parse, Value};
    use super::*;

    const ID_BYTES: [u8; 16] = [0xab; 16];

    fn track<'a>(name: &'a str, properties: &'a str) -> EventInput<'a> {
        EventInput {
            kind: EventKind::Track,
            name: Some(name),
            user_id: None,
            anonymous_id: "anon-1",
            properties_json: Some(properties),
            context_json: None,
            timestamp: None,
        }
    }

    #[test]
    fn an_explicit_timestamp_is_used_for_the_event() {
        let mut input = track("x", "{}");
        input.timestamp = Some(1_000);
        let json = encode(&input, MessageId::from_random(ID_BYTES), 5_000).unwrap();
        assert!(
            json.contains("\"timestamp\":\"1970-01-01T00:00:01.000Z\""),
            "{json}"
        );
    }

    #[test]
    fn message_id_is_a_version_4_uuid() {
        let id = MessageId::from_random(ID_BYTES).to_string();
        assert_eq!(id, "abababab-abab-4bab-abab-abababababab");
        assert_eq!(
            MessageId::parse(&id),
            Some(MessageId::from_random(ID_BYTES))
        );
        assert_eq!(MessageId::parse(&id.to_uppercase()), MessageId::parse(&id));
    }

    #[test]
    fn message_id_parse_refuses_malformed_text() {
        for bad in [
            "",
            "abababab-abab-4bab-abab-ababababab",
            "abababababab4bababababababababababab",
            "zbababab-abab-4bab-abab-abababababab",
        ] {
            assert_eq!(MessageId::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn track_encodes_the_segment_shape_with_properties_verbatim() {
        let json = encode(
            &track("Signed Up", r#"{"plan":"pro","n":1.50}"#),
            MessageId::from_random(ID_BYTES),
            0,
        )
        .unwrap();
        assert_eq!(
            json,
            r#"{"type":"track","event":"Signed Up","properties":{"plan":"pro","n":1.50},"messageId":"abababab-abab-4bab-abab-abababababab","anonymousId":"anon-1","timestamp":"1970-01-01T00:00:00.000Z"}"#
        );
    }

    #[test]
    fn identify_carries_traits_user_id_and_context() {
        let input = EventInput {
            kind: EventKind::Identify,
            name: None,
            user_id: Some("user-42"),
            anonymous_id: "anon-1",
            properties_json: Some(r#"{"email":"a@b.c"}"#),
            context_json: Some(r#"{"locale":"en"}"#),
            timestamp: None,
        };
        let json = encode(&input, MessageId::from_random(ID_BYTES), 0).unwrap();
        let value = parse(&json).expect("valid JSON");
        assert_eq!(value.get("type").and_then(Value::as_str), Some("identify"));
        assert_eq!(value.get("userId").and_then(Value::as_str), Some("user-42"));
        assert!(value.get("traits").and_then(|t| t.get("email")).is_some());
        assert!(value.get("context").and_then(|c| c.get("locale")).is_some());
        assert!(value.get("properties").is_none());
    }

    #[test]
    fn names_with_quotes_are_escaped() {
        let json = encode(
            &track("say \"hi\"", "{}"),
            MessageId::from_random(ID_BYTES),
            0,
        )
        .unwrap();
        let value = parse(&json).expect("valid JSON");
        assert_eq!(
            value.get("event").and_then(Value::as_str),
            Some("say \"hi\"")
        );
    }

    #[test]
    fn track_without_an_event_name_is_refused() {
        let error = encode(&track("", "{}"), MessageId::from_random(ID_BYTES), 0).unwrap_err();
        assert_eq!(error.message(), "track requires a non-empty event");
    }

    #[test]
    fn properties_that_are_not_an_object_are_refused() {
        let error = encode(&track("x", "[1,2]"), MessageId::from_random(ID_BYTES), 0).unwrap_err();
        assert_eq!(
            error,
            TrackError::NotAnObject {
                field: "properties"
            }
        );
    }

    #[test]
    fn alias_requires_user_id_and_previous_id() {
        let mut input = EventInput {
            kind: EventKind::Alias,
            name: Some("old-id"),
            user_id: None,
            anonymous_id: "anon-1",
            properties_json: None,
            context_json: None,
            timestamp: None,
        };
        let id = MessageId::from_random(ID_BYTES);
        assert!(matches!(
            encode(&input, id, 0),
            Err(TrackError::MissingField {
                field: "userId",
                ..
            })
        ));
        input.user_id = Some("new-id");
        let json = encode(&input, id, 0).unwrap();
        assert!(json.contains(r#""previousId":"old-id""#), "{json}");
    }
}
