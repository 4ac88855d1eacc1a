//! The stateful part of processing: what the stream has taught so far (owner links, pod
//! placements) applied to each event, then classification and templating.

use kubetrail_model::{Event, Owner};

use crate::objects::ObjectMap;
use crate::{ObjectLink, OwnerIndex, Rules, infer_owner_from_name, template};

/// Bounded memory for pod placements: cleared when full (later events fall back to the store).
const MAX_PLACEMENTS: usize = 200_000;

/// Processes events one at a time; see the crate docs.
#[derive(Debug)]
pub struct Processor {
    rules: Rules,
    owners: OwnerIndex,
    /// (namespace, "Pod", pod) → node, learned from `Scheduled` events and Pod reflectors.
    placements: ObjectMap<String>,
}

impl Processor {
    /// A processor that classifies with `rules` and has learned no owners or placements yet.
    pub fn new(rules: Rules) -> Self {
        Processor {
            rules,
            owners: OwnerIndex::default(),
            placements: ObjectMap::default(),
        }
    }

    /// Learns the owner of a non-Event object (from a dump or a metadata reflector).
    pub fn observe(&mut self, link: ObjectLink) {
        self.owners.observe(link);
    }

    /// Learns where a pod runs (from a Pod reflector's `spec.nodeName`).
    pub fn observe_placement(&mut self, namespace: &str, pod: &str, node: &str) {
        if self.placements.len() >= MAX_PLACEMENTS {
            self.placements.clear();
        }
        self.placements
            .insert(namespace, "Pod", pod, node.to_string());
    }

    /// Fills in category, severity, correlation ID, owner, node and template.
    pub fn process(&mut self, mut ev: Event) -> Event {
        self.learn(&ev);
        let r = &ev.regarding;
        let namespace = if r.namespace.is_empty() {
            &ev.namespace
        } else {
            &r.namespace
        };
        ev.node = match r.kind.as_str() {
            "Node" => Some(r.name.clone()),
            "Pod" => self.placements.get(namespace, "Pod", &r.name).cloned(),
            _ => None,
        };
        ev.owner = self
            .owners
            .top_owner(namespace, &r.kind, &r.name)
            // A learned chain can stop at a ReplicaSet or Job whose own owner was not seen yet
            // (its pods' events came first): its name still tells.
            .map(|o| infer_owner_from_name(&o.kind, &o.name).unwrap_or(o))
            .or_else(|| mirror_pod_owner(&r.kind, &r.name, ev.node.as_deref()))
            .or_else(|| infer_owner_from_name(&r.kind, &r.name));
        ev.correlation_id = correlation_id(namespace, ev.owner.as_ref(), &r.kind, &r.name);
        let container = container_of(&r.field_path);
        // The node a `Scheduled` event names, even when the pod's placement cannot be looked up
        // (dumps whose namespaces were renamed after the fact).
        let assigned = (ev.reason == "Scheduled")
            .then(|| parse_assigned(&ev.note).map(|(_, _, node)| node))
            .flatten()
            .unwrap_or("");
        ev.template = template(
            &ev.note,
            &[
                r.name.as_str(),
                r.namespace.as_str(),
                ev.node.as_deref().unwrap_or(""),
                container,
                ev.related.as_ref().map(|o| o.name.as_str()).unwrap_or(""),
                assigned,
            ],
        );
        let c = self.rules.classify(&ev);
        ev.category = c.category;
        ev.severity = c.severity;
        ev
    }

    /// Controllers announce what they create; the scheduler where it put a pod.
    fn learn(&mut self, ev: &Event) {
        let r = &ev.regarding;
        let ns = if r.namespace.is_empty() {
            ev.namespace.as_str()
        } else {
            r.namespace.as_str()
        };
        match ev.reason.as_str() {
            "Scheduled" => {
                if let Some((pod_ns, pod, node)) = parse_assigned(&ev.note) {
                    self.observe_placement(pod_ns, pod, node);
                }
            }
            "SuccessfulCreate" => {
                if let Some(child) = ev.note.strip_prefix("Created pod: ") {
                    self.owners
                        .observe_created(ns, &r.kind, &r.name, "Pod", child.trim());
                } else if let Some(child) = ev.note.strip_prefix("Created job ") {
                    self.owners
                        .observe_created(ns, &r.kind, &r.name, "Job", child.trim());
                }
            }
            "ScalingReplicaSet" => {
                // "Scaled up replica set web-7d9f8b6c4 to 3" / "Scaled down replica set X from 3 to 2"
                let rs = ev
                    .note
                    .split_once("replica set ")
                    .and_then(|(_, rest)| rest.split_whitespace().next());
                if let Some(rs) = rs {
                    self.owners
                        .observe_created(ns, &r.kind, &r.name, "ReplicaSet", rs);
                }
            }
            _ => {}
        }
    }
}

/// `Successfully assigned shop/web-1 to node-a` → `("shop", "web-1", "node-a")`.
fn parse_assigned(note: &str) -> Option<(&str, &str, &str)> {
    let rest = note.split_once("assigned ")?.1;
    let (pod_ref, node) = rest.split_once(" to ")?;
    let (ns, pod) = pod_ref.trim().split_once('/')?;
    let node = node.split_whitespace().next()?;
    (!ns.is_empty() && !pod.is_empty()).then_some((ns, pod, node))
}

/// Static pods' mirror pods are named `<name>-<node>` and owned by their Node.
fn mirror_pod_owner(kind: &str, name: &str, node: Option<&str>) -> Option<Owner> {
    let node = node?;
    (kind == "Pod"
        && name.len() > node.len() + 1
        && name.ends_with(node)
        && name[..name.len() - node.len()].ends_with('-'))
    .then(|| Owner {
        kind: "Node".to_string(),
        name: node.to_string(),
    })
}

/// `spec.containers{app}` → `app`.
fn container_of(field_path: &str) -> &str {
    field_path
        .split_once('{')
        .and_then(|(_, rest)| rest.split_once('}'))
        .map(|(c, _)| c)
        .unwrap_or("")
}

/// `namespace/Kind/name` of the top owner, or of the object itself; cluster-scoped objects
/// (and owners such as Nodes) have no namespace part.
fn correlation_id(namespace: &str, owner: Option<&Owner>, kind: &str, name: &str) -> String {
    let (kind, name) = match owner {
        Some(o) => (o.kind.as_str(), o.name.as_str()),
        None => (kind, name),
    };
    if namespace.is_empty() || kind == "Node" {
        format!("{kind}/{name}")
    } else {
        format!("{namespace}/{kind}/{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kubetrail_model::{Category, ObjectRef, Severity};

    fn ev(reason: &str, kind: &str, name: &str, note: &str) -> Event {
        Event {
            cluster: "c".into(),
            uid: format!("{reason}-{name}"),
            namespace: "shop".into(),
            name: format!("{name}.1"),
            regarding: ObjectRef {
                api_version: "v1".into(),
                kind: kind.into(),
                namespace: "shop".into(),
                name: name.into(),
                uid: String::new(),
                field_path: "spec.containers{app}".into(),
            },
            related: None,
            reason: reason.into(),
            note: note.into(),
            type_: "Warning".into(),
            action: String::new(),
            reporting_controller: String::new(),
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

    #[test]
    fn a_scheduled_event_gives_later_events_of_the_pod_their_node() {
        let mut p = Processor::new(Rules::builtin());
        let s = p.process(ev(
            "Scheduled",
            "Pod",
            "web-0",
            "Successfully assigned shop/web-0 to node-a",
        ));
        assert_eq!(s.template, "Successfully assigned <*> to <*>");
        let b = p.process(ev(
            "BackOff",
            "Pod",
            "web-0",
            "Back-off restarting failed container app in pod web-0_shop(abc)",
        ));
        assert_eq!(b.node.as_deref(), Some("node-a"));
        assert_eq!(
            b.owner,
            Some(Owner {
                kind: "StatefulSet".into(),
                name: "web".into()
            })
        );
        assert_eq!(b.correlation_id, "shop/StatefulSet/web");
        assert_eq!(b.category, Category::Crash);
        assert_eq!(
            b.template,
            "Back-off restarting failed container <*> in pod <*>"
        );
    }

    #[test]
    fn controller_events_teach_owners_that_names_cannot_tell() {
        let mut p = Processor::new(Rules::builtin());
        // Without learning, "agent-x7k2p" is some workload.
        let before = p.process(ev("Pulled", "Pod", "agent-x7k2p", "pulled"));
        assert_eq!(before.correlation_id, "shop/Workload/agent");
        p.process(ev(
            "SuccessfulCreate",
            "DaemonSet",
            "agent",
            "Created pod: agent-x7k2p",
        ));
        let after = p.process(ev("Pulled", "Pod", "agent-x7k2p", "pulled"));
        assert_eq!(after.correlation_id, "shop/DaemonSet/agent");
        p.process(ev(
            "ScalingReplicaSet",
            "Deployment",
            "api",
            "Scaled up replica set api-v2 to 3",
        ));
        p.process(ev(
            "SuccessfulCreate",
            "ReplicaSet",
            "api-v2",
            "Created pod: api-v2-abcde",
        ));
        let pod = p.process(ev("Started", "Pod", "api-v2-abcde", ""));
        assert_eq!(pod.correlation_id, "shop/Deployment/api");
    }

    #[test]
    fn a_learned_replicaset_owner_still_leads_to_its_deployment_by_name() {
        let mut p = Processor::new(Rules::builtin());
        p.process(ev(
            "SuccessfulCreate",
            "ReplicaSet",
            "php-apache-7f879b889b",
            "Created pod: php-apache-7f879b889b-pb2g9",
        ));
        let e = p.process(ev(
            "TaintToleration",
            "Pod",
            "php-apache-7f879b889b-pb2g9",
            "",
        ));
        assert_eq!(e.correlation_id, "shop/Deployment/php-apache");
    }

    #[test]
    fn owner_links_from_the_dump_win_over_names() {
        let mut p = Processor::new(Rules::builtin());
        p.observe(ObjectLink {
            kind: "Pod".into(),
            namespace: "shop".into(),
            name: "web-7d9f8b6c4-x2x9z".into(),
            uid: "p1".into(),
            owner: Some(crate::OwnerRef {
                kind: "ReplicaSet".into(),
                name: "web-7d9f8b6c4".into(),
                uid: "r1".into(),
            }),
        });
        p.observe(ObjectLink {
            kind: "ReplicaSet".into(),
            namespace: "shop".into(),
            name: "web-7d9f8b6c4".into(),
            uid: "r1".into(),
            owner: Some(crate::OwnerRef {
                kind: "Rollout".into(),
                name: "web".into(),
                uid: "d1".into(),
            }),
        });
        let e = p.process(ev("Started", "Pod", "web-7d9f8b6c4-x2x9z", ""));
        assert_eq!(e.correlation_id, "shop/Rollout/web");
    }

    #[test]
    fn node_events_carry_their_node_and_mirror_pods_belong_to_it() {
        let mut p = Processor::new(Rules::builtin());
        let mut n = ev(
            "NodeNotReady",
            "Node",
            "worker-1",
            "Node worker-1 status is now: NodeNotReady",
        );
        n.regarding.namespace.clear();
        n.namespace = "default".into();
        let n = p.process(n);
        assert_eq!(n.node.as_deref(), Some("worker-1"));
        assert_eq!(n.correlation_id, "Node/worker-1");
        assert_eq!(n.severity, Severity::Critical);
        p.process(ev(
            "Scheduled",
            "Pod",
            "etcd-worker-1",
            "Successfully assigned shop/etcd-worker-1 to worker-1",
        ));
        let m = p.process(ev("Started", "Pod", "etcd-worker-1", ""));
        assert_eq!(m.correlation_id, "Node/worker-1");
    }

    #[test]
    fn the_node_a_scheduled_event_names_is_masked_even_when_its_pod_is_unknown() {
        let mut p = Processor::new(Rules::builtin());
        let mut e = ev(
            "Scheduled",
            "Pod",
            "failing-liveness-pod",
            "Successfully assigned default/failing-liveness-pod to minikube",
        );
        e.regarding.namespace = "renamed".into();
        assert_eq!(p.process(e).template, "Successfully assigned <*> to <*>");
    }

    #[test]
    fn assigned_messages_parse_and_odd_ones_do_not() {
        assert_eq!(
            parse_assigned("Successfully assigned a/b to c"),
            Some(("a", "b", "c"))
        );
        assert_eq!(parse_assigned("Successfully assigned b to c"), None);
        assert_eq!(parse_assigned("assigned"), None);
    }
}
