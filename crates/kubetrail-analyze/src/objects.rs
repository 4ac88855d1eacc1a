//! Naming objects and finding where pods run: shared by patterns, incidents and explain.

use std::collections::HashMap;

use kubetrail_model::{AnalysisEvent, AnalysisOccurrences, ArcStr};

/// `Kind/name` of the regarding object (its namespace is shown beside it).
pub fn short_object(e: &AnalysisEvent) -> String {
    format!("{}/{}", e.regarding.kind, e.regarding.name)
}

/// `namespace/Kind/name`, or `Kind/name` for cluster-scoped objects such as Nodes.
pub fn full_object(e: &AnalysisEvent) -> String {
    let ns = namespace_of(e);
    if ns.is_empty() || e.regarding.kind == "Node" {
        short_object(e)
    } else {
        format!("{ns}/{}/{}", e.regarding.kind, e.regarding.name)
    }
}

/// The regarding object's namespace, else the Event's own (older dumps leave the former empty).
pub fn namespace_of(e: &AnalysisEvent) -> &str {
    namespace_arc(e)
}

/// [`namespace_of`], the string shared.
fn namespace_arc(e: &AnalysisEvent) -> &ArcStr {
    if e.regarding.namespace.is_empty() {
        &e.namespace
    } else {
        &e.regarding.namespace
    }
}

/// The node an event happened on, as far as the event itself tells: its `node` (a Node's own
/// events, or a pod placed by a `Scheduled` event), else the kubelet that reported it (kubelets
/// report as their node's name).
pub fn node_of(e: &AnalysisEvent) -> Option<&str> {
    node_arc(e).map(ArcStr::as_str)
}

/// [`node_of`], the string shared.
fn node_arc(e: &AnalysisEvent) -> Option<&ArcStr> {
    if let Some(n) = e.node.as_ref().filter(|n| !n.is_empty()) {
        return Some(n);
    }
    (e.reporting_controller == "kubelet" && !e.reporting_instance.is_empty())
        .then_some(&e.reporting_instance)
}

/// `(cluster, namespace, pod)` → node, learned from every event about a pod that tells its node:
/// an eviction reported by a controller says nothing of the node, a kubelet's event of the same
/// pod does. Nested maps so that lookups borrow instead of building keys.
#[derive(Debug, Default)]
pub struct Placements {
    map: HashMap<ArcStr, HashMap<ArcStr, HashMap<ArcStr, ArcStr>>>,
}

impl Placements {
    pub fn learn<'e>(events: impl IntoIterator<Item = &'e AnalysisOccurrences>) -> Placements {
        let mut map: HashMap<ArcStr, HashMap<ArcStr, HashMap<ArcStr, ArcStr>>> = HashMap::new();
        for e in events {
            let ev = &e.event;
            if ev.regarding.kind != "Pod" {
                continue;
            }
            let Some(node) = node_arc(ev) else { continue };
            let pods = map
                .entry(ev.cluster.clone())
                .or_default()
                .entry(namespace_arc(ev).clone())
                .or_default();
            if !pods.contains_key(&ev.regarding.name) {
                pods.insert(ev.regarding.name.clone(), node.clone());
            }
        }
        Placements { map }
    }

    /// The node of the object an event is about: a Node itself, or a pod's node (`None` for
    /// other kinds and for pods nothing placed).
    pub fn node<'a>(&'a self, e: &'a AnalysisEvent) -> Option<&'a str> {
        match e.regarding.kind.as_str() {
            "Node" => Some(e.regarding.name.as_str()),
            "Pod" => node_of(e).or_else(|| {
                self.map
                    .get(&e.cluster)?
                    .get(namespace_of(e))?
                    .get(&e.regarding.name)
                    .map(ArcStr::as_str)
            }),
            _ => None,
        }
    }
}
