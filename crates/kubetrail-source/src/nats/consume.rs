//! The central side: one durable pull consumer shared by every `run --source nats` instance
//! (JetStream hands each message to one of them), read in batches. A message is acknowledged by
//! the caller only after what it carried is committed to the store.

use std::time::Duration;

use async_nats::jetstream::AckKind;
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};
use futures::StreamExt;

use super::wire::{BatchMessage, decode};
use super::{NatsSettings, connect, stream};
use crate::error::NatsError;

pub struct Consumer {
    messages: pull::Stream,
}

/// One delivered message, decoded (or not: a message that is not a kubetrail batch).
pub struct Received {
    pub batch: Result<BatchMessage, NatsError>,
    message: async_nats::jetstream::Message,
}

impl Received {
    /// The message was handled: JetStream will not deliver it again.
    pub async fn ack(&self) -> Result<(), NatsError> {
        self.message.ack().await.map_err(NatsError::Ack)
    }

    /// Not handled now: deliver it again after `delay`.
    pub async fn nak(&self, delay: Duration) -> Result<(), NatsError> {
        self.message
            .ack_with(AckKind::Nak(Some(delay)))
            .await
            .map_err(NatsError::Ack)
    }

    /// Never deliver it again (it cannot be handled, e.g. it is not a kubetrail batch).
    pub async fn term(&self) -> Result<(), NatsError> {
        self.message
            .ack_with(AckKind::Term)
            .await
            .map_err(NatsError::Ack)
    }

    /// How many times it was delivered (1 the first time).
    pub fn delivered(&self) -> i64 {
        self.message.info().map_or(1, |i| i.delivered)
    }

    pub fn subject(&self) -> &str {
        self.message.subject.as_str()
    }
}

impl Consumer {
    /// Connects, creates the stream and the durable consumer if missing, and starts pulling.
    /// Fails when the server cannot be reached (the caller retries).
    pub async fn connect(settings: &NatsSettings) -> Result<Consumer, NatsError> {
        let client = connect(settings, false).await?;
        let js = async_nats::jetstream::new(client);
        let stream = stream(&js, settings).await?;
        let config = pull::Config {
            durable_name: Some(settings.durable.clone()),
            ack_policy: AckPolicy::Explicit,
            ack_wait: settings.ack_wait,
            deliver_policy: DeliverPolicy::All,
            max_deliver: -1,
            max_ack_pending: 20_000,
            filter_subject: format!("{}.>", settings.subject_prefix),
            ..pull::Config::default()
        };
        let consumer = stream
            .get_or_create_consumer(&settings.durable, config)
            .await
            .map_err(|e| NatsError::Consumer {
                durable: settings.durable.clone(),
                source: Box::new(e),
            })?;
        let messages = consumer
            .stream()
            .max_messages_per_batch(1_000)
            .heartbeat(Duration::from_secs(5))
            .expires(Duration::from_secs(30))
            .messages()
            .await
            .map_err(|e| NatsError::Messages(Box::new(e)))?;
        Ok(Consumer { messages })
    }

    /// Waits for a message, then takes what else arrives within `linger`, up to `max`
    /// messages: one store transaction for many small messages.
    pub async fn next_batch(
        &mut self,
        max: usize,
        linger: Duration,
    ) -> Result<Vec<Received>, NatsError> {
        let mut out = Vec::new();
        let first = self.messages.next().await;
        out.push(received(first)?);
        let deadline = tokio::time::Instant::now() + linger;
        while out.len() < max.max(1) {
            match tokio::time::timeout_at(deadline, self.messages.next()).await {
                Ok(next) => out.push(received(next)?),
                Err(_) => break,
            }
        }
        Ok(out)
    }
}

type Next = Option<Result<async_nats::jetstream::Message, pull::MessagesError>>;

fn received(next: Next) -> Result<Received, NatsError> {
    let message = next
        .ok_or(NatsError::Closed)?
        .map_err(|e| NatsError::Messages(Box::new(e)))?;
    let batch = decode(message.subject.as_str(), &message.payload);
    Ok(Received { batch, message })
}
