//! The labels of an alert: what receivers (Alertmanager routes, webhook consumers) route and
//! silence on. Fixed when the alert is raised, since Alertmanager identifies an alert by them.
//!
//! From the least to the most specific (a later one replaces an earlier one of the same name):
//! - routing labels: `rule`, `cluster`, `namespace` (when the group has one), `kind` and `name`
//!   (of what the group is about, see [`subject`]), `reason` and `node` (of the event the alert
//!   is about, see `notes`), each only when not empty;
//! - `alertname` (the rule), `severity`, `group_key` (names the group: a silence of
//!   `alertname` and `group_key` silences the group whatever pod raises its next alert);
//! - the group's dimensions (`correlation`, `node`, …, as the rule groups by);
//! - the rule's own `labels`.

use std::collections::BTreeMap;

use kubetrail_model::{Event, Severity};

use crate::group::GroupDim;
use crate::rules::Rule;
use crate::template::Context;

/// The label naming an alert's group (its group key).
pub const GROUP_KEY_LABEL: &str = "group_key";

/// What a group is about: `(namespace, kind, name)`; the namespace is empty when the group
/// spans namespaces or its subject is cluster-scoped.
/// - grouped by object: the event's object;
/// - by correlation: the workload (the top owner, else the object itself);
/// - by node: the node;
/// - otherwise the object of the event (the group's events may be about several), with the
///   namespace only when the group is by namespace.
pub fn subject(dims: &[GroupDim], e: &Event) -> (String, String, String) {
    let r = &e.regarding;
    let object_namespace = if r.namespace.is_empty() {
        e.namespace.clone()
    } else {
        r.namespace.clone()
    };
    let by = |d| dims.contains(&d);
    if by(GroupDim::Object) {
        return (object_namespace, r.kind.clone(), r.name.clone());
    }
    if by(GroupDim::Correlation) {
        let (kind, name) = match &e.owner {
            Some(o) => (o.kind.clone(), o.name.clone()),
            None => (r.kind.clone(), r.name.clone()),
        };
        let namespace = if kind == "Node" {
            String::new()
        } else {
            e.namespace.clone()
        };
        return (namespace, kind, name);
    }
    if let (true, Some(node)) = (by(GroupDim::Node), &e.node) {
        return (String::new(), "Node".into(), node.clone());
    }
    let namespace = if by(GroupDim::Namespace) {
        e.namespace.clone()
    } else {
        String::new()
    };
    (namespace, r.kind.clone(), r.name.clone())
}

/// The labels of a new alert of `rule` about `c.event` (the group's most informative event).
pub fn labels(rule: &Rule, severity: Severity, c: &Context<'_>) -> BTreeMap<String, String> {
    let e = c.event;
    let (namespace, kind, name) = subject(&rule.group_by, e);
    let mut out = BTreeMap::new();
    let mut put = |k: &str, v: &str| {
        if !v.is_empty() {
            out.insert(k.to_string(), v.to_string());
        }
    };
    put("rule", &rule.name);
    put("cluster", &e.cluster);
    put("namespace", &namespace);
    put("kind", &kind);
    put("name", &name);
    put("reason", &e.reason);
    put("node", e.node.as_deref().unwrap_or(""));
    put("alertname", &rule.name);
    put("severity", severity.as_str());
    put(GROUP_KEY_LABEL, c.group_key);
    for d in &rule.group_by {
        out.insert(d.label().to_string(), d.value(e));
    }
    for (k, t) in &rule.labels {
        out.insert(k.clone(), t.render(c));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::parse_rules;
    use crate::testing::event;

    fn rule(yaml: &str) -> Rule {
        parse_rules(&format!("rules:\n  - name: r\n{yaml}"))
            .unwrap()
            .remove(0)
    }

    fn labels_of(r: &Rule, e: &Event) -> BTreeMap<String, String> {
        let key = crate::group_key(&r.group_by, e);
        let c = Context {
            event: e,
            rule: &r.name,
            group_key: &key,
            event_count: 1,
            first_seen: e.first_seen,
            last_seen: e.last_seen,
        };
        labels(r, e.severity, &c)
    }

    #[test]
    fn a_workload_alert_carries_its_namespace_kind_name_reason_and_node() {
        let mut e = event("shop", "web-1", "BackOff", 3);
        e.owner = Some(kubetrail_model::Owner {
            kind: "Deployment".into(),
            name: "web".into(),
        });
        e.node = Some("node-1".into());
        let l = labels_of(&rule("    labels: {team: payments}\n"), &e);
        let expected = [
            ("alertname", "r"),
            ("cluster", "prod"),
            ("correlation", "shop/Deployment/web"),
            ("group_key", "prod/shop/Deployment/web"),
            ("kind", "Deployment"),
            ("name", "web"),
            ("namespace", "shop"),
            ("node", "node-1"),
            ("reason", "BackOff"),
            ("rule", "r"),
            ("severity", "error"),
            ("team", "payments"),
        ];
        let expected: BTreeMap<String, String> = expected
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(l, expected);
    }

    #[test]
    fn a_node_alert_has_no_namespace_and_names_the_node() {
        let mut e = event("", "worker-1", "NodeNotReady", 1);
        e.regarding.kind = "Node".into();
        e.correlation_id = "Node/worker-1".into();
        e.node = Some("worker-1".into());
        let l = labels_of(&rule("    group_by: [cluster, node]\n"), &e);
        assert_eq!(l.get("namespace"), None);
        assert_eq!(l["kind"], "Node");
        assert_eq!(l["name"], "worker-1");
        assert_eq!(l["node"], "worker-1");
        // A group across namespaces (by reason) names no namespace either.
        let l = labels_of(
            &rule("    group_by: [cluster, reason]\n"),
            &event("shop", "web-1", "BackOff", 1),
        );
        assert_eq!(l.get("namespace"), None);
        assert_eq!((l["kind"].as_str(), l["name"].as_str()), ("Pod", "web-1"));
    }
}
