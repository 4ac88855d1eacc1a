//! Scale-out fan-in through NATS JetStream: `kubetrail agent` publishes what its clusters'
//! pipelines process (through [`sink::NatsSink`], an `EventSink` that publishes), and
//! `kubetrail run --source nats` consumes it into the store ([`consume`]).

pub mod agent_store;
pub mod consume;
pub mod settings;
pub mod sink;

use clap::ValueEnum;
use serde::Deserialize;

pub use settings::{NatsArgs, RawNats};

/// Where `run` gets events from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Watch the clusters (the config's, or the current kube context).
    #[default]
    Watch,
    /// Consume what `kubetrail agent`s publish to NATS JetStream.
    Nats,
}
