//! NATS JetStream, the fan-in path of scale-out: agents publish processed events, one stream
//! of subjects `kubetrail.events.<cluster>`; central instances consume them through one durable
//! consumer, store them, and only then acknowledge.
//!
//! ```text
//!  agent (cluster A) ─┐ publish, await the PubAck,        ┌─► run --source nats ─┐
//!  agent (cluster B) ─┼─► stream KUBETRAIL_EVENTS ──durable consumer────────────┼─► store
//!  agent (cluster C) ─┘ then advance the watch cursor      └─► run --source nats ─┘  then ack
//! ```
//!
//! Delivery is at least once both ways; what arrives twice is absorbed by the store, whose
//! identity is `(cluster, uid)` and which adds only count increases (each occurrence of an
//! Event is its count reaching a value, so a redelivered copy adds nothing).

mod consume;
mod publish;
pub mod wire;

pub use consume::{Consumer, Received, durables};
pub use publish::Publisher;
pub use wire::{BatchMessage, GapMessage, subject, subject_token};

use std::path::PathBuf;
use std::time::Duration;

use crate::error::NatsError;

/// Where and how: the server, the stream and the durable consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatsSettings {
    /// `nats://host:4222` (comma-separated for several servers).
    pub url: String,
    /// The stream (created with these settings if missing; an existing one is used as is).
    pub stream: String,
    /// Subjects are `<prefix>.<cluster>`.
    pub subject_prefix: String,
    /// Replicas of the stream (1 on a single server).
    pub replicas: usize,
    /// How long the stream keeps messages that were not consumed.
    pub max_age: Duration,
    /// The durable consumer shared by the central instances.
    pub durable: String,
    /// A message not acknowledged this long after delivery is delivered again.
    pub ack_wait: Duration,
    /// Consume only these clusters (a shard of the store); empty: every cluster.
    pub clusters: Vec<String>,
    /// TLS to the server.
    pub tls: NatsTls,
    /// A NATS credentials file (user JWT and NKey seed) for servers with decentralized auth.
    /// User and password, or a token, go in the URL (`nats://user:pass@host:4222`).
    pub credentials_file: Option<PathBuf>,
}

/// TLS to the NATS server. The server's certificate and host name are always verified.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NatsTls {
    /// Refuse to talk without TLS (also implied by a `tls://` URL and by the files below).
    pub required: bool,
    /// PEM file of the CAs that sign the server's certificate. When given, only these are
    /// trusted; otherwise the system's CAs are.
    pub ca_file: Option<PathBuf>,
    /// Client certificate and key (PEM), for servers that verify their clients (mutual TLS).
    pub client_cert: Option<(PathBuf, PathBuf)>,
}

impl NatsTls {
    /// Whether the connection must be TLS.
    pub fn is_required(&self, url: &str) -> bool {
        self.required
            || self.ca_file.is_some()
            || self.client_cert.is_some()
            || url
                .split(',')
                .any(|u| u.trim().to_ascii_lowercase().starts_with("tls://"))
    }
}

impl NatsSettings {
    pub fn new(url: impl Into<String>) -> Self {
        NatsSettings {
            url: url.into(),
            stream: "KUBETRAIL_EVENTS".into(),
            subject_prefix: "kubetrail.events".into(),
            replicas: 1,
            max_age: Duration::from_secs(7 * 24 * 3600),
            durable: "kubetrail-store".into(),
            ack_wait: Duration::from_secs(30),
            clusters: Vec::new(),
            tls: NatsTls::default(),
            credentials_file: None,
        }
    }

    fn stream_config(&self) -> async_nats::jetstream::stream::Config {
        use async_nats::jetstream::stream::{Config, RetentionPolicy, StorageType};
        Config {
            name: self.stream.clone(),
            subjects: vec![format!("{}.>", self.subject_prefix)],
            retention: RetentionPolicy::Limits,
            storage: StorageType::File,
            num_replicas: self.replicas.max(1),
            max_age: self.max_age,
            // A batch published again within this window (an agent retrying after a lost
            // PubAck) is dropped by JetStream itself, by its message id.
            duplicate_window: Duration::from_secs(120),
            ..Config::default()
        }
    }
}

/// Connects; with `retry` the client keeps trying in the background (an agent starts, and
/// spools, while NATS is away) instead of failing now.
async fn connect(settings: &NatsSettings, retry: bool) -> Result<async_nats::Client, NatsError> {
    let options = match &settings.credentials_file {
        Some(path) => async_nats::ConnectOptions::with_credentials_file(path)
            .await
            .map_err(|e| NatsError::Credentials {
                path: path.clone(),
                source: e,
            })?,
        None => async_nats::ConnectOptions::new(),
    };
    let mut options = options
        .name("kubetrail")
        .connection_timeout(Duration::from_secs(5))
        .max_reconnects(None);
    if retry {
        options = options.retry_on_initial_connect();
    }
    let tls = &settings.tls;
    if tls.is_required(&settings.url) {
        options = options.require_tls(true);
    }
    if let Some(ca) = &tls.ca_file {
        options = options.add_root_certificates(ca.clone());
    }
    if let Some((cert, key)) = &tls.client_cert {
        options = options.add_client_certificate(cert.clone(), key.clone());
    }
    options
        .connect(settings.url.as_str())
        .await
        .map_err(|e| NatsError::Connect {
            url: settings.url.clone(),
            source: Box::new(e),
        })
}

/// The stream, created if missing.
async fn stream(
    js: &async_nats::jetstream::Context,
    settings: &NatsSettings,
) -> Result<async_nats::jetstream::stream::Stream, NatsError> {
    js.get_or_create_stream(settings.stream_config())
        .await
        .map_err(|e| NatsError::Stream {
            stream: settings.stream.clone(),
            source: Box::new(e),
        })
}
