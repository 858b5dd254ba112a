//! The JetStream publisher: the `Store` an `ingest` node's commit writer
//! commits to. A group's events are published together (each with
//! `Nats-Msg-Id` = write key + `messageId`), and `write` returns only when
//! the stream has acknowledged every one of them, which it does once the
//! event is stored on a quorum of its replicas. Any publish that fails or
//! is not acknowledged within the timeout fails the whole group: its
//! requests are answered 503 with `Retry-After` and the client sends them
//! again (what did reach the stream is then dropped as a copy, by the
//! stream within its window, by the store after it).

use std::future::IntoFuture;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, context::Publish};
use futures_util::future::join_all;
use tokio::runtime::Handle;

use super::{encode, msg_id};
use crate::store::{Batch, Receipts, Store, StoreError, Written};

/// Publishes groups to the stream's subject.
pub struct StreamStore {
    js: jetstream::Context,
    subject: async_nats::Subject,
    runtime: Handle,
    receipts: Option<Arc<dyn Receipts>>,
}

impl StreamStore {
    /// `js`'s acks are awaited at most `ack_timeout`; `receipts` is where
    /// receipt requests are answered from (the loaders' store), if anywhere.
    /// `runtime` drives the publishes: `write` is called from the commit
    /// writer's thread, outside it.
    pub fn new(
        mut js: jetstream::Context,
        subject: String,
        ack_timeout: Duration,
        runtime: Handle,
        receipts: Option<Arc<dyn Receipts>>,
    ) -> StreamStore {
        js.set_timeout(ack_timeout);
        StreamStore {
            js,
            subject: subject.into(),
            runtime,
            receipts,
        }
    }

    async fn publish(&self, group: &[&Batch]) -> Result<Vec<Written>, StoreError> {
        let mut pending = Vec::new();
        for (b, batch) in group.iter().enumerate() {
            for m in &batch.messages {
                let payload = encode(&batch.write_key, &batch.received_at, m)
                    .map_err(|e| StoreError::new(format!("publishing to the stream: {e}")))?;
                let publish = Publish::build()
                    .payload(payload.into())
                    .message_id(msg_id(&batch.write_key, &m.message_id));
                let ack = self
                    .js
                    .send_publish(self.subject.clone(), publish)
                    .await
                    .map_err(|e| StoreError::new(format!("publishing to the stream: {e}")))?;
                pending.push((b, ack.into_future()));
            }
        }
        let (owners, acks): (Vec<usize>, Vec<_>) = pending.into_iter().unzip();
        let mut written = vec![Written::default(); group.len()];
        let mut failure = None;
        for (b, ack) in owners.into_iter().zip(join_all(acks).await) {
            match ack {
                Ok(ack) if ack.duplicate => written[b].duplicates += 1,
                Ok(_) => written[b].stored += 1,
                Err(e) => failure = Some(e),
            }
        }
        match failure {
            Some(e) => Err(StoreError::new(format!(
                "the stream did not acknowledge every event: {e}"
            ))),
            None => Ok(written),
        }
    }
}

impl Store for StreamStore {
    fn write(&mut self, group: &[&Batch]) -> Result<Vec<Written>, StoreError> {
        self.runtime.block_on(self.publish(group))
    }

    fn receipts(&self) -> Option<Arc<dyn Receipts>> {
        self.receipts.clone()
    }
}
