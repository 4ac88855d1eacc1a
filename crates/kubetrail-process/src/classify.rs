//! Category and severity. The built-in rules are the [`catalogue`] of the
//! reasons upstream components emit (docs/REASONS.md); a YAML rules file adds rules that are
//! tried first, so it can both add and override.
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
//! For each event the first matching user rule that sets the category decides the category,
//! and the first that sets the severity decides the severity. What they leave open the
//! catalogue decides from the reason and the message. For a reason the catalogue does not
//! know, the category follows the regarding object's kind (Node → node,
//! HorizontalPodAutoscaler → autoscaling, …, else other) and the severity follows the type
//! (Warning → warning, else info), except that a known harmless message is info.

use kubetrail_model::{Category, Event, Severity};
use regex::Regex;
use serde::Deserialize;

use crate::catalogue::{self, harmless};
pub use crate::catalogue::{Coverage, catalogue_coverage};

/// A rules file that cannot be used; the message names the rule and field.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    /// The file is not valid YAML or does not have the rules file's shape.
    #[error("invalid rules file: {0}")]
    Yaml(#[from] yaml_serde::Error),
    /// A rule's `match.note` is not a valid regular expression.
    #[error("rules[{index}].match.note: invalid regular expression")]
    Regex {
        /// The rule's position in the file's `rules` list, from 0.
        index: usize,
        /// Why the expression does not compile.
        #[source]
        source: regex::Error,
    },
    /// A rule sets neither a category nor a severity, so it could change nothing.
    #[error("rules[{index}]: a rule must set a category, a severity or both")]
    NoEffect {
        /// The rule's position in the file's `rules` list, from 0.
        index: usize,
    },
}

/// What a rule matches. Every field given must match; a list matches any of its values.
#[derive(Debug, Clone, Default)]
pub struct RuleMatch {
    /// Event reasons, compared ignoring ASCII case; empty matches any.
    pub reasons: Vec<String>,
    /// Event types (`Normal`, `Warning`), ignoring ASCII case; empty matches any.
    pub types: Vec<String>,
    /// Kinds of the regarding object, ignoring ASCII case; empty matches any.
    pub kinds: Vec<String>,
    /// Namespaces, ignoring ASCII case; empty matches any.
    pub namespaces: Vec<String>,
    /// Reporting controllers (e.g. `kubelet`), ignoring ASCII case; empty matches any.
    pub controllers: Vec<String>,
    /// Searched in the message (not anchored); `None` matches any message.
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

/// A classification rule: what it matches and what it decides. At least one of `category`
/// and `severity` is set in rules read from a file.
#[derive(Debug, Clone)]
pub struct Rule {
    /// The events the rule applies to.
    pub matcher: RuleMatch,
    /// The category for matching events; `None` leaves it to later rules and the catalogue.
    pub category: Option<Category>,
    /// The severity for matching events; `None` leaves it to later rules and the catalogue.
    pub severity: Option<Severity>,
}

/// The outcome of classification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Classification {
    /// What the event is about.
    pub category: Category,
    /// How much it matters.
    pub severity: Severity,
}

/// User rules (tried first, in file order), then the catalogue.
#[derive(Debug, Clone)]
pub struct Rules {
    user: Vec<Rule>,
}

impl Default for Rules {
    fn default() -> Self {
        Self::builtin()
    }
}

impl Rules {
    /// The built-in rules only: the catalogue.
    pub fn builtin() -> Self {
        Rules { user: Vec::new() }
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

    /// The category and severity of an event: user rules first (the first rule that sets
    /// each decides it), then the catalogue, then the kind and type fallback (module docs).
    pub fn classify(&self, ev: &Event) -> Classification {
        let mut category = None;
        let mut severity = None;
        for rule in &self.user {
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
        if let (Some(category), Some(severity)) = (category, severity) {
            return Classification { category, severity };
        }
        let (by_catalogue, by_type) = match catalogue::classify(&ev.reason, &ev.note) {
            Some((c, s)) => (c, s),
            None => (
                category_by_kind(&ev.regarding.kind),
                if !ev.is_warning() || harmless::matches(&ev.note).is_some() {
                    Severity::Info
                } else {
                    Severity::Warning
                },
            ),
        };
        Classification {
            category: category.unwrap_or(by_catalogue),
            severity: severity.unwrap_or(by_type),
        }
    }
}

/// The fallback for reasons the catalogue does not know.
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

#[cfg(test)]
mod tests {
    use super::*;
    use kubetrail_model::{Category as C, ObjectRef, Severity as S};

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
    }

    /// The pod control shared by every workload controller (pkg/controller/controller_utils.go)
    /// writes `SuccessfulCreate`: one category whatever the object's kind.
    #[test]
    fn a_reason_keeps_its_category_whatever_the_objects_kind() {
        for kind in ["Job", "ReplicaSet", "DaemonSet", "StatefulSet", "CronJob"] {
            assert_eq!(
                class(&ev("SuccessfulCreate", "Normal", kind, "")),
                (C::Rollout, S::Info),
                "{kind}"
            );
        }
        assert_eq!(
            class(&ev("FailedToUpdateEndpoint", "Warning", "Endpoints", "")),
            class(&ev("FailedToUpdateEndpoint", "Warning", "Service", ""))
        );
    }

    #[test]
    fn failed_mount_is_storage_whichever_volume_failed() {
        // One kubelet constant (FailedMountVolume): one category, even for a missing ConfigMap.
        assert_eq!(
            class(&ev(
                "FailedMount",
                "Warning",
                "Pod",
                r#"MountVolume.SetUp failed for volume "cfg" : configmap "app" not found"#
            )),
            (C::Storage, S::Error)
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
    fn quota_failures_are_failed_creates_of_the_workload_controller() {
        // FailedCreatePodReason (pkg/controller/controller_utils.go): the controller could not
        // create its pod; the admission error it quotes does not change the category.
        assert_eq!(
            class(&ev(
                "FailedCreate",
                "Warning",
                "ReplicaSet",
                "Error creating: pods \"x\" is forbidden: exceeded quota: q"
            )),
            (C::Rollout, S::Error)
        );
    }

    #[test]
    fn severity_follows_reason_and_message_not_the_event_type() {
        assert_eq!(
            class(&ev(
                "ConfigMapCreateFailed",
                "Normal",
                "Deployment",
                "Failed to create ConfigMap/x -n y: namespaces \"y\" not found"
            )),
            (C::Operator, S::Error)
        );
        assert_eq!(
            class(&ev(
                "FastControllerResync",
                "Warning",
                "Deployment",
                "Controller \"x\" resync interval is set to 0s which might lead to client request throttling"
            )),
            (C::Operator, S::Info)
        );
        assert_eq!(
            class(&ev(
                "CIDRAssignmentFailed",
                "Normal",
                "Node",
                "Node n status is now: CIDRAssignmentFailed"
            )),
            (C::Network, S::Error)
        );
    }

    #[test]
    fn a_conflict_under_an_unknown_reason_is_info() {
        assert_eq!(
            class(&ev(
                "SomethingOddErrorSaving",
                "Warning",
                "Widget",
                "Operation cannot be fulfilled on widgets \"w\": the object has been modified; please apply your changes to the latest version and try again"
            )),
            (C::Other, S::Info)
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
