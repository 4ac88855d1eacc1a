//! The stateful part of processing: what the stream has taught so far (owner links, pod
//! placements, node names) applied to each event, then classification and templating.
//!
//! Correlation does not depend on the order of the input: an object whose events were
//! processed before its owner link (or its Node, for a mirror pod) was known is remembered,
//! and when the link comes, [`Processor::take_relinks`] hands the store a [`Relink`] that gives
//! the stored events what later ones get (as placements back-fill nodes).

use foldhash::{HashSet, HashSetExt};
use kubetrail_model::{Event, Owner, Relink};

use crate::objects::ObjectMap;
use crate::{ObjectLink, OwnerIndex, Rules, infer_owner_from_name, template};

/// Bounded memory for pod placements: cleared when full (later events fall back to the store).
const MAX_PLACEMENTS: usize = 200_000;

/// Bounded memory for node names and for objects whose owner is still a guess: cleared when
/// full (a link learned after that no longer back-fills what came before).
const MAX_NODES: usize = 50_000;
const MAX_PENDING: usize = 200_000;
/// The same bound for a live watcher ([`Processor::live`]): its owner links come from the
/// metadata reflectors and controllers' events within seconds of a pod's first event, so the
/// objects still waiting are the recent ones; a pod whose owner never comes (a bare pod, an
/// owner the reflector does not watch) would otherwise stay until 200,000 had piled up.
const MAX_PENDING_LIVE: usize = 20_000;
/// Relinks a caller never takes (an analysis in memory) are dropped past this many.
const MAX_RELINKS: usize = 100_000;

/// Processes events one at a time; see the crate docs.
#[derive(Debug)]
pub struct Processor {
    rules: Rules,
    owners: OwnerIndex,
    /// (namespace, "Pod", pod) → node, learned from `Scheduled` events and Pod reflectors.
    placements: ObjectMap<String>,
    /// Node names seen: Node events, placements, the kubelet's host. A pod named
    /// `<name>-<node>` of no known controller is that node's mirror (static) pod.
    nodes: HashSet<String>,
    /// Objects whose events were stored with no learned owner: (cluster, correlation ID they
    /// got). A link learned later for one of them (or a node its name ends with) is a relink.
    pending: ObjectMap<(String, String)>,
    /// Relinks not yet taken by the caller.
    relinks: Vec<Relink>,
    /// `pending` is cleared when it holds this many objects.
    max_pending: usize,
}

impl Processor {
    /// A processor that classifies with `rules` and has learned no owners or placements yet.
    pub fn new(rules: Rules) -> Self {
        Processor {
            rules,
            owners: OwnerIndex::default(),
            placements: ObjectMap::default(),
            nodes: HashSet::new(),
            pending: ObjectMap::default(),
            relinks: Vec::new(),
            max_pending: MAX_PENDING,
        }
    }

    /// A processor for a live watcher: as [`Processor::new`], with a smaller bound on the
    /// objects whose owner is still a guess (a whole dump's order does not matter here).
    pub fn live(rules: Rules) -> Self {
        Processor {
            max_pending: MAX_PENDING_LIVE,
            ..Processor::new(rules)
        }
    }

    /// Learns the owner of a non-Event object (from a dump or a metadata reflector).
    pub fn observe(&mut self, link: ObjectLink) {
        let (namespace, kind, name) =
            (link.namespace.clone(), link.kind.clone(), link.name.clone());
        self.owners.observe(link);
        self.relink_if_pending(&namespace, &kind, &name);
    }

    /// Learns where a pod runs (from a Pod reflector's `spec.nodeName`).
    pub fn observe_placement(&mut self, namespace: &str, pod: &str, node: &str) {
        if self.placements.len() >= MAX_PLACEMENTS {
            self.placements.clear();
        }
        self.placements
            .insert(namespace, "Pod", pod, node.to_string());
        self.learn_node(node);
    }

    /// The relinks learned since the last call, in the order learned: the caller applies them
    /// to the store after the events processed before them (see [`Relink`]).
    pub fn take_relinks(&mut self) -> Vec<Relink> {
        std::mem::take(&mut self.relinks)
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
        let (owner, top) = self.owner_of(namespace, &r.kind, &r.name, ev.node.as_deref());
        ev.owner = owner;
        ev.correlation_id = correlation_id(namespace, ev.owner.as_ref(), &r.kind, &r.name);
        match top {
            // A guess: a link learned later moves these events.
            None => {
                self.remember_pending(&ev.cluster, namespace, &r.kind, &r.name, &ev.correlation_id)
            }
            // A learned chain that stops at an object without an owner (yet) whose name tells
            // none: its pods' events carry its own ID, which moves when its owner is learned.
            Some(top) if ev.owner.as_ref() == Some(&top) => self.remember_pending(
                &ev.cluster,
                namespace,
                &top.kind,
                &top.name,
                &ev.correlation_id,
            ),
            Some(_) => {}
        }
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

    /// The object's top owner, and the top of the learned chain it comes from (`None` when it
    /// is a guess): a learned link first, then a mirror pod's node, then naming conventions.
    fn owner_of(
        &self,
        namespace: &str,
        kind: &str,
        name: &str,
        node: Option<&str>,
    ) -> (Option<Owner>, Option<Owner>) {
        if let Some(top) = self.owners.top_owner(namespace, kind, name) {
            // A learned chain can stop at a ReplicaSet or Job whose own owner was not seen yet
            // (its pods' events came first): its name still tells.
            let owner = infer_owner_from_name(&top.kind, &top.name).unwrap_or_else(|| top.clone());
            return (Some(owner), Some(top));
        }
        let owner = self
            .mirror_pod_owner(kind, name, node)
            .or_else(|| infer_owner_from_name(kind, name));
        (owner, None)
    }

    /// Static pods' mirror pods are named `<name>-<node>` by the kubelet and owned by their
    /// Node: a pod of no known controller whose name ends with its node or a known node.
    fn mirror_pod_owner(&self, kind: &str, name: &str, node: Option<&str>) -> Option<Owner> {
        if kind != "Pod" {
            return None;
        }
        name.match_indices('-')
            .filter(|(i, _)| *i > 0)
            .map(|(i, _)| &name[i + 1..])
            .find(|suffix| {
                !suffix.is_empty() && (node == Some(*suffix) || self.nodes.contains(*suffix))
            })
            .map(|node| Owner {
                kind: "Node".to_string(),
                name: node.to_string(),
            })
    }

    /// Remembers an object whose events got a guessed correlation, and the top of a learned
    /// chain that has no owner yet (its pods' events carry its own ID).
    fn remember_pending(
        &mut self,
        cluster: &str,
        namespace: &str,
        kind: &str,
        name: &str,
        id: &str,
    ) {
        if !matches!(kind, "Pod" | "ReplicaSet" | "Job") {
            return;
        }
        if self.pending.len() >= self.max_pending {
            self.pending.clear();
        }
        if self
            .pending
            .get(namespace, kind, name)
            .is_none_or(|(_, old)| old != id)
        {
            self.pending
                .insert(namespace, kind, name, (cluster.to_string(), id.to_string()));
        }
    }

    /// A link was learned for an object: if its events were stored under another correlation,
    /// they (and, for an object that was its own top owner, its descendants') move to the new.
    fn relink_if_pending(&mut self, namespace: &str, kind: &str, name: &str) {
        let Some((cluster, old)) = self.pending.remove(namespace, kind, name) else {
            return;
        };
        let node = self.placements.get(namespace, "Pod", name).cloned();
        let (Some(owner), _) = self.owner_of(namespace, kind, name, node.as_deref()) else {
            return;
        };
        let id = correlation_id(namespace, Some(&owner), kind, name);
        if id == old {
            return;
        }
        let absorbs = (old == correlation_id(namespace, None, kind, name)).then_some(old);
        self.push_relink(Relink {
            cluster,
            namespace: namespace.to_string(),
            kind: kind.to_string(),
            name: name.to_string(),
            owner,
            correlation_id: id,
            absorbs,
        });
    }

    fn push_relink(&mut self, relink: Relink) {
        if self.relinks.len() >= MAX_RELINKS {
            self.relinks.clear();
        }
        self.relinks.push(relink);
    }

    /// A node name: the pods seen so far named `<name>-<node>` of no known controller were
    /// its mirror pods.
    fn learn_node(&mut self, node: &str) {
        if node.is_empty() || self.nodes.contains(node) {
            return;
        }
        if self.nodes.len() >= MAX_NODES {
            self.nodes.clear();
        }
        self.nodes.insert(node.to_string());
        let suffix = format!("-{node}");
        let mirrors = self.pending.take_where("Pod", |pod| {
            pod.len() > suffix.len() && pod.ends_with(&suffix)
        });
        for (namespace, pod, (cluster, old)) in mirrors {
            let owner = Owner {
                kind: "Node".to_string(),
                name: node.to_string(),
            };
            let id = correlation_id(&namespace, Some(&owner), "Pod", &pod);
            if id != old {
                self.push_relink(Relink {
                    cluster,
                    namespace,
                    kind: "Pod".to_string(),
                    name: pod,
                    owner,
                    correlation_id: id,
                    absorbs: None,
                });
            }
        }
    }

    /// Controllers announce what they create; the scheduler where it put a pod; the kubelet
    /// and Node events name nodes.
    fn learn(&mut self, ev: &Event) {
        let r = &ev.regarding;
        let ns = if r.namespace.is_empty() {
            ev.namespace.as_str()
        } else {
            r.namespace.as_str()
        };
        if r.kind == "Node" {
            self.learn_node(&r.name);
        }
        if ev.reporting_controller == "kubelet" {
            self.learn_node(&ev.reporting_instance);
        }
        match ev.reason.as_str() {
            "Scheduled" => {
                if let Some((pod_ns, pod, node)) = parse_assigned(&ev.note) {
                    self.observe_placement(pod_ns, pod, node);
                }
            }
            "SuccessfulCreate" => {
                if let Some(child) = ev.note.strip_prefix("Created pod: ") {
                    self.learn_created(ns, &r.kind, &r.name, "Pod", child.trim());
                } else if let Some(child) = ev.note.strip_prefix("Created job ") {
                    self.learn_created(ns, &r.kind, &r.name, "Job", child.trim());
                } else if let Some(child) = statefulset_pod(&ev.note) {
                    self.learn_created(ns, &r.kind, &r.name, "Pod", child);
                }
            }
            "ScalingReplicaSet" => {
                // "Scaled up replica set web-7d9f8b6c4 to 3" / "Scaled down replica set X from 3 to 2"
                let rs = ev
                    .note
                    .split_once("replica set ")
                    .and_then(|(_, rest)| rest.split_whitespace().next());
                if let Some(rs) = rs {
                    self.learn_created(ns, &r.kind, &r.name, "ReplicaSet", rs);
                }
            }
            _ => {}
        }
    }

    fn learn_created(&mut self, ns: &str, kind: &str, name: &str, child_kind: &str, child: &str) {
        self.owners
            .observe_created(ns, kind, name, child_kind, child);
        self.relink_if_pending(ns, child_kind, child);
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

/// The StatefulSet controller's `create Pod db-0 in StatefulSet db successful`
/// (`stateful_pod_control.go`) → `db-0`.
fn statefulset_pod(note: &str) -> Option<&str> {
    let rest = note.strip_prefix("create Pod ")?;
    let (pod, _) = rest.split_once(" in StatefulSet ")?;
    (!pod.is_empty() && !pod.contains(' ')).then_some(pod)
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
/// A static pod's mirror pod (owned by its Node) is its own: the static pod's component on that
/// node, so that the etcd and API server pods of one node stay apart (their failures are not
/// one).
fn correlation_id(namespace: &str, owner: Option<&Owner>, kind: &str, name: &str) -> String {
    let (kind, name) = match owner {
        Some(o) if !(o.kind == "Node" && kind == "Pod") => (o.kind.as_str(), o.name.as_str()),
        _ => (kind, name),
    };
    // Concatenated, not `format!`ted: one exact allocation, no formatting machinery.
    if namespace.is_empty() || kind == "Node" {
        [kind, "/", name].concat()
    } else {
        [namespace, "/", kind, "/", name].concat()
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

    /// The live watcher's pending objects: ownerless pods whose owner never comes (bare pods)
    /// stayed until 200,000 had piled up; a live processor keeps at most `MAX_PENDING_LIVE`.
    /// An import's processor keeps them all, for a link that comes at the end of a dump.
    #[test]
    fn a_live_processor_bounds_the_objects_waiting_for_an_owner() {
        let n = MAX_PENDING_LIVE * 2 + 10;
        let (mut live, mut import) = (
            Processor::live(Rules::builtin()),
            Processor::new(Rules::builtin()),
        );
        for i in 0..n {
            let e = ev("BackOff", "Pod", &format!("bare-{i:06}-x7k2p"), "");
            live.process(e.clone());
            import.process(e);
        }
        assert!(
            live.pending.len() <= MAX_PENDING_LIVE,
            "{}",
            live.pending.len()
        );
        assert_eq!(import.pending.len(), n);
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
        assert_eq!(m.correlation_id, "shop/Pod/etcd-worker-1");
        assert_eq!(
            m.owner,
            Some(Owner {
                kind: "Node".into(),
                name: "worker-1".into()
            })
        );
    }

    #[test]
    fn a_daemonset_pod_seen_before_its_successful_create_is_relinked_to_the_daemonset() {
        // Dumps sorted by name put `agent-x7k2p` before `agent`: the pod's failure is stored
        // under a guess, and the controller's event that names the pod must move it.
        let mut p = Processor::new(Rules::builtin());
        let pod = p.process(ev("BackOff", "Pod", "agent-x7k2p", "Back-off restarting"));
        assert_eq!(pod.correlation_id, "shop/Workload/agent");
        assert!(p.take_relinks().is_empty());
        p.process(ev(
            "SuccessfulCreate",
            "DaemonSet",
            "agent",
            "Created pod: agent-x7k2p",
        ));
        assert_eq!(
            p.take_relinks(),
            vec![Relink {
                cluster: "c".into(),
                namespace: "shop".into(),
                kind: "Pod".into(),
                name: "agent-x7k2p".into(),
                owner: Owner {
                    kind: "DaemonSet".into(),
                    name: "agent".into()
                },
                correlation_id: "shop/DaemonSet/agent".into(),
                absorbs: None,
            }]
        );
        // Learned once: the same event again relinks nothing.
        p.process(ev(
            "SuccessfulCreate",
            "DaemonSet",
            "agent",
            "Created pod: agent-x7k2p",
        ));
        assert!(p.take_relinks().is_empty());
    }

    #[test]
    fn in_order_streams_relink_nothing() {
        let mut p = Processor::new(Rules::builtin());
        p.process(ev(
            "SuccessfulCreate",
            "StatefulSet",
            "db",
            "create Pod db-0 in StatefulSet db successful",
        ));
        p.process(ev(
            "SuccessfulCreate",
            "DaemonSet",
            "agent",
            "Created pod: agent-x7k2p",
        ));
        p.process(ev("BackOff", "Pod", "agent-x7k2p", "Back-off restarting"));
        p.process(ev(
            "BackOff",
            "Pod",
            "web-7d9f8b6c4-x2x9z",
            "Back-off restarting",
        ));
        p.process(ev(
            "SuccessfulCreate",
            "ReplicaSet",
            "web-7d9f8b6c4",
            "Created pod: web-7d9f8b6c4-x2x9z",
        ));
        assert!(p.take_relinks().is_empty());
    }

    #[test]
    fn a_replicaset_that_learns_its_owner_late_takes_its_pods_along() {
        let mut p = Processor::new(Rules::builtin());
        p.process(ev(
            "SuccessfulCreate",
            "ReplicaSet",
            "api-v2",
            "Created pod: api-v2-abcde",
        ));
        let pod = p.process(ev("BackOff", "Pod", "api-v2-abcde", ""));
        assert_eq!(pod.correlation_id, "shop/ReplicaSet/api-v2");
        p.process(ev(
            "ScalingReplicaSet",
            "Deployment",
            "api",
            "Scaled up replica set api-v2 to 3",
        ));
        let relinks = p.take_relinks();
        assert_eq!(relinks.len(), 1);
        assert_eq!(relinks[0].correlation_id, "shop/Deployment/api");
        assert_eq!(
            relinks[0].absorbs.as_deref(),
            Some("shop/ReplicaSet/api-v2")
        );
    }

    #[test]
    fn a_pod_named_after_a_known_node_is_its_mirror_pod_not_a_statefulset() {
        let mut p = Processor::new(Rules::builtin());
        // Before the node is known, `etcd-node-1` looks like ordinal 1 of a StatefulSet.
        let early = p.process(ev(
            "Unhealthy",
            "Pod",
            "etcd-node-1",
            "Liveness probe failed",
        ));
        assert_eq!(early.correlation_id, "shop/StatefulSet/etcd-node");
        let mut n = ev(
            "NodeReady",
            "Node",
            "node-1",
            "Node node-1 status is now: NodeReady",
        );
        n.regarding.namespace.clear();
        p.process(n);
        let relinks = p.take_relinks();
        assert_eq!(relinks.len(), 1);
        assert_eq!(
            (relinks[0].name.as_str(), relinks[0].correlation_id.as_str()),
            ("etcd-node-1", "shop/Pod/etcd-node-1")
        );
        assert_eq!(relinks[0].owner.kind, "Node");
        let late = p.process(ev("Unhealthy", "Pod", "kube-apiserver-node-1", ""));
        assert_eq!(late.correlation_id, "shop/Pod/kube-apiserver-node-1");
        // The kubelet names its node (`source.host`) on every event it reports.
        let mut k = ev("Pulled", "Pod", "kube-scheduler-cp-a", "");
        k.reporting_controller = "kubelet".into();
        k.reporting_instance = "cp-a".into();
        let k = p.process(k);
        assert_eq!(k.correlation_id, "shop/Pod/kube-scheduler-cp-a");
        assert_eq!(k.owner.map(|o| o.name).as_deref(), Some("cp-a"));
    }

    #[test]
    fn a_link_in_one_namespace_never_relinks_another() {
        let mut p = Processor::new(Rules::builtin());
        let mut other = ev("BackOff", "Pod", "agent-x7k2p", "");
        other.regarding.namespace = "other".into();
        other.namespace = "other".into();
        p.process(other);
        p.process(ev(
            "SuccessfulCreate",
            "DaemonSet",
            "agent",
            "Created pod: agent-x7k2p",
        ));
        assert!(p.take_relinks().is_empty());
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
