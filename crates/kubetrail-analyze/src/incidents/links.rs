//! Causal links across owners, through a node: a node condition and the evictions of its pods;
//! the node's OOM killer and the crash loops of its pods; a pod's probes failing on a node
//! that was not ready yet ([`probes_before_not_ready`]). Nothing else joins two owners'
//! failures through a node: two pods failing on the same node at the same time for their own
//! reasons stay two incidents.

use super::Map;
use jiff::{SignedDuration, Timestamp};

use super::context::Ctx;
use super::episodes::{Episode, Scope};
use super::signals::{Signal, clears};

/// Why one episode was joined to a node's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The effect (an owner's episode) and the cause (a node's episode), as episode indices.
    pub effect: usize,
    pub cause: usize,
    /// The node event and the effect event that make the link.
    pub cause_event: usize,
    pub effect_event: usize,
}

/// The links between `episodes`.
pub fn links(ctx: &Ctx<'_>, episodes: &[Episode<'_>], window: SignedDuration) -> Vec<Link> {
    let mut by_node: Map<(&str, &str), Vec<usize>> = Map::default();
    for (n, ep) in episodes.iter().enumerate() {
        if let Scope::Node(node) = ep.scope {
            by_node.entry((ep.cluster, node)).or_default().push(n);
        }
    }
    let mut out = Vec::new();
    for (e, ep) in episodes.iter().enumerate() {
        if !matches!(ep.scope, Scope::Owner(_)) {
            continue;
        }
        'events: for &i in &ep.events {
            let wanted = match ctx.signals[i] {
                Signal::Eviction => Signal::NodeDown,
                Signal::CrashBackOff | Signal::OomKilled => Signal::NodeOom,
                _ => continue,
            };
            let Some(node) = ctx.node(i) else { continue };
            for &n in by_node
                .get(&(ep.cluster, node))
                .map(Vec::as_slice)
                .unwrap_or(&[])
            {
                if let Some(c) = cause(ctx, &episodes[n], wanted, node, ctx.start(i), window) {
                    out.push(Link {
                        effect: e,
                        cause: n,
                        cause_event: c,
                        effect_event: i,
                    });
                    break 'events;
                }
            }
        }
    }
    out
}

/// The event of the node episode that explains an effect at `at`: a `wanted` signal at most
/// `window` before it (or while it still repeated), and, for a node condition, no recovery from
/// that condition between the two.
fn cause(
    ctx: &Ctx<'_>,
    node_episode: &Episode<'_>,
    wanted: Signal,
    node: &str,
    at: Timestamp,
    window: SignedDuration,
) -> Option<usize> {
    node_episode.events.iter().copied().find(|&d| {
        ctx.signals[d] == wanted
            && ctx.start(d) <= at
            && at <= ctx.end(d) + window
            && !(wanted == Signal::NodeDown && recovered(ctx, d, node, at))
    })
}

/// Whether the node reported the condition of event `down` cleared after its latest report
/// (at or after it: a report in the same second cannot be ordered, and a node that says it is
/// ready is not the cause of what follows) and no later than `at`.
pub fn recovered(ctx: &Ctx<'_>, down: usize, node: &str, at: Timestamp) -> bool {
    let d = ctx.event(down);
    let last_down = ctx.end(down).min(at);
    ctx.recoveries
        .get(&(d.cluster.as_str(), node))
        .into_iter()
        .flatten()
        .any(|&u| {
            let up = ctx.event(u);
            clears(&up.reason, &d.reason)
                && [up.first_seen, up.last_seen]
                    .iter()
                    .any(|t| *t >= last_down && *t <= at)
        })
}

/// How long a node can have been failing before the node lifecycle controller reports it
/// `NodeNotReady`: the controller marks a node not ready only once its kubelet has not posted
/// a ready status for `--node-monitor-grace-period` (40 s by default, kubernetes
/// `pkg/controller/nodelifecycle/node_lifecycle_controller.go`), and a freshly started
/// controller reports a node that was never ready on its first pass.
pub const NODE_MONITOR_GRACE: SignedDuration = SignedDuration::from_secs(40);

/// `(effect, cause)` episode pairs: an owner's episode that begins with a probe failure of a
/// pod on a node at most [`NODE_MONITOR_GRACE`] before a `NodeNotReady` about that node (or a
/// pod on it), with no `NodeReady` of the node in between, joins the episode of that
/// `NodeNotReady`: the node was not ready already when the probe failed (the controller only
/// said so later), as when a control-plane node boots and its API server's start-up probe
/// fails seconds before the node is reported not ready.
pub fn probes_before_not_ready(ctx: &Ctx<'_>, episodes: &[Episode<'_>]) -> Vec<(usize, usize)> {
    // NodeNotReady events by (cluster, node), with their episode.
    let mut not_ready: Map<(&str, &str), Vec<(usize, usize)>> = Map::default();
    for (n, ep) in episodes.iter().enumerate() {
        for &d in &ep.events {
            if ctx.event(d).reason == "NodeNotReady"
                && let Some(node) = ctx.node(d)
            {
                not_ready
                    .entry((ep.cluster, node))
                    .or_default()
                    .push((n, d));
            }
        }
    }
    let mut out = Vec::new();
    for (e, ep) in episodes.iter().enumerate() {
        let Some(&first) = ep.events.first() else {
            continue;
        };
        if !matches!(ep.scope, Scope::Owner(_))
            || !matches!(
                ctx.signals[first],
                Signal::LivenessFailed | Signal::ReadinessFailed
            )
        {
            continue;
        }
        let Some(node) = ctx.node(first) else {
            continue;
        };
        let at = ctx.start(first);
        let cause = not_ready
            .get(&(ep.cluster, node))
            .into_iter()
            .flatten()
            .find(|&&(n, d)| {
                n != e
                    && ctx.start(d) >= at
                    && ctx.start(d) <= at + NODE_MONITOR_GRACE
                    && !ready_between(ctx, ep.cluster, node, at, ctx.start(d))
            });
        if let Some(&(n, _)) = cause {
            out.push((e, n));
        }
    }
    out
}

/// Whether `node`'s kubelet reported it ready between `from` and `to`.
fn ready_between(ctx: &Ctx<'_>, cluster: &str, node: &str, from: Timestamp, to: Timestamp) -> bool {
    ctx.recoveries
        .get(&(cluster, node))
        .into_iter()
        .flatten()
        .any(|&u| {
            let up = ctx.event(u);
            up.reason == "NodeReady" && up.last_seen >= from && up.first_seen <= to
        })
}
