//! Root causes: each rule recognizes one causal chain among an incident's events and names the
//! event that started it. Every rule that matches proposes its root event; the earliest
//! proposal wins (a cause comes before its effects), ties going to the rule listed first.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Serialize;

use super::cluster::{self, ClusterCause};
use super::context::Ctx;
use super::named;
use super::signals::{Signal, container};
use crate::objects::short_object;

/// The causal chains kubetrail knows (DESIGN.md, Processing: Incidents).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// The node's OOM killer ran, then its pods' containers crash-looped.
    NodeOom,
    /// A node went NotReady or under pressure, and its pods were evicted.
    NodeConditionEvictions,
    /// A node went NotReady or under pressure (no eviction seen).
    NodeCondition,
    /// A volume could not be mounted and the pod never started.
    FailedMount,
    /// An image could not be pulled.
    ImagePull,
    /// A liveness (or startup) probe failed, the kubelet killed the container, it crash-looped.
    LivenessRestart,
    /// A sidecar was not ready, then the app container next to it failed.
    SidecarNotReady,
    /// No node had the resources the pod requests.
    InsufficientResources,
    /// The pod does not tolerate a taint of its node and was refused or evicted.
    TaintNotTolerated,
    /// No node fits the pod for other reasons (taints, affinity, ports, volumes).
    Unschedulable,
    /// A container keeps exiting; the root is its start error or OOM kill when one was seen.
    CrashLoop,
    /// The etcd operator reported a member unhealthy while the etcd pods on its node failed.
    EtcdMemberUnhealthy,
    /// Several operators' checks of their aggregated APIs began failing together.
    AggregatedApiUnavailable,
    /// No chain recognized: the first of the most severe events.
    FirstFailure,
    /// Cluster-wide: no node is registered or ready, so the pods of many workloads wait.
    NoReadyNode,
    /// Cluster-wide: every node has a taint the pods of many workloads do not tolerate.
    TaintedNodes,
    /// Cluster-wide: the pod network (CNI) is not ready, so many workloads' pods get no sandbox.
    NetworkNotReady,
    /// Cluster-wide: many workloads crash-loop together after a control-plane disruption.
    ControlPlaneDisruption,
}

impl Rule {
    /// The rule's stable name, as in `RootCause::rule` and the docs (`failed-mount`, …).
    pub fn name(self) -> &'static str {
        match self {
            Rule::NodeOom => "node-oom",
            Rule::NodeConditionEvictions => "node-condition-evictions",
            Rule::NodeCondition => "node-condition",
            Rule::FailedMount => "failed-mount",
            Rule::ImagePull => "image-pull",
            Rule::LivenessRestart => "liveness-restart",
            Rule::SidecarNotReady => "sidecar-not-ready",
            Rule::InsufficientResources => "insufficient-resources",
            Rule::TaintNotTolerated => "taint-not-tolerated",
            Rule::Unschedulable => "unschedulable",
            Rule::CrashLoop => "crash-loop",
            Rule::EtcdMemberUnhealthy => "etcd-member-unhealthy",
            Rule::AggregatedApiUnavailable => "aggregated-api-unavailable",
            Rule::FirstFailure => "first-failure",
            Rule::NoReadyNode => "no-ready-node",
            Rule::TaintedNodes => "tainted-nodes",
            Rule::NetworkNotReady => "network-not-ready",
            Rule::ControlPlaneDisruption => "control-plane-disruption",
        }
    }

    /// A short phrase for titles.
    pub fn describe(self) -> &'static str {
        match self {
            Rule::NodeOom => "node out of memory, containers restarting",
            Rule::NodeConditionEvictions => "node condition, pods evicted",
            Rule::NodeCondition => "node condition",
            Rule::FailedMount => "volume cannot be mounted, pod stuck",
            Rule::ImagePull => "image cannot be pulled",
            Rule::LivenessRestart => "liveness probe failing, container restarted",
            Rule::SidecarNotReady => "sidecar not ready before its app",
            Rule::InsufficientResources => "insufficient resources to schedule",
            Rule::TaintNotTolerated => "node taint not tolerated",
            Rule::Unschedulable => "pod cannot be scheduled",
            Rule::CrashLoop => "container crash-looping",
            Rule::EtcdMemberUnhealthy => "etcd member unhealthy",
            Rule::AggregatedApiUnavailable => "aggregated APIs unavailable",
            Rule::FirstFailure => "failure",
            Rule::NoReadyNode => "no ready node, pods wait to be scheduled",
            Rule::TaintedNodes => "every node tainted, pods wait to be scheduled",
            Rule::NetworkNotReady => "pod network not ready on the nodes",
            Rule::ControlPlaneDisruption => {
                "control plane disrupted, workloads crash-looping together"
            }
        }
    }
}

/// What a rule found.
#[derive(Debug, Clone)]
pub struct Finding {
    pub rule: Rule,
    /// The root event (an index into the events).
    pub root: usize,
    pub evidence: Vec<String>,
    trigger: Timestamp,
}

/// A rule: its finding among an incident's events (oldest first), if its chain is there.
type RuleFn = fn(&Ctx<'_>, &[usize]) -> Option<Finding>;

/// The root cause of the incident made of `members` (event indices, oldest first).
pub fn root_cause(ctx: &Ctx<'_>, members: &[usize]) -> Finding {
    let rules: [RuleFn; 12] = [
        node_oom,
        node_condition,
        failed_mount,
        image_pull,
        liveness_restart,
        sidecar_not_ready,
        insufficient,
        taint_not_tolerated,
        unschedulable,
        crash_loop,
        etcd_member,
        aggregated_api,
    ];
    rules
        .iter()
        .filter_map(|rule| rule(ctx, members))
        .min_by(|a, b| a.trigger.cmp(&b.trigger).then_with(|| a.rule.cmp(&b.rule)))
        .unwrap_or_else(|| first_failure(ctx, members))
}

fn with(ctx: &Ctx<'_>, members: &[usize], signal: Signal) -> Vec<usize> {
    members
        .iter()
        .copied()
        .filter(|&i| ctx.signals[i] == signal)
        .collect()
}

/// "Reason ×count on Kind/name since T: note".
fn fact(ctx: &Ctx<'_>, i: usize) -> String {
    let e = ctx.event(i);
    let times = if e.count > 1 {
        format!(" ×{}", e.count)
    } else {
        String::new()
    };
    format!(
        "{}{times} on {} since {}: {}",
        e.reason,
        short_object(e),
        e.first_seen,
        e.note.trim()
    )
}

fn finding(rule: Rule, root: usize, trigger: Timestamp, evidence: Vec<String>) -> Finding {
    Finding {
        rule,
        root,
        evidence,
        trigger,
    }
}

fn node_oom(ctx: &Ctx<'_>, members: &[usize]) -> Option<Finding> {
    let oom = *with(ctx, members, Signal::NodeOom).first()?;
    let node = ctx.node(oom).unwrap_or_default().to_string();
    let mut evidence = vec![fact(ctx, oom)];
    let mut effects: Vec<usize> = members
        .iter()
        .copied()
        .filter(|&i| {
            matches!(ctx.signals[i], Signal::CrashBackOff | Signal::OomKilled)
                && ctx.node(i) == Some(node.as_str())
        })
        .collect();
    effects.dedup_by_key(|i| ctx.event(*i).regarding.name.clone());
    if effects.is_empty() {
        return None;
    }
    evidence.extend(
        effects
            .iter()
            .map(|&i| format!("then on node {node}: {}", fact(ctx, i))),
    );
    Some(finding(Rule::NodeOom, oom, ctx.start(oom), evidence))
}

fn node_condition(ctx: &Ctx<'_>, members: &[usize]) -> Option<Finding> {
    let down = *with(ctx, members, Signal::NodeDown).first()?;
    let mut evidence = vec![fact(ctx, down)];
    let evictions = with(ctx, members, Signal::Eviction);
    let rule = if evictions.is_empty() {
        Rule::NodeCondition
    } else {
        Rule::NodeConditionEvictions
    };
    let affected = with(ctx, members, Signal::NodeDown).len() - 1;
    if affected > 0 {
        evidence.push(format!(
            "{affected} more reports of the condition (node or its pods)"
        ));
    }
    if !evictions.is_empty() {
        evidence.push(format!(
            "{} pods evicted after it, first {}",
            distinct_objects(ctx, &evictions),
            fact(ctx, evictions[0])
        ));
    }
    Some(finding(rule, down, ctx.start(down), evidence))
}

/// The etcd operator's report naming a member (its node) and the failures of the etcd pods
/// on that node (see [`named`](super::named)): the member is what failed, the pods' probes
/// (the quorum guard's is the local etcd's health, often an empty message) only show it. The
/// chain starts at the first of them; its root is the report, which names the member.
fn etcd_member(ctx: &Ctx<'_>, members: &[usize]) -> Option<Finding> {
    // Only the reports name members: the etcd pods are picked once, and only when there is
    // one (picked again for every member, an incident of n events cost n² checks: 87 % of
    // `run`'s incidents pass over 30,000 stored events).
    let mut reports = members
        .iter()
        .map(|&r| (r, named::etcd_member_nodes(ctx.event(r))))
        .filter(|(_, nodes)| !nodes.is_empty())
        .peekable();
    reports.peek()?;
    let etcd_pods: Vec<usize> = members
        .iter()
        .copied()
        .filter(|&j| named::is_etcd_pod(ctx.event(j)))
        .collect();
    reports.find_map(|(r, nodes)| {
        let pods: Vec<usize> = etcd_pods
            .iter()
            .copied()
            .filter(|&j| ctx.node(j).is_some_and(|n| nodes.contains(&n)))
            .collect();
        let first = *pods.first()?;
        let mut evidence = vec![fact(ctx, r)];
        evidence.extend(
            pods.iter()
                .take(3)
                .map(|&j| format!("etcd pod on the member's node: {}", fact(ctx, j))),
        );
        Some(finding(
            Rule::EtcdMemberUnhealthy,
            r,
            ctx.start(r).min(ctx.start(first)),
            evidence,
        ))
    })
}

/// Several operators' failed checks of their aggregated APIs beginning together (see
/// [`named::api_check_links`]): one outage, rooted in the first check.
fn aggregated_api(ctx: &Ctx<'_>, members: &[usize]) -> Option<Finding> {
    let (first, others) = named::api_check_onset(ctx, members)?;
    let mut evidence = vec![fact(ctx, first)];
    evidence.extend(others.iter().take(3).map(|&j| {
        format!(
            "another operator's check, failing from within a minute of it: {}",
            fact(ctx, j)
        )
    }));
    Some(finding(
        Rule::AggregatedApiUnavailable,
        first,
        ctx.start(first),
        evidence,
    ))
}

fn distinct_objects(ctx: &Ctx<'_>, events: &[usize]) -> usize {
    let mut names: Vec<&str> = events
        .iter()
        .map(|&i| ctx.event(i).regarding.name.as_str())
        .collect();
    names.sort_unstable();
    names.dedup();
    names.len()
}

fn failed_mount(ctx: &Ctx<'_>, members: &[usize]) -> Option<Finding> {
    let mounts = with(ctx, members, Signal::FailedMount);
    let stuck: Vec<usize> = mounts
        .iter()
        .copied()
        .filter(|&i| {
            !ctx.same_object(i)
                .iter()
                .any(|&j| ctx.event(j).reason == "Started" && ctx.end(j) >= ctx.start(i))
        })
        .collect();
    let trigger = ctx.start(*stuck.first()?);
    // The kubelet's summary ("Unable to attach or mount volumes: … timed out") says less than
    // the error that caused it.
    let root = stuck
        .iter()
        .copied()
        .find(|&i| {
            !ctx.event(i)
                .note
                .starts_with("Unable to attach or mount volumes")
        })
        .unwrap_or(stuck[0]);
    let mut evidence = vec![fact(ctx, root)];
    for &i in stuck.iter().filter(|&&i| i != root).take(3) {
        evidence.push(fact(ctx, i));
    }
    evidence.push(format!(
        "no container of {} started after the first failed mount",
        short_object(ctx.event(root))
    ));
    Some(finding(Rule::FailedMount, root, trigger, evidence))
}

fn image_pull(ctx: &Ctx<'_>, members: &[usize]) -> Option<Finding> {
    let pulls: Vec<usize> = members
        .iter()
        .copied()
        .filter(|&i| matches!(ctx.signals[i], Signal::ImagePull { .. }))
        .collect();
    let trigger = ctx.start(*pulls.first()?);
    let root = pulls
        .iter()
        .copied()
        .find(|&i| ctx.signals[i] == Signal::ImagePull { detail: true })
        .unwrap_or(pulls[0]);
    let mut evidence = vec![fact(ctx, root)];
    let mut by_reason: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    for &i in &pulls {
        let e = ctx.event(i);
        *by_reason
            .entry((&e.reason, e.template.as_str()))
            .or_insert(0) += e.count;
    }
    for ((reason, template), n) in by_reason {
        evidence.push(format!("{reason} ×{n}: {template}"));
    }
    evidence.push(format!(
        "{} pods could not pull their image",
        distinct_objects(ctx, &pulls)
    ));
    Some(finding(Rule::ImagePull, root, trigger, evidence))
}

fn same_container(ctx: &Ctx<'_>, a: usize, b: usize) -> bool {
    match (container(ctx.event(a)), container(ctx.event(b))) {
        (Some(x), Some(y)) => x == y,
        _ => true,
    }
}

fn liveness_restart(ctx: &Ctx<'_>, members: &[usize]) -> Option<Finding> {
    for &probe in &with(ctx, members, Signal::LivenessFailed) {
        let effects: Vec<usize> = ctx
            .same_object(probe)
            .iter()
            .copied()
            .filter(|&j| {
                matches!(ctx.signals[j], Signal::LivenessKill | Signal::CrashBackOff)
                    && ctx.end(j) >= ctx.start(probe)
                    && same_container(ctx, probe, j)
            })
            .collect();
        if effects.is_empty() {
            continue;
        }
        let mut evidence = vec![fact(ctx, probe)];
        evidence.extend(effects.iter().map(|&j| format!("then {}", fact(ctx, j))));
        return Some(finding(
            Rule::LivenessRestart,
            probe,
            ctx.start(probe),
            evidence,
        ));
    }
    None
}

fn sidecar_not_ready(ctx: &Ctx<'_>, members: &[usize]) -> Option<Finding> {
    for &ready in &with(ctx, members, Signal::ReadinessFailed) {
        let Some(sidecar) = container(ctx.event(ready)) else {
            continue;
        };
        let app = ctx.same_object(ready).iter().copied().find(|&j| {
            matches!(
                ctx.signals[j],
                Signal::CrashBackOff
                    | Signal::StartFailed
                    | Signal::LivenessFailed
                    | Signal::LivenessKill
                    | Signal::ReadinessFailed
            ) && container(ctx.event(j)).is_some_and(|c| c != sidecar)
                && ctx.start(j) >= ctx.start(ready)
        });
        if let Some(app) = app {
            let evidence = vec![
                format!("container {sidecar} not ready first: {}", fact(ctx, ready)),
                format!(
                    "then container {}: {}",
                    container(ctx.event(app)).unwrap_or_default(),
                    fact(ctx, app)
                ),
            ];
            return Some(finding(
                Rule::SidecarNotReady,
                ready,
                ctx.start(ready),
                evidence,
            ));
        }
    }
    None
}

fn earliest_of(rule: Rule, signal: Signal, ctx: &Ctx<'_>, members: &[usize]) -> Option<Finding> {
    let found = with(ctx, members, signal);
    let root = *found.first()?;
    let mut evidence = vec![fact(ctx, root)];
    let objects = distinct_objects(ctx, &found);
    if objects > 1 {
        evidence.push(format!("{objects} objects affected"));
    }
    Some(finding(rule, root, ctx.start(root), evidence))
}

fn insufficient(ctx: &Ctx<'_>, members: &[usize]) -> Option<Finding> {
    earliest_of(
        Rule::InsufficientResources,
        Signal::Insufficient,
        ctx,
        members,
    )
}

fn unschedulable(ctx: &Ctx<'_>, members: &[usize]) -> Option<Finding> {
    earliest_of(Rule::Unschedulable, Signal::Unschedulable, ctx, members)
}

fn taint_not_tolerated(ctx: &Ctx<'_>, members: &[usize]) -> Option<Finding> {
    earliest_of(
        Rule::TaintNotTolerated,
        Signal::TaintNotTolerated,
        ctx,
        members,
    )
    .or_else(|| earliest_of(Rule::TaintNotTolerated, Signal::Eviction, ctx, members))
}

fn crash_loop(ctx: &Ctx<'_>, members: &[usize]) -> Option<Finding> {
    let backoff = *with(ctx, members, Signal::CrashBackOff).first()?;
    let cause = ctx.same_object(backoff).iter().copied().find(|&j| {
        matches!(ctx.signals[j], Signal::StartFailed | Signal::OomKilled)
            && ctx.start(j) <= ctx.end(backoff)
            && same_container(ctx, backoff, j)
    });
    let root = cause.unwrap_or(backoff);
    let mut evidence = vec![fact(ctx, root)];
    if root != backoff {
        evidence.push(format!("then {}", fact(ctx, backoff)));
    }
    Some(finding(Rule::CrashLoop, root, ctx.start(root), evidence))
}

fn first_failure(ctx: &Ctx<'_>, members: &[usize]) -> Finding {
    let worst = members
        .iter()
        .map(|&i| ctx.event(i).severity)
        .max()
        .unwrap_or(kubetrail_model::Severity::Info);
    let root = members
        .iter()
        .copied()
        .find(|&i| ctx.event(i).severity == worst)
        .or_else(|| members.first().copied())
        .unwrap_or(0);
    Finding {
        rule: Rule::FirstFailure,
        root,
        evidence: vec![fact(ctx, root)],
        trigger: ctx.start(root),
    }
}

/// The root cause of a cluster-wide incident: for a crash wave, its control-plane `anchor`
/// when one was seen, else the first crash; for the others, the earliest report of the cause
/// (a node's `NodeNotReady` counts for "no ready node"). The evidence counts the workloads hit.
pub fn cluster_root(
    ctx: &Ctx<'_>,
    cause: ClusterCause,
    members: &[usize],
    anchor: Option<usize>,
) -> Finding {
    let rule = match cause {
        ClusterCause::NoReadyNode => Rule::NoReadyNode,
        ClusterCause::TaintedNodes => Rule::TaintedNodes,
        ClusterCause::NetworkNotReady => Rule::NetworkNotReady,
        ClusterCause::CrashWave => Rule::ControlPlaneDisruption,
    };
    let reports = |i: &usize| match cause {
        ClusterCause::CrashWave => matches!(
            ctx.signals[*i],
            Signal::CrashBackOff | Signal::LivenessKill | Signal::LivenessFailed
        ),
        ClusterCause::NoReadyNode => {
            cluster::reported(ctx.event(*i)) == Some(cause)
                || (ctx.signals[*i] == Signal::NodeDown && ctx.event(*i).reason == "NodeNotReady")
        }
        _ => cluster::reported(ctx.event(*i)) == Some(cause),
    };
    let hit: Vec<usize> = members.iter().copied().filter(reports).collect();
    let root = anchor
        .or_else(|| hit.first().copied())
        .unwrap_or_else(|| first_failure(ctx, members).root);
    let mut evidence = vec![fact(ctx, root)];
    if anchor.is_some()
        && let Some(&first) = hit.first()
    {
        evidence.push(format!("then {}", fact(ctx, first)));
    }
    let mut workloads: Vec<&str> = hit
        .iter()
        .map(|&i| ctx.event(i).correlation_id.as_str())
        .collect();
    workloads.sort_unstable();
    workloads.dedup();
    evidence.push(format!(
        "{} workloads affected ({} objects)",
        workloads.len(),
        distinct_objects(ctx, &hit)
    ));
    Finding {
        rule,
        root,
        evidence,
        trigger: ctx.start(root),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::crash_loop;
    use kubetrail_model::AnalysisOccurrences;

    /// Bug (issue 14 §1/§2): the etcd member rule picked the incident's etcd pods again for
    /// every member, report or not: n² checks for an incident of n events, 87 % of `run`'s
    /// incidents pass over 30,000 stored events (perf). A crash loop of 2,000 events and no
    /// etcd report: no pod is looked at (4,000,000 checks before).
    #[test]
    fn the_etcd_member_rule_looks_at_the_pods_only_for_a_report() {
        let events = crash_loop(2_000, 50);
        let refs: Vec<&AnalysisOccurrences> = events.iter().collect();
        let ctx = Ctx::new(&refs);
        let members: Vec<usize> = (0..events.len()).collect();
        named::ETCD_POD_CHECKS.set(0);
        assert!(etcd_member(&ctx, &members).is_none());
        let checks = named::ETCD_POD_CHECKS.get();
        assert!(checks <= members.len(), "{checks} checks of etcd pods");
    }
}
