//! Scripted scenarios: the objects and the Events of common incidents, shaped as the real
//! components write them (reporting controller and instance, reasons, message wording,
//! fieldPath, counts and series that grow through MODIFIED updates of the same Event).
//!
//! Each scenario lives in its own namespace and reuses three worker nodes, so several can run
//! at once. In [`RunMode::Loop`] a scenario starts over after a pause, removing what its
//! previous round left (as the garbage collector would) and creating fresh ReplicaSet and Pod
//! names each round.

mod changes;
mod cluster;
mod failures;
mod nodes;
mod recorder;
mod rollout;
mod wide;

use std::str::FromStr;
use std::time::Duration;

use crate::error::Result;
use crate::handle::SimHandle;

/// A scripted incident.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scenario {
    /// `shop/web`: three pods come up, then an image update replaces them one by one.
    DeploymentRollout,
    /// `payments/payments-api`: the container exits right after starting, with growing BackOff.
    CrashLoop,
    /// `shop/checkout`: an image tag that does not exist (ErrImagePull, ImagePullBackOff).
    ImagePullFailure,
    /// `reports/report-worker`: a missing ConfigMap volume (FailedMount, pod stuck), and
    /// `reports/report-archiver`: a missing PVC (FailedScheduling).
    FailedMount,
    /// `analytics/etl-runner`: killed for memory (OOMKilling on the node, BackOff).
    OomKill,
    /// `worker-3` under disk pressure, then NotReady; its pods are evicted.
    NodePressure,
    /// `ml/trainer`: asks for more CPU than any node has.
    FailedScheduling,
    /// `mesh/orders`: the proxy sidecar is not ready before the app starts; the app crashes.
    SidecarNotReady,
    /// `store/cart`: a new image crashes (BackOff); a rollback heals it (issue 15).
    BadRollout,
    /// `billing/invoicer`: its ConfigMap is edited, the app restarts with it and crashes.
    ConfigChange,
    /// `worker-4` is cordoned and drained; `tools/build-agent`'s pod is evicted and its
    /// replacement, pinned to the node, cannot be scheduled (FailedScheduling).
    NodeDrain,
    /// `search/query`: its HPA maximum is lowered under load; readiness probes fail.
    HpaLimit,
    /// A fresh cluster whose only node is not ready: its static pods are told `NodeNotReady`,
    /// coredns and the local-path provisioner wait on the not-ready taint (issue 13).
    NoReadyNode,
    /// The API server's static pod is restarted; operators in three namespaces crash-loop
    /// together (issue 13).
    ControlPlaneRestart,
    /// `jobs/db-migrate` and `jobs/api`: the kubelet's `kube-root-ca.crt ... not registered`
    /// mount race, then the pods complete or run normally: no failure (issue 13).
    RootCaRace,
    /// `logging/node-agent`: a DaemonSet rollout whose new pods crash-loop (issue 13: read back
    /// sorted by name, the pods' events come before the DaemonSet's).
    DaemonSetRollout,
}

impl Scenario {
    /// Every scenario.
    pub const ALL: [Scenario; 12] = [
        Scenario::DeploymentRollout,
        Scenario::CrashLoop,
        Scenario::ImagePullFailure,
        Scenario::FailedMount,
        Scenario::OomKill,
        Scenario::NodePressure,
        Scenario::FailedScheduling,
        Scenario::SidecarNotReady,
        Scenario::BadRollout,
        Scenario::ConfigChange,
        Scenario::NodeDrain,
        Scenario::HpaLimit,
    ];

    /// Scenarios about the whole cluster (its nodes, its control plane): each runs in a
    /// simulator of its own, so they are not part of [`Scenario::ALL`] (the demo's loop).
    pub const CLUSTER: [Scenario; 4] = [
        Scenario::NoReadyNode,
        Scenario::ControlPlaneRestart,
        Scenario::RootCaRace,
        Scenario::DaemonSetRollout,
    ];

    /// The kebab-case name (`crash-loop`), as the CLI spells it.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::DeploymentRollout => "deployment-rollout",
            Scenario::CrashLoop => "crash-loop",
            Scenario::ImagePullFailure => "image-pull-failure",
            Scenario::FailedMount => "failed-mount",
            Scenario::OomKill => "oom-kill",
            Scenario::NodePressure => "node-pressure",
            Scenario::FailedScheduling => "failed-scheduling",
            Scenario::SidecarNotReady => "sidecar-not-ready",
            Scenario::BadRollout => "bad-rollout",
            Scenario::ConfigChange => "config-change",
            Scenario::NodeDrain => "node-drain",
            Scenario::HpaLimit => "hpa-limit",
            Scenario::NoReadyNode => "no-ready-node",
            Scenario::ControlPlaneRestart => "control-plane-restart",
            Scenario::RootCaRace => "root-ca-race",
            Scenario::DaemonSetRollout => "daemonset-rollout",
        }
    }

    /// The namespace of the scenario's workloads (node events go to `default`).
    pub fn namespace(self) -> &'static str {
        match self {
            Scenario::DeploymentRollout => rollout::NAMESPACE,
            Scenario::CrashLoop => failures::CRASH_LOOP_NAMESPACE,
            Scenario::ImagePullFailure => failures::IMAGE_PULL_NAMESPACE,
            Scenario::FailedMount => failures::FAILED_MOUNT_NAMESPACE,
            Scenario::OomKill => failures::OOM_NAMESPACE,
            Scenario::NodePressure => nodes::PRESSURE_NAMESPACE,
            Scenario::FailedScheduling => nodes::SCHEDULING_NAMESPACE,
            Scenario::SidecarNotReady => failures::SIDECAR_NAMESPACE,
            Scenario::BadRollout => changes::ROLLOUT_NAMESPACE,
            Scenario::ConfigChange => changes::CONFIG_NAMESPACE,
            Scenario::NodeDrain => changes::DRAIN_NAMESPACE,
            Scenario::HpaLimit => changes::HPA_NAMESPACE,
            Scenario::NoReadyNode => wide::NO_READY_NODE_NAMESPACE,
            Scenario::ControlPlaneRestart => wide::CONTROL_PLANE_NAMESPACE,
            Scenario::RootCaRace => wide::ROOT_CA_NAMESPACE,
            Scenario::DaemonSetRollout => wide::DAEMONSET_NAMESPACE,
        }
    }

    /// The Event reasons one round produces (in any namespace).
    pub fn expected_reasons(self) -> &'static [&'static str] {
        match self {
            Scenario::DeploymentRollout => &[
                "ScalingReplicaSet",
                "SuccessfulCreate",
                "Scheduled",
                "Pulling",
                "Pulled",
                "Created",
                "Started",
                "SuccessfulDelete",
                "Killing",
            ],
            Scenario::CrashLoop => &[
                "ScalingReplicaSet",
                "SuccessfulCreate",
                "Scheduled",
                "Pulling",
                "Pulled",
                "Created",
                "Started",
                "BackOff",
            ],
            Scenario::ImagePullFailure => &[
                "ScalingReplicaSet",
                "SuccessfulCreate",
                "Scheduled",
                "Pulling",
                "Failed",
                "BackOff",
            ],
            Scenario::FailedMount => &[
                "ScalingReplicaSet",
                "SuccessfulCreate",
                "Scheduled",
                "FailedMount",
                "FailedScheduling",
            ],
            Scenario::OomKill => &[
                "ScalingReplicaSet",
                "SuccessfulCreate",
                "Scheduled",
                "Pulling",
                "Pulled",
                "Created",
                "Started",
                "OOMKilling",
                "BackOff",
            ],
            Scenario::NodePressure => &[
                "ScalingReplicaSet",
                "SuccessfulCreate",
                "Scheduled",
                "Pulling",
                "Pulled",
                "Created",
                "Started",
                "NodeHasDiskPressure",
                "EvictionThresholdMet",
                "Evicted",
                "Killing",
                "NodeNotReady",
                "TaintManagerEviction",
            ],
            Scenario::FailedScheduling => {
                &["ScalingReplicaSet", "SuccessfulCreate", "FailedScheduling"]
            }
            Scenario::SidecarNotReady => &[
                "ScalingReplicaSet",
                "SuccessfulCreate",
                "Scheduled",
                "Pulling",
                "Pulled",
                "Created",
                "Started",
                "Unhealthy",
                "BackOff",
            ],
            Scenario::BadRollout | Scenario::ConfigChange => &[
                "ScalingReplicaSet",
                "SuccessfulCreate",
                "Scheduled",
                "Pulling",
                "Pulled",
                "Created",
                "Started",
                "BackOff",
                "Killing",
            ],
            Scenario::NodeDrain => &[
                "ScalingReplicaSet",
                "SuccessfulCreate",
                "Scheduled",
                "Pulling",
                "Pulled",
                "Created",
                "Started",
                "NodeNotSchedulable",
                "Killing",
                "FailedScheduling",
            ],
            Scenario::HpaLimit => &[
                "ScalingReplicaSet",
                "SuccessfulCreate",
                "Scheduled",
                "Pulling",
                "Pulled",
                "Created",
                "Started",
                "SuccessfulRescale",
                "Unhealthy",
            ],
            Scenario::NoReadyNode => &[
                "Starting",
                "NodeHasSufficientMemory",
                "NodeAllocatableEnforced",
                "RegisteredNode",
                "NodeNotReady",
                "ScalingReplicaSet",
                "SuccessfulCreate",
                "FailedScheduling",
            ],
            Scenario::ControlPlaneRestart => &[
                "ScalingReplicaSet",
                "SuccessfulCreate",
                "Scheduled",
                "Started",
                "Unhealthy",
                "Killing",
                "BackOff",
            ],
            Scenario::RootCaRace => &[
                "SuccessfulCreate",
                "Scheduled",
                "FailedMount",
                "Pulled",
                "Started",
                "Completed",
            ],
            Scenario::DaemonSetRollout => &[
                "SuccessfulCreate",
                "Scheduled",
                "Started",
                "Killing",
                "SuccessfulDelete",
                "BackOff",
            ],
        }
    }
}

impl std::fmt::Display for Scenario {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not a scenario.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown scenario {0:?}")]
pub struct UnknownScenario(pub String);

impl FromStr for Scenario {
    type Err = UnknownScenario;

    fn from_str(name: &str) -> std::result::Result<Self, Self::Err> {
        Scenario::ALL
            .into_iter()
            .chain(Scenario::CLUSTER)
            .find(|s| s.name() == name)
            .ok_or_else(|| UnknownScenario(name.to_string()))
    }
}

/// Whether a scenario runs once or repeats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunMode {
    /// One round, then return.
    Once,
    /// Round after round until the future is dropped (or the simulator fails).
    Loop,
}

/// How fast a scenario runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pace {
    /// Time between steps; zero runs every step at once (tests).
    pub step: Duration,
    /// Once or in a loop.
    pub mode: RunMode,
}

impl Pace {
    /// No waiting, one round: for tests.
    pub fn instant() -> Self {
        Self {
            step: Duration::ZERO,
            mode: RunMode::Once,
        }
    }

    /// A step every `step`, round after round: for `kubetrail demo`.
    pub fn looping(step: Duration) -> Self {
        Self {
            step,
            mode: RunMode::Loop,
        }
    }
}

/// Runs `scenario` against the simulator: once, or in a loop until the future is dropped.
pub async fn run_scenario(sim: &SimHandle, scenario: Scenario, pace: Pace) -> Result<()> {
    let mut ctx = cluster::Ctx::new(sim, pace.step);
    loop {
        match scenario {
            Scenario::DeploymentRollout => rollout::run(&mut ctx).await?,
            Scenario::CrashLoop => failures::crash_loop(&mut ctx).await?,
            Scenario::ImagePullFailure => failures::image_pull(&mut ctx).await?,
            Scenario::FailedMount => failures::failed_mount(&mut ctx).await?,
            Scenario::OomKill => failures::oom_kill(&mut ctx).await?,
            Scenario::NodePressure => nodes::node_pressure(&mut ctx).await?,
            Scenario::FailedScheduling => nodes::failed_scheduling(&mut ctx).await?,
            Scenario::SidecarNotReady => failures::sidecar_not_ready(&mut ctx).await?,
            Scenario::BadRollout => changes::bad_rollout(&mut ctx).await?,
            Scenario::ConfigChange => changes::config_change(&mut ctx).await?,
            Scenario::NodeDrain => changes::node_drain(&mut ctx).await?,
            Scenario::HpaLimit => changes::hpa_limit(&mut ctx).await?,
            Scenario::NoReadyNode => wide::no_ready_node(&mut ctx).await?,
            Scenario::ControlPlaneRestart => wide::control_plane_restart(&mut ctx).await?,
            Scenario::RootCaRace => wide::root_ca_race(&mut ctx).await?,
            Scenario::DaemonSetRollout => wide::daemonset_rollout(&mut ctx).await?,
        }
        if pace.mode == RunMode::Once {
            return Ok(());
        }
        tracing::debug!(%scenario, "scenario round done");
        // A breather between rounds; with no pace, yield so a loop cannot starve the runtime.
        if pace.step.is_zero() {
            tokio::task::yield_now().await;
        } else {
            tokio::time::sleep(pace.step * 5).await;
        }
        // A new round's events are new occurrences, not repeats of the last round's.
        ctx.recorder = recorder::Recorder::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_names_round_trip() {
        for scenario in Scenario::ALL.into_iter().chain(Scenario::CLUSTER) {
            assert_eq!(scenario.name().parse::<Scenario>(), Ok(scenario));
        }
        assert!("nope".parse::<Scenario>().is_err());
    }
}
