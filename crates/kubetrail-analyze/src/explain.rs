//! The story of one object: its events and those of the objects around it (its owners, the
//! pods it owns, the node it runs on), the incidents it is part of, their root cause, and what
//! to check next.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use kubetrail_model::{AnalysisEvent, AnalysisOccurrences, Change};
use serde::Serialize;

use crate::incidents::{Incident, IncidentConfig, RootCause, TimelineEntry, entry, incidents_in};
use crate::objects::{Placements, namespace_of};
use crate::{Error, Result, Window};

/// The object to explain: `NAMESPACE/KIND/NAME`, or `Node/NAME` (cluster-scoped).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Target {
    /// The namespace; empty for a Node.
    pub namespace: String,
    /// The kind as Kubernetes spells it, e.g. `Deployment`.
    pub kind: String,
    /// The object's name.
    pub name: String,
}

impl FromStr for Target {
    type Err = Error;
    fn from_str(s: &str) -> Result<Target> {
        let parts: Vec<&str> = s.split('/').collect();
        let bad = || Error::InvalidTarget(s.to_string());
        let (namespace, kind, name) = match parts.as_slice() {
            [ns, kind, name] => (*ns, *kind, *name),
            [kind, name] if kind.eq_ignore_ascii_case("node") => ("", *kind, *name),
            _ => return Err(bad()),
        };
        if kind.is_empty()
            || name.is_empty()
            || (namespace.is_empty() && !kind.eq_ignore_ascii_case("node"))
        {
            return Err(bad());
        }
        Ok(Target {
            namespace: namespace.to_string(),
            kind: parse_kind(kind),
            name: name.to_string(),
        })
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{}/{}", self.kind, self.name)
        } else {
            write!(f, "{}/{}/{}", self.namespace, self.kind, self.name)
        }
    }
}

/// kubectl's short names and kinds as people type them (`po`, `deploy`, `pods`,
/// `deployments.apps`) → the kind as Kubernetes spells it. Unknown kinds are kept as typed.
pub fn parse_kind(text: &str) -> String {
    const SHORT: [(&str, &str); 17] = [
        ("po", "Pod"),
        ("deploy", "Deployment"),
        ("rs", "ReplicaSet"),
        ("sts", "StatefulSet"),
        ("ds", "DaemonSet"),
        ("cj", "CronJob"),
        ("no", "Node"),
        ("svc", "Service"),
        ("pvc", "PersistentVolumeClaim"),
        ("pv", "PersistentVolume"),
        ("hpa", "HorizontalPodAutoscaler"),
        ("ing", "Ingress"),
        ("cm", "ConfigMap"),
        ("ns", "Namespace"),
        ("ep", "Endpoints"),
        ("sa", "ServiceAccount"),
        ("pdb", "PodDisruptionBudget"),
    ];
    const KINDS: [&str; 20] = [
        "Pod",
        "Deployment",
        "ReplicaSet",
        "StatefulSet",
        "DaemonSet",
        "Job",
        "CronJob",
        "Node",
        "Service",
        "PersistentVolumeClaim",
        "PersistentVolume",
        "HorizontalPodAutoscaler",
        "Ingress",
        "ConfigMap",
        "Namespace",
        "Endpoints",
        "ServiceAccount",
        "PodDisruptionBudget",
        "Workload",
        "Secret",
    ];
    let kind = text.trim();
    // `deployments.apps`, `deployment.v1.apps`: the group does not matter here.
    let kind = kind.split('.').next().unwrap_or(kind);
    let lower = kind.to_ascii_lowercase();
    if let Some((_, k)) = SHORT.iter().find(|(s, _)| *s == lower) {
        return (*k).to_string();
    }
    let singular = lower
        .strip_suffix("es")
        .filter(|s| KINDS.iter().any(|k| k.eq_ignore_ascii_case(s)))
        .or_else(|| lower.strip_suffix('s'))
        .unwrap_or(&lower);
    KINDS
        .iter()
        .find(|k| k.eq_ignore_ascii_case(&lower) || k.eq_ignore_ascii_case(singular))
        .map_or_else(|| kind.to_string(), |k| (*k).to_string())
}

impl Target {
    /// The correlation ID of objects this target owns, when it is a top owner (a Deployment's
    /// pods carry `shop/Deployment/web`).
    pub fn correlation_id(&self) -> String {
        if self.namespace.is_empty() || self.kind == "Node" {
            format!("{}/{}", self.kind, self.name)
        } else {
            format!("{}/{}/{}", self.namespace, self.kind, self.name)
        }
    }

    fn is(&self, e: &AnalysisEvent) -> bool {
        e.regarding.kind.eq_ignore_ascii_case(&self.kind)
            && e.regarding.name == self.name
            && (self.kind == "Node" || namespace_of(e) == self.namespace)
    }
}

/// How an object relates to the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Relation {
    /// The target itself.
    Target,
    /// An owner of the target (its ReplicaSet, Deployment, Job, …).
    Owner,
    /// Owned by the target or by the same top owner (its pods, ReplicaSets).
    Owned,
    /// A node the target's pods run on, or a pod on the target node.
    Node,
}

/// An object of the story and how it relates to the target.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[schema(as = RelatedObject)]
pub struct Related {
    /// How it relates to the target.
    pub relation: Relation,
    /// The object, written `NAMESPACE/KIND/NAME` (`KIND/NAME` when cluster-scoped).
    pub object: String,
}

/// One timeline entry and how its object relates to the target.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StoryEntry {
    /// How the entry's object relates to the target.
    pub relation: Relation,
    /// The event, flattened into the same JSON object.
    #[serde(flatten)]
    pub entry: TimelineEntry,
}

/// The story of one object.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Explanation {
    /// The target, written `NAMESPACE/KIND/NAME` (`Node/NAME` for a node).
    pub object: String,
    /// The window the story covers. Its incidents are found again in this window (the UI's
    /// links to them carry it).
    pub window: Window,
    /// The correlation ID its events carry (its top owner); `None` when they carry none.
    pub correlation_id: Option<String>,
    /// The objects whose events the story includes besides the target, ordered by relation
    /// then name.
    pub related: Vec<Related>,
    /// Its events and its related objects' events, oldest first.
    pub timeline: Vec<StoryEntry>,
    /// Incidents with any of its or its related objects' failures, most important first.
    pub incidents: Vec<Incident>,
    /// The root cause of its most important incident.
    pub root_cause: Option<RootCause>,
    /// What to check next, one per incident's root cause.
    pub hints: Vec<String>,
    /// Changes of it, its workload, what that references, its autoscaler and its nodes in the
    /// window, oldest first ([`explain_changes`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<Change>,
}

/// The nodes the target's events place it on (its pods' nodes; a Node target itself): the
/// caller fetches those nodes' events too, so that the story shows what happened to them.
pub fn nodes_of(target: &Target, events: &[AnalysisOccurrences]) -> Vec<String> {
    if target.kind == "Node" {
        return vec![target.name.clone()];
    }
    let correlation = events
        .iter()
        .find(|e| target.is(&e.event))
        .map(|e| e.event.correlation_id.to_string())
        .unwrap_or_else(|| target.correlation_id());
    let placements = Placements::learn(events);
    let nodes: BTreeSet<String> = events
        .iter()
        .filter(|e| target.is(&e.event) || e.event.correlation_id == correlation)
        .filter_map(|e| placements.node(&e.event).map(str::to_string))
        .collect();
    nodes.into_iter().collect()
}

/// Explains `target` from `events` (each with its occurrences in `window`): the caller hands
/// over the target's events, those of its correlation ID and those of the nodes its pods ran
/// on; events of other objects are ignored.
pub fn explain(
    target: &Target,
    events: &[AnalysisOccurrences],
    window: Window,
    cfg: &IncidentConfig,
) -> Result<Explanation> {
    let own: Vec<&AnalysisEvent> = events
        .iter()
        .map(|e| &e.event)
        .filter(|e| target.is(e))
        .collect();
    let correlation = if target.kind == "Node" {
        None
    } else {
        Some(
            own.first()
                .map(|e| e.correlation_id.to_string())
                .unwrap_or_else(|| target.correlation_id()),
        )
    };
    let placements = Placements::learn(events);
    let family = |e: &AnalysisEvent| -> Option<Relation> {
        if target.is(e) {
            return Some(Relation::Target);
        }
        if let Some(c) = &correlation
            && &e.correlation_id == c
        {
            let is_owner = match target.kind.as_str() {
                "Pod" => e.regarding.kind != "Pod",
                "ReplicaSet" => e.regarding.kind != "Pod" && e.regarding.kind != "ReplicaSet",
                _ => false,
            };
            return Some(if is_owner {
                Relation::Owner
            } else {
                Relation::Owned
            });
        }
        None
    };
    let mut nodes: BTreeSet<&str> = BTreeSet::new();
    if target.kind == "Node" {
        nodes.insert(&target.name);
    }
    for e in events {
        if family(&e.event).is_some()
            && let Some(n) = placements.node(&e.event)
        {
            nodes.insert(n);
        }
    }
    let mut relevant: Vec<(Relation, &AnalysisOccurrences)> = Vec::new();
    for e in events {
        let relation = family(&e.event).or_else(|| {
            placements
                .node(&e.event)
                .filter(|n| nodes.contains(n))
                .filter(|_| e.event.regarding.kind == "Node" || target.kind == "Node")
                .map(|_| Relation::Node)
        });
        if let Some(r) = relation {
            relevant.push((r, e));
        }
    }
    relevant.sort_by(|a, b| {
        a.1.event
            .first_seen
            .cmp(&b.1.event.first_seen)
            .then_with(|| a.1.event.uid.cmp(&b.1.event.uid))
    });
    let mut related: BTreeSet<Related> = BTreeSet::new();
    let timeline: Vec<StoryEntry> = relevant
        .iter()
        .map(|(relation, e)| {
            let entry = entry(e);
            related.insert(Related {
                relation: *relation,
                object: entry.object.clone(),
            });
            StoryEntry {
                relation: *relation,
                entry,
            }
        })
        .collect();
    // The engine sees every event the caller read, not only the timeline's: when the target
    // reports a cluster-wide cause, the caller also reads the cluster's failures of that kind
    // and the not-ready nodes' events (see `CLUSTER_CAUSE_REASONS`), so that the workload is
    // explained by the one cluster-wide incident it belongs to. In the timeline's order.
    let family_objects: BTreeSet<String> = related
        .iter()
        .filter(|r| r.relation != Relation::Node || target.kind == "Node")
        .map(|r| r.object.clone())
        .collect();
    let mut subset: Vec<&AnalysisOccurrences> = events.iter().collect();
    subset.sort_by(|a, b| {
        (a.event.first_seen, &a.event.uid).cmp(&(b.event.first_seen, &b.event.uid))
    });
    let found: Vec<Incident> = incidents_in(&subset, window, cfg)?
        .into_iter()
        .filter(|i| i.objects.iter().any(|o| family_objects.contains(o)))
        .collect();
    let root_cause = found.first().map(|i| i.root_cause.clone());
    let mut hints: Vec<String> = Vec::new();
    for i in &found {
        if !hints.contains(&i.root_cause.hint) {
            hints.push(i.root_cause.hint.clone());
        }
    }
    Ok(Explanation {
        object: target.to_string(),
        window,
        correlation_id: correlation,
        related: related.into_iter().collect(),
        timeline,
        incidents: found,
        root_cause,
        hints,
        changes: Vec::new(),
    })
}

mod changes;
pub use changes::explain_changes;

#[cfg(test)]
mod tests;
