//! The replicated log between the `ingest` and `load` roles: NATS
//! JetStream. This module owns the connection (any servers of the cluster;
//! the client follows it through node failures), the stream's definition
//! (file storage, `num_replicas` copies, the `Nats-Msg-Id` dedupe window),
//! the loaders' shared durable pull consumer, and the envelope an accepted
//! event travels in (its write key, receive time and columns beside the
//! message's JSON as sent). `publish` is the `Store` an ingest node commits
//! to; `load.rs` reads the consumer.
//!
//! The stream's dedupe is only a first line: it drops a copy published
//! within `duplicate_window` of the first. Exactly once in the store never
//! depends on it: every store drops copies by (write key, `messageId`) in
//! the transaction that writes them.

use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::config::Config;
use crate::store::Batch;
use crate::wire::{Kind, Message};

pub mod publish;

/// The subject the stream holds: `<stream>.events`.
pub fn subject(config: &Config) -> String {
    format!("{}.events", config.stream)
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
        storage: stream::StorageType::File,
        num_replicas: config.stream_replicas,
        duplicate_window: config.duplicate_window,
        ..Default::default()
    }
}

/// Creates the stream if it does not exist (every ingest node and loader
/// does; the first one creates it). Retries while the cluster elects its
/// leaders, up to `patience`.
pub async fn ensure_stream(
    js: &jetstream::Context,
    config: &Config,
    patience: Duration,
) -> Result<stream::Stream, String> {
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        match js.get_or_create_stream(stream_config(config)).await {
            Ok(stream) => return Ok(stream),
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
    }
}

/// The loaders' durable pull consumer: explicit acks, redelivery after
/// `ack_wait`, every loader pulling from the same one (the stream hands
/// each message to one of them at a time).
pub async fn ensure_consumer(
    stream: &stream::Stream,
    config: &Config,
    patience: Duration,
) -> Result<consumer::PullConsumer, String> {
    let consumer_config = consumer::pull::Config {
        durable_name: Some(config.consumer.clone()),
        ack_policy: consumer::AckPolicy::Explicit,
        ack_wait: config.ack_wait,
        max_ack_pending: 200_000,
        max_batch: config.batch_events as i64,
        ..Default::default()
    };
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        match stream
            .get_or_create_consumer(&config.consumer, consumer_config.clone())
            .await
        {
            Ok(consumer) => return Ok(consumer),
            Err(e) if tokio::time::Instant::now() < deadline => {
                tracing::warn!(error = %e, consumer = config.consumer, "the consumer is not available yet; retrying");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => {
                return Err(format!(
                    "cannot create or find the consumer {}: {e}",
                    config.consumer
                ))
            }
        }
    }
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
pub fn encode(write_key: &str, received_at: &str, m: &Message) -> Vec<u8> {
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
    let mut out = serde_json::to_vec(&head).unwrap_or_else(|_| b"{}".to_vec());
    out.pop(); // the closing brace
    out.extend_from_slice(b",\"m\":");
    out.extend_from_slice(m.json.as_bytes());
    out.push(b'}');
    out
}

/// Reads an envelope back into a one-message batch, or says why not.
pub fn decode(payload: &[u8]) -> Result<Batch, String> {
    let envelope: Envelope =
        serde_json::from_slice(payload).map_err(|e| format!("not an event envelope: {e}"))?;
    let kind = Kind::from_name(&envelope.t)
        .ok_or_else(|| format!("not an event envelope: type {:?}", envelope.t))?;
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
        let payload = encode("wk", "2026-12-06T10:00:01.000Z", &message("m1", json));
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
        assert!(decode(b"").is_err());
        assert!(decode(b"{\"k\":1}").is_err());
        assert!(decode(&[0xff, 0x00]).is_err());
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
