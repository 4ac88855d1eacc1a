//! The central side: one durable pull consumer shared by every `run --source nats` instance
//! (JetStream hands each message to one of them), read in batches. A message is acknowledged by
//! the caller only after what it carried is committed to the store.
//!
//! A shard (a group of instances writing to its own database) lists its clusters
//! ([`NatsSettings::clusters`]): it then reads one durable consumer per cluster,
//! `<durable>-<cluster>`, filtered on that cluster's subject, so shards never share a message
//! and instances of one shard share each of them.

use std::time::Duration;

use async_nats::jetstream::AckKind;
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};
use futures::StreamExt;
use futures::stream::SelectAll;

use super::wire::{BatchMessage, decode, subject, subject_token};
use super::{NatsSettings, connect, stream};
use crate::error::NatsError;

/// The durable pull consumer(s) of a central instance, from [`Consumer::connect`]: yields the
/// messages of every cluster it reads (see the module docs).
pub struct Consumer {
    messages: SelectAll<pull::Stream>,
}

/// One delivered message, decoded (or not: a message that is not a kubetrail batch).
pub struct Received {
    /// The batch, or why the message is not one (acknowledge such a message with
    /// [`Received::term`]).
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

    /// The subject the message came on, `<prefix>.<cluster>`.
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
        let mut messages = SelectAll::new();
        for (durable, filter_subject) in durables(settings) {
            let config = pull::Config {
                durable_name: Some(durable.clone()),
                ack_policy: AckPolicy::Explicit,
                ack_wait: settings.ack_wait,
                deliver_policy: DeliverPolicy::All,
                max_deliver: -1,
                max_ack_pending: 20_000,
                filter_subject,
                ..pull::Config::default()
            };
            let consumer = stream
                .get_or_create_consumer(&durable, config)
                .await
                .map_err(|e| NatsError::Consumer {
                    durable: durable.clone(),
                    source: Box::new(e),
                })?;
            let pulled = consumer
                .stream()
                .max_messages_per_batch(1_000)
                .heartbeat(Duration::from_secs(5))
                .expires(Duration::from_secs(30))
                .messages()
                .await
                .map_err(|e| NatsError::Messages(Box::new(e)))?;
            messages.push(pulled);
        }
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

/// The durable consumers to read and their subject filters: the shared one over every
/// cluster, or one per listed cluster.
pub fn durables(settings: &NatsSettings) -> Vec<(String, String)> {
    if settings.clusters.is_empty() {
        return vec![(
            settings.durable.clone(),
            format!("{}.>", settings.subject_prefix),
        )];
    }
    settings
        .clusters
        .iter()
        .map(|cluster| {
            (
                format!("{}-{}", settings.durable, subject_token(cluster)),
                subject(&settings.subject_prefix, cluster),
            )
        })
        .collect()
}

type Next = Option<Result<async_nats::jetstream::Message, pull::MessagesError>>;

fn received(next: Next) -> Result<Received, NatsError> {
    let message = next
        .ok_or(NatsError::Closed)?
        .map_err(|e| NatsError::Messages(Box::new(e)))?;
    let batch = decode(message.subject.as_str(), &message.payload);
    Ok(Received { batch, message })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_shared_durable_or_one_per_listed_cluster() {
        let mut s = NatsSettings::new("nats://x");
        assert_eq!(
            durables(&s),
            vec![(
                "kubetrail-store".to_string(),
                "kubetrail.events.>".to_string()
            )]
        );
        s.clusters = vec!["eu-1".into(), "us.east".into()];
        assert_eq!(
            durables(&s),
            vec![
                (
                    "kubetrail-store-eu-1".to_string(),
                    "kubetrail.events.eu-1".to_string()
                ),
                (
                    "kubetrail-store-us_east".to_string(),
                    "kubetrail.events.us_east".to_string()
                ),
            ]
        );
    }
}
