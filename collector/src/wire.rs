//! Segment's HTTP tracking API bodies, read and judged message by message.
//!
//! `parse` takes the bytes of a request body (already decompressed and
//! within the body limit) and returns the write key and `sentAt` the body
//! carries, the valid messages (ready to store, each with its JSON exactly as
//! sent) and the invalid ones with the reason, named by `messageId` so the
//! SDK can drop them (docs/wire-contract.md). A body that is not a Segment
//! body at all is a `BodyError`. Pure: no IO, no clock, no allocation beyond
//! the result; it never panics, whatever the bytes (a property test and a
//! fuzz-style test drive it with arbitrary input).
//!
//! Segment's rules, as its libraries and `@segment/loosely-validate-event`
//! apply them: `type` is one of six; `messageId` a string of 1 to 256
//! characters (here also without NUL); `userId` or `anonymousId` (a string or a number) on every
//! message; `event` on a track, `groupId` on a group, `userId` and
//! `previousId` on an alias; `timestamp`, when present, an ISO-8601 date;
//! `properties`, `traits`, `context`, `integrations` objects when present;
//! at most 32 KB per message and 2,500 messages per batch. Added here:
//! at most 64 levels of nesting per message.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::time::{format_utc, parse_iso8601};

/// Largest message, in bytes of its JSON text (Segment: 32 KB).
pub const MAX_MESSAGE_BYTES: usize = 32 * 1024;
/// Most messages in one batch (Segment: 2,500).
pub const MAX_BATCH_MESSAGES: usize = 2_500;
/// Most ids asked about in one receipt request (docs/wire-contract.md).
pub const MAX_RECEIPTS: usize = 500;
/// Deepest nesting of arrays and objects in a message, the message included.
pub const MAX_DEPTH: usize = 64;
/// Longest `messageId`, in characters.
pub const MAX_MESSAGE_ID_CHARS: usize = 256;

/// A message's `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Track,
    Identify,
    Page,
    Screen,
    Group,
    Alias,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Track,
        Kind::Identify,
        Kind::Page,
        Kind::Screen,
        Kind::Group,
        Kind::Alias,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Track => "track",
            Kind::Identify => "identify",
            Kind::Page => "page",
            Kind::Screen => "screen",
            Kind::Group => "group",
            Kind::Alias => "alias",
        }
    }

    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|kind| kind.as_str() == name)
    }

    /// The kind of a path's last part: its name (`track`) or, as Segment's
    /// browser library (analytics.js) sends them, its initial (`t`).
    pub fn from_path_part(part: &str) -> Option<Kind> {
        Kind::from_name(part).or_else(|| {
            let mut chars = part.chars();
            let initial = chars.next().filter(|_| chars.next().is_none())?;
            Kind::ALL
                .into_iter()
                .find(|kind| kind.as_str().starts_with(initial))
        })
    }
}

/// Which body an endpoint takes: `/v1/batch`, or one message of a kind
/// (`/v1/track`, …), whose `type` the path gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Batch,
    Single(Kind),
}

/// A body read: what to store, what to refuse, what to look up.
#[derive(Debug, Default)]
pub struct Body {
    /// `writeKey` from the body, when it has one.
    pub write_key: Option<String>,
    /// Valid messages, in the order sent.
    pub messages: Vec<Message>,
    /// Invalid messages, in the order sent.
    pub rejected: Vec<Rejection>,
    /// Ids of a receipt request (docs/wire-contract.md, "Receipts").
    pub receipts: Vec<String>,
}

/// A valid message, with the fields the store indexes.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub message_id: String,
    pub kind: Kind,
    pub event: Option<String>,
    pub user_id: Option<String>,
    pub anonymous_id: Option<String>,
    /// `timestamp`, normalised to UTC (`2026-12-06T10:00:00.000Z`).
    pub timestamp: Option<String>,
    /// The message's `sentAt`, else the batch's, normalised; absent when
    /// neither is a date (it is informational, never a reason to refuse).
    pub sent_at: Option<String>,
    /// The whole message as JSON, as sent (for a single-message endpoint,
    /// with `"type"` added when the body had none).
    pub json: String,
}

/// An invalid message: its position, its id when it has a usable one, why.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub index: usize,
    pub message_id: Option<String>,
    pub reason: Reason,
}

/// Why a message is refused: a code (a metric label) and a sentence for
/// people (at most 200 characters are shown by the SDK).
#[derive(Debug, Clone, PartialEq)]
pub struct Reason {
    pub code: Code,
    pub text: String,
}

/// The kinds of refusal, each a label of `collector_rejected_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    NotAnObject,
    Malformed,
    TooLarge,
    TooDeep,
    Type,
    MessageId,
    Timestamp,
    Identity,
    Event,
    GroupId,
    PreviousId,
    FieldType,
}

impl Code {
    pub const ALL: [Code; 12] = [
        Code::NotAnObject,
        Code::Malformed,
        Code::TooLarge,
        Code::TooDeep,
        Code::Type,
        Code::MessageId,
        Code::Timestamp,
        Code::Identity,
        Code::Event,
        Code::GroupId,
        Code::PreviousId,
        Code::FieldType,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Code::NotAnObject => "not_an_object",
            Code::Malformed => "malformed",
            Code::TooLarge => "too_large",
            Code::TooDeep => "too_deep",
            Code::Type => "type",
            Code::MessageId => "message_id",
            Code::Timestamp => "timestamp",
            Code::Identity => "identity",
            Code::Event => "event",
            Code::GroupId => "group_id",
            Code::PreviousId => "previous_id",
            Code::FieldType => "field_type",
        }
    }
}

fn reason(code: Code, text: impl Into<String>) -> Reason {
    Reason {
        code,
        text: text.into(),
    }
}

/// A body that is not a Segment body: answered 400 with `{"error": …}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    NotUtf8 { offset: usize },
    NotJson(String),
    NotAnObject,
    Malformed(String),
    NoBatch,
    BatchNotArray,
    TooManyMessages(usize),
    WriteKeyNotString,
    ReceiptsNotStrings,
    TooManyReceipts(usize),
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodyError::NotUtf8 { offset } => {
                write!(f, "the body is not UTF-8 (invalid byte at offset {offset})")
            }
            BodyError::NotJson(error) => write!(f, "the body is not JSON: {error}"),
            BodyError::NotAnObject => f.write_str("the body must be a JSON object"),
            BodyError::Malformed(error) => write!(f, "the body is not a Segment body: {error}"),
            BodyError::NoBatch => f.write_str("the body must have a \"batch\" array"),
            BodyError::BatchNotArray => f.write_str("\"batch\" must be an array of messages"),
            BodyError::TooManyMessages(n) => write!(
                f,
                "a batch holds at most {} messages; this one has {}",
                group(MAX_BATCH_MESSAGES),
                group(*n)
            ),
            BodyError::WriteKeyNotString => f.write_str("\"writeKey\" must be a string"),
            BodyError::ReceiptsNotStrings => {
                f.write_str("\"receipts\" must be an array of messageId strings")
            }
            BodyError::TooManyReceipts(n) => write!(
                f,
                "a receipt request asks about at most {MAX_RECEIPTS} ids; this one asks about {}",
                group(*n)
            ),
        }
    }
}

impl std::error::Error for BodyError {}

/// `12345` as `12,345`, for messages people read.
pub fn group(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The top level of a batch body. Unknown fields are ignored, as Segment does.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    batch: Option<Vec<&'a RawValue>>,
    #[serde(borrow, rename = "writeKey")]
    write_key: Option<&'a RawValue>,
    #[serde(borrow, rename = "sentAt")]
    sent_at: Option<&'a RawValue>,
    #[serde(borrow)]
    receipts: Option<&'a RawValue>,
}

/// The fields of a message the rules look at; the rest is kept as sent.
#[derive(Deserialize)]
struct Fields<'a> {
    #[serde(borrow, rename = "type")]
    kind: Option<&'a RawValue>,
    #[serde(borrow, rename = "messageId")]
    message_id: Option<&'a RawValue>,
    #[serde(borrow)]
    timestamp: Option<&'a RawValue>,
    #[serde(borrow, rename = "sentAt")]
    sent_at: Option<&'a RawValue>,
    #[serde(borrow, rename = "userId")]
    user_id: Option<&'a RawValue>,
    #[serde(borrow, rename = "anonymousId")]
    anonymous_id: Option<&'a RawValue>,
    #[serde(borrow)]
    event: Option<&'a RawValue>,
    #[serde(borrow, rename = "groupId")]
    group_id: Option<&'a RawValue>,
    #[serde(borrow, rename = "previousId")]
    previous_id: Option<&'a RawValue>,
    #[serde(borrow)]
    properties: Option<&'a RawValue>,
    #[serde(borrow)]
    traits: Option<&'a RawValue>,
    #[serde(borrow)]
    context: Option<&'a RawValue>,
    #[serde(borrow)]
    integrations: Option<&'a RawValue>,
    #[serde(borrow, rename = "writeKey")]
    write_key: Option<&'a RawValue>,
}

/// Reads a request body for `endpoint`. See the module comment.
pub fn parse(bytes: &[u8], endpoint: Endpoint) -> Result<Body, BodyError> {
    let text = std::str::from_utf8(bytes).map_err(|e| BodyError::NotUtf8 {
        offset: e.valid_up_to(),
    })?;
    if !text.trim_start().starts_with('{') {
        return Err(match serde_json::from_str::<serde::de::IgnoredAny>(text) {
            Ok(_) => BodyError::NotAnObject,
            Err(e) => BodyError::NotJson(e.to_string()),
        });
    }
    match endpoint {
        Endpoint::Batch => parse_batch(text),
        Endpoint::Single(kind) => parse_single(text, kind),
    }
}

fn json_error(e: serde_json::Error) -> BodyError {
    match e.classify() {
        serde_json::error::Category::Data => BodyError::Malformed(e.to_string()),
        _ => BodyError::NotJson(e.to_string()),
    }
}

/// The envelope with `batch` kept whole: read only when the fast one
/// failed, to say which field is wrong.
#[derive(Deserialize)]
struct RawEnvelope<'a> {
    #[serde(borrow)]
    batch: Option<&'a RawValue>,
}

fn parse_batch(text: &str) -> Result<Body, BodyError> {
    let envelope: Envelope =
        serde_json::from_str(text).map_err(|e| {
            match serde_json::from_str::<RawEnvelope>(text) {
                Ok(RawEnvelope { batch: Some(raw) }) if !raw.get().starts_with('[') => {
                    BodyError::BatchNotArray
                }
                _ => json_error(e),
            }
        })?;
    let write_key = match envelope.write_key {
        None => None,
        Some(raw) => Some(
            string(raw)
                .ok_or(BodyError::WriteKeyNotString)?
                .into_owned(),
        ),
    };
    let receipts = match envelope.receipts {
        None => Vec::new(),
        Some(raw) => {
            let ids: Vec<Cow<str>> =
                serde_json::from_str(raw.get()).map_err(|_| BodyError::ReceiptsNotStrings)?;
            if ids.len() > MAX_RECEIPTS {
                return Err(BodyError::TooManyReceipts(ids.len()));
            }
            ids.into_iter().map(Cow::into_owned).collect()
        }
    };
    let items: Vec<&RawValue> = match envelope.batch {
        // A receipt request need not carry an (empty) batch.
        None if envelope.receipts.is_some() => Vec::new(),
        None => return Err(BodyError::NoBatch),
        Some(items) => items,
    };
    if items.len() > MAX_BATCH_MESSAGES {
        return Err(BodyError::TooManyMessages(items.len()));
    }
    let batch_sent_at = envelope.sent_at.and_then(date).map(format_utc);
    let mut body = Body {
        write_key,
        messages: Vec::with_capacity(items.len()),
        rejected: Vec::new(),
        receipts,
    };
    for (index, raw) in items.into_iter().enumerate() {
        match judge(index, raw, None, batch_sent_at.as_deref()) {
            Ok((message, _)) => body.messages.push(message),
            Err(rejection) => body.rejected.push(rejection),
        }
    }
    Ok(body)
}

fn parse_single(text: &str, kind: Kind) -> Result<Body, BodyError> {
    let raw: &RawValue = serde_json::from_str(text).map_err(json_error)?;
    let mut body = Body::default();
    match judge(0, raw, Some(kind), None) {
        Ok((message, write_key)) => {
            body.write_key = write_key;
            body.messages.push(message);
        }
        Err(rejection) => {
            // The write key still decides between 401 and a rejection.
            body.write_key = serde_json::from_str::<Fields>(raw.get())
                .ok()
                .and_then(|fields| fields.write_key.and_then(string))
                .map(Cow::into_owned);
            body.rejected.push(rejection);
        }
    }
    Ok(body)
}

/// Judges one message against Segment's rules. `path_kind` is the type a
/// single-message endpoint gives. Returns the message and, for a single
/// message, the `writeKey` it carries.
fn judge(
    index: usize,
    raw: &RawValue,
    path_kind: Option<Kind>,
    batch_sent_at: Option<&str>,
) -> Result<(Message, Option<String>), Rejection> {
    let json = raw.get();
    let reject = |message_id: Option<String>, reason: Reason| Rejection {
        index,
        message_id,
        reason,
    };
    if !json.starts_with('{') {
        return Err(reject(
            None,
            reason(Code::NotAnObject, "a message must be a JSON object"),
        ));
    }
    let fields: Fields = serde_json::from_str(json)
        .map_err(|e| reject(None, reason(Code::Malformed, format!("{e}"))))?;
    // The id first, so that every later refusal can name the message.
    let message_id = match fields.message_id.map(string) {
        None => {
            return Err(reject(
                None,
                reason(Code::MessageId, "messageId is required"),
            ))
        }
        // A NUL cannot be held by the text columns of every store (Postgres
        // refuses it): a store would have to rewrite it, and two distinct
        // ids could then collide. Refused, named by the id as sent.
        Some(Some(id)) if id.contains('\0') => {
            return Err(reject(
                Some(id.into_owned()),
                reason(
                    Code::MessageId,
                    "messageId must not contain the NUL character (U+0000)",
                ),
            ))
        }
        Some(Some(id)) if !id.is_empty() && id.chars().count() <= MAX_MESSAGE_ID_CHARS => {
            id.into_owned()
        }
        Some(_) => {
            return Err(reject(
                None,
                reason(
                    Code::MessageId,
                    format!("messageId must be a string of 1 to {MAX_MESSAGE_ID_CHARS} characters"),
                ),
            ))
        }
    };
    let judged = rules(json, &fields, path_kind, batch_sent_at);
    match judged {
        Ok(mut message) => {
            message.message_id = message_id;
            let write_key = fields.write_key.and_then(string).map(Cow::into_owned);
            Ok((message, write_key))
        }
        Err(why) => Err(reject(Some(message_id), why)),
    }
}

fn rules(
    json: &str,
    fields: &Fields,
    path_kind: Option<Kind>,
    batch_sent_at: Option<&str>,
) -> Result<Message, Reason> {
    if json.len() > MAX_MESSAGE_BYTES {
        return Err(reason(
            Code::TooLarge,
            format!(
                "the message is {} bytes; the limit is {} bytes",
                group(json.len()),
                group(MAX_MESSAGE_BYTES)
            ),
        ));
    }
    if deeper_than(json, MAX_DEPTH) {
        return Err(reason(
            Code::TooDeep,
            format!("the message nests more than {MAX_DEPTH} levels deep"),
        ));
    }
    let kinds = "track, identify, page, screen, group or alias";
    let named = match fields.kind {
        None => None,
        Some(raw) => match string(raw).as_deref().and_then(Kind::from_name) {
            Some(kind) => Some(kind),
            None => {
                return Err(reason(
                    Code::Type,
                    format!("type must be {kinds}, not {}", excerpt(raw.get())),
                ))
            }
        },
    };
    let kind = match (path_kind, named) {
        (Some(path), Some(named)) if path != named => {
            return Err(reason(
                Code::Type,
                format!(
                    "type {} does not match the endpoint /v1/{}",
                    named.as_str(),
                    path.as_str()
                ),
            ))
        }
        (Some(path), _) => path,
        (None, Some(named)) => named,
        (None, None) => return Err(reason(Code::Type, format!("type is required: {kinds}"))),
    };
    let user_id = identifier(fields.user_id, "userId")?;
    let anonymous_id = identifier(fields.anonymous_id, "anonymousId")?;
    let group_id = identifier(fields.group_id, "groupId")?;
    let previous_id = identifier(fields.previous_id, "previousId")?;
    if user_id.is_none() && anonymous_id.is_none() {
        return Err(reason(Code::Identity, "userId or anonymousId is required"));
    }
    let event = match fields.event {
        None => None,
        Some(raw) => Some(
            string(raw)
                .ok_or_else(|| reason(Code::Event, "event must be a string"))?
                .into_owned(),
        ),
    };
    match kind {
        Kind::Track if event.as_deref().unwrap_or("").is_empty() => {
            return Err(reason(
                Code::Event,
                "a track requires event, the event's name",
            ))
        }
        Kind::Group if group_id.is_none() => {
            return Err(reason(Code::GroupId, "a group requires groupId"))
        }
        Kind::Alias if user_id.is_none() => {
            return Err(reason(Code::Identity, "an alias requires userId"))
        }
        Kind::Alias if previous_id.is_none() => {
            return Err(reason(Code::PreviousId, "an alias requires previousId"))
        }
        _ => {}
    }
    for (raw, field) in [
        (fields.properties, "properties"),
        (fields.traits, "traits"),
        (fields.context, "context"),
        (fields.integrations, "integrations"),
    ] {
        if raw.is_some_and(|raw| !raw.get().starts_with('{')) {
            return Err(reason(
                Code::FieldType,
                format!("{field} must be an object"),
            ));
        }
    }
    let timestamp = match fields.timestamp {
        None => None,
        Some(raw) => Some(format_utc(date(raw).ok_or_else(|| {
            reason(
                Code::Timestamp,
                format!(
                    "timestamp must be an ISO 8601 date, not {}",
                    excerpt(raw.get())
                ),
            )
        })?)),
    };
    let sent_at = match fields.sent_at.and_then(date) {
        Some(at) => Some(format_utc(at)),
        None => batch_sent_at.map(str::to_owned),
    };
    let json = match (path_kind, named) {
        // `{"type":"track",…}`: the stored message says what it is.
        (Some(kind), None) => with_type(json, kind),
        _ => json.to_owned(),
    };
    Ok(Message {
        message_id: String::new(),
        kind,
        event,
        user_id,
        anonymous_id,
        timestamp,
        sent_at,
        json,
    })
}

/// A JSON string's value, or `None` when `raw` is not a string (or one
/// with an escape that is not a character, such as a lone surrogate).
fn string(raw: &RawValue) -> Option<Cow<'_, str>> {
    if !raw.get().starts_with('"') {
        return None;
    }
    serde_json::from_str(raw.get()).ok()
}

/// A `userId`-like field: a non-empty string, or a number kept as its text.
fn identifier(raw: Option<&RawValue>, field: &str) -> Result<Option<String>, Reason> {
    let Some(raw) = raw else { return Ok(None) };
    let text = raw.get();
    if text.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
        return Ok(Some(text.to_owned()));
    }
    match string(raw) {
        Some(id) if id.is_empty() => Ok(None),
        Some(id) => Ok(Some(id.into_owned())),
        None => Err(reason(
            Code::Identity,
            format!("{field} must be a string or a number"),
        )),
    }
}

/// A date field's instant, when it is a string holding an ISO-8601 date.
fn date(raw: &RawValue) -> Option<i64> {
    string(raw).as_deref().and_then(parse_iso8601)
}

/// A value as quoted in a reason: at most 40 characters of its JSON.
fn excerpt(json: &str) -> String {
    match json.char_indices().nth(40) {
        Some((end, _)) => format!("{}…", &json[..end]),
        None => json.to_owned(),
    }
}

fn with_type(json: &str, kind: Kind) -> String {
    let rest = json[1..].trim_start();
    let separator = if rest.starts_with('}') { "" } else { "," };
    format!("{{\"type\":\"{}\"{separator}{rest}", kind.as_str())
}

/// Whether valid JSON text nests arrays and objects deeper than `max`.
pub fn deeper_than(json: &str, max: usize) -> bool {
    // Fewer opening brackets than `max` cannot nest deeper: a count the
    // compiler vectorises settles most messages without the careful walk.
    let opening = json
        .as_bytes()
        .iter()
        .filter(|&&b| b == b'[' || b == b'{')
        .count();
    if opening <= max {
        return false;
    }
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &byte in json.as_bytes() {
        if in_string {
            if escaped {
                escaped = false;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                in_string = false;
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}
