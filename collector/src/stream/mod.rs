//! The replicated log between the `ingest` and `load` roles: NATS
//! JetStream. This module owns the connection (any servers of the cluster;
//! the client follows it through node failures), the stream's definition
//! (a work queue in file storage, `num_replicas` copies, the `Nats-Msg-Id`
//! dedupe window), the loaders' shared durable pull consumer, the
//! dead-letter stream, and the envelope an accepted event travels in (its
//! write key, receive time and columns beside the message's JSON as sent).
//! `publish` is the `Store` an ingest node commits to; `load.rs` reads the
//! consumer.
//!
//! The stream is a work queue: an event is removed from it once a loader
//! acked it (after the store's commit) or terminated it (after publishing
//! it to the dead-letter subject and having that publish acked), so the
//! stream holds the backlog and nothing else. It has one consumer, the
//! loaders' shared durable one.
//!
//! The stream's dedupe is only a first line: it drops a copy published
//! within `duplicate_window` of the first. Exactly once in the store never
//! depends on it: every store drops copies by (write key, `messageId`) in
//! the transaction that writes them.

use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::config::{Config, MAX_BATCH_BYTES, MAX_BATCH_EVENTS};
use crate::store::Batch;
use crate::wire::{Kind, Message, MAX_MESSAGE_BYTES};

pub mod publish;

/// The envelope's version this code writes and reads. An envelope of a
/// later version (a newer ingest node during a rolling upgrade) is left in
/// the stream for a loader that reads it.
pub const ENVELOPE_VERSION: u64 = 1;

/// The largest stream message (envelope and headers) the stream takes: an
/// envelope holds a message of at most `MAX_MESSAGE_BYTES` and copies of a
/// few of its fields, so about twice that, and `Nats-Msg-Id` a few KB.
pub const MAX_STREAM_MESSAGE_BYTES: usize = 128 * 1024;

/// The least a pull may ask for: room for the largest stream message, with
/// the server's own count of subject and headers.
pub const MIN_PULL_BYTES: usize = 2 * MAX_STREAM_MESSAGE_BYTES;

const _: () = assert!(2 * MAX_MESSAGE_BYTES + 16 * 1024 < MAX_STREAM_MESSAGE_BYTES);

/// The subject the stream holds: `<stream>.events`.
pub fn subject(config: &Config) -> String {
    format!("{}.events", config.stream)
}

/// The stream that keeps dead letters when no stream of the operator's
/// captures `dead_letter_subject`: `<stream>_DEAD`.
pub fn dead_letter_stream(config: &Config) -> String {
    format!("{}_DEAD", config.stream)
}

/// Connects to the NATS cluster, retrying the first connection too (a
/// node may be starting or down: the others serve).
pub async fn connect(config: &Config, name: &str) -> Result<jetstream::Context, String> {
    let client = async_nats::ConnectOptions::new()
        .name(name)
        .retry_on_initial_connect()
        .connection_timeout(Duration::from_secs(2))
        .max_reconnects(None)
        .connect(config.nats_urls.as_slice())
        .await
        .map_err(|e| format!("cannot connect to NATS {:?}: {e}", config.nats_urls))?;
    Ok(jetstream::new(client))
}

/// The stream's definition.
pub fn stream_config(config: &Config) -> stream::Config {
    stream::Config {
        name: config.stream.clone(),
        subjects: vec![subject(config)],
        retention: stream::RetentionPolicy::WorkQueue,
        // Should an operator give the stream a size limit, a full stream
        // refuses new events (ingest answers 503), never drops old ones.
        discard: stream::DiscardPolicy::New,
        storage: stream::StorageType::File,
        num_replicas: config.stream_replicas,
        duplicate_window: config.duplicate_window,
        max_message_size: MAX_STREAM_MESSAGE_BYTES as i32,
        ..Default::default()
    }
}

/// What of an existing stream cannot be what the collector needs: the
/// settings that cannot be changed in place, named, with both values.
/// `replicas` is checked when the caller sets it (ingest, whose setting it
/// is).
fn mismatches(found: &stream::Config, wanted: &stream::Config, replicas: bool) -> Vec<String> {
    let mut wrong = Vec::new();
    if found.retention != wanted.retention {
        wrong.push(format!(
            "retention is {:?}, the collector needs {:?} (acked events removed)",
            found.retention, wanted.retention
        ));
    }
    if found.storage != wanted.storage {
        wrong.push(format!(
            "storage is {:?}, the collector needs {:?}",
            found.storage, wanted.storage
        ));
    }
    if found.discard != wanted.discard {
        wrong.push(format!(
            "discard is {:?}, the collector needs {:?} (a full stream must refuse new events, not drop old ones)",
            found.discard, wanted.discard
        ));
    }
    if replicas && found.num_replicas != wanted.num_replicas {
        wrong.push(format!(
            "num_replicas is {}, stream_replicas (--stream-replicas, COLLECTOR_STREAM_REPLICAS) says {}",
            found.num_replicas, wanted.num_replicas
        ));
    }
    if !found.subjects.iter().any(|s| wanted.subjects.contains(s)) {
        wrong.push(format!(
            "its subjects {:?} do not include {:?}",
            found.subjects, wanted.subjects
        ));
    }
    wrong
}

fn refuse(name: &str, wrong: &[String]) -> String {
    format!(
        "the stream {name} exists with settings the collector cannot use: {}. Drain it (let the loaders empty it), delete it, and start again (or name another stream with stream, --stream, COLLECTOR_STREAM)",
        wrong.join("; ")
    )
}

/// Creates the stream if it does not exist (the `ingest` role does; the
/// first one creates it), or checks the existing one: a stream whose
/// retention, storage, discard policy, replicas or subjects differ from
/// what the collector needs is refused with a message naming them; a
/// different dedupe window or largest message is updated. Retries while
/// the cluster elects its leaders, up to `patience`.
pub async fn ensure_stream(
    js: &jetstream::Context,
    config: &Config,
    patience: Duration,
) -> Result<stream::Stream, String> {
    let wanted = stream_config(config);
    let deadline = tokio::time::Instant::now() + patience;
    let mut stream = loop {
        match js.get_or_create_stream(wanted.clone()).await {
            Ok(stream) => break stream,
            Err(e) if tokio::time::Instant::now() < deadline => {
                tracing::warn!(error = %e, stream = config.stream, "the stream is not available yet; retrying");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => {
                return Err(format!(
                    "cannot create or find the stream {}: {e}",
                    config.stream
                ))
            }
        }
    };
    let found = stream.cached_info().config.clone();
    let wrong = mismatches(&found, &wanted, true);
    if !wrong.is_empty() {
        return Err(refuse(&config.stream, &wrong));
    }
    if found.duplicate_window != wanted.duplicate_window
        || found.max_message_size != wanted.max_message_size
    {
        let mut update = found.clone();
        update.duplicate_window = wanted.duplicate_window;
        update.max_message_size = wanted.max_message_size;
        js.update_stream(update).await.map_err(|e| {
            format!(
                "the stream {} has duplicate_window {:?} and max_msg_size {}; updating them to {:?} and {} failed: {e}",
                config.stream,
                found.duplicate_window,
                found.max_message_size,
                wanted.duplicate_window,
                wanted.max_message_size
            )
        })?;
        tracing::info!(
            stream = config.stream,
            duplicate_window_ms = wanted.duplicate_window.as_millis() as u64,
            max_msg_size = wanted.max_message_size,
            "the stream's settings were updated"
        );
        stream.info().await.map_err(|e| e.to_string())?;
    }
    Ok(stream)
}

/// Finds the stream for a loader, waiting up to `patience` for an ingest
/// node to create it (a loader never creates it: the stream's settings are
/// the ingest nodes'), and checks that it is a work queue in file storage.
pub async fn find_stream(
    js: &jetstream::Context,
    config: &Config,
    patience: Duration,
) -> Result<stream::Stream, String> {
    let wanted = stream_config(config);
    let deadline = tokio::time::Instant::now() + patience;
    let mut waited = false;
    let stream = loop {
        match js.get_stream(&config.stream).await {
            Ok(stream) => break stream,
            Err(e) if tokio::time::Instant::now() < deadline => {
                if !waited {
                    tracing::warn!(error = %e, stream = config.stream, "waiting for an ingest node to create the stream");
                    waited = true;
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => {
                return Err(format!(
                    "the stream {} was not found within {} s ({e}): an ingest node creates it; start one first",
                    config.stream,
                    patience.as_secs()
                ))
            }
        }
    };
    let wrong = mismatches(&stream.cached_info().config, &wanted, false);
    if !wrong.is_empty() {
        return Err(refuse(&config.stream, &wrong));
    }
    Ok(stream)
}

/// Makes sure a stream keeps what is published to `dead_letter_subject`:
/// an existing stream that captures it (the operator's), or else
/// `<stream>_DEAD` (file storage, the main stream's replicas, kept until
/// an operator removes them).
pub async fn ensure_dead_letters(
    js: &jetstream::Context,
    config: &Config,
    replicas: usize,
) -> Result<String, String> {
    if let Ok(name) = js
        .stream_by_subject(config.dead_letter_subject.clone())
        .await
    {
        return Ok(name);
    }
    let name = dead_letter_stream(config);
    js.get_or_create_stream(stream::Config {
        name: name.clone(),
        subjects: vec![config.dead_letter_subject.clone()],
        retention: stream::RetentionPolicy::Limits,
        discard: stream::DiscardPolicy::New,
        storage: stream::StorageType::File,
        num_replicas: replicas,
        duplicate_window: Duration::from_secs(120),
        ..Default::default()
    })
    .await
    .map_err(|e| {
        format!(
            "cannot create the stream {name} for dead letters on {} (dead_letter_subject, --dead-letter-subject, COLLECTOR_DEAD_LETTER_SUBJECT): {e}",
            config.dead_letter_subject
        )
    })?;
    Ok(name)
}

/// The loaders' durable pull consumer: explicit acks, redelivery after
/// `ack_wait`, every loader pulling from the same one (the stream hands
/// each message to one of them at a time). Any pull may ask for up to the
/// largest `batch_events` and `batch_max_bytes` the settings allow, so
/// loaders with different batch settings never have a pull refused. An
/// existing consumer whose settings differ (another `ack_wait_ms`, limits
/// of an earlier version) is updated; if the server refuses the update the
/// start fails, naming what differs.
///
/// `max_deliver` is left unlimited: an event the store refuses is
/// dead-lettered by the loader, and in a work-queue stream an event past
/// `max_deliver` would stay in the stream, neither delivered nor removed.
pub async fn ensure_consumer(
    stream: &stream::Stream,
    config: &Config,
    patience: Duration,
) -> Result<consumer::PullConsumer, String> {
    let wanted = consumer::pull::Config {
        durable_name: Some(config.consumer.clone()),
        ack_policy: consumer::AckPolicy::Explicit,
        ack_wait: config.ack_wait,
        max_ack_pending: 200_000,
        max_batch: MAX_BATCH_EVENTS as i64,
        max_bytes: MAX_BATCH_BYTES as i64,
        ..Default::default()
    };
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        let attempt = async {
            match stream.consumer_info(&config.consumer).await {
                Ok(info) => {
                    let found = &info.config;
                    let differs = found.ack_wait != wanted.ack_wait
                        || found.max_batch != wanted.max_batch
                        || found.max_bytes != wanted.max_bytes
                        || found.max_ack_pending != wanted.max_ack_pending
                        || found.ack_policy != wanted.ack_policy;
                    if !differs {
                        return stream
                            .get_consumer::<consumer::pull::Config>(&config.consumer)
                            .await
                            .map_err(|e| (false, e.to_string()));
                    }
                    let was = format!(
                        "ack_wait {} ms, max_batch {}, max_bytes {}, max_ack_pending {}, ack_policy {:?}",
                        found.ack_wait.as_millis(),
                        found.max_batch,
                        found.max_bytes,
                        found.max_ack_pending,
                        found.ack_policy
                    );
                    let consumer = stream.create_consumer(wanted.clone()).await.map_err(|e| {
                        (
                            true,
                            format!(
                                "the consumer {} exists with {was}; updating it to ack_wait {} ms (ack_wait_ms, --ack-wait-ms, COLLECTOR_ACK_WAIT_MS), max_batch {}, max_bytes {}, max_ack_pending {}, explicit acks failed: {e}",
                                config.consumer,
                                wanted.ack_wait.as_millis(),
                                wanted.max_batch,
                                wanted.max_bytes,
                                wanted.max_ack_pending
                            ),
                        )
                    })?;
                    tracing::info!(
                        consumer = config.consumer,
                        was,
                        "the consumer's settings were updated"
                    );
                    Ok(consumer)
                }
                Err(e) if e.kind() == jetstream::context::ConsumerInfoErrorKind::NotFound => stream
                    .create_consumer(wanted.clone())
                    .await
                    .map_err(|e| (false, e.to_string())),
                Err(e) => Err((false, e.to_string())),
            }
        };
        match attempt.await {
            Ok(consumer) => return Ok(consumer),
            Err((true, refused)) => return Err(refused),
            Err((false, e)) if tokio::time::Instant::now() < deadline => {
                tracing::warn!(error = %e, consumer = config.consumer, "the consumer is not available yet; retrying");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err((false, e)) => {
                return Err(format!(
                    "cannot create or find the consumer {}: {e}",
                    config.consumer
                ))
            }
        }
    }
}

/// What a loader needs from the stream, in order: the stream (created by
/// an ingest node, checked), the stream keeping dead letters, and the
/// shared consumer.
pub async fn loader_consumer(
    js: &jetstream::Context,
    config: &Config,
    patience: Duration,
) -> Result<consumer::PullConsumer, String> {
    let stream = find_stream(js, config, patience).await?;
    let replicas = stream.cached_info().config.num_replicas;
    ensure_dead_letters(js, config, replicas).await?;
    ensure_consumer(&stream, config, patience).await
}

/// `Nats-Msg-Id`: the write key (which has no `:`), `:`, and the
/// `messageId`, with bytes a header cannot carry (and `%`) written `%XX`,
/// so that distinct ids stay distinct. UUIDs pass unchanged.
pub fn msg_id(write_key: &str, message_id: &str) -> String {
    let mut id = String::with_capacity(write_key.len() + 1 + message_id.len());
    id.push_str(write_key);
    id.push(':');
    for &b in message_id.as_bytes() {
        if (0x21..=0x7e).contains(&b) && b != b'%' {
            id.push(b as char);
        } else {
            id.push_str(&format!("%{b:02X}"));
        }
    }
    id
}

/// The envelope's columns (the message's JSON follows as `m`).
#[derive(Serialize)]
struct Head<'a> {
    k: &'a str,
    r: &'a str,
    i: &'a str,
    t: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    e: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    u: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    a: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ts: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    s: Option<&'a str>,
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(default)]
    v: Option<u64>,
    k: String,
    r: String,
    i: String,
    t: String,
    e: Option<String>,
    u: Option<String>,
    a: Option<String>,
    ts: Option<String>,
    s: Option<String>,
    #[serde(borrow)]
    m: &'a RawValue,
}

/// One accepted event as published: JSON, the message as sent under `m`.
/// An error (which serializing these strings never gives) fails the
/// publish, and so the request (503): nothing malformed is published.
pub fn encode(write_key: &str, received_at: &str, m: &Message) -> Result<Vec<u8>, String> {
    let head = Head {
        k: write_key,
        r: received_at,
        i: &m.message_id,
        t: m.kind.as_str(),
        e: m.event.as_deref(),
        u: m.user_id.as_deref(),
        a: m.anonymous_id.as_deref(),
        ts: m.timestamp.as_deref(),
        s: m.sent_at.as_deref(),
    };
    let mut out = serde_json::to_vec(&head)
        .map_err(|e| format!("cannot encode the envelope of {:?}: {e}", m.message_id))?;
    if out.pop() != Some(b'}') {
        return Err(format!(
            "cannot encode the envelope of {:?}: its head is not a JSON object",
            m.message_id
        ));
    }
    out.extend_from_slice(b",\"m\":");
    out.extend_from_slice(m.json.as_bytes());
    out.push(b'}');
    Ok(out)
}

/// Why a stream message cannot be loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Undecodable {
    /// Not an event envelope at all (never written by an ingest node).
    Malformed(String),
    /// An envelope of a later version, or of an event type this code does
    /// not know: a newer loader can load it.
    Newer(String),
}

impl std::fmt::Display for Undecodable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Undecodable::Malformed(why) | Undecodable::Newer(why) => f.write_str(why),
        }
    }
}

/// Reads an envelope back into a one-message batch, or says why not.
pub fn decode(payload: &[u8]) -> Result<Batch, Undecodable> {
    let envelope: Envelope = match serde_json::from_slice(payload) {
        Ok(envelope) => envelope,
        Err(e) => {
            // A later version may have changed the fields: its `v` says so.
            #[derive(Deserialize)]
            struct Version {
                v: Option<u64>,
            }
            return Err(match serde_json::from_slice::<Version>(payload) {
                Ok(Version { v: Some(v) }) if v > ENVELOPE_VERSION => Undecodable::Newer(format!(
                    "an envelope of version {v}; this loader reads version {ENVELOPE_VERSION}"
                )),
                _ => Undecodable::Malformed(format!("not an event envelope: {e}")),
            });
        }
    };
    if let Some(v) = envelope.v.filter(|&v| v > ENVELOPE_VERSION) {
        return Err(Undecodable::Newer(format!(
            "an envelope of version {v}; this loader reads version {ENVELOPE_VERSION}"
        )));
    }
    let kind = Kind::from_name(&envelope.t).ok_or_else(|| {
        Undecodable::Newer(format!(
            "an event of type {:?}, which this loader does not know",
            envelope.t
        ))
    })?;
    Ok(Batch {
        write_key: envelope.k.into(),
        received_at: envelope.r,
        messages: vec![Message {
            message_id: envelope.i,
            kind,
            event: envelope.e,
            user_id: envelope.u,
            anonymous_id: envelope.a,
            timestamp: envelope.ts,
            sent_at: envelope.s,
            json: envelope.m.get().to_owned(),
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: &str, json: &str) -> Message {
        Message {
            message_id: id.into(),
            kind: Kind::Track,
            event: Some("Signed \"Up\"".into()),
            user_id: None,
            anonymous_id: Some("a1".into()),
            timestamp: Some("2026-12-06T10:00:00.000Z".into()),
            sent_at: None,
            json: json.into(),
        }
    }

    #[test]
    fn an_envelope_reads_back_as_published_byte_for_byte() {
        let json = r#"{"type":"track","messageId":"m1","event":"Signed \"Up\"","x":[1, 2.50,{}]}"#;
        let payload =
            encode("wk", "2026-12-06T10:00:01.000Z", &message("m1", json)).expect("encodes");
        let batch = decode(&payload).expect("decodes");
        assert_eq!(&*batch.write_key, "wk");
        assert_eq!(batch.received_at, "2026-12-06T10:00:01.000Z");
        let m = &batch.messages[0];
        assert_eq!(m.message_id, "m1");
        assert_eq!(m.event.as_deref(), Some("Signed \"Up\""));
        assert_eq!(m.user_id, None);
        assert_eq!(m.json, json);
    }

    #[test]
    fn what_is_not_an_envelope_is_an_error_not_a_panic() {
        for bad in [&b""[..], b"{\"k\":1}", &[0xff, 0x00], b"{}", b"[1]"] {
            assert!(
                matches!(decode(bad), Err(Undecodable::Malformed(_))),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn an_envelope_of_a_later_version_or_an_unknown_type_is_told_apart() {
        let json = r#"{"type":"track","messageId":"m1","event":"x"}"#;
        let payload =
            encode("wk", "2026-12-06T10:00:01.000Z", &message("m1", json)).expect("encodes");
        let text = String::from_utf8(payload).expect("utf-8");
        let later = text.replacen('{', "{\"v\":2,", 1);
        assert!(matches!(
            decode(later.as_bytes()),
            Err(Undecodable::Newer(_))
        ));
        let reshaped = r#"{"v":3,"events":[]}"#;
        assert!(matches!(
            decode(reshaped.as_bytes()),
            Err(Undecodable::Newer(_))
        ));
        let unknown_type = text.replace("\"t\":\"track\"", "\"t\":\"purchase\"");
        assert!(matches!(
            decode(unknown_type.as_bytes()),
            Err(Undecodable::Newer(_))
        ));
        let version_1 = text.replacen('{', "{\"v\":1,", 1);
        assert!(decode(version_1.as_bytes()).is_ok());
    }

    #[test]
    fn msg_ids_keep_distinct_ids_distinct_and_uuids_readable() {
        assert_eq!(
            msg_id("wk", "9b2d6a44-1c1e-4a43-9f1e-0d8f0a3b5c11"),
            "wk:9b2d6a44-1c1e-4a43-9f1e-0d8f0a3b5c11"
        );
        assert_eq!(msg_id("wk", "a b\r\n%"), "wk:a%20b%0D%0A%25");
        assert_ne!(msg_id("wk", "%20"), msg_id("wk", " "));
        assert_eq!(msg_id("wk", "é"), "wk:%C3%A9");
    }
}
