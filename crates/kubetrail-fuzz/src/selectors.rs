//! The API simulator's selectors: `labelSelector` ([`LabelSelector::parse`]) and
//! `fieldSelector` ([`FieldSelector::parse`], for every resource), each matched against
//! objects as a list or watch would.

use kubetrail_sim::Resource;
use kubetrail_sim::selectors::{FieldSelector, LabelSelector};
use serde_json::{Value, json};

/// Parses `data` as a label selector and as a field selector of every resource, and matches each
/// against sample objects.
///
/// # Panics
/// Where parsing or matching panics.
pub fn run(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let objects = objects();
    if let Ok(selector) = LabelSelector::parse(text) {
        for object in &objects {
            let _ = selector.matches(
                object
                    .pointer("/metadata/labels")
                    .and_then(Value::as_object),
            );
        }
        let _ = selector.matches(None);
    }
    for resource in Resource::ALL {
        if let Ok(selector) = FieldSelector::parse(text, resource) {
            for object in &objects {
                let _ = selector.matches(resource, object);
            }
        }
    }
}

fn objects() -> Vec<Value> {
    vec![
        json!({"metadata": {"name": "web-1", "namespace": "shop",
            "labels": {"app": "web", "tier": "front", "replicas": "3", "": "x"}},
            "spec": {"nodeName": "node-1"}, "status": {"phase": "Running"},
            "involvedObject": {"kind": "Pod", "name": "web-1", "namespace": "shop"},
            "reason": "BackOff", "type": "Warning", "source": {"component": "kubelet"}}),
        json!({"metadata": {"name": "n", "labels": {"app": 3, "k": null}}, "regarding": {}}),
        json!({"metadata": {}}),
        json!(null),
    ]
}
