//! The hand labels of a dump (`eval/labels/*.yaml`, format in `eval/README.md`): the failures
//! an SRE reads out of its events, each with its root-cause event, the objects it affected and
//! its time window, and what is not an incident.

use anyhow::{Context, Result};
use jiff::Timestamp;
use serde::Deserialize;

/// One labels file: the failures of one dump.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Labels {
    /// File name of the dump in the real-events directory.
    pub dump: String,
    pub failures: Vec<Failure>,
    /// What looks like a failure but is not one (kept for the reader; noise that matches one
    /// of these is reported as "known noise").
    #[serde(default)]
    pub not_incidents: Vec<NotIncident>,
}

/// A failure as an SRE labels it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Failure {
    /// Unique within the file.
    pub id: String,
    /// `cluster-wide` when one cause hit many workloads (informational).
    #[serde(default)]
    pub scope: Option<String>,
    /// Failures of one group share a cause: one incident over them is not a merge of
    /// unrelated failures.
    #[serde(default)]
    pub group: Option<String>,
    pub note: String,
    pub root: Root,
    /// Objects it affected, `namespace/Kind/name` with `*` wildcards.
    pub affected: Vec<String>,
    pub window: LabelWindow,
}

/// The root cause: an event (its reason and the objects it may be about, `*` wildcards), or a
/// change of one of the `change` objects (a rollout the events show, issue 15 §3).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Root {
    #[serde(default)]
    pub reasons: Vec<String>,
    #[serde(default)]
    pub objects: Vec<String>,
    /// The root cause is a change of one of these objects (`namespace/Kind/name`): an incident
    /// is right only when rooted in such a change (rule `change`), whatever its events.
    #[serde(default)]
    pub change: Vec<String>,
}

impl Root {
    /// Whether an incident's root cause is this one.
    pub fn is(&self, root: &kubetrail_analyze::RootCause) -> bool {
        if self.change.is_empty() {
            self.reasons.contains(&root.reason) && any_glob(&self.objects, &root.object)
        } else {
            root.rule == "change" && any_glob(&self.change, &root.object)
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelWindow {
    pub start: String,
    pub end: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotIncident {
    pub note: String,
    #[serde(default)]
    pub reasons: Vec<String>,
    #[serde(default)]
    pub objects: Vec<String>,
}

impl Labels {
    pub fn parse(text: &str) -> Result<Labels> {
        let labels: Labels = yaml_serde::from_str(text)?;
        let mut ids = std::collections::BTreeSet::new();
        for f in &labels.failures {
            anyhow::ensure!(ids.insert(&f.id), "failure id {:?} is used twice", f.id);
            let (start, end) = f
                .window()
                .with_context(|| format!("window of failure {:?}", f.id))?;
            anyhow::ensure!(
                start <= end,
                "failure {:?}: window ends before it starts",
                f.id
            );
            let event_root = !f.root.reasons.is_empty() && !f.root.objects.is_empty();
            anyhow::ensure!(
                (event_root || !f.root.change.is_empty()) && !f.affected.is_empty(),
                "failure {:?}: the root needs reasons and objects, or a change; affected objects must not be empty",
                f.id
            );
            anyhow::ensure!(
                f.root.change.is_empty()
                    || (f.root.reasons.is_empty() && f.root.objects.is_empty()),
                "failure {:?}: a root is an event (reasons, objects) or a change, not both",
                f.id
            );
        }
        Ok(labels)
    }
}

impl Failure {
    pub fn window(&self) -> Result<(Timestamp, Timestamp)> {
        Ok((self.window.start.parse()?, self.window.end.parse()?))
    }
}

/// Whether `text` matches `pattern`, where `*` stands for any run of characters.
pub fn glob(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

pub fn any_glob(patterns: &[String], text: &str) -> bool {
    let text = unscoped(text);
    patterns.iter().any(|p| glob(unscoped(p), text))
}

/// Kinds the Kubernetes API serves without a namespace. An Event's reference to one of them
/// may still carry a namespace (the emitter's own, or `default`), and kubetrail may print it
/// without one, so objects of these kinds are compared as `Kind/name`.
const CLUSTER_SCOPED: [&str; 5] = [
    "Node",
    "Namespace",
    "PersistentVolume",
    "ClusterOperator",
    "CertificateSigningRequest",
];

/// `ns/Kind/name` as `Kind/name` when `Kind` is cluster-scoped; anything else as it is.
fn unscoped(object: &str) -> &str {
    match object.split_once('/') {
        Some((_, rest))
            if rest
                .split_once('/')
                .is_some_and(|(kind, _)| CLUSTER_SCOPED.contains(&kind)) =>
        {
            rest
        }
        _ => object,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_wildcards_anywhere() {
        assert!(glob("ns/Pod/web-*", "ns/Pod/web-7d4b9-abcde"));
        assert!(!glob("ns/Pod/web-*", "ns/Pod/api-1"));
        assert!(glob("*", "anything"));
        assert!(glob(
            "openshift-*/Pod/*-operator-*",
            "openshift-dns/Pod/dns-operator-1"
        ));
        assert!(!glob("a*b*c", "a-c-b"));
        assert!(glob("exact", "exact"));
        assert!(!glob("exact", "exactly"));
        assert!(!glob("ab*ba", "aba"));
    }

    /// A Node reference carries whatever namespace its emitter wrote (OpenShift's network
    /// check writes its own): a label's `openshift-network-diagnostics/Node/x` and kubetrail's
    /// `Node/x` or `default/Node/x` are one node. Failed before: the outage label matched
    /// nothing, so its right incident scored as one noise and one missed failure.
    #[test]
    fn cluster_scoped_objects_match_whatever_namespace_either_side_wrote() {
        let label = vec!["openshift-network-diagnostics/Node/worker-1".to_string()];
        assert!(any_glob(&label, "Node/worker-1"));
        assert!(any_glob(&label, "default/Node/worker-1"));
        assert!(any_glob(&["default/Node/*".to_string()], "Node/worker-1"));
        assert!(!any_glob(&label, "Node/worker-2"));
        // Namespaced kinds keep their namespace.
        let pod = vec!["shop/Pod/web-1".to_string()];
        assert!(!any_glob(&pod, "other/Pod/web-1"));
        assert!(!any_glob(
            &["openshift-network-diagnostics/*".to_string()],
            "Node/worker-1"
        ));
    }

    #[test]
    fn a_root_is_an_event_or_a_change_not_both_nor_neither() {
        let text = |root: &str| {
            format!(
                "dump: x\nfailures:\n  - id: a\n    note: n\n    root: {root}\n    affected: [o]\n    window: {{start: 2024-01-01T00:00:00Z, end: 2024-01-01T00:00:00Z}}\n"
            )
        };
        let change = Labels::parse(&text("{change: [ns/Deployment/web]}")).unwrap();
        assert_eq!(change.failures[0].root.change, ["ns/Deployment/web"]);
        assert!(Labels::parse(&text("{change: [d], reasons: [R], objects: [o]}")).is_err());
        assert!(Labels::parse(&text("{}")).is_err());
        assert!(Labels::parse(&text("{reasons: [R]}")).is_err());
    }

    #[test]
    fn a_labels_file_with_a_bad_window_is_refused() {
        let text = "dump: x\nfailures:\n  - id: a\n    note: n\n    root: {reasons: [R], objects: [o]}\n    affected: [o]\n    window: {start: 2024-01-01T00:00:10Z, end: 2024-01-01T00:00:00Z}\n";
        assert!(Labels::parse(text).is_err());
        let ok = text.replace("00:00:10Z", "00:00:00Z");
        assert_eq!(Labels::parse(&ok).unwrap().failures.len(), 1);
    }
}
