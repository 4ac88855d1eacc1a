//! `kubetrail demo`: the simulator with its scenarios on a loop, and the whole pipeline
//! watching it, printing what it classified and correlated. No cluster needed.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use kubetrail_model::Severity;
use kubetrail_store::spawn_retention;
use tokio_util::sync::CancellationToken;

use super::run::{PipelineOptions, spawn_printer, start_observed, wait};
use super::sim::{self, SimArgs};
use crate::config::{Config, RawCluster};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Print stored events of at least this severity.
    #[arg(long, default_value = "warning")]
    pub print: Severity,
    /// Time between scenario steps.
    #[arg(long, default_value = "2s")]
    pub pace: String,
    /// Stop after this long (default: run until Ctrl-C).
    #[arg(long)]
    pub duration: Option<String>,
    /// Address of the web UI, the HTTP API and /metrics (default: the config's serve.listen,
    /// else 127.0.0.1:7070; anonymous reads are allowed on loopback).
    #[arg(long)]
    pub listen: Option<std::net::SocketAddr>,
    /// Scenarios to play, comma-separated (default: all): deployment-rollout, crash-loop,
    /// image-pull-failure, failed-mount, oom-kill, node-pressure, failed-scheduling,
    /// sidecar-not-ready.
    #[arg(long, value_delimiter = ',')]
    pub scenarios: Vec<String>,
}

pub async fn run(config: &Config, args: DemoArgs) -> Result<ExitCode> {
    let dir = config.data_dir.clone();
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let kubeconfig = dir.join("demo.kubeconfig");
    let sim = sim::start(&SimArgs {
        listen: None,
        kubeconfig_out: Some(kubeconfig.clone()),
        scenarios: args.scenarios.clone(),
        once: false,
        pace: args.pace.clone(),
    })
    .await?;
    crate::output::say(format_args!(
        "simulator: {}  (kubectl --kubeconfig {} get events -A)",
        sim.handle.url(),
        kubeconfig.display()
    ));
    crate::output::say(format_args!(
        "store:     {}  (kubetrail --data-dir {} query|aggregate …)",
        config.db_path().display(),
        dir.display()
    ));
    crate::output::say(format_args!(
        "events of severity {} and above as they are stored:\n",
        args.print
    ));

    let store = super::open_store(config)?;
    let cancel = CancellationToken::new();
    let retention = spawn_retention(
        store.clone(),
        config.retention.clone(),
        Duration::from_secs(3600),
    );
    let live = spawn_printer(args.print, cancel.clone());
    // Alerting: evaluation of committed batches and the delivery worker.
    let alerting = super::alerts::start_alerting(config, store.clone(), &cancel).await?;
    // --- serve (kubetrail-server): web UI, API and /metrics while the demo runs ---
    let telemetry = kubetrail_server::Telemetry::new();
    let (server, bound) = super::serve::start_bound(
        config,
        args.listen,
        super::serve::ServerParts {
            store: store.clone(),
            telemetry: telemetry.clone(),
            alerts: alerting.as_ref().map(|a| a.feed.clone()),
            alert_metrics: alerting.as_ref().map(|a| a.metrics.clone()),
            demo: true,
            clusters: &[],
        },
        &cancel,
    )
    .await?;
    let cluster = RawCluster {
        name: Some("demo".into()),
        kubeconfig: Some(kubeconfig),
        ..RawCluster::default()
    };
    let report = super::demo_report::spawn(store.clone(), cancel.clone());
    let options = PipelineOptions {
        default_name: "demo".into(),
        ..PipelineOptions::from_config(
            config,
            config.rules(&[])?,
            store,
            Some(live),
            alerting.as_ref().map(|a| a.feed.clone()),
        )
    };
    let tasks = start_observed(vec![cluster], &options, &telemetry, &cancel).await?;
    let stop = cancel.clone();
    let limit = args
        .duration
        .as_deref()
        .map(kubetrail_model::parse_duration)
        .transpose()
        .context("--duration")?;
    tokio::spawn(async move {
        match limit {
            Some(d) => {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(d.as_millis().max(0) as u64)) => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            None => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
        stop.cancel();
    });
    let ok = wait(tasks).await;
    cancel.cancel();
    if let Ok(report) = report.await {
        report.summary(&format!("http://{bound}/"));
    }
    super::alerts::stop_alerting(alerting).await;
    super::serve::stop(server).await;
    retention.abort();
    let mut sim = sim;
    sim.scenarios.abort_all();
    sim.handle.shutdown().await;
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
