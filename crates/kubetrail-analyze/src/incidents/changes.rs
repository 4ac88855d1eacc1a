//! Changes as root causes (issue 15, §3): what changed just before a workload broke.
//!
//! [`link_changes`] runs after [`incidents`](super::incidents) on the same window: it takes the
//! stored [`Change`]s and, for each incident whose failures *start shortly after* a change of
//! something the failing subject depends on, makes that change the root cause (with its diff),
//! keeps the failing events as evidence, and gives a hint that fits the change. A change
//! followed by no failure is never an incident: only incidents found from failures are rooted.
//!
//! "Shortly after" is explicit: the change happened at most
//! [`IncidentConfig::change_window`] (default 15 minutes) before the incident's first failure
//! and not after it; when several related changes qualify, the latest one before the failures
//! is the root (a later change supersedes an earlier one), the others are listed as evidence.
//! Creations are not changes of something that worked and never root an incident.
//!
//! Related to an incident about a workload (`shop/Deployment/web`, or `shop/Workload/x` when
//! only the pod names told the owner):
//! - the workload itself (its pod template, replicas, strategy);
//! - a ConfigMap or Secret it references (the `references` of its latest change record before
//!   the failures), whose change names it as a user (the change tracker records which
//!   workloads used it, from their states kept since the first listing), or that its failing
//!   events name (`configmap "app-config" not found`,
//!   `couldn't find key K in ConfigMap shop/app-config`);
//! - its HorizontalPodAutoscaler (an HPA change whose `references` hold the workload);
//! - a node its failing pods ran on (or the node an incident about a node is about), unless
//!   only the node's conditions changed (its own report of the failure, not a change);
//! - for failures to schedule (rules `unschedulable`, `insufficient-resources`,
//!   `taint-not-tolerated`), any node of the cluster cordoned, tainted or deleted.
//!
//! A ConfigMap or Secret reaches running pods only when they restart: when the latest related
//! change only restarted the workload (its fields are pod-template annotations, as
//! `kubectl rollout restart` sets), a referenced ConfigMap or Secret changed up to
//! `change_window` before that restart is the root instead, and the restart is evidence; a
//! workload change that is only its autoscaler setting `replicas` likewise yields to a change
//! of that autoscaler (its bounds moved) up to `change_window` before.
//! A config edit picked up by a restart much later (a pod rescheduled hours after) is out of
//! reach: nothing ties the two in time.

use jiff::{SignedDuration, Timestamp};
use kubetrail_model::{Change, ChangeOp, ObjectRef};

use super::{Incident, IncidentConfig};

/// The workload kinds whose changes are tracked (and that `Workload/x` may stand for, except
/// CronJob, whose pods' names tell it apart).
const WORKLOAD_KINDS: [&str; 4] = ["Deployment", "StatefulSet", "DaemonSet", "CronJob"];

/// Rules of incidents that are failures to place a pod: a node cordoned, tainted or gone
/// anywhere in the cluster can be their cause.
const SCHEDULING_RULES: [&str; 3] = [
    "unschedulable",
    "insufficient-resources",
    "taint-not-tolerated",
];

/// Other related changes listed as evidence at most.
const MAX_OTHER_CHANGES: usize = 3;
/// Fields of the root change shown in its evidence line at most.
const MAX_FIELDS_SHOWN: usize = 8;

/// How a change relates to the incident's subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    /// The failing workload itself changed.
    Workload,
    /// A ConfigMap or Secret the workload references (or its failing events name).
    Config,
    /// The workload's HorizontalPodAutoscaler.
    Autoscaler,
    /// A node the failing pods ran on, or the node the incident is about.
    Node,
    /// A node cordoned, tainted or deleted before failures to schedule.
    Scheduling,
}

/// The subject of an incident: `namespace/Kind/name`, or `Kind/name` when cluster-scoped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Subject<'a> {
    namespace: &'a str,
    kind: &'a str,
    name: &'a str,
}

impl<'a> Subject<'a> {
    fn parse(s: &'a str) -> Option<Subject<'a>> {
        let mut parts = s.splitn(3, '/');
        let (a, b, c) = (parts.next()?, parts.next()?, parts.next());
        Some(match c {
            Some(name) => Subject {
                namespace: a,
                kind: b,
                name,
            },
            None => Subject {
                namespace: "",
                kind: a,
                name: b,
            },
        })
    }

    /// Whether `o` is this workload (`Workload` stands for any workload kind but CronJob).
    fn is(&self, o: &ObjectRef) -> bool {
        o.namespace == self.namespace
            && o.name == self.name
            && (o.kind == self.kind
                || (self.kind == "Workload" && WORKLOAD_KINDS[..3].contains(&o.kind.as_str())))
    }
}

/// The changes that concern `subject` (an object or workload as incidents name it,
/// `shop/Deployment/web`, `Node/worker-1`) up to `until`: its own, those of the ConfigMaps and
/// Secrets its records reference, of its autoscaler, and of `nodes`; oldest first.
pub(crate) fn concerning<'c>(
    changes: &'c [Change],
    subject: &str,
    nodes: &[String],
    until: Timestamp,
) -> Vec<&'c Change> {
    let Some(subject) = Subject::parse(subject) else {
        return Vec::new();
    };
    let mut clusters: Vec<&str> = changes.iter().map(|c| c.cluster.as_str()).collect();
    clusters.sort_unstable();
    clusters.dedup();
    let refs: Vec<References> = clusters
        .iter()
        .map(|cluster| References::of(cluster, subject, until, std::iter::empty(), changes))
        .collect();
    let mut found: Vec<&Change> = changes
        .iter()
        .filter(|c| c.at <= until)
        .filter(|c| {
            let o = &c.object;
            subject.is(o)
                || (o.kind == "Node"
                    && (nodes.contains(&o.name)
                        || subject.name == o.name && subject.kind == "Node"))
                || (matches!(o.kind.as_str(), "ConfigMap" | "Secret")
                    && (refs.iter().any(|r| r.holds(o)) || names(c, subject)))
                || (o.kind == "HorizontalPodAutoscaler" && names(c, subject))
        })
        .collect();
    found.sort_by_key(|c| c.at);
    found
}

/// Whether the change `c` names the workload `subject` among its references: an autoscaler
/// that targets it, a ConfigMap or Secret it uses.
fn names(c: &Change, subject: Subject<'_>) -> bool {
    c.references.iter().any(|r| {
        subject.is(&ObjectRef {
            namespace: if r.namespace.is_empty() {
                c.object.namespace.clone()
            } else {
                r.namespace.clone()
            },
            ..r.clone()
        })
    })
}

/// Makes the change each incident's failures followed its root cause (see the module's doc);
/// incidents no related change preceded are left as they are.
pub fn link_changes(found: &mut [Incident], changes: &[Change], cfg: &IncidentConfig) {
    if changes.is_empty() {
        return;
    }
    // Each incident looks only at the changes of its window (a scan of every change per
    // incident made 8,000 kept incidents × their changes take seconds).
    let mut by_time: Vec<&Change> = changes.iter().collect();
    by_time.sort_by_key(|c| c.at);
    for incident in found.iter_mut() {
        if let Some(root) = root_change(incident, changes, &by_time, cfg.change_window) {
            apply(incident, &root);
        }
    }
}

/// The changes of `by_time` (sorted by time) at most `window` before `at`, oldest first.
fn within<'a, 'c>(
    by_time: &'a [&'c Change],
    at: Timestamp,
    window: SignedDuration,
) -> &'a [&'c Change] {
    let earliest = at.checked_sub(window).unwrap_or(Timestamp::MIN);
    let from = by_time.partition_point(|c| c.at < earliest);
    let to = by_time.partition_point(|c| c.at <= at).max(from);
    &by_time[from..to]
}

/// The change an incident is rooted in, with the others that qualified.
struct Rooted<'c> {
    change: &'c Change,
    link: Link,
    /// The workload change that only restarted pods after a config change (the root).
    restart: Option<&'c Change>,
    others: Vec<&'c Change>,
}

fn root_change<'c>(
    incident: &Incident,
    changes: &'c [Change],
    by_time: &[&'c Change],
    window: SignedDuration,
) -> Option<Rooted<'c>> {
    let start = incident.start;
    let near = within(by_time, start, window);
    if near.is_empty() {
        return None;
    }
    let subject = Subject::parse(&incident.subject)?;
    let messages = incident.timeline.iter().map(|e| e.message.as_str());
    let refs = References::of(&incident.cluster, subject, start, messages, changes);
    let related = |c: &'c Change| -> Option<(&'c Change, Link)> {
        if c.cluster != incident.cluster || c.op == ChangeOp::Created || only_conditions(c) {
            return None;
        }
        link(incident, subject, &refs, c).map(|l| (c, l))
    };
    let mut candidates: Vec<(&Change, Link)> = near.iter().copied().filter_map(related).collect();
    candidates.sort_by_key(|(c, _)| c.at);
    let (latest, link) = candidates.pop()?;
    let mut rooted = Rooted {
        change: latest,
        link,
        restart: None,
        others: candidates.iter().rev().map(|(c, _)| *c).collect(),
    };
    // A restart yields to the config it loaded, an autoscaler's scaling to the bound moved.
    let yields_to = match link {
        Link::Workload if only_restarts(latest) => Some(Link::Config),
        Link::Workload if autoscaled(latest) => Some(Link::Autoscaler),
        _ => None,
    };
    if let Some(cause_link) = yields_to {
        let cause = within(by_time, latest.at, window)
            .iter()
            .copied()
            .filter_map(related)
            .filter(|(_, l)| *l == cause_link)
            .max_by_key(|(c, _)| c.at);
        if let Some((cause, _)) = cause {
            rooted.others.retain(|c| !std::ptr::eq(*c, cause));
            rooted.restart = Some(latest);
            rooted.change = cause;
            rooted.link = cause_link;
        }
    }
    rooted.others.truncate(MAX_OTHER_CHANGES);
    Some(rooted)
}

fn link(incident: &Incident, subject: Subject<'_>, refs: &References, c: &Change) -> Option<Link> {
    let o = &c.object;
    if subject.is(o) {
        return Some(Link::Workload);
    }
    match o.kind.as_str() {
        "ConfigMap" | "Secret" if refs.holds(o) || names(c, subject) => Some(Link::Config),
        "HorizontalPodAutoscaler" if names(c, subject) => Some(Link::Autoscaler),
        "Node"
            if incident.nodes.contains(&o.name)
                || (subject.kind == "Node" && subject.name == o.name) =>
        {
            Some(Link::Node)
        }
        "Node"
            if SCHEDULING_RULES.contains(&incident.root_cause.rule.as_str())
                && takes_capacity(c) =>
        {
            Some(Link::Scheduling)
        }
        _ => None,
    }
}

/// Whether a node change takes away room for pods: the node deleted, cordoned or tainted.
fn takes_capacity(c: &Change) -> bool {
    c.op == ChangeOp::Deleted
        || cordoned(c)
        || c.fields.iter().any(|f| f.path.starts_with("taints"))
}

/// Whether a node change is only its conditions flipping (`conditions[Ready]: True → False`):
/// the node's own report of a failure, which the event rules root already, not a change anyone
/// made.
fn only_conditions(c: &Change) -> bool {
    c.op == ChangeOp::Updated && c.fields.iter().all(|f| f.path.starts_with("conditions["))
}

/// Whether a workload change only restarted its pods: every field is a pod-template
/// annotation (`kubectl rollout restart` sets `kubectl.kubernetes.io/restartedAt`).
fn only_restarts(c: &Change) -> bool {
    !c.fields.is_empty() && c.fields.iter().all(|f| f.path.contains("annotations"))
}

/// Whether a workload change is only its autoscaler setting `replicas`.
fn autoscaled(c: &Change) -> bool {
    c.manager
        .as_deref()
        .is_some_and(|m| m.contains("horizontal-pod-autoscaler"))
        && c.fields.iter().all(|f| f.path == "replicas")
}

/// The ConfigMaps and Secrets a failing workload depends on.
struct References {
    /// `(kind, namespace, name)`.
    objects: Vec<(String, String, String)>,
}

impl References {
    /// What the workload `subject` of `cluster` references as of `before`, and what
    /// `messages` (its failing events') name.
    fn of<'m>(
        cluster: &str,
        subject: Subject<'_>,
        before: Timestamp,
        messages: impl Iterator<Item = &'m str>,
        changes: &[Change],
    ) -> References {
        let mut objects: Vec<(String, String, String)> = Vec::new();
        // The workload's latest record at or before the failures says what it references.
        let latest = changes
            .iter()
            .filter(|c| c.cluster == cluster && subject.is(&c.object) && c.at <= before)
            .max_by_key(|c| c.at);
        if let Some(c) = latest {
            for r in &c.references {
                let ns = if r.namespace.is_empty() {
                    &c.object.namespace
                } else {
                    &r.namespace
                };
                objects.push((r.kind.clone(), ns.clone(), r.name.clone()));
            }
        }
        for message in messages {
            for (kind, name) in named_config(message) {
                let (ns, name) = match name.split_once('/') {
                    Some((ns, name)) => (ns.to_string(), name.to_string()),
                    None => (subject.namespace.to_string(), name.to_string()),
                };
                objects.push((kind.to_string(), ns, name));
            }
        }
        References { objects }
    }

    fn holds(&self, o: &ObjectRef) -> bool {
        self.objects
            .iter()
            .any(|(k, ns, n)| *k == o.kind && *ns == o.namespace && *n == o.name)
    }
}

/// ConfigMaps and Secrets a kubelet message names: `configmap "x" not found`,
/// `secret "x" not found`, `couldn't find key K in ConfigMap ns/x` (kubernetes
/// `pkg/kubelet/kubelet_pods.go`, `pkg/volume/configmap`), as `(kind, name or ns/name)`.
fn named_config(message: &str) -> Vec<(&'static str, &str)> {
    let mut out = Vec::new();
    for (prefix, kind) in [
        ("configmap \"", "ConfigMap"),
        ("secret \"", "Secret"),
        ("in ConfigMap ", "ConfigMap"),
        ("in Secret ", "Secret"),
    ] {
        for (at, _) in message.match_indices(prefix) {
            let rest = &message[at + prefix.len()..];
            let name = if prefix.ends_with('"') {
                rest.split('"').next()
            } else {
                rest.split(|ch: char| ch.is_whitespace() || ch == ',' || ch == ':')
                    .next()
            };
            if let Some(name) = name.filter(|n| !n.is_empty()) {
                out.push((kind, name));
            }
        }
    }
    out
}

/// Rewrites the incident's root cause as the change.
fn apply(incident: &mut Incident, rooted: &Rooted<'_>) {
    let c = rooted.change;
    let failures = incident.root_cause.clone();
    let mut evidence = vec![change_line(c)];
    evidence.push(relation(incident, rooted.link));
    if let Some(restart) = rooted.restart {
        evidence.push(format!(
            "then {} changed at {} as a result: {}",
            object_name(&restart.object),
            restart.at,
            shown_fields(restart)
        ));
    }
    evidence.push(format!(
        "failures began {} later ({}: {})",
        ago(c.at, incident.start),
        failures.rule,
        failures.reason
    ));
    evidence.extend(failures.evidence.iter().cloned());
    for other in &rooted.others {
        evidence.push(format!("also changed before: {}", change_line(other)));
    }
    let describe = incident
        .title
        .split_once(": ")
        .map_or("failure", |(_, d)| d)
        .to_string();
    incident.title = format!(
        "{}: {describe} after a change of {}",
        incident.subject,
        kind_name(&c.object)
    );
    incident.root_cause = super::RootCause {
        reason: op_word(c.op).to_string(),
        rule: "change".to_string(),
        evidence,
        object: object_name(&c.object),
        message: c.summary(),
        at: c.at,
        hint: hint(incident, rooted),
        change: Some(c.clone()),
    };
}

/// "Deployment shop/web updated at T by kubectl: containers[web].image: a → b".
fn change_line(c: &Change) -> String {
    let by = c
        .manager
        .as_deref()
        .map(|m| format!(" by {m}"))
        .unwrap_or_default();
    format!(
        "{} {} at {}{by}: {}",
        kind_name(&c.object),
        op_word(c.op).to_lowercase(),
        c.at,
        shown_fields(c)
    )
}

/// The change's fields, at most [`MAX_FIELDS_SHOWN`].
fn shown_fields(c: &Change) -> String {
    if c.fields.len() <= MAX_FIELDS_SHOWN {
        return c.summary();
    }
    let shown: Vec<String> = c.fields[..MAX_FIELDS_SHOWN]
        .iter()
        .map(ToString::to_string)
        .collect();
    format!(
        "{}; … and {} more fields",
        shown.join("; "),
        c.fields.len() - MAX_FIELDS_SHOWN
    )
}

fn relation(incident: &Incident, link: Link) -> String {
    let s = &incident.subject;
    match link {
        Link::Workload => format!("{s} is the object that changed"),
        Link::Config => {
            format!("{s} uses it (its pod template references it, or its failing events name it)")
        }
        Link::Autoscaler => format!("it scales {s}"),
        Link::Node => format!("pods of {s} ran on the node"),
        Link::Scheduling => format!("pods of {s} then could not be scheduled"),
    }
}

fn ago(from: Timestamp, to: Timestamp) -> String {
    let secs = to.duration_since(from).as_secs();
    if secs < 60 {
        format!("{secs}s")
    } else {
        format!("{}m{:02}s", secs / 60, secs % 60)
    }
}

fn op_word(op: ChangeOp) -> &'static str {
    match op {
        ChangeOp::Created => "Created",
        ChangeOp::Updated => "Updated",
        ChangeOp::Deleted => "Deleted",
    }
}

/// `Kind ns/name`, or `Kind name` when cluster-scoped.
fn kind_name(o: &ObjectRef) -> String {
    if o.namespace.is_empty() {
        format!("{} {}", o.kind, o.name)
    } else {
        format!("{} {}/{}", o.kind, o.namespace, o.name)
    }
}

/// `ns/Kind/name` as incidents name objects (`Kind/name` when cluster-scoped).
fn object_name(o: &ObjectRef) -> String {
    if o.namespace.is_empty() {
        format!("{}/{}", o.kind, o.name)
    } else {
        format!("{}/{}/{}", o.namespace, o.kind, o.name)
    }
}

/// What to do about the change, with the names it gives.
fn hint(incident: &Incident, rooted: &Rooted<'_>) -> String {
    let c = rooted.change;
    let o = &c.object;
    let ns = &o.namespace;
    let kind = o.kind.to_lowercase();
    let name = &o.name;
    match rooted.link {
        Link::Workload if matches!(o.kind.as_str(), "Deployment" | "StatefulSet" | "DaemonSet") => {
            format!(
                "the failures began after this change of {kind}/{name} ({}): roll it back with kubectl rollout undo {kind}/{name} -n {ns}, or fix the change; see the revisions with kubectl rollout history {kind}/{name} -n {ns}",
                shown_fields(c)
            )
        }
        Link::Workload => format!(
            "the failures began after this change of {kind}/{name} ({}): revert it (kubectl -n {ns} edit {kind} {name})",
            shown_fields(c)
        ),
        Link::Config => {
            let keys = changed_keys(c);
            let what = if c.op == ChangeOp::Deleted {
                format!("{} {name} was deleted", o.kind)
            } else if keys.is_empty() {
                format!("{} {name} changed", o.kind)
            } else {
                format!("key {} of {} {name} changed", keys.join(", "), o.kind)
            };
            let workload = Subject::parse(&incident.subject)
                .filter(|s| WORKLOAD_KINDS.contains(&s.kind))
                .map(|s| {
                    format!(
                        "; then restart the workload: kubectl rollout restart {}/{} -n {ns}",
                        s.kind.to_lowercase(),
                        s.name
                    )
                })
                .unwrap_or_default();
            format!(
                "{what} before the failures: check the new value (kubectl -n {ns} get {kind} {name} -o yaml) and restore the previous one{workload}"
            )
        }
        Link::Autoscaler => format!(
            "the autoscaler's bounds changed ({}): check whether the workload still has enough replicas for its load (kubectl -n {ns} describe hpa {name}) and restore the previous bounds (kubectl -n {ns} edit hpa {name})",
            shown_fields(c)
        ),
        Link::Node | Link::Scheduling if cordoned(c) => format!(
            "node {name} was cordoned or drained ({}): when the maintenance is over, kubectl uncordon {name}; meanwhile check that the other nodes have room for its pods (kubectl describe nodes | grep -A5 Allocated)",
            shown_fields(c)
        ),
        Link::Node | Link::Scheduling => format!(
            "node {name} changed before the failures ({}): kubectl describe node {name} (Conditions, Taints, Events); revert the change if it was not intended",
            shown_fields(c)
        ),
    }
}

/// Whether a node change made it unschedulable (cordon, drain): `scheduling: schedulable →
/// cordoned` as the change tracker writes it.
fn cordoned(c: &Change) -> bool {
    c.fields
        .iter()
        .any(|f| f.path == "scheduling" && f.after.as_deref() == Some("cordoned"))
}

/// The keys of a ConfigMap or Secret that changed (`data.app.conf` → `app.conf`).
fn changed_keys(c: &Change) -> Vec<&str> {
    c.fields
        .iter()
        .map(|f| {
            f.path
                .strip_prefix("data.")
                .or_else(|| f.path.strip_prefix("binaryData."))
                .or_else(|| f.path.strip_prefix("stringData."))
                .unwrap_or(&f.path)
        })
        .collect()
}

#[cfg(test)]
#[path = "changes_tests.rs"]
mod tests;
