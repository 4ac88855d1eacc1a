//! Naming objects and finding where pods run: shared by patterns, incidents and explain.

use std::collections::HashMap;

use kubetrail_model::{Event, EventOccurrences};

/// `Kind/name` of the regarding object (its namespace is shown beside it).
pub fn short_object(e: &Event) -> String {
    format!("{}/{}", e.regarding.kind, e.regarding.name)
}

/// `namespace/Kind/name`, or `Kind/name` for cluster-scoped objects such as Nodes.
pub fn full_object(e: &Event) -> String {
    let ns = namespace_of(e);
    if ns.is_empty() || e.regarding.kind == "Node" {
        short_object(e)
    } else {
        format!("{ns}/{}/{}", e.regarding.kind, e.regarding.name)
    }
}

/// The regarding object's namespace, else the Event's own (older dumps leave the former empty).
pub fn namespace_of(e: &Event) -> &str {
    if e.regarding.namespace.is_empty() {
        &e.namespace
    } else {
        &e.regarding.namespace
    }
}

/// The node an event happened on, as far as the event itself tells: its `node` (a Node's own
/// events, or a pod placed by a `Scheduled` event), else the kubelet that reported it (kubelets
/// report as their node's name).
pub fn node_of(e: &Event) -> Option<&str> {
    if let Some(n) = e.node.as_deref().filter(|n| !n.is_empty()) {
        return Some(n);
    }
    (e.reporting_controller == "kubelet" && !e.reporting_instance.is_empty())
        .then_some(e.reporting_instance.as_str())
}

/// `(cluster, namespace, pod)` → node, learned from every event about a pod that tells its node:
/// an eviction reported by a controller says nothing of the node, a kubelet's event of the same
/// pod does. Nested maps so that lookups borrow instead of building keys.
#[derive(Debug, Default)]
pub struct Placements {
    map: HashMap<String, HashMap<String, HashMap<String, String>>>,
}

impl Placements {
    pub fn learn<'e>(events: impl IntoIterator<Item = &'e EventOccurrences>) -> Placements {
        let mut map: HashMap<String, HashMap<String, HashMap<String, String>>> = HashMap::new();
        for e in events {
            let ev = &e.event;
            if ev.regarding.kind != "Pod" {
                continue;
            }
            let Some(node) = node_of(ev) else { continue };
            let pods = map
                .entry(ev.cluster.clone())
                .or_default()
                .entry(namespace_of(ev).to_string())
                .or_default();
            if !pods.contains_key(&ev.regarding.name) {
                pods.insert(ev.regarding.name.clone(), node.to_string());
            }
        }
        Placements { map }
    }

    /// The node of the object an event is about: a Node itself, or a pod's node (`None` for
    /// other kinds and for pods nothing placed).
    pub fn node<'a>(&'a self, e: &'a Event) -> Option<&'a str> {
        match e.regarding.kind.as_str() {
            "Node" => Some(e.regarding.name.as_str()),
            "Pod" => node_of(e).or_else(|| {
                self.map
                    .get(&e.cluster)?
                    .get(namespace_of(e))?
                    .get(&e.regarding.name)
                    .map(String::as_str)
            }),
            _ => None,
        }
    }
}
