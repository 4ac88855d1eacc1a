//! The agent's side: publishes a batch and returns only when JetStream has acknowledged every
//! message of it (stored it in the stream), so that the caller may then advance its watch
//! cursor.

use std::sync::atomic::{AtomicBool, Ordering};

use async_nats::HeaderMap;
use async_nats::jetstream::Context;
use kubetrail_model::Event;

use super::wire::{GapMessage, encode, subject};
use super::{NatsSettings, connect, stream};
use crate::error::NatsError;

/// Messages are cut below this size, and below the server's limit.
const MAX_MESSAGE_BYTES: usize = 512 * 1024;

/// The agent's side: publishes batches of one or more clusters to JetStream (see
/// [`Publisher::publish`]).
pub struct Publisher {
    client: async_nats::Client,
    js: Context,
    settings: NatsSettings,
    /// Whether the stream is known to exist (checked at the first publish, since the agent
    /// may start while NATS is away).
    stream_ready: AtomicBool,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher")
            .field("url", &super::redact_url(&self.settings.url))
            .field("stream", &self.settings.stream)
            .finish_non_exhaustive()
    }
}

impl Publisher {
    /// A client that connects, and reconnects, in the background: publishing fails (and the
    /// agent spools) while the server is away.
    pub async fn connect(settings: NatsSettings) -> Result<Publisher, NatsError> {
        let client = connect(&settings, true).await?;
        let js = async_nats::jetstream::new(client.clone());
        Ok(Publisher {
            client,
            js,
            settings,
            stream_ready: AtomicBool::new(false),
        })
    }

    /// Whether the client is connected now.
    pub fn is_connected(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }

    /// Publishes the events (and gaps) of one cluster to `<prefix>.<cluster>` and waits until
    /// JetStream acknowledged every message.
    pub async fn publish(
        &self,
        cluster: &str,
        events: &[Event],
        gaps: &[GapMessage],
    ) -> Result<(), NatsError> {
        if events.is_empty() && gaps.is_empty() {
            return Ok(());
        }
        if !self.is_connected() {
            return Err(NatsError::Disconnected {
                url: super::redact_url(&self.settings.url),
            });
        }
        if !self.stream_ready.load(Ordering::Acquire) {
            stream(&self.js, &self.settings).await?;
            self.stream_ready.store(true, Ordering::Release);
        }
        let server_max = self.client.server_info().max_payload;
        let max_bytes = match server_max {
            0 => MAX_MESSAGE_BYTES,
            // Headroom for the headers and the protocol line.
            n => MAX_MESSAGE_BYTES.min(n.saturating_sub(4096).max(1024)),
        };
        let subject = subject(&self.settings.subject_prefix, cluster);
        let mut pending = Vec::new();
        for message in encode(cluster, events, gaps, max_bytes)? {
            let mut headers = HeaderMap::new();
            headers.insert("Nats-Msg-Id", message.id.as_str());
            let ack = self
                .js
                .publish_with_headers(subject.clone(), headers, message.payload.into())
                .await
                .map_err(|e| NatsError::Publish {
                    subject: subject.clone(),
                    source: Box::new(e),
                })?;
            pending.push(ack);
        }
        // Every message was sent before the first acknowledgement is awaited: one round trip
        // for the batch, not one per message.
        for ack in pending {
            ack.await.map_err(|e| NatsError::Publish {
                subject: subject.clone(),
                source: Box::new(e),
            })?;
        }
        Ok(())
    }
}
