//! Cluster-wide causes (issue 13, 2.1): one cause that hits many workloads is one incident with
//! the cause and the list of affected workloads, not one incident per workload.
//!
//! Two ways a failure is known to be cluster-wide:
//! - it says so itself: the scheduler found no node at all (`no nodes available to schedule
//!   pods`, `ErrNoNodesAvailable` in kubernetes `pkg/scheduler/schedule_one.go`) or every node
//!   of the cluster carries a taint the pod does not tolerate (`0/N nodes are available: N
//!   node(s) had untolerated taint {key: value}`, the TaintToleration filter,
//!   `pkg/scheduler/framework/plugins/tainttoleration`); the kubelet cannot give the pod a
//!   network because the runtime's network (the CNI) is not ready (`NetworkNotReady`, "network
//!   is not ready: …", `pkg/kubelet/kubelet.go`). Such failures of two or more workloads form
//!   one thread per cause ([`scoped`]); a node's own `NodeNotReady` (node lifecycle controller)
//!   at the same time joins the "no ready node" thread ([`node_links`]).
//! - many workloads start crash-looping within seconds of each other ([`waves`]): a
//!   disruption of the control plane they all talk to. Its root is the API server's shutdown
//!   (`ShutdownInitiated`, `TerminationStart` in older and OpenShift API servers: the generic
//!   API server's lifecycle events), else the failing API server or etcd static pod, else a
//!   kubelet restart, else the first crash.

use super::Map;
use std::collections::BTreeSet;

use jiff::{SignedDuration, Timestamp};
use kubetrail_model::AnalysisEvent;
use serde::Serialize;

use super::context::Ctx;
use super::episodes::{Episode, Scope};
use super::signals::Signal;
use crate::objects::namespace_of;

/// Workloads a cluster-wide cause must hit before it is reported as one (fewer is an
/// ordinary incident of that workload).
pub const MIN_WORKLOADS: usize = 2;

/// Crash loops starting no further apart than this chain into one wave.
pub const WAVE_GAP: SignedDuration = SignedDuration::from_secs(60);

/// Workloads (in at least two namespaces) whose crash loops make a wave.
pub const WAVE_WORKLOADS: usize = 3;

/// How long before a wave's first crash its control-plane cause may be.
pub const WAVE_LOOKBACK: SignedDuration = SignedDuration::from_mins(2);

/// A cause that hits many workloads at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClusterCause {
    /// No node can take pods: none is registered, or every one is not ready (its
    /// `node.kubernetes.io/not-ready` or `unreachable` taint).
    NoReadyNode,
    /// Every node carries a taint the pods do not tolerate, at least one not a readiness taint
    /// (e.g. only tainted control-plane nodes, so worker workloads stay Pending).
    TaintedNodes,
    /// The container runtime's network is not ready on the nodes: pods get no sandbox.
    NetworkNotReady,
    /// Many workloads crash-loop together: the control plane they depend on was disrupted.
    CrashWave,
}

impl ClusterCause {
    /// The cause's name in subjects and JSON: `Cluster/<name>`, e.g. `no-ready-node`.
    pub fn name(self) -> &'static str {
        match self {
            ClusterCause::NoReadyNode => "no-ready-node",
            ClusterCause::TaintedNodes => "tainted-nodes",
            ClusterCause::NetworkNotReady => "network-not-ready",
            ClusterCause::CrashWave => "control-plane-disruption",
        }
    }
}

/// The cluster-wide cause failure `e` reports by itself, if any.
pub fn reported(e: &AnalysisEvent) -> Option<ClusterCause> {
    match e.reason.as_str() {
        "FailedScheduling" => scheduling(&e.note),
        "NetworkNotReady" => Some(ClusterCause::NetworkNotReady),
        _ => None,
    }
}

/// Reads the scheduler's summary: `no nodes available…`, or `0/N nodes are available:` with
/// all N nodes rejected by taints.
fn scheduling(note: &str) -> Option<ClusterCause> {
    if note.starts_with("no nodes available to schedule pods") {
        return Some(ClusterCause::NoReadyNode);
    }
    // Newer schedulers append what preemption found; it repeats the node count.
    let head = note.split(". preemption:").next().unwrap_or(note);
    let (total, reasons) = head
        .strip_prefix("0/")?
        .split_once(" nodes are available: ")?;
    let total: u64 = total.parse().ok()?;
    let mut tainted = 0;
    let mut readiness_only = true;
    for (count, key) in taint_counts(reasons) {
        tainted += count;
        readiness_only &= matches!(
            key,
            "node.kubernetes.io/not-ready" | "node.kubernetes.io/unreachable"
        );
    }
    if total == 0 || tainted != total {
        return None;
    }
    Some(if readiness_only {
        ClusterCause::NoReadyNode
    } else {
        ClusterCause::TaintedNodes
    })
}

/// `(count, taint key)` of each `N node(s) had [untolerated ]taint {key: value}` in `reasons`.
fn taint_counts(reasons: &str) -> Vec<(u64, &str)> {
    let mut out = Vec::new();
    let mut rest = reasons;
    while let Some(at) = rest.find(" node(s) had ") {
        let before = &rest[..at];
        let count = before
            .rsplit(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|n| n.parse::<u64>().ok());
        let after = &rest[at + " node(s) had ".len()..];
        let taint = after
            .strip_prefix("untolerated taint {")
            .or_else(|| after.strip_prefix("taint {"));
        if let (Some(count), Some(taint)) = (count, taint) {
            let key = taint.split([':', '}']).next().unwrap_or_default();
            out.push((count, key));
        }
        rest = after;
    }
    out
}

/// The failures that go to a cluster-wide thread, with its cause: those reporting a cluster
/// cause, where two or more workloads report the same cause with no silence longer than
/// `quiet` between them.
pub fn scoped(ctx: &Ctx<'_>, quiet: SignedDuration) -> Map<usize, ClusterCause> {
    let mut by_cause: Map<(&str, ClusterCause), Vec<usize>> = Map::default();
    for &i in &ctx.failures {
        if let Some(c) = reported(ctx.event(i)) {
            by_cause
                .entry((ctx.event(i).cluster.as_str(), c))
                .or_default()
                .push(i);
        }
    }
    let mut out = Map::default();
    for ((_, cause), mut members) in by_cause {
        members.sort_by_key(|&i| (ctx.start(i), i));
        let mut chain: Vec<usize> = Vec::new();
        let mut end = Timestamp::MIN;
        for i in members {
            if !chain.is_empty() && ctx.start(i) > end + quiet {
                keep_if_wide(ctx, &chain, cause, &mut out);
                chain.clear();
            }
            end = if chain.is_empty() {
                ctx.end(i)
            } else {
                end.max(ctx.end(i))
            };
            chain.push(i);
        }
        keep_if_wide(ctx, &chain, cause, &mut out);
    }
    continue_waits(ctx, quiet, &mut out);
    out
}

/// A pod stays in the cluster-wide wait it began in until the scheduler places it: as nodes
/// join, the scheduler's message changes (one node not ready yet, another rejected by the
/// pod's anti-affinity against its older replicas) but the pod is still Pending for the same
/// cause. Its later `FailedScheduling`s, up to its `Scheduled` (kubernetes
/// `pkg/scheduler/schedule_one.go`) and with no silence longer than `quiet`, join the wait.
fn continue_waits(ctx: &Ctx<'_>, quiet: SignedDuration, out: &mut Map<usize, ClusterCause>) {
    let mut waits: Vec<(usize, ClusterCause)> = out
        .iter()
        .filter(|&(&i, _)| {
            let e = ctx.event(i);
            e.reason == "FailedScheduling" && e.regarding.kind == "Pod"
        })
        .map(|(&i, &c)| (i, c))
        .collect();
    waits.sort_by_key(|&(i, _)| (ctx.start(i), i));
    for (i, cause) in waits {
        let mut end = ctx.end(i);
        for &j in ctx.same_object(i) {
            if ctx.start(j) < ctx.start(i) || j == i {
                continue;
            }
            let e = ctx.event(j);
            if e.reason == "Scheduled" || ctx.start(j) > end + quiet {
                break;
            }
            if e.reason == "FailedScheduling" && ctx.failures.binary_search(&j).is_ok() {
                out.entry(j).or_insert(cause);
                end = end.max(ctx.end(j));
            }
        }
    }
}

fn keep_if_wide(
    ctx: &Ctx<'_>,
    chain: &[usize],
    cause: ClusterCause,
    out: &mut Map<usize, ClusterCause>,
) {
    let workloads: BTreeSet<&str> = chain
        .iter()
        .map(|&i| ctx.event(i).correlation_id.as_str())
        .collect();
    if workloads.len() >= MIN_WORKLOADS {
        out.extend(chain.iter().map(|&i| (i, cause)));
    }
}

/// Node episodes whose node went not ready while a "no ready node" thread was failing: the
/// node-level cause of the pods waiting on the not-ready taint. `(effect, cause)` episode
/// indices: the node episode joins the cluster one.
pub fn node_links(
    ctx: &Ctx<'_>,
    episodes: &[Episode<'_>],
    window: SignedDuration,
) -> Vec<(usize, usize)> {
    // The node episodes with a `NodeNotReady`, found once rather than once per cluster episode.
    let not_ready: Vec<usize> = episodes
        .iter()
        .enumerate()
        .filter(|(_, node)| {
            matches!(node.scope, Scope::Node(_))
                && node.events.iter().any(|&i| {
                    ctx.signals[i] == Signal::NodeDown && ctx.event(i).reason == "NodeNotReady"
                })
        })
        .map(|(n, _)| n)
        .collect();
    let mut out = Vec::new();
    for (c, cluster) in episodes.iter().enumerate() {
        if cluster.scope != Scope::Cluster(ClusterCause::NoReadyNode) {
            continue;
        }
        for &n in &not_ready {
            let node = &episodes[n];
            if node.cluster == cluster.cluster
                && node.start <= cluster.end + window
                && cluster.start <= node.end + window
            {
                out.push((n, c));
            }
        }
    }
    out
}

/// A crash wave: the workloads' episodes and the control-plane events that explain them.
#[derive(Debug, Clone, PartialEq)]
pub struct Wave {
    pub cluster: String,
    /// Episode indices of the workloads hit.
    pub members: Vec<usize>,
    /// The control-plane event chosen as its cause, if one was seen.
    pub anchor: Option<usize>,
    pub start: Timestamp,
    pub end: Timestamp,
}

/// The signals that show a container failing while running (a crash, a failing liveness or
/// startup probe): what a lost API server or etcd does to the controllers that need it.
fn is_crash(s: Signal) -> bool {
    matches!(
        s,
        Signal::CrashBackOff | Signal::LivenessKill | Signal::LivenessFailed
    )
}

/// The crash waves among `episodes`: owner episodes that begin with a crash, chained while
/// each starts within [`WAVE_GAP`] of the previous; a chain of [`WAVE_WORKLOADS`] workloads
/// in two or more namespaces, with a control-plane disruption seen, is a wave. Episodes of pods that start failing their probes
/// inside the wave join it.
pub fn waves(ctx: &Ctx<'_>, episodes: &[Episode<'_>]) -> Vec<Wave> {
    let mut starts: Map<&str, Vec<usize>> = Map::default();
    for (n, ep) in episodes.iter().enumerate() {
        let Scope::Owner(_) = ep.scope else { continue };
        if ep.events.first().is_some_and(|&i| is_crash(ctx.signals[i])) {
            starts.entry(ep.cluster).or_default().push(n);
        }
    }
    let index = WaveIndex::new(ctx, episodes);
    let mut out = Vec::new();
    for (cluster, mut list) in starts {
        let Some(index) = index.get(cluster) else {
            continue;
        };
        list.sort_by_key(|&n| (episodes[n].start, n));
        let mut chain: Vec<usize> = Vec::new();
        for n in list {
            if let Some(&last) = chain.last()
                && episodes[n].start > episodes[last].start + WAVE_GAP
            {
                out.extend(wave(ctx, episodes, index, cluster, &chain));
                chain.clear();
            }
            chain.push(n);
        }
        out.extend(wave(ctx, episodes, index, cluster, &chain));
    }
    out.sort_by_key(|w| w.start);
    out
}

/// What [`wave`] looks up, for one cluster, built once for all its waves: scanning every
/// event and every episode once per wave made `incidents` quadratic (28 s instead of about
/// 1 s on a million events with thousands of waves).
#[derive(Default)]
struct WaveIndex {
    /// `(start, episode)` of the owner episodes, sorted.
    owners: Vec<(Timestamp, usize)>,
    /// `(start, episode)` of each back-off or liveness kill in an owner episode, sorted.
    restarts: Vec<(Timestamp, usize)>,
    /// `(start, end, rank, event)` of the events that show a control-plane disruption
    /// ([`control_plane_rank`]), sorted by start.
    control_plane: Vec<(Timestamp, Timestamp, u8, usize)>,
}

impl WaveIndex {
    fn new<'a>(ctx: &Ctx<'a>, episodes: &[Episode<'_>]) -> Map<&'a str, WaveIndex> {
        let mut out: Map<&'a str, WaveIndex> = Map::default();
        for (n, ep) in episodes.iter().enumerate() {
            let Scope::Owner(_) = ep.scope else { continue };
            let Some(&first) = ep.events.first() else {
                continue;
            };
            // The episode's cluster, borrowed from `ctx` as the map's keys are.
            let index = out.entry(ctx.event(first).cluster.as_str()).or_default();
            index.owners.push((ep.start, n));
            for &i in &ep.events {
                if matches!(ctx.signals[i], Signal::CrashBackOff | Signal::LivenessKill) {
                    index.restarts.push((ctx.start(i), n));
                }
            }
        }
        for i in 0..ctx.events.len() {
            if let Some(rank) = control_plane_rank(ctx, i) {
                out.entry(ctx.event(i).cluster.as_str())
                    .or_default()
                    .control_plane
                    .push((ctx.start(i), ctx.end(i), rank, i));
            }
        }
        for index in out.values_mut() {
            index.owners.sort_unstable();
            index.restarts.sort_unstable();
            index.control_plane.sort_unstable();
        }
        out
    }
}

/// The episodes of `sorted` (`(time, episode)` pairs) whose time is in `from..=to`.
fn in_range(
    sorted: &[(Timestamp, usize)],
    from: Timestamp,
    to: Timestamp,
) -> &[(Timestamp, usize)] {
    let lo = sorted.partition_point(|&(t, _)| t < from);
    let hi = sorted.partition_point(|&(t, _)| t <= to).max(lo);
    &sorted[lo..hi]
}

fn wave(
    ctx: &Ctx<'_>,
    episodes: &[Episode<'_>],
    index: &WaveIndex,
    cluster: &str,
    chain: &[usize],
) -> Option<Wave> {
    let owners: BTreeSet<&str> = chain.iter().filter_map(|&n| owner(&episodes[n])).collect();
    let namespaces: BTreeSet<&str> = chain
        .iter()
        .flat_map(|&n| episodes[n].events.first())
        .map(|&i| namespace_of(ctx.event(i)))
        .collect();
    if owners.len() < WAVE_WORKLOADS || namespaces.len() < 2 {
        return None;
    }
    let start = episodes[*chain.first()?].start;
    let last = episodes[*chain.last()?].start;
    let mut members = chain.to_vec();
    // Pods that start failing their probes while the wave goes on are hit by it too, and so
    // are workloads already failing before it (their probes, an earlier crash) whose
    // containers are restarted with it: a back-off or liveness kill that begins inside the
    // wave is the wave's, whatever came before. (A liveness probe failing alone is no
    // restart: a replica shutting down in its rollout fails it too.)
    // Only episodes starting in the wave, or with a restart in it, can qualify: the index
    // finds them, in episode order as a scan of all episodes would.
    let candidates: BTreeSet<usize> = in_range(&index.owners, start, last)
        .iter()
        .chain(in_range(&index.restarts, start - WAVE_GAP, last))
        .map(|&(_, n)| n)
        .collect();
    for n in candidates {
        let ep = &episodes[n];
        if ep.cluster != cluster || !matches!(ep.scope, Scope::Owner(_)) || members.contains(&n) {
            continue;
        }
        let probes_fail = ep.start >= start
            && ep.start <= last
            && ep.events.first().is_some_and(|&i| {
                matches!(
                    ctx.signals[i],
                    Signal::ReadinessFailed | Signal::LivenessFailed
                )
            });
        let crashes_with = ep.events.iter().any(|&i| {
            matches!(ctx.signals[i], Signal::CrashBackOff | Signal::LivenessKill)
                && ctx.start(i) >= start - WAVE_GAP
                && ctx.start(i) <= last
        });
        if probes_fail || crashes_with {
            members.push(n);
        }
    }
    let end = members
        .iter()
        .map(|&n| episodes[n].end)
        .max()
        .unwrap_or(last);
    // Crash loops that start together with no sign of the control plane failing may be
    // unrelated (several releases rolled out at once): only a seen disruption joins them.
    let anchor = anchor(index, start - WAVE_LOOKBACK, last)?;
    Some(Wave {
        cluster: cluster.to_string(),
        members,
        anchor: Some(anchor),
        start,
        end,
    })
}

fn owner<'a>(ep: &Episode<'a>) -> Option<&'a str> {
    match ep.scope {
        Scope::Owner(o) => Some(o),
        _ => None,
    }
}

/// The control-plane event between `from` and `to` that best explains a wave: the API
/// server's shutdown, then a failing API server or etcd pod; the earliest of the strongest
/// kind.
///
/// A failing control-plane pod counts when its failures were going on in that time, not only
/// when they began in it: an API server whose probes have been failing for minutes when the
/// crashes start is still the disruption they show.
fn anchor(index: &WaveIndex, from: Timestamp, to: Timestamp) -> Option<usize> {
    let begun = index
        .control_plane
        .partition_point(|&(start, ..)| start <= to);
    index.control_plane[..begun]
        .iter()
        .filter(|&&(_, end, ..)| end >= from)
        .map(|&(start, _, rank, i)| (rank, start, i))
        .min()
        .map(|(_, _, i)| i)
}

/// How strongly event `i` shows a control-plane disruption (lower is stronger), if it does.
fn control_plane_rank(ctx: &Ctx<'_>, i: usize) -> Option<u8> {
    let e = ctx.event(i);
    // Every API server built on k8s.io/apiserver records its lifecycle events, aggregated
    // ones too (openshift-apiserver, run by a Deployment); one replica of a workload
    // terminating, or failing its probes, is that workload's rollout or its own trouble
    // while the other replicas serve: the control plane's own API server and etcd are
    // static pods (no controller) or report on their namespace.
    if run_by_controller(e) {
        return None;
    }
    // A kubelet's start is no sign: nodes join and restart their kubelet all the time.
    if matches!(e.reason.as_str(), "ShutdownInitiated" | "TerminationStart") {
        return Some(0);
    }
    let failing = matches!(
        ctx.signals[i],
        Signal::CrashBackOff
            | Signal::LivenessFailed
            | Signal::LivenessKill
            | Signal::ReadinessFailed
    );
    (failing && e.regarding.kind == "Pod" && is_control_plane_pod(&e.regarding.name)).then_some(1)
}

/// Whether `e` is about a pod that a workload controller runs (its correlation ID names its
/// Deployment, DaemonSet, … rather than the pod itself or its node).
fn run_by_controller(e: &AnalysisEvent) -> bool {
    let mut parts = e.correlation_id.rsplit('/');
    let kind = parts.nth(1).unwrap_or_default();
    e.regarding.kind == "Pod" && !kind.is_empty() && kind != "Pod" && kind != "Node"
}

/// Whether a pod is the API server's or etcd's static pod: kubelet mirror pods are named
/// `<pod>-<node>` and kubeadm's manifests name them `kube-apiserver` and `etcd`.
fn is_control_plane_pod(name: &str) -> bool {
    name.starts_with("kube-apiserver-") || name.starts_with("etcd-")
}

#[cfg(test)]
mod tests {
    use super::*;

    use kubetrail_model::{AnalysisEvent, AnalysisOccurrences};
    use proptest::prelude::*;

    use super::super::episodes::episodes;
    use crate::testing::{about, node_event, pod_warning};

    /// Crash waves and node links of `events`, found by the indexed code and by the scan.
    fn both_ways(events: &[AnalysisOccurrences]) {
        let refs: Vec<&AnalysisOccurrences> = events.iter().collect();
        let ctx = Ctx::new(&refs);
        for quiet in [SignedDuration::from_mins(5), SignedDuration::from_mins(30)] {
            let eps = episodes(&ctx, quiet);
            assert_eq!(waves(&ctx, &eps), waves_by_scan(&ctx, &eps));
            let window = SignedDuration::from_mins(10);
            assert_eq!(
                node_links(&ctx, &eps, window),
                node_links_by_scan(&ctx, &eps, window)
            );
        }
    }

    /// One generated failure: (what, namespace, pod, first minute, minutes long).
    fn failure((what, ns, pod, first, len): (u8, u8, u8, i64, i64)) -> AnalysisOccurrences {
        let ns = format!("ns-{ns}");
        let pod = format!("app-{pod}-5c9b7d8f6d-4kqzv");
        let (first, last) = (first, first + len);
        let (reason, note) = match what {
            0 => ("BackOff", "Back-off restarting failed container"),
            1 => ("Unhealthy", "Readiness probe failed: connection refused"),
            2 => ("Unhealthy", "Liveness probe failed: connection refused"),
            3 => (
                "Killing",
                "Container app failed liveness probe, will be restarted",
            ),
            4 => ("FailedScheduling", "no nodes available to schedule pods"),
            5 => {
                return about(
                    "Namespace",
                    "",
                    "kube-system",
                    "Normal",
                    "TerminationStart",
                    "Received signal to terminate, becoming unready, but keeping serving",
                )
                .span(first, last, 2)
                .build();
            }
            6 => {
                return pod_warning(
                    "kube-system",
                    &format!("kube-apiserver-m-{}", pod.len() % 3),
                    "Unhealthy",
                    "Liveness probe failed: HTTP probe failed with statuscode: 500",
                )
                .container("kube-apiserver")
                .by_kubelet("m-1")
                .span(first, last, 3)
                .build();
            }
            _ => {
                return node_event(
                    &format!("n-{ns}"),
                    "Normal",
                    "NodeNotReady",
                    "Node is not ready",
                )
                .span(first, last, 1)
                .build();
            }
        };
        if what == 4 {
            return pod_warning(&ns, &pod, reason, note)
                .span(first, last, 2)
                .build();
        }
        pod_warning(&ns, &pod, reason, note)
            .container("app")
            .by_kubelet("m-1")
            .span(first, last, 3)
            .build()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        /// Issue: `incidents` took 28 s instead of about 1 s on a million events because the
        /// crash-wave search scanned every event and episode once per wave. The indexed search
        /// must find the same waves, members in the same order, and the same anchors.
        #[test]
        fn indexed_wave_search_finds_what_the_scan_found(
            failures in proptest::collection::vec(
                (0u8..8, 0u8..5, 0u8..6, 0i64..240, 0i64..20),
                0..60,
            )
        ) {
            let events: Vec<AnalysisOccurrences> = failures.into_iter().map(failure).collect();
            both_ways(&events);
        }
    }

    /// A workload failing its probes before the wave, restarted a minute before the wave's
    /// first crash: the restart is the wave's (`WAVE_GAP`), found through the restarts index.
    #[test]
    fn indexed_wave_search_finds_a_restart_just_before_the_wave() {
        let mut events = vec![failure((5, 0, 0, 0, 0))];
        for (ns, pod, m) in [(1, 1, 2), (2, 2, 2), (3, 3, 3)] {
            events.push(failure((0, ns, pod, m, 1)));
        }
        events.push(failure((1, 4, 4, -12, 11)));
        events.push(failure((0, 4, 4, 1, 1)));
        both_ways(&events);
        let refs: Vec<&AnalysisOccurrences> = events.iter().collect();
        let ctx = Ctx::new(&refs);
        let eps = episodes(&ctx, SignedDuration::from_mins(30));
        let found = waves(&ctx, &eps);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].members.len(), 4, "{found:#?}");
    }

    /// The same over the real dumps, all at once (one cluster each), when they are there.
    #[test]
    fn indexed_wave_search_finds_what_the_scan_found_in_the_real_dumps() {
        use kubetrail_model::Occurrence;
        use kubetrail_process::{Processor, Rules};
        use kubetrail_source::import::{Item, discover, read_file};

        let Ok(dir) = std::env::var("KUBETRAIL_REAL_EVENTS") else {
            eprintln!("KUBETRAIL_REAL_EVENTS not set: skipped");
            return;
        };
        let found = discover(&[std::path::PathBuf::from(dir)]).expect("the real dumps");
        let mut events = Vec::new();
        let mut strings = kubetrail_model::SharedStrings::default();
        for file in &found.files {
            let mut processor = Processor::new(Rules::builtin());
            for item in read_file(&file.path, "test").expect("a dump").flatten() {
                match item {
                    Item::Object(link) => processor.observe(link),
                    Item::Event { event, .. } => {
                        let event = processor.process(event);
                        let occurrences = vec![Occurrence {
                            at: event.first_seen,
                            count: event.count.max(1),
                        }];
                        events.push(AnalysisOccurrences {
                            event: AnalysisEvent::of(&event, &mut strings),
                            occurrences,
                        });
                    }
                    Item::Revision(_) | Item::Skipped { .. } => {}
                }
            }
        }
        assert!(events.len() > 10_000, "{} events", events.len());
        let refs: Vec<&AnalysisOccurrences> = events.iter().collect();
        let ctx = Ctx::new(&refs);
        let eps = episodes(&ctx, SignedDuration::from_mins(30));
        let found = waves(&ctx, &eps);
        assert!(!found.is_empty(), "the dumps hold crash waves");
        both_ways(&events);
    }

    // The crash-wave search and node links as they were before the indexes of [`WaveIndex`]:
    // one scan of every event and episode per wave. The indexed code must find the same.

    fn node_links_by_scan(
        ctx: &Ctx<'_>,
        episodes: &[Episode<'_>],
        window: SignedDuration,
    ) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        for (c, cluster) in episodes.iter().enumerate() {
            if cluster.scope != Scope::Cluster(ClusterCause::NoReadyNode) {
                continue;
            }
            for (n, node) in episodes.iter().enumerate() {
                let Scope::Node(_) = node.scope else { continue };
                let not_ready = node.events.iter().any(|&i| {
                    ctx.signals[i] == Signal::NodeDown && ctx.event(i).reason == "NodeNotReady"
                });
                if node.cluster == cluster.cluster
                    && not_ready
                    && node.start <= cluster.end + window
                    && cluster.start <= node.end + window
                {
                    out.push((n, c));
                }
            }
        }
        out
    }

    fn waves_by_scan(ctx: &Ctx<'_>, episodes: &[Episode<'_>]) -> Vec<Wave> {
        let mut starts: Map<&str, Vec<usize>> = Map::default();
        for (n, ep) in episodes.iter().enumerate() {
            let Scope::Owner(_) = ep.scope else { continue };
            if ep.events.first().is_some_and(|&i| is_crash(ctx.signals[i])) {
                starts.entry(ep.cluster).or_default().push(n);
            }
        }
        let mut out = Vec::new();
        for (cluster, mut list) in starts {
            list.sort_by_key(|&n| (episodes[n].start, n));
            let mut chain: Vec<usize> = Vec::new();
            for n in list {
                if let Some(&last) = chain.last()
                    && episodes[n].start > episodes[last].start + WAVE_GAP
                {
                    out.extend(wave_by_scan(ctx, episodes, cluster, &chain));
                    chain.clear();
                }
                chain.push(n);
            }
            out.extend(wave_by_scan(ctx, episodes, cluster, &chain));
        }
        out.sort_by_key(|w| w.start);
        out
    }

    fn wave_by_scan(
        ctx: &Ctx<'_>,
        episodes: &[Episode<'_>],
        cluster: &str,
        chain: &[usize],
    ) -> Option<Wave> {
        let owners: BTreeSet<&str> = chain.iter().filter_map(|&n| owner(&episodes[n])).collect();
        let namespaces: BTreeSet<&str> = chain
            .iter()
            .flat_map(|&n| episodes[n].events.first())
            .map(|&i| namespace_of(ctx.event(i)))
            .collect();
        if owners.len() < WAVE_WORKLOADS || namespaces.len() < 2 {
            return None;
        }
        let start = episodes[*chain.first()?].start;
        let last = episodes[*chain.last()?].start;
        let mut members = chain.to_vec();
        // Pods that start failing their probes while the wave goes on are hit by it too, and so
        // are workloads already failing before it (their probes, an earlier crash) whose
        // containers are restarted with it: a back-off or liveness kill that begins inside the
        // wave is the wave's, whatever came before. (A liveness probe failing alone is no
        // restart: a replica shutting down in its rollout fails it too.)
        for (n, ep) in episodes.iter().enumerate() {
            if ep.cluster != cluster || !matches!(ep.scope, Scope::Owner(_)) || members.contains(&n)
            {
                continue;
            }
            let probes_fail = ep.start >= start
                && ep.start <= last
                && ep.events.first().is_some_and(|&i| {
                    matches!(
                        ctx.signals[i],
                        Signal::ReadinessFailed | Signal::LivenessFailed
                    )
                });
            let crashes_with = ep.events.iter().any(|&i| {
                matches!(ctx.signals[i], Signal::CrashBackOff | Signal::LivenessKill)
                    && ctx.start(i) >= start - WAVE_GAP
                    && ctx.start(i) <= last
            });
            if probes_fail || crashes_with {
                members.push(n);
            }
        }
        let end = members
            .iter()
            .map(|&n| episodes[n].end)
            .max()
            .unwrap_or(last);
        // Crash loops that start together with no sign of the control plane failing may be
        // unrelated (several releases rolled out at once): only a seen disruption joins them.
        let anchor = anchor_by_scan(ctx, cluster, start - WAVE_LOOKBACK, last)?;
        Some(Wave {
            cluster: cluster.to_string(),
            members,
            anchor: Some(anchor),
            start,
            end,
        })
    }

    fn anchor_by_scan(
        ctx: &Ctx<'_>,
        cluster: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Option<usize> {
        (0..ctx.events.len())
            .filter(|&i| {
                let e = ctx.event(i);
                e.cluster == cluster && ctx.start(i) <= to && ctx.end(i) >= from
            })
            .filter_map(|i| control_plane_rank(ctx, i).map(|r| (r, ctx.start(i), i)))
            .min()
            .map(|(_, _, i)| i)
    }

    #[test]
    fn scheduler_messages_that_reject_every_node_for_a_taint_are_cluster_wide() {
        assert_eq!(
            scheduling("no nodes available to schedule pods"),
            Some(ClusterCause::NoReadyNode)
        );
        assert_eq!(
            scheduling(
                "0/1 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."
            ),
            Some(ClusterCause::NoReadyNode)
        );
        assert_eq!(
            scheduling(
                "0/3 nodes are available: 3 node(s) had taint {node-role.kubernetes.io/master: }, that the pod didn't tolerate."
            ),
            Some(ClusterCause::TaintedNodes)
        );
        assert_eq!(
            scheduling(
                "0/4 nodes are available: 1 node(s) had taint {node.kubernetes.io/not-ready: }, that the pod didn't tolerate, 3 node(s) had taint {node-role.kubernetes.io/master: }, that the pod didn't tolerate."
            ),
            Some(ClusterCause::TaintedNodes)
        );
        // Some nodes are rejected for another reason: the pod's own constraints.
        assert_eq!(
            scheduling(
                "0/3 nodes are available: 1 node(s) had taint {node.kubernetes.io/not-ready: }, that the pod didn't tolerate, 2 node(s) didn't match pod anti-affinity rules."
            ),
            None
        );
        assert_eq!(
            scheduling("0/3 nodes are available: 3 Insufficient cpu."),
            None
        );
    }
}
