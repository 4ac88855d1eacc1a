use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Error;

/// What an event is about. A fixed set so that aggregations and alert rules can rely on it;
/// classification rules may choose any of them.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    /// Placing pods on nodes: `Scheduled`, `FailedScheduling`, preemption, the descheduler.
    Scheduling,
    /// Pulling images: `Pulling`, `Pulled`, `ErrImagePull`, `ImagePullBackOff`.
    Image,
    /// Volumes: provisioning, attaching and mounting (`FailedMount`, `ProvisioningFailed`).
    Storage,
    /// Endpoints, load balancers, CIDRs, CNI and ingress controllers.
    Network,
    /// Probes: liveness, readiness, startup.
    Health,
    /// Containers and pods being created, started, killed (`Created`, `Started`, `Killing`).
    Lifecycle,
    /// BackOff, OOM kills, containers exiting with errors.
    Crash,
    /// Nodes: registration, readiness, pressure conditions, evictions by the node lifecycle
    /// controller, node-problem-detector reports.
    Node,
    /// The HorizontalPodAutoscaler and the cluster autoscaler: rescales, metrics it could not get.
    Autoscaling,
    /// Workload controllers creating, scaling and deleting pods and ReplicaSets
    /// (`ScalingReplicaSet`, `SuccessfulCreate`, `FailedCreate`).
    Rollout,
    /// Jobs and CronJobs: completion, backoff limit, deadline, suspension.
    Job,
    /// Missing ConfigMap or Secret, invalid spec.
    Config,
    /// Quota, admission, PodSecurity, forbidden, disruption budgets.
    Policy,
    /// The API server's lifecycle, etcd members, leader election.
    ControlPlane,
    /// Operators reconciling what they own: OpenShift's library-go operators (status
    /// conditions, applied resources, observed config, revisions, installers, their
    /// controllers' start-up notices), OLM, add-on deployers.
    Operator,
    /// Certificates: signing requests, rotation, cert-manager issuance.
    Certificate,
    /// A reason the catalogue and the rules do not know, on a kind they do not place either.
    Other,
}

impl Category {
    /// Every category, in declaration order (the order of [`Category::NAMES`]).
    pub const ALL: [Category; 17] = [
        Category::Scheduling,
        Category::Image,
        Category::Storage,
        Category::Network,
        Category::Health,
        Category::Lifecycle,
        Category::Crash,
        Category::Node,
        Category::Autoscaling,
        Category::Rollout,
        Category::Job,
        Category::Config,
        Category::Policy,
        Category::ControlPlane,
        Category::Operator,
        Category::Certificate,
        Category::Other,
    ];
    /// The lowercase names used in JSON, the CLI and rule files, indexed like [`Category::ALL`].
    pub const NAMES: [&'static str; 17] = [
        "scheduling",
        "image",
        "storage",
        "network",
        "health",
        "lifecycle",
        "crash",
        "node",
        "autoscaling",
        "rollout",
        "job",
        "config",
        "policy",
        "controlplane",
        "operator",
        "certificate",
        "other",
    ];

    /// The lowercase name, as serialized and as [`FromStr`] accepts it.
    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Category {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let lower = s.trim().to_ascii_lowercase();
        Self::NAMES
            .iter()
            .position(|n| *n == lower)
            .map(|i| Self::ALL[i])
            .ok_or_else(|| Error::UnknownCategory(s.to_string()))
    }
}

/// How much an event matters, from `Info` (lowest) to `Critical`; ordered.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Routine: nothing to act on (a pull, a start, a scale-up, a known harmless message).
    Info,
    /// May need attention if it repeats: a failed probe, a retry, a slow operation.
    Warning,
    /// Something failed and will not heal by itself: a failed pull, a job past its backoff
    /// limit, a rollout past its deadline.
    Error,
    /// A node and everything on it at risk: `NodeNotReady`, memory or disk pressure, system
    /// OOM kills, a reboot.
    Critical,
}

impl Severity {
    /// Every severity, from lowest to highest.
    pub const ALL: [Severity; 4] = [
        Severity::Info,
        Severity::Warning,
        Severity::Error,
        Severity::Critical,
    ];

    /// The lowercase name, as serialized and as [`FromStr`] accepts it.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.trim().to_ascii_lowercase().as_str() {
            "info" => Ok(Severity::Info),
            "warning" => Ok(Severity::Warning),
            "error" => Ok(Severity::Error),
            "critical" => Ok(Severity::Critical),
            _ => Err(Error::UnknownSeverity(s.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_category_round_trips_through_its_name() {
        for c in Category::ALL {
            assert_eq!(c.as_str().parse::<Category>().unwrap(), c);
            assert_eq!(
                serde_json::to_string(&c).unwrap(),
                format!("\"{}\"", c.as_str())
            );
        }
    }

    #[test]
    fn severities_are_ordered_from_info_to_critical() {
        assert!(Severity::Info < Severity::Warning);
        assert!(Severity::Warning < Severity::Error);
        assert!(Severity::Error < Severity::Critical);
        assert_eq!("ERROR".parse::<Severity>().unwrap(), Severity::Error);
        assert!("fatal".parse::<Severity>().is_err());
    }
}
