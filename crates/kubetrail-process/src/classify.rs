//! Category and severity. Built-in rules cover the reasons Kubernetes' own components emit; a
//! YAML rules file adds rules that are tried first, so it can both add and override.
//!
//! ```yaml
//! rules:
//!   - match: { reason: [BackOff], namespace: [payments] }
//!     severity: critical
//!   - match: { reason: CertificateExpiring, note: "expires in [0-9]+ days" }
//!     category: config
//!     severity: warning
//! ```
//!
//! For each event the first matching rule that sets the category decides the category, and the
//! first matching rule that sets the severity decides the severity. When no rule decides:
//! the category follows the regarding object's kind (Node → node, HorizontalPodAutoscaler →
//! autoscaling, …, else other) and the severity follows the type (Warning → warning, else info).

use std::collections::HashMap;

use kubetrail_model::{Category, Event, Severity};
use regex::Regex;
use serde::Deserialize;

/// A rules file that cannot be used; the message names the rule and field.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("invalid rules file: {0}")]
    Yaml(#[from] yaml_serde::Error),
    #[error("rules[{index}].match.note: invalid regular expression")]
    Regex {
        index: usize,
        #[source]
        source: regex::Error,
    },
    #[error("rules[{index}]: a rule must set a category, a severity or both")]
    NoEffect { index: usize },
}

/// What a rule matches. Every field given must match; a list matches any of its values.
#[derive(Debug, Clone, Default)]
pub struct RuleMatch {
    pub reasons: Vec<String>,
    pub types: Vec<String>,
    pub kinds: Vec<String>,
    pub namespaces: Vec<String>,
    pub controllers: Vec<String>,
    pub note: Option<Regex>,
}

impl RuleMatch {
    fn matches(&self, ev: &Event) -> bool {
        fn any(list: &[String], value: &str) -> bool {
            list.is_empty() || list.iter().any(|v| v.eq_ignore_ascii_case(value))
        }
        any(&self.reasons, &ev.reason)
            && any(&self.types, &ev.type_)
            && any(&self.kinds, &ev.regarding.kind)
            && any(&self.namespaces, &ev.namespace)
            && any(&self.controllers, &ev.reporting_controller)
            && self.note.as_ref().is_none_or(|re| re.is_match(&ev.note))
    }
}

/// A classification rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub matcher: RuleMatch,
    pub category: Option<Category>,
    pub severity: Option<Severity>,
}

/// The outcome of classification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Classification {
    pub category: Category,
    pub severity: Severity,
}

/// User rules (tried first, in file order) and the built-in rules (by reason).
#[derive(Debug, Clone)]
pub struct Rules {
    user: Vec<Rule>,
    builtin: HashMap<String, Vec<Rule>>,
}

impl Default for Rules {
    fn default() -> Self {
        Self::builtin()
    }
}

impl Rules {
    /// The built-in rules only.
    pub fn builtin() -> Self {
        let mut builtin: HashMap<String, Vec<Rule>> = HashMap::new();
        for (reasons, note, category, severity) in BUILTIN {
            let rule = Rule {
                matcher: RuleMatch {
                    note: note.map(|n| {
                        Regex::new(&format!("(?i){n}")).expect("built-in regexes are valid")
                    }),
                    ..RuleMatch::default()
                },
                category: *category,
                severity: *severity,
            };
            for reason in reasons.split('|') {
                builtin
                    .entry(reason.to_string())
                    .or_default()
                    .push(rule.clone());
            }
        }
        Rules {
            user: Vec::new(),
            builtin,
        }
    }

    /// The built-in rules with the rules of a YAML rules file tried first.
    pub fn from_yaml(text: &str) -> Result<Self, RulesError> {
        let file: RulesFile = yaml_serde::from_str(text)?;
        let mut rules = Self::builtin();
        for (index, raw) in file.rules.into_iter().enumerate() {
            rules.user.push(raw.validate(index)?);
        }
        Ok(rules)
    }

    /// Adds rules in front of the built-in ones (after earlier user rules).
    pub fn push(&mut self, rule: Rule) {
        self.user.push(rule);
    }

    /// Appends the user rules of `other` (e.g. a second rules file) after this one's.
    pub fn extend_user(&mut self, other: Rules) {
        self.user.extend(other.user);
    }

    pub fn classify(&self, ev: &Event) -> Classification {
        let mut category = None;
        let mut severity = None;
        let builtin = self
            .builtin
            .get(ev.reason.as_str())
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        for rule in self.user.iter().chain(builtin) {
            if (category.is_some() || rule.category.is_none())
                && (severity.is_some() || rule.severity.is_none())
            {
                continue;
            }
            if rule.matcher.matches(ev) {
                category = category.or(rule.category);
                severity = severity.or(rule.severity);
                if category.is_some() && severity.is_some() {
                    break;
                }
            }
        }
        Classification {
            category: category.unwrap_or_else(|| category_by_kind(&ev.regarding.kind)),
            severity: severity.unwrap_or(if ev.is_warning() {
                Severity::Warning
            } else {
                Severity::Info
            }),
        }
    }
}

fn category_by_kind(kind: &str) -> Category {
    match kind {
        "Node" => Category::Node,
        "HorizontalPodAutoscaler" | "VerticalPodAutoscaler" => Category::Autoscaling,
        "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet" => Category::Rollout,
        "Job" | "CronJob" => Category::Job,
        "PersistentVolumeClaim" | "PersistentVolume" | "VolumeAttachment" => Category::Storage,
        "Service" | "Endpoints" | "EndpointSlice" | "Ingress" => Category::Network,
        "ConfigMap" | "Secret" => Category::Config,
        _ => Category::Other,
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    /// Classification rules, tried in order before the built-in ones.
    #[serde(default)]
    rules: Vec<RawRule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    /// What the rule applies to; empty matches every event.
    #[serde(default, rename = "match")]
    matcher: RawMatch,
    /// The category to give (lower-case name).
    category: Option<Category>,
    /// The severity to give: critical, error, warning or info.
    severity: Option<Severity>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMatch {
    #[serde(default)]
    reason: OneOrMany,
    #[serde(default, rename = "type")]
    type_: OneOrMany,
    #[serde(default)]
    kind: OneOrMany,
    #[serde(default)]
    namespace: OneOrMany,
    #[serde(default)]
    controller: OneOrMany,
    /// A regular expression searched in the note (message).
    note: Option<String>,
}

/// A string or a list of strings.
#[derive(Debug, Default, Deserialize)]
#[serde(from = "OneOrManyRaw")]
struct OneOrMany(Vec<String>);

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrManyRaw {
    One(String),
    Many(Vec<String>),
}

impl From<OneOrManyRaw> for OneOrMany {
    fn from(r: OneOrManyRaw) -> Self {
        match r {
            OneOrManyRaw::One(s) => OneOrMany(vec![s]),
            OneOrManyRaw::Many(v) => OneOrMany(v),
        }
    }
}

impl RawRule {
    fn validate(self, index: usize) -> Result<Rule, RulesError> {
        if self.category.is_none() && self.severity.is_none() {
            return Err(RulesError::NoEffect { index });
        }
        let note = match self.matcher.note {
            Some(n) => Some(Regex::new(&n).map_err(|source| RulesError::Regex { index, source })?),
            None => None,
        };
        Ok(Rule {
            matcher: RuleMatch {
                reasons: self.matcher.reason.0,
                types: self.matcher.type_.0,
                kinds: self.matcher.kind.0,
                namespaces: self.matcher.namespace.0,
                controllers: self.matcher.controller.0,
                note,
            },
            category: self.category,
            severity: self.severity,
        })
    }
}

use Category as C;
use Severity as S;

/// Built-in rules: reasons (`|`-separated), an optional case-insensitive note regex, category,
/// severity. For one reason, rules with a note come before the catch-all.
type BuiltinRule = (
    &'static str,
    Option<&'static str>,
    Option<Category>,
    Option<Severity>,
);
const BUILTIN: &[BuiltinRule] = &[
    // Scheduling
    (
        "FailedScheduling",
        None,
        Some(C::Scheduling),
        Some(S::Error),
    ),
    (
        "Scheduled|Preempted|Preempting",
        None,
        Some(C::Scheduling),
        Some(S::Info),
    ),
    (
        "OutOfcpu|OutOfmemory|OutOfpods|OutOfephemeral-storage|UnexpectedAdmissionError",
        None,
        Some(C::Scheduling),
        Some(S::Error),
    ),
    (
        "TaintToleration|NodeAffinity|NodeSelectorMismatching",
        None,
        Some(C::Scheduling),
        Some(S::Warning),
    ),
    // Image
    ("Pulling|Pulled", None, Some(C::Image), Some(S::Info)),
    (
        "ErrImagePull|ImagePullBackOff|ErrImageNeverPull|InspectFailed|InvalidImageName",
        None,
        Some(C::Image),
        Some(S::Error),
    ),
    (
        "BackOff",
        Some("pulling image|image pull"),
        Some(C::Image),
        Some(S::Error),
    ),
    ("Failed", Some("image|pull"), Some(C::Image), Some(S::Error)),
    // Crash
    (
        "BackOff",
        Some("restarting failed container|crashloop"),
        Some(C::Crash),
        Some(S::Error),
    ),
    ("BackOff", None, Some(C::Crash), Some(S::Warning)),
    (
        "CrashLoopBackOff|OOMKilled|ContainerDied",
        None,
        Some(C::Crash),
        Some(S::Error),
    ),
    (
        "OOMKilling|SystemOOM",
        None,
        Some(C::Crash),
        Some(S::Critical),
    ),
    // Config
    (
        "Failed",
        Some("CreateContainerConfigError|configmap .*not found|secret .*not found"),
        Some(C::Config),
        Some(S::Error),
    ),
    (
        "FailedMount",
        Some("(configmap|secret)s? \"?[^ ]*\"? not found"),
        Some(C::Config),
        Some(S::Error),
    ),
    (
        "CreateContainerConfigError|CreateContainerError|FailedValidation|ConfigMissing",
        None,
        Some(C::Config),
        Some(S::Error),
    ),
    ("Failed", None, Some(C::Lifecycle), Some(S::Error)),
    // Storage
    (
        "FailedMount|FailedAttachVolume|FailedMapVolume|FailedUnMount|VolumeFailedDelete|ProvisioningFailed|VolumeResizeFailed|FileSystemResizeFailed|FailedBinding|VolumeFailedRecycle",
        None,
        Some(C::Storage),
        Some(S::Error),
    ),
    (
        "SuccessfulAttachVolume|SuccessfulDetachVolume|SuccessfulMountVolume|ProvisioningSucceeded|ExternalProvisioning|WaitForFirstConsumer|WaitForPodScheduled|VolumeResizeSuccessful|FileSystemResizeSuccessful|Provisioning",
        None,
        Some(C::Storage),
        Some(S::Info),
    ),
    // Network
    (
        "FailedCreatePodSandBox|NetworkNotReady|FailedToUpdateEndpoint|FailedToUpdateEndpointSlices|SyncLoadBalancerFailed|UpdateLoadBalancerFailed|CIDRAssignmentFailed|CIDRNotAvailable|FailedToCreateEndpoint|DNSConfigForming",
        None,
        Some(C::Network),
        Some(S::Error),
    ),
    (
        "AddedInterface|EnsuringLoadBalancer|EnsuredLoadBalancer|UpdatedLoadBalancer|DeletingLoadBalancer|DeletedLoadBalancer|ConnectivityRestored|ConnectivityOutageDetected",
        None,
        Some(C::Network),
        None,
    ),
    // Health (probes)
    (
        "Unhealthy|ProbeError",
        Some("liveness|startup"),
        Some(C::Health),
        Some(S::Error),
    ),
    (
        "Unhealthy|ProbeError|ProbeWarning",
        None,
        Some(C::Health),
        Some(S::Warning),
    ),
    (
        "Killing",
        Some("failed (liveness|startup) probe"),
        Some(C::Health),
        Some(S::Warning),
    ),
    // Lifecycle
    (
        "Created|Started|Killing|SandboxChanged|Pulled|Stopping|ContainerStarted",
        None,
        Some(C::Lifecycle),
        Some(S::Info),
    ),
    (
        "FailedKillPod|FailedPreStopHook|FailedPostStartHook|ExceededGracePeriod|FailedSync|NonGracefulTermination",
        None,
        Some(C::Lifecycle),
        Some(S::Warning),
    ),
    // Node
    (
        "NodeNotReady|Rebooted|KubeletSetupFailed|NodeHasInsufficientMemory|NodeHasDiskPressure|NodeHasInsufficientPID|FailedNodeAllocatableEnforcement",
        None,
        Some(C::Node),
        Some(S::Critical),
    ),
    (
        "Evicted|EvictionThresholdMet|ContainerGCFailed|ImageGCFailed|FreeDiskSpaceFailed|NodeNotSchedulable|TaintManagerEviction|NodeControllerEviction|DeletingNode|RemovingNode|InvalidDiskCapacity",
        None,
        Some(C::Node),
        Some(S::Warning),
    ),
    (
        "NodeReady|NodeSchedulable|NodeHasSufficientMemory|NodeHasNoDiskPressure|NodeHasSufficientPID|RegisteredNode|NodeAllocatableEnforced|Starting|NodeDone|NodePasswordValidationComplete|CSRApproval|CSRCreated",
        None,
        Some(C::Node),
        Some(S::Info),
    ),
    // Autoscaling
    (
        "FailedGetResourceMetric|FailedComputeMetricsReplicas|FailedGetScale|FailedRescale|FailedGetObjectMetric|FailedGetExternalMetric|FailedGetPodsMetric|FailedUpdateStatus",
        None,
        Some(C::Autoscaling),
        Some(S::Warning),
    ),
    (
        "SuccessfulRescale|TriggeredScaleUp|NotTriggerScaleUp|ScaleDown|ScaledUpGroup|ScaleDownEmpty",
        None,
        Some(C::Autoscaling),
        None,
    ),
    // Policy (before the generic FailedCreate)
    (
        "FailedCreate",
        Some("quota|forbidden|podsecurity|denied the request|admission webhook|violates"),
        Some(C::Policy),
        Some(S::Error),
    ),
    (
        "FailedAdmission|PolicyViolation|FailedEvict",
        None,
        Some(C::Policy),
        Some(S::Error),
    ),
    // Job (kind-specific SuccessfulCreate/Delete come from the fallback: the regarding kind)
    (
        "BackoffLimitExceeded|DeadlineExceeded|JobAlreadyActive|MissSchedule|TooManyMissedTimes|FailedNeedsStart|UnexpectedJob|PodFailurePolicy|MaxFailedIndexesExceeded",
        None,
        Some(C::Job),
        Some(S::Error),
    ),
    (
        "Completed|SawCompletedJob|SuccessfulJob",
        None,
        Some(C::Job),
        Some(S::Info),
    ),
    // Rollout
    (
        "FailedCreate|FailedDelete|ProgressDeadlineExceeded|ReplicaSetCreateError|FailedPlacement|FailedDaemonPod",
        None,
        Some(C::Rollout),
        Some(S::Error),
    ),
    (
        "ScalingReplicaSet|DeploymentRollback|DeploymentPaused|DeploymentResumed|RecreatingFailedPod|SuccessfulUpdate|NewReplicaSetAvailable",
        None,
        Some(C::Rollout),
        Some(S::Info),
    ),
    (
        "SuccessfulCreate|SuccessfulDelete",
        None,
        None,
        Some(S::Info),
    ),
];

#[cfg(test)]
mod tests {
    use super::*;
    use kubetrail_model::ObjectRef;

    fn ev(reason: &str, type_: &str, kind: &str, note: &str) -> Event {
        Event {
            cluster: "c".into(),
            uid: "u".into(),
            namespace: "shop".into(),
            name: "e".into(),
            regarding: ObjectRef {
                kind: kind.into(),
                name: "x".into(),
                ..Default::default()
            },
            related: None,
            reason: reason.into(),
            note: note.into(),
            type_: type_.into(),
            action: String::new(),
            reporting_controller: "kubelet".into(),
            reporting_instance: String::new(),
            first_seen: jiff::Timestamp::UNIX_EPOCH,
            last_seen: jiff::Timestamp::UNIX_EPOCH,
            count: 1,
            resource_version: String::new(),
            category: Category::Other,
            severity: Severity::Info,
            correlation_id: String::new(),
            owner: None,
            node: None,
            template: String::new(),
            labels: Default::default(),
        }
    }

    fn class(e: &Event) -> (Category, Severity) {
        let c = Rules::builtin().classify(e);
        (c.category, c.severity)
    }

    #[test]
    fn backoff_is_an_image_problem_or_a_crash_depending_on_the_note() {
        assert_eq!(
            class(&ev(
                "BackOff",
                "Warning",
                "Pod",
                "Back-off pulling image \"nginx:nope\""
            )),
            (C::Image, S::Error)
        );
        assert_eq!(
            class(&ev(
                "BackOff",
                "Warning",
                "Pod",
                "Back-off restarting failed container app in pod x"
            )),
            (C::Crash, S::Error)
        );
    }

    #[test]
    fn node_and_memory_trouble_is_critical_and_normal_events_are_info() {
        assert_eq!(
            class(&ev("NodeNotReady", "Normal", "Node", "")),
            (C::Node, S::Critical)
        );
        assert_eq!(
            class(&ev("OOMKilling", "Warning", "Node", "")),
            (C::Crash, S::Critical)
        );
        assert_eq!(
            class(&ev("Pulled", "Normal", "Pod", "")),
            (C::Image, S::Info)
        );
        assert_eq!(
            class(&ev("SuccessfulCreate", "Normal", "Job", "")),
            (C::Job, S::Info)
        );
        assert_eq!(
            class(&ev("SuccessfulCreate", "Normal", "ReplicaSet", "")),
            (C::Rollout, S::Info)
        );
    }

    #[test]
    fn failed_mount_of_a_missing_configmap_is_config_otherwise_storage() {
        assert_eq!(
            class(&ev(
                "FailedMount",
                "Warning",
                "Pod",
                r#"MountVolume.SetUp failed for volume "cfg" : configmap "app" not found"#
            )),
            (C::Config, S::Error)
        );
        assert_eq!(
            class(&ev(
                "FailedMount",
                "Warning",
                "Pod",
                "Unable to attach or mount volumes: timed out waiting for the condition"
            )),
            (C::Storage, S::Error)
        );
    }

    #[test]
    fn liveness_failures_are_errors_and_readiness_failures_warnings() {
        assert_eq!(
            class(&ev(
                "Unhealthy",
                "Warning",
                "Pod",
                "Liveness probe failed: x"
            )),
            (C::Health, S::Error)
        );
        assert_eq!(
            class(&ev(
                "Unhealthy",
                "Warning",
                "Pod",
                "Readiness probe failed: x"
            )),
            (C::Health, S::Warning)
        );
    }

    #[test]
    fn quota_failures_are_policy() {
        assert_eq!(
            class(&ev(
                "FailedCreate",
                "Warning",
                "ReplicaSet",
                "Error creating: pods \"x\" is forbidden: exceeded quota: q"
            )),
            (C::Policy, S::Error)
        );
    }

    #[test]
    fn unknown_reasons_fall_back_to_kind_and_type() {
        assert_eq!(
            class(&ev("SomethingOdd", "Warning", "Pod", "")),
            (C::Other, S::Warning)
        );
        assert_eq!(
            class(&ev("SomethingOdd", "Normal", "Node", "")),
            (C::Node, S::Info)
        );
    }

    #[test]
    fn user_rules_override_and_add() {
        let rules = Rules::from_yaml(
            "rules:\n  - match: { reason: BackOff, namespace: [shop] }\n    severity: critical\n  - match: { reason: CertExpiring, note: 'in [0-9]+ days' }\n    category: config\n",
        )
        .unwrap();
        let c = rules.classify(&ev(
            "BackOff",
            "Warning",
            "Pod",
            "Back-off restarting failed container",
        ));
        assert_eq!((c.category, c.severity), (C::Crash, S::Critical));
        let c = rules.classify(&ev(
            "CertExpiring",
            "Warning",
            "Secret",
            "expires in 3 days",
        ));
        assert_eq!((c.category, c.severity), (C::Config, S::Warning));
    }

    #[test]
    fn bad_rules_files_name_the_rule_and_field() {
        let err =
            Rules::from_yaml("rules:\n  - match: { reason: X }\n    colour: red\n").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("colour") && msg.contains("line 3"), "{msg}");
        let err =
            Rules::from_yaml("rules:\n  - match: { note: '(' }\n    severity: info\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "rules[0].match.note: invalid regular expression"
        );
        let err = Rules::from_yaml("rules:\n  - match: { reason: X }\n").unwrap_err();
        assert!(err.to_string().contains("rules[0]"));
        let err = Rules::from_yaml("rules:\n  - severity: loud\n").unwrap_err();
        assert!(err.to_string().contains("loud"), "{err}");
    }
}
