//! Where the JetStream fan-in connects: the config's `nats:` section, then the `--nats-*` flags
//! (and `KUBETRAIL_NATS_URL`) over it, validated into [`NatsSettings`].

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use kubetrail_model::parse_duration;
use kubetrail_source::nats::{NatsSettings, NatsTls, subject_token};
use serde::Deserialize;

use crate::config::{existing_file, url_or_env};

/// The `nats:` section of `kubetrail.yaml`, as written. Every field is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNats {
    /// NATS server(s), comma-separated (default `nats://127.0.0.1:4222`). `tls://` URLs
    /// require TLS; user and password or a token may be part of the URL.
    pub url: Option<String>,
    /// Or the name of an environment variable holding the URL (keeps secrets out of the file).
    pub url_env: Option<String>,
    /// The JetStream stream (default `KUBETRAIL_EVENTS`).
    pub stream: Option<String>,
    /// Replicas of the stream when kubetrail creates it (default 1).
    pub replicas: Option<usize>,
    /// How long the stream keeps messages when kubetrail creates it (default `7d`).
    pub max_age: Option<String>,
    /// The durable consumer shared by every `run --source nats` (default `kubetrail-store`).
    pub durable: Option<String>,
    /// Redelivery delay of an unacknowledged message (default `30s`).
    pub ack_wait: Option<String>,
    /// Consume only these clusters: this group of instances is one shard, writing to its own
    /// database (default: every cluster).
    #[serde(default)]
    pub clusters: Vec<String>,
    /// A NATS credentials file (user JWT + NKey seed).
    pub credentials_file: Option<PathBuf>,
    /// TLS to the server.
    #[serde(default)]
    pub tls: RawNatsTls,
}

/// `nats.tls`. Relative paths are relative to the config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNatsTls {
    /// Require TLS even without the files below (e.g. a server with a public certificate).
    #[serde(default)]
    pub enabled: bool,
    /// PEM of the CAs that sign the server's certificate (default: the system's CAs).
    pub ca_file: Option<PathBuf>,
    /// Client certificate (PEM), for mutual TLS; needs `key_file`.
    pub cert_file: Option<PathBuf>,
    /// Client key (PEM); needs `cert_file`.
    pub key_file: Option<PathBuf>,
}

impl RawNats {
    /// Checks the section; paths become relative to `base` (the config file's folder).
    pub fn validate(self, base: &Path) -> Result<NatsSettings> {
        let url = url_or_env(self.url, self.url_env.as_deref(), "nats")?
            .unwrap_or_else(|| DEFAULT_URL.to_string());
        let mut s = NatsSettings::new(url);
        if let Some(stream) = self.stream {
            s.stream = stream;
        }
        if let Some(n) = self.replicas {
            if n == 0 {
                bail!("config field nats.replicas must be at least 1");
            }
            s.replicas = n;
        }
        if let Some(age) = &self.max_age {
            s.max_age = parse_duration(age)
                .context("config field nats.max_age")?
                .unsigned_abs();
        }
        if let Some(durable) = self.durable {
            s.durable = durable;
        }
        if let Some(wait) = &self.ack_wait {
            s.ack_wait = parse_duration(wait)
                .context("config field nats.ack_wait")?
                .unsigned_abs();
        }
        s.clusters = shard(self.clusters, "config field nats.clusters")?;
        s.credentials_file = self
            .credentials_file
            .map(|p| existing_file(base, p, "nats.credentials_file"))
            .transpose()?;
        let tls = self.tls;
        s.tls = NatsTls {
            required: tls.enabled,
            ca_file: tls
                .ca_file
                .map(|p| existing_file(base, p, "nats.tls.ca_file"))
                .transpose()?,
            client_cert: match (tls.cert_file, tls.key_file) {
                (Some(cert), Some(key)) => Some((
                    existing_file(base, cert, "nats.tls.cert_file")?,
                    existing_file(base, key, "nats.tls.key_file")?,
                )),
                (None, None) => None,
                _ => bail!("config field nats.tls: cert_file and key_file go together"),
            },
        };
        Ok(s)
    }
}

const DEFAULT_URL: &str = "nats://127.0.0.1:4222";

/// The JetStream fan-in flags of `agent` and `run --source nats`; each overrides the config's
/// `nats:` field of the same name.
#[derive(Debug, Clone, Default, Args)]
pub struct NatsArgs {
    /// NATS server(s), comma-separated [default: the config's nats.url, else
    /// nats://127.0.0.1:4222].
    #[arg(long, env = "KUBETRAIL_NATS_URL")]
    pub nats_url: Option<String>,
    /// The JetStream stream, created if missing [default: KUBETRAIL_EVENTS].
    #[arg(long)]
    pub nats_stream: Option<String>,
    /// Replicas of the stream, when kubetrail creates it [default: 1].
    #[arg(long)]
    pub nats_replicas: Option<usize>,
    /// How long the stream keeps messages, when kubetrail creates it [default: 7d].
    #[arg(long)]
    pub nats_max_age: Option<String>,
    /// The durable consumer shared by every `run --source nats` [default: kubetrail-store].
    #[arg(long)]
    pub nats_durable: Option<String>,
    /// A message not acknowledged this long after delivery (its consumer died) goes to another
    /// consumer; applies when kubetrail creates the durable consumer [default: 30s].
    #[arg(long)]
    pub nats_ack_wait: Option<String>,
    /// Consume only these clusters (comma-separated): a shard of the store [default: every
    /// cluster].
    #[arg(long, value_delimiter = ',')]
    pub nats_clusters: Vec<String>,
    /// PEM of the CAs that sign the NATS server's certificate (implies TLS).
    #[arg(long)]
    pub nats_ca_file: Option<PathBuf>,
}

impl NatsArgs {
    /// The config's settings with the flags given on the command line over them.
    pub fn apply(&self, mut s: NatsSettings) -> Result<NatsSettings> {
        if let Some(url) = &self.nats_url {
            s.url = url.clone();
        }
        if let Some(stream) = &self.nats_stream {
            s.stream = stream.clone();
        }
        if let Some(n) = self.nats_replicas {
            if n == 0 {
                bail!("--nats-replicas must be at least 1");
            }
            s.replicas = n;
        }
        if let Some(age) = &self.nats_max_age {
            s.max_age = parse_duration(age)
                .context("--nats-max-age")?
                .unsigned_abs();
        }
        if let Some(durable) = &self.nats_durable {
            s.durable = durable.clone();
        }
        if let Some(wait) = &self.nats_ack_wait {
            s.ack_wait = parse_duration(wait)
                .context("--nats-ack-wait")?
                .unsigned_abs();
        }
        if !self.nats_clusters.is_empty() {
            s.clusters = shard(self.nats_clusters.clone(), "--nats-clusters")?;
        }
        if let Some(ca) = &self.nats_ca_file {
            if !ca.is_file() {
                bail!("--nats-ca-file: {} is not a file", ca.display());
            }
            s.tls.ca_file = Some(ca.clone());
        }
        Ok(s)
    }
}

/// The clusters of a shard, each once; two names that become the same subject token would
/// share a consumer, so they are refused.
fn shard(clusters: Vec<String>, field: &str) -> Result<Vec<String>> {
    let mut seen = std::collections::BTreeMap::new();
    let mut out = Vec::new();
    for cluster in clusters {
        let token = subject_token(&cluster);
        match seen.get(&token) {
            Some(other) if *other == cluster => continue,
            Some(other) => {
                bail!("{field}: clusters {other:?} and {cluster:?} share the subject {token:?}")
            }
            None => {
                seen.insert(token, cluster.clone());
                out.push(cluster);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn raw(yaml: &str) -> RawNats {
        yaml_serde::from_str(yaml).unwrap()
    }

    #[test]
    fn defaults_without_a_section() {
        let s = RawNats::default().validate(Path::new("")).unwrap();
        assert_eq!(s, NatsSettings::new(DEFAULT_URL));
    }

    #[test]
    fn fields_are_read_and_flags_win() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.pem"), "x").unwrap();
        let s = raw(
            "url: tls://nats.example:4222\nstream: EV\nreplicas: 3\nmax_age: 2d\n\
                     durable: d\nack_wait: 1m\ntls: {ca_file: ca.pem}\n",
        )
        .validate(dir.path())
        .unwrap();
        assert_eq!(s.url, "tls://nats.example:4222");
        assert_eq!((s.stream.as_str(), s.replicas), ("EV", 3));
        assert_eq!(s.max_age, Duration::from_secs(2 * 86_400));
        assert_eq!(
            (s.durable.as_str(), s.ack_wait),
            ("d", Duration::from_secs(60))
        );
        assert_eq!(s.tls.ca_file, Some(dir.path().join("ca.pem")));
        assert!(s.clusters.is_empty());
        let flags = NatsArgs {
            nats_url: Some("nats://other:4222".into()),
            nats_replicas: Some(1),
            nats_clusters: vec!["eu".into(), "us".into(), "eu".into()],
            ..NatsArgs::default()
        };
        let s = flags.apply(s).unwrap();
        assert_eq!((s.url.as_str(), s.replicas), ("nats://other:4222", 1));
        assert_eq!(s.stream, "EV", "a flag not given keeps the config's value");
        assert_eq!(s.clusters, ["eu", "us"]);
    }

    #[test]
    fn bad_values_name_their_field() {
        let dir = tempfile::tempdir().unwrap();
        for (yaml, field) in [
            ("replicas: 0\n", "nats.replicas"),
            ("max_age: soon\n", "nats.max_age"),
            ("tls: {ca_file: missing.pem}\n", "nats.tls.ca_file"),
            ("tls: {cert_file: c.pem}\n", "cert_file and key_file"),
            ("url: a\nurl_env: B\n", "url or url_env"),
            ("clusters: [a.b, a_b]\n", "nats.clusters"),
        ] {
            let err = format!("{:#}", raw(yaml).validate(dir.path()).unwrap_err());
            assert!(err.contains(field), "{yaml}: {err}");
        }
        assert!(yaml_serde::from_str::<RawNats>("urll: x\n").is_err());
        let zero = NatsArgs {
            nats_replicas: Some(0),
            ..NatsArgs::default()
        };
        let err = format!(
            "{:#}",
            zero.apply(NatsSettings::new("nats://x")).unwrap_err()
        );
        assert!(err.contains("--nats-replicas"), "{err}");
    }
}
