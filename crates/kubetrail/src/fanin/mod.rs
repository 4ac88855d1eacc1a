//! Scale-out fan-in through NATS JetStream: `kubetrail agent` publishes what its clusters'
//! pipelines process (through [`sink::NatsSink`], a `Store` that publishes), and
//! `kubetrail run --source nats` consumes it into the store ([`consume`]).

pub mod consume;
pub mod sink;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use kubetrail_model::parse_duration;
use kubetrail_source::nats::NatsSettings;

/// Where `run` gets events from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Source {
    /// Watch the clusters (the config's, or the current kube context).
    #[default]
    Watch,
    /// Consume what `kubetrail agent`s publish to NATS JetStream.
    Nats,
}

/// The JetStream fan-in, for `agent` and `run --source nats`.
#[derive(Debug, Clone, Args)]
pub struct NatsArgs {
    /// NATS server(s), comma-separated.
    #[arg(
        long,
        env = "KUBETRAIL_NATS_URL",
        default_value = "nats://127.0.0.1:4222"
    )]
    pub nats_url: String,
    /// The JetStream stream (created if missing, with the next two settings).
    #[arg(long, default_value = "KUBETRAIL_EVENTS")]
    pub nats_stream: String,
    /// Replicas of the stream, when kubetrail creates it.
    #[arg(long, default_value_t = 1)]
    pub nats_replicas: usize,
    /// How long the stream keeps messages, when kubetrail creates it.
    #[arg(long, default_value = "7d")]
    pub nats_max_age: String,
    /// The durable consumer shared by every `run --source nats`.
    #[arg(long, default_value = "kubetrail-store")]
    pub nats_durable: String,
    /// A message not acknowledged this long after delivery (its consumer died) goes to another
    /// consumer; applies when kubetrail creates the durable consumer.
    #[arg(long, default_value = "30s")]
    pub nats_ack_wait: String,
}

impl NatsArgs {
    pub fn settings(&self) -> Result<NatsSettings> {
        let max_age = parse_duration(&self.nats_max_age).context("--nats-max-age")?;
        let mut s = NatsSettings::new(&self.nats_url);
        s.stream = self.nats_stream.clone();
        s.replicas = self.nats_replicas.max(1);
        s.max_age = max_age.unsigned_abs();
        s.durable = self.nats_durable.clone();
        s.ack_wait = parse_duration(&self.nats_ack_wait)
            .context("--nats-ack-wait")?
            .unsigned_abs();
        Ok(s)
    }
}
