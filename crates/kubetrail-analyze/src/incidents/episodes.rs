//! Threads of failures: by owner (the correlation ID), or by node for node conditions, split
//! where they go quiet, and where a different cause starts after the first one healed (issue
//! 13, 2.2: an incident is one failure episode, not everything an owner did in a quiet window).

use super::Map;
use jiff::{SignedDuration, Timestamp};

use super::cluster::{self, ClusterCause};
use super::context::Ctx;
use super::signals::{Signal, container};

/// What a thread of failures is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope<'a> {
    /// A top owner (`shop/Deployment/web`): its pods, ReplicaSets and itself.
    Owner(&'a str),
    /// A node: its conditions, and pods' `NodeNotReady` from the node lifecycle controller.
    Node(&'a str),
    /// A cause that hits many workloads of the cluster (see [`cluster`]).
    Cluster(ClusterCause),
}

/// Failures of one scope with no silence longer than the quiet period between them.
#[derive(Debug, Clone)]
pub struct Episode<'a> {
    pub cluster: &'a str,
    pub scope: Scope<'a>,
    /// Event indices, oldest first.
    pub events: Vec<usize>,
    pub start: Timestamp,
    pub end: Timestamp,
}

/// Splits the failures of `ctx` into episodes. An event is active from its first to its last
/// time (Kubernetes repeated it in between); a thread splits where no event was active for
/// longer than `quiet`.
/// A different cause this long after the last failure of an episode starts a new one even
/// when nothing showed that the first cause healed.
pub const NEW_CAUSE_GAP: SignedDuration = SignedDuration::from_mins(5);

pub fn episodes<'a>(ctx: &'a Ctx<'_>, quiet: SignedDuration) -> Vec<Episode<'a>> {
    // (cluster, scope, whether the failure is about a pod's life): a controller's reports
    // about its own work (an operator's `…CreateFailed` on its Deployment) are a thread apart
    // from its pods failing to schedule, start or run.
    let mut threads: Map<(&'a str, Scope<'a>, bool), Vec<usize>> = Map::default();
    let wide = cluster::scoped(ctx, quiet);
    let bursts = bursts(ctx);
    for &i in &ctx.failures {
        let e = ctx.event(i);
        // Node conditions group by node (a pod's `NodeNotReady` too, when its node is known).
        let node = if ctx.signals[i].is_node_scoped() {
            ctx.placements.node(e)
        } else {
            None
        };
        let scope = match (wide.get(&i), node) {
            (Some(&c), _) => Scope::Cluster(c),
            (None, Some(n)) => Scope::Node(n),
            (None, None) => {
                Scope::Owner(bursts.get(&i).copied().unwrap_or(e.correlation_id.as_str()))
            }
        };
        let pod_life = e.regarding.kind == "Pod" || Cause::of(ctx.signals[i]) != Cause::Other;
        threads
            .entry((e.cluster.as_str(), scope, pod_life))
            .or_default()
            .push(i);
    }
    let mut out = Vec::new();
    let mut keys: Vec<(&str, Scope<'a>, bool)> = threads.keys().copied().collect();
    keys.sort();
    for key in keys {
        let Some(mut members) = threads.remove(&key) else {
            continue;
        };
        members.sort_by_key(|&i| (ctx.start(i), i));
        let mut current: Option<Episode<'a>> = None;
        // Of the current episode: the causes seen (not `Other`), when the last of their
        // failures healed, and their last report.
        let mut causes: Vec<Cause> = Vec::new();
        let mut healed_at = Timestamp::MIN;
        let mut last_report = Timestamp::MIN;
        for i in members {
            let (start, end) = (ctx.start(i), ctx.end(i));
            let cause = Cause::of(ctx.signals[i]);
            // A failure of no known kind (an API server's `NonGracefulTermination` about its
            // previous instance) starts a new episode only once every cause before it was
            // seen to heal: nothing tells it from the same trouble otherwise.
            let new_cause = !causes.is_empty()
                && match cause {
                    Cause::Other => healed_at <= start,
                    _ => {
                        !causes.contains(&cause)
                            && (healed_at <= start || start > last_report + NEW_CAUSE_GAP)
                    }
                };
            match current.as_mut() {
                Some(ep) if start <= ep.end + quiet && !new_cause => {
                    ep.events.push(i);
                    ep.end = ep.end.max(end);
                }
                _ => {
                    out.extend(current.take());
                    causes.clear();
                    healed_at = Timestamp::MIN;
                    last_report = Timestamp::MIN;
                    current = Some(Episode {
                        cluster: key.0,
                        scope: key.1,
                        events: vec![i],
                        start,
                        end,
                    });
                }
            }
            if cause != Cause::Other {
                if !causes.contains(&cause) {
                    causes.push(cause);
                }
                healed_at = healed_at.max(heal_time(ctx, i, cause));
                last_report = last_report.max(end);
            }
        }
        out.extend(current);
    }
    out
}

/// Reports of one controller starting no further apart than this are one burst.
pub const BURST_GAP: SignedDuration = SignedDuration::from_secs(60);

/// One controller failing the same way on several objects of its own at once (the Machine
/// API's cloud actuator refusing to create the workers' VMs, a provisioner failing every
/// claim of a storage class, a cloud controller failing every load balancer): the failure is
/// of what is behind the controller, one episode, not one per object. Failures about objects
/// with no owner above them (their correlation ID is themselves; pods are grouped by their
/// owners and by the cluster-wide causes instead), with the same reason, reporting controller
/// and message template in one namespace, chained while each starts within [`BURST_GAP`] of
/// the previous, over two or more objects: each maps to the correlation ID of the first.
fn bursts<'a>(ctx: &Ctx<'a>) -> Map<usize, &'a str> {
    type Key<'a> = (&'a str, &'a str, &'a str, &'a str, &'a str, &'a str);
    let mut by_key: Map<Key<'a>, Vec<usize>> = Map::default();
    for &i in &ctx.failures {
        let e = ctx.event(i);
        let own = e
            .correlation_id
            .strip_suffix(e.regarding.name.as_str())
            .and_then(|rest| rest.strip_suffix('/'))
            .is_some_and(|rest| rest.ends_with(e.regarding.kind.as_str()));
        if e.regarding.kind == "Pod" || !own || e.template.is_empty() {
            continue;
        }
        let key = (
            e.cluster.as_str(),
            crate::objects::namespace_of(e),
            e.regarding.kind.as_str(),
            e.reason.as_str(),
            e.reporting_controller.as_str(),
            e.template.as_str(),
        );
        by_key.entry(key).or_default().push(i);
    }
    let mut out = Map::default();
    for mut members in by_key.into_values() {
        members.sort_by_key(|&i| (ctx.start(i), i));
        let mut chain: Vec<usize> = Vec::new();
        for i in members {
            if let Some(&last) = chain.last()
                && ctx.start(i) > ctx.start(last) + BURST_GAP
            {
                keep_burst(ctx, &chain, &mut out);
                chain.clear();
            }
            chain.push(i);
        }
        keep_burst(ctx, &chain, &mut out);
    }
    out
}

fn keep_burst<'a>(ctx: &Ctx<'a>, chain: &[usize], out: &mut Map<usize, &'a str>) {
    let objects: std::collections::BTreeSet<&str> = chain
        .iter()
        .map(|&i| ctx.event(i).regarding.name.as_str())
        .collect();
    if objects.len() < 2 {
        return;
    }
    let first = ctx.event(chain[0]).correlation_id.as_str();
    out.extend(chain.iter().map(|&i| (i, first)));
}

/// What kind of cause a failure is, to tell a new cause from the same one coming back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cause {
    /// The pod could not be placed (scheduler `FailedScheduling`, kubelet admission `OutOf*`,
    /// `TaintToleration`).
    Scheduling,
    /// A placed pod could not get its containers ready to run (volumes, images).
    Start,
    /// A started container keeps failing (back-off, probes, OOM kills).
    Running,
    /// Node conditions and evictions.
    Node,
    Other,
}

impl Cause {
    fn of(signal: Signal) -> Cause {
        match signal {
            Signal::Insufficient | Signal::Unschedulable | Signal::TaintNotTolerated => {
                Cause::Scheduling
            }
            Signal::FailedMount | Signal::ImagePull { .. } => Cause::Start,
            // A container that fails to start is backed off like one that exits: one chain.
            Signal::StartFailed
            | Signal::CrashBackOff
            | Signal::LivenessFailed
            | Signal::ReadinessFailed
            | Signal::LivenessKill
            | Signal::OomKilled => Cause::Running,
            Signal::NodeDown | Signal::NodeUp | Signal::NodeOom | Signal::Eviction => Cause::Node,
            Signal::Other => Cause::Other,
        }
    }
}

/// When the object of failure `i` got past it: the scheduler's `Scheduled` after a scheduling
/// failure, the kubelet's `Started` after a start failure (kubernetes
/// `pkg/scheduler/schedule_one.go`, `pkg/kubelet/events/event.go`), the first one after the
/// failure's last report. `Timestamp::MAX` when it did not, or when the cause has no such sign.
///
/// A container that failed while running (back-off, probes, OOM) is healed by the kubelet
/// starting it again after the last report: had the new container failed too, the kubelet
/// would have reported that failure again (a back-off, a probe), after the start.
fn heal_time(ctx: &Ctx<'_>, i: usize, cause: Cause) -> Timestamp {
    let sign = match cause {
        // The kubelet's admission refusals (`OutOfcpu`, `TaintToleration`) come after the
        // pod's `Scheduled`, and a refused pod is never scheduled again.
        Cause::Scheduling if ctx.event(i).reason != "FailedScheduling" => return Timestamp::MAX,
        Cause::Scheduling => "Scheduled",
        Cause::Start | Cause::Running => "Started",
        Cause::Node | Cause::Other => return Timestamp::MAX,
    };
    ctx.same_object(i)
        .iter()
        .filter(|&&j| {
            ctx.event(j).reason == sign
                && ctx.end(j) >= ctx.end(i)
                && (cause == Cause::Scheduling || same_container(ctx, i, j))
        })
        .map(|&j| ctx.start(j).max(ctx.end(i)))
        .min()
        .unwrap_or(Timestamp::MAX)
}

/// Whether two events are about the same container, or either names none.
fn same_container(ctx: &Ctx<'_>, a: usize, b: usize) -> bool {
    match (container(ctx.event(a)), container(ctx.event(b))) {
        (Some(x), Some(y)) => x == y,
        _ => true,
    }
}
