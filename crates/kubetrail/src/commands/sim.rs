//! `kubetrail sim`: the Kubernetes API simulator alone, with its scenarios, and a kubeconfig
//! pointing at it (for kubectl and `kubetrail run --kubeconfig`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use kubetrail_model::parse_duration;
use kubetrail_sim::{Pace, RunMode, Scenario, SimConfig, SimHandle, Simulator, run_scenario};
use tokio::task::JoinSet;
use tracing::warn;

#[derive(Debug, Args)]
pub struct SimArgs {
    /// Address to listen on (default 127.0.0.1 and a free port).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Where to write a kubeconfig that points at the simulator.
    #[arg(long)]
    pub kubeconfig_out: Option<PathBuf>,
    /// Scenarios to run, comma-separated (default: all): deployment-rollout, crash-loop,
    /// image-pull-failure, failed-mount, oom-kill, node-pressure, failed-scheduling,
    /// sidecar-not-ready.
    #[arg(long, value_delimiter = ',')]
    pub scenarios: Vec<String>,
    /// Run each scenario once, then keep serving with no new events.
    #[arg(long)]
    pub once: bool,
    /// Time between scenario steps (default 2s).
    #[arg(long, default_value = "2s")]
    pub pace: String,
}

/// The simulator and its running scenarios.
pub struct RunningSim {
    pub handle: SimHandle,
    pub scenarios: JoinSet<()>,
}

/// Starts the simulator and its scenarios as `args` say.
pub async fn start(args: &SimArgs) -> Result<RunningSim> {
    let scenarios = if args.scenarios.is_empty() {
        Scenario::ALL.to_vec()
    } else {
        args.scenarios
            .iter()
            .map(|s| s.parse::<Scenario>())
            .collect::<Result<Vec<_>, _>>()
            .context("--scenarios")?
    };
    let step = parse_duration(&args.pace).context("--pace")?;
    let pace = Pace {
        step: Duration::from_millis(step.as_millis().max(0) as u64),
        mode: if args.once {
            RunMode::Once
        } else {
            RunMode::Loop
        },
    };
    let handle = Simulator::start_with(SimConfig {
        listen: args.listen,
        ..SimConfig::default()
    })
    .await
    .context("cannot start the simulator")?;
    if let Some(path) = &args.kubeconfig_out {
        handle
            .write_kubeconfig(path)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let mut set = JoinSet::new();
    for scenario in scenarios {
        let sim = handle.clone();
        set.spawn(async move {
            if let Err(error) = run_scenario(&sim, scenario, pace).await {
                warn!(%scenario, %error, "scenario stopped");
            }
        });
    }
    Ok(RunningSim {
        handle,
        scenarios: set,
    })
}

pub async fn run(args: SimArgs) -> Result<ExitCode> {
    let sim = start(&args).await?;
    crate::output::say(format_args!("simulator listening on {}", sim.handle.url()));
    if let Some(path) = &args.kubeconfig_out {
        crate::output::say(format_args!(
            "kubeconfig: {}  (kubectl --kubeconfig {} get events -A -w)",
            path.display(),
            path.display()
        ));
    }
    tokio::signal::ctrl_c()
        .await
        .context("cannot wait for Ctrl-C")?;
    let mut sim = sim;
    sim.scenarios.abort_all();
    sim.handle.shutdown().await;
    Ok(ExitCode::SUCCESS)
}
