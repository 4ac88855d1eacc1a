use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Error;

/// What an event is about. A fixed set so that aggregations and alert rules can rely on it;
/// classification rules may choose any of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    Scheduling,
    Image,
    Storage,
    Network,
    /// Probes: liveness, readiness, startup.
    Health,
    Lifecycle,
    /// BackOff, OOM kills, containers exiting with errors.
    Crash,
    Node,
    Autoscaling,
    Rollout,
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
    Other,
}

impl Category {
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 4] = [
        Severity::Info,
        Severity::Warning,
        Severity::Error,
        Severity::Critical,
    ];

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
