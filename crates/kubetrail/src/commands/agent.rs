//! `kubetrail agent`: watch and process the clusters like `run`, and publish what is processed
//! to NATS JetStream (subject `kubetrail.events.<cluster>`) instead of storing it. A batch's
//! watch cursor advances only after JetStream acknowledged the batch; while NATS is
//! unreachable, batches wait in the spool (`<data-dir>/spool/`) and are published in order
//! when it is back. The agent keeps only its cursors (`<data-dir>/agent.db`).

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::Args;
use kubetrail_source::nats::{Publisher, redact_url};
use kubetrail_store::SqliteStore;

use super::run::{Role, RunArgs, run_with};
use crate::config::Config;
use crate::fanin::Source;
use crate::fanin::agent_store::AgentStore;
use crate::fanin::sink::NatsSink;

#[derive(Debug, Args)]
pub struct AgentArgs {
    #[command(flatten)]
    pub run: RunArgs,
}

pub async fn run(config: &Config, args: AgentArgs) -> Result<ExitCode> {
    if args.run.source == Some(Source::Nats) {
        bail!(
            "an agent watches clusters and publishes to NATS: --source nats is for `kubetrail run`"
        );
    }
    let settings = args.run.nats.apply(config.nats.clone())?;
    let publisher = Publisher::connect(settings.clone())
        .await
        .with_context(|| {
            format!(
                "cannot set up the NATS client for {}",
                redact_url(&settings.url)
            )
        })?;
    let path = config.data_dir.join("agent.db");
    let cursors = SqliteStore::open(&path)
        .with_context(|| format!("cannot open the agent's cursors in {}", path.display()))?;
    tracing::info!(url = %redact_url(&settings.url), stream = %settings.stream, "publishing to NATS JetStream");
    let sink = Arc::new(NatsSink::new(publisher, cursors));
    let store = Arc::new(AgentStore { sink });
    run_with(config, args.run, store, None, Role::Agent).await
}
