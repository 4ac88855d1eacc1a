//! `kubetrail serve`: the HTTP API, web UI and `/metrics` over an existing store, alone. Also
//! starts the same server for `run` and `demo` ([`start`]).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use kubetrail_alert::{AlertFeed, AlertMetrics};
use kubetrail_server::{AppState, Auth, AuthMode, Telemetry, metrics_router, router};
use kubetrail_source::review::KubeReviewer;
use kubetrail_store::Store;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::config::{Config, RawCluster};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address of the HTTP server (default: the config's serve.listen, else 127.0.0.1:7070).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
}

/// What the server shares with the rest of `run`/`demo`.
pub struct ServerParts<'a> {
    pub store: Arc<dyn Store>,
    pub telemetry: Telemetry,
    pub alerts: Option<AlertFeed>,
    pub alert_metrics: Option<AlertMetrics>,
    /// `kubetrail demo`: anonymous reads on loopback by default.
    pub demo: bool,
    /// The clusters being watched (for `auth: kubernetes`).
    pub clusters: &'a [RawCluster],
}

pub async fn run(config: &Config, args: ServeArgs) -> Result<ExitCode> {
    let store = super::open_store(config)?;
    super::say_store(config, true);
    let cancel = CancellationToken::new();
    let stop = cancel.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        stop.cancel();
    });
    let server = start(
        config,
        args.listen,
        ServerParts {
            store,
            telemetry: Telemetry::new(),
            alerts: None,
            alert_metrics: None,
            demo: false,
            clusters: &config.clusters,
        },
        &cancel,
    )
    .await?;
    server.await.context("the HTTP server stopped")??;
    Ok(ExitCode::SUCCESS)
}

/// Binds the listener (so that a taken port fails the command at once) and serves until
/// `cancel`.
pub async fn start(
    config: &Config,
    listen: Option<SocketAddr>,
    parts: ServerParts<'_>,
    cancel: &CancellationToken,
) -> Result<JoinHandle<Result<()>>> {
    Ok(start_bound(config, listen, parts, cancel).await?.0)
}

/// [`start`], and the address it listens on.
pub async fn start_bound(
    config: &Config,
    listen: Option<SocketAddr>,
    parts: ServerParts<'_>,
    cancel: &CancellationToken,
) -> Result<(JoinHandle<Result<()>>, SocketAddr)> {
    let addr = listen.unwrap_or(config.serve.listen);
    let serve = &config.serve;
    let anonymous = serve
        .anonymous_read
        .unwrap_or(parts.demo || serve.tenants.is_empty());
    let mut auth = Auth::tokens(serve.tenants.clone(), anonymous);
    if serve.mode == AuthMode::Kubernetes {
        let (cluster, name) = kube_cluster(config, parts.clusters)?;
        let (kube_config, context) = super::run::kube_config(&cluster).await?;
        let reviewer = KubeReviewer::from_config(kube_config)
            .context("cannot build the Kubernetes client for reviews")?;
        let name = name.or(context).unwrap_or_else(|| config.cluster.clone());
        auth = auth.with_kubernetes(Box::new(reviewer), &name, serve.kube_cache_ttl);
        info!(cluster = %name, "callers' Kubernetes tokens are reviewed by the cluster");
    }
    if auth.restrict_to_loopback(addr) {
        warn!(%addr, "anonymous reads are only allowed on a loopback address; turned off");
    }
    if let Some(m) = parts.alert_metrics {
        parts.telemetry.set_alert_metrics(m);
    }
    let state = AppState::new(parts.store, auth, serve.limits.clone(), parts.telemetry)
        .with_rules(config.rules(&[])?)
        .with_max_future(config.max_future)
        .with_alerts(parts.alerts)
        .with_default_cluster(&config.cluster);
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (--listen)"))?;
    let bound = listener.local_addr().unwrap_or(addr);
    crate::output::say(format_args!(
        "web UI and API: http://{bound}/  (OpenAPI: /api/v1/openapi.json, metrics: /metrics)"
    ));
    let metrics = match serve.metrics_listen {
        Some(addr) => {
            let listener = TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr} (serve.metrics_listen)"))?;
            let bound = listener.local_addr().unwrap_or(addr);
            crate::output::say(format_args!(
                "metrics and probes without a token: http://{bound}/metrics"
            ));
            Some((listener, metrics_router(state.clone())))
        }
        None => None,
    };
    let app = router(state);
    let cancel = cancel.clone();
    let task = tokio::spawn(async move {
        let main = kubetrail_server::serve(listener, app, cancel.clone());
        match metrics {
            None => main.await.context("the HTTP server failed"),
            Some((listener, app)) => {
                let metrics = kubetrail_server::serve(listener, app, cancel);
                tokio::try_join!(
                    async { main.await.context("the HTTP server failed") },
                    async {
                        metrics
                            .await
                            .context("the metrics listener (serve.metrics_listen) failed")
                    },
                )
                .map(|_| ())
            }
        }
    });
    Ok((task, bound))
}

/// The cluster whose RBAC `auth: kubernetes` asks: `auth.kubernetes.cluster` by name among
/// the watched clusters, else the first watched one, else the current kube context.
fn kube_cluster(config: &Config, clusters: &[RawCluster]) -> Result<(RawCluster, Option<String>)> {
    let wanted = config.serve.kube_cluster.as_deref();
    let found = match wanted {
        Some(name) => clusters
            .iter()
            .find(|c| c.name.as_deref() == Some(name))
            .cloned()
            .with_context(|| {
                format!("auth.kubernetes.cluster: no watched cluster named {name:?}")
            })?,
        None => clusters.first().cloned().unwrap_or_default(),
    };
    let name = found.name.clone().or(wanted.map(str::to_string));
    Ok((found, name))
}

/// Waits a bounded time for the server to finish its requests after `cancel`.
pub async fn stop(server: JoinHandle<Result<()>>) {
    match tokio::time::timeout(Duration::from_secs(10), server).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => warn!(error = %format!("{e:#}"), "the HTTP server failed"),
        Ok(Err(e)) => warn!(error = %e, "the HTTP server panicked"),
        Err(_) => warn!("the HTTP server did not stop in time"),
    }
}
