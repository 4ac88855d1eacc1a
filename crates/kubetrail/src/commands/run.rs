//! `kubetrail run`: watch the clusters of the config (default: the current kube context), store,
//! and keep retention going, until SIGINT/SIGTERM.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kubetrail_model::parse_duration;
use kubetrail_model::{Event, Severity};
use kubetrail_process::Rules;
use kubetrail_source::leader::{LeaderElector, LeaseConfig};
use kubetrail_source::watch::TrackedResource;
use kubetrail_store::{ChangeStore, EventSink, Store, spawn_retention};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::config::{Config, RawCluster};
use crate::pipeline::ClusterPipeline;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Kubeconfig file (as kubectl's --kubeconfig); overrides the config's clusters.
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// Context of the kubeconfig to use (as kubectl's --context).
    #[arg(long)]
    pub context: Option<String>,
    /// Print every stored event of at least this severity (info, warning, error, critical).
    #[arg(long)]
    pub print: Option<Severity>,
    /// Run as one of several replicas: only the holder of a Lease watches.
    #[arg(long)]
    pub leader_elect: bool,
    /// Namespace of the Lease.
    #[arg(long, default_value = "default")]
    pub lease_namespace: String,
    /// Name of the Lease.
    #[arg(long, default_value = "kubetrail")]
    pub lease_name: String,
    /// A leader that has not renewed the Lease for this long is replaced.
    #[arg(long, default_value = "15s")]
    pub lease_duration: String,
    /// Address of the web UI, the HTTP API and /metrics (default: the config's serve.listen,
    /// else 127.0.0.1:7070).
    #[arg(long)]
    pub listen: Option<std::net::SocketAddr>,
    /// Where events come from: `watch` the clusters, or `nats`: store what `kubetrail agent`s
    /// publish to NATS JetStream (several instances share the work) [default: the config's
    /// `sources`, else watch].
    #[arg(long, value_enum)]
    pub source: Option<crate::fanin::Source>,
    #[command(flatten)]
    pub nats: crate::fanin::NatsArgs,
}

/// What a `run` process is: the store's writer (`run`), or an agent publishing to JetStream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Store,
    Agent,
}

pub async fn run(config: &Config, args: RunArgs) -> Result<ExitCode> {
    let (store, changes) = super::open_stores(config)?;
    super::say_store(config, true);
    run_with(config, args, store, Some(changes), Role::Store).await
}

/// `run` on the given store; an agent's store publishes to JetStream (see `fanin::sink`).
/// Changes are tracked when `changes` is given (not by agents: changes go to the store).
pub async fn run_with(
    config: &Config,
    args: RunArgs,
    store: Arc<dyn Store>,
    changes: Option<Arc<dyn ChangeStore>>,
    role: Role,
) -> Result<ExitCode> {
    let clusters = clusters(config, &args);
    let rules = config.rules(&[])?;
    let cancel = CancellationToken::new();
    shutdown_on_signal(cancel.clone());
    // The start-up's code pages go once it is over (see `resident`).
    crate::resident::again_after(Duration::from_secs(30));
    let retention = (role == Role::Store).then(|| {
        spawn_retention(
            store.clone(),
            config.retention.clone(),
            Duration::from_secs(3600),
        )
    });
    let live = args.print.map(|min| spawn_printer(min, cancel.clone()));
    // Alerting: evaluation of committed batches and the delivery worker (where events are
    // stored, not in agents).
    let alerting = match role {
        Role::Store => super::alerts::start_alerting(config, store.clone(), &cancel).await?,
        Role::Agent => None,
    };
    // The maintainer's first pass begins once alerting has caught up: each reads the last
    // hours' events back, and run at once their reads' peaks added up (issue 14 §2).
    let maintainer = (role == Role::Store)
        .then(|| super::maintain::spawn_maintainer(store.clone(), super::maintain::EVERY));
    // --- serve (kubetrail-server): web UI, API and /metrics for as long as `run` runs ---
    let telemetry = kubetrail_server::Telemetry::new();
    let server = super::serve::start(
        config,
        args.listen,
        super::serve::ServerParts {
            store: store.clone(),
            telemetry: telemetry.clone(),
            alerts: alerting.as_ref().map(|a| a.feed.clone()),
            alert_metrics: alerting.as_ref().map(|a| a.metrics.clone()),
            demo: false,
            clusters: &clusters,
        },
        &cancel,
    )
    .await?;
    // --- fan-in (NATS JetStream): consumers share the durable consumer, no leader needed ---
    if args.source.unwrap_or(config.source) == crate::fanin::Source::Nats {
        let settings = args.nats.apply(config.nats.clone())?;
        let tasks = crate::fanin::consume::start(
            store.clone(),
            settings,
            config.max_future,
            alerting.as_ref().map(|a| a.feed.clone()),
            telemetry.clone(),
            &cancel,
        );
        let ok = wait(tasks).await;
        cancel.cancel();
        super::alerts::stop_alerting(alerting).await;
        super::serve::stop(server).await;
        if let Some(r) = retention {
            r.abort();
        }
        if let Some(m) = maintainer {
            m.abort();
        }
        info!("stopped");
        return Ok(if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    let options = PipelineOptions {
        changes,
        ..PipelineOptions::from_config(
            config,
            rules,
            store.clone(),
            live,
            alerting.as_ref().map(|a| a.feed.clone()),
        )
    };
    let elector = match args.leader_elect {
        true => Some(elector(&clusters, &args).await?),
        false => None,
    };
    let mut ok = true;
    loop {
        // With leader election, only the holder of the lease watches; the others wait here.
        let leadership = match &elector {
            Some(e) => match e.acquire(&cancel).await {
                Some(l) => Some(l),
                None => break,
            },
            None => None,
        };
        let token = leadership
            .as_ref()
            .map(|l| l.lost.clone())
            .unwrap_or_else(|| cancel.clone());
        let tasks = start_observed(clusters.clone(), &options, &telemetry, &token).await?;
        ok &= wait(tasks).await;
        if let Some(l) = leadership {
            if cancel.is_cancelled() {
                l.release().await;
                break;
            }
            warn!("leadership lost: stopped watching, waiting to lead again");
            continue;
        }
        break;
    }
    cancel.cancel();
    super::alerts::stop_alerting(alerting).await;
    super::serve::stop(server).await;
    if let Some(r) = retention {
        r.abort();
    }
    if let Some(m) = maintainer {
        m.abort();
    }
    info!("stopped");
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The lease lives in the first cluster (where the replicas run).
async fn elector(clusters: &[RawCluster], args: &RunArgs) -> Result<LeaderElector> {
    let first = clusters.first().context("no cluster to hold the lease")?;
    let (client, _) = client(first).await?;
    let duration = parse_duration(&args.lease_duration).context("--lease-duration")?;
    let identity = std::env::var("POD_NAME").unwrap_or_else(|_| {
        let host = std::fs::read_to_string("/etc/hostname").unwrap_or_else(|_| "kubetrail".into());
        format!("{}-{}", host.trim(), std::process::id())
    });
    Ok(LeaderElector::new(
        client,
        LeaseConfig::new(
            &args.lease_namespace,
            &args.lease_name,
            &identity,
            Duration::from_millis(duration.as_millis().max(1000) as u64),
        ),
    ))
}

/// The clusters to watch: `--kubeconfig/--context` when given, else the config's list, else
/// the current context.
pub fn clusters(config: &Config, args: &RunArgs) -> Vec<RawCluster> {
    if args.kubeconfig.is_some() || args.context.is_some() || config.clusters.is_empty() {
        let base = config.clusters.first().cloned().unwrap_or_default();
        return vec![RawCluster {
            kubeconfig: args.kubeconfig.clone().or(base.kubeconfig.clone()),
            context: args.context.clone().or(base.context.clone()),
            ..base
        }];
    }
    config.clusters.clone()
}

/// What the cluster pipelines of one process share, built from the validated configuration
/// ([`PipelineOptions::from_config`]) or set by the command (`demo`, `bench live`).
#[derive(Clone)]
pub struct PipelineOptions {
    /// The name of a cluster that neither its settings nor its kubeconfig context names.
    pub default_name: String,
    /// Below it, one spool directory per cluster.
    pub spool_dir: PathBuf,
    /// Most bytes one cluster's spool holds.
    pub spool_max_bytes: u64,
    /// Events dated further ahead of their arrival are refused.
    pub max_future: kubetrail_process::FutureLimit,
    /// Classification rules (the config's, then the built-in catalogue).
    pub rules: Rules,
    /// Where every cluster's batches are written.
    pub store: Arc<dyn EventSink>,
    /// Every stored event is also sent here (live output), if set.
    pub live: Option<mpsc::Sender<Event>>,
    /// Alerting: every committed batch is evaluated here, if set.
    pub alerts: Option<kubetrail_alert::AlertFeed>,
    /// Where changes are kept; no change tracking without it.
    pub changes: Option<Arc<dyn ChangeStore>>,
    /// The resources whose changes are tracked (the config's `changes:`).
    pub tracked: Vec<TrackedResource>,
}

impl PipelineOptions {
    /// The options `config` gives, with the command's rules, store, live output and alerting.
    pub fn from_config(
        config: &Config,
        rules: Rules,
        store: Arc<dyn EventSink>,
        live: Option<mpsc::Sender<Event>>,
        alerts: Option<kubetrail_alert::AlertFeed>,
    ) -> Self {
        PipelineOptions {
            default_name: config.cluster.clone(),
            spool_dir: config.data_dir.join("spool"),
            spool_max_bytes: config.spool_max_bytes,
            max_future: config.max_future,
            rules,
            store,
            live,
            alerts,
            changes: None,
            tracked: config.changes.clone(),
        }
    }
}

/// Builds a client per cluster and starts its pipeline.
pub async fn start(
    clusters: Vec<RawCluster>,
    options: &PipelineOptions,
    cancel: &CancellationToken,
) -> Result<JoinSet<(String, Result<()>)>> {
    let telemetry = kubetrail_server::Telemetry::new();
    start_observed(clusters, options, &telemetry, cancel).await
}

/// [`start`], counting into `telemetry` (served at `/metrics`).
pub async fn start_observed(
    clusters: Vec<RawCluster>,
    options: &PipelineOptions,
    telemetry: &kubetrail_server::Telemetry,
    cancel: &CancellationToken,
) -> Result<JoinSet<(String, Result<()>)>> {
    let mut tasks = JoinSet::new();
    for settings in clusters {
        let (client, context) = client(&settings).await?;
        let name = settings
            .name
            .clone()
            .or(context)
            .unwrap_or_else(|| options.default_name.clone());
        let pipeline = ClusterPipeline {
            name: name.clone(),
            client,
            settings,
            rules: options.rules.clone(),
            max_future: options.max_future,
            store: options.store.clone(),
            live: options.live.clone(),
            stats: telemetry.watch_stats(&name),
            spool_dir: options.spool_dir.join(sanitize(&name)),
            spool_max_bytes: options.spool_max_bytes,
            overflow: Default::default(),
            alerts: options.alerts.clone(),
            telemetry: telemetry.cluster(&name),
            changes: options
                .changes
                .clone()
                .map(|store| (store, options.tracked.clone())),
        };
        let cancel = cancel.clone();
        tasks.spawn(async move { (name.clone(), pipeline.run(cancel).await) });
    }
    Ok(tasks)
}

/// A cluster name as a file name.
fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A kube client for the cluster and the name of its context.
pub async fn client(c: &RawCluster) -> Result<(kube::Client, Option<String>)> {
    let (config, context) = kube_config(c).await?;
    let client = kube::Client::try_from(config).context("cannot build the Kubernetes client")?;
    Ok((client, context))
}

/// The Kubernetes client configuration of a cluster entry, and its context name.
pub async fn kube_config(c: &RawCluster) -> Result<(kube::Config, Option<String>)> {
    let options = KubeConfigOptions {
        context: c.context.clone(),
        ..KubeConfigOptions::default()
    };
    let (config, context) =
        match &c.kubeconfig {
            Some(path) => {
                let kc = Kubeconfig::read_from(path)
                    .with_context(|| format!("cannot read kubeconfig {}", path.display()))?;
                let context = c.context.clone().or(kc.current_context.clone());
                let config = kube::Config::from_custom_kubeconfig(kc, &options)
                    .await
                    .with_context(|| format!("invalid kubeconfig {}", path.display()))?;
                (config, context)
            }
            None => match kube::Config::from_kubeconfig(&options).await {
                Ok(config) => {
                    let context = c
                        .context
                        .clone()
                        .or_else(|| Kubeconfig::read().ok().and_then(|k| k.current_context));
                    (config, context)
                }
                Err(kubeconfig_error) => {
                    let config = kube::Config::incluster().map_err(|_| kubeconfig_error).context(
                    "no kubeconfig (KUBECONFIG, ~/.kube/config) and not running in a cluster",
                )?;
                    (config, None)
                }
            },
        };
    Ok((config, context))
}

/// Waits for every cluster pipeline; true when all stopped cleanly.
pub async fn wait(mut tasks: JoinSet<(String, Result<()>)>) -> bool {
    let mut ok = true;
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok((_, Ok(()))) => {}
            Ok((cluster, Err(e))) => {
                error!(%cluster, error = %format!("{e:#}"), "cluster pipeline failed");
                ok = false;
            }
            Err(e) => {
                error!(error = %e, "cluster pipeline panicked");
                ok = false;
            }
        }
    }
    ok
}

fn shutdown_on_signal(cancel: CancellationToken) {
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(s) => s,
                    Err(e) => {
                        error!(error = %e, "cannot listen for SIGTERM");
                        let _ = tokio::signal::ctrl_c().await;
                        cancel.cancel();
                        return;
                    }
                };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        info!("stopping: flushing what was read");
        cancel.cancel();
    });
}

/// Prints stored events of at least `min` severity, one line each.
pub fn spawn_printer(min: Severity, cancel: CancellationToken) -> mpsc::Sender<Event> {
    let (tx, mut rx) = mpsc::channel::<Event>(1024);
    tokio::spawn(async move {
        loop {
            let e = tokio::select! {
                e = rx.recv() => match e { Some(e) => e, None => return },
                _ = cancel.cancelled() => return,
            };
            if e.severity >= min {
                let mut out = crate::output::Human::new(std::io::stdout().lock());
                let _ = writeln!(
                    out,
                    "{} {:<8} {:<10} {}/{}/{} {} ×{} [{}] {}",
                    e.last_seen.strftime("%H:%M:%S"),
                    e.severity,
                    e.category,
                    e.namespace,
                    e.regarding.kind,
                    e.regarding.name,
                    e.reason,
                    e.count,
                    e.correlation_id,
                    crate::output::truncate(&e.note, 120),
                );
                let _ = out.flush();
            }
        }
    });
    tx
}
