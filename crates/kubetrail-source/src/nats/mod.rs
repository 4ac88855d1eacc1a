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

/// The server list `urls` (comma-separated) as it may be shown: user passwords and tokens,
/// in the userinfo or as query parameters, masked. Every message, log line and `Debug` that
/// shows a NATS URL goes through this.
///
/// ```
/// use kubetrail_source::nats::redact_url;
/// assert_eq!(
///     redact_url("nats://kt:pw@a:4222,nats://t0ken@b:4222"),
///     "nats://kt:***@a:4222,nats://***@b:4222"
/// );
/// ```
pub fn redact_url(urls: &str) -> String {
    use kubetrail_model::redact::{UserInfo, url};
    urls.split(',')
        .map(|u| url(u, UserInfo::TokenOrUserAndPassword))
        .collect::<Vec<_>>()
        .join(",")
}

/// Where and how: the server, the stream and the durable consumer.
#[derive(Clone, PartialEq, Eq)]
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

impl std::fmt::Debug for NatsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsSettings")
            .field("url", &redact_url(&self.url))
            .field("stream", &self.stream)
            .field("subject_prefix", &self.subject_prefix)
            .field("replicas", &self.replicas)
            .field("max_age", &self.max_age)
            .field("durable", &self.durable)
            .field("ack_wait", &self.ack_wait)
            .field("clusters", &self.clusters)
            .field("tls", &self.tls)
            .field("credentials_file", &self.credentials_file)
            .finish()
    }
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
    /// Settings for the server(s) at `url` with kubetrail's defaults: stream `KUBETRAIL_EVENTS` on
    /// subjects `kubetrail.events.>`, 1 replica, messages kept 7 days, durable consumer
    /// `kubetrail-store` with a 30 s ack wait, every cluster, no TLS or credentials beyond what the
    /// URL says.
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
            url: redact_url(&settings.url),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 11, item 7: NATS URLs were printed whole (user password, token) in errors, logs
    /// and `Debug`.
    #[test]
    fn urls_are_shown_without_passwords_or_tokens() {
        for (given, shown) in [
            ("nats://kt:hunter2@n:4222", "nats://kt:***@n:4222"),
            ("nats://hunter2@n:4222", "nats://***@n:4222"),
            ("tls://n:4222?token=hunter2", "tls://n:4222?token=***"),
            (
                "nats://a:4222, kt:hunter2@b:4222",
                "nats://a:4222, kt:***@b:4222",
            ),
        ] {
            assert_eq!(redact_url(given), shown);
        }
        let settings = NatsSettings::new("nats://kt:hunter2@n:4222");
        let debug = format!("{settings:?}");
        assert!(debug.contains("nats://kt:***@n:4222"), "{debug}");
        assert!(!debug.contains("hunter2"), "{debug}");
    }

    #[tokio::test]
    async fn a_failed_connection_names_the_server_without_its_password() {
        let settings =
            NatsSettings::new("nats://kt:hunter2@127.0.0.1:1,nats://hunter2@127.0.0.1:1");
        let error = connect(&settings, false)
            .await
            .expect_err("nothing listens on port 1");
        let mut text = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(s) = source {
            text.push_str(&format!(": {s}"));
            source = s.source();
        }
        assert!(text.contains("nats://kt:***@127.0.0.1:1"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
    }
}
