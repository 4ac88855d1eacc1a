//! Threads of failures: by owner (the correlation ID), or by node for node conditions, split
//! where they go quiet.

use std::collections::HashMap;

use jiff::{SignedDuration, Timestamp};

use super::context::Ctx;

/// What a thread of failures is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope<'a> {
    /// A top owner (`shop/Deployment/web`): its pods, ReplicaSets and itself.
    Owner(&'a str),
    /// A node: its conditions, and pods' `NodeNotReady` from the node lifecycle controller.
    Node(&'a str),
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
pub fn episodes<'a>(ctx: &'a Ctx<'_>, quiet: SignedDuration) -> Vec<Episode<'a>> {
    let mut threads: HashMap<(&'a str, Scope<'a>), Vec<usize>> = HashMap::new();
    for &i in &ctx.failures {
        let e = ctx.event(i);
        // Node conditions group by node (a pod's `NodeNotReady` too, when its node is known).
        let node = if ctx.signals[i].is_node_scoped() {
            ctx.placements.node(e)
        } else {
            None
        };
        let scope = match node {
            Some(n) => Scope::Node(n),
            None => Scope::Owner(e.correlation_id.as_str()),
        };
        threads
            .entry((e.cluster.as_str(), scope))
            .or_default()
            .push(i);
    }
    let mut out = Vec::new();
    let mut keys: Vec<(&str, Scope<'a>)> = threads.keys().copied().collect();
    keys.sort();
    for key in keys {
        let Some(mut members) = threads.remove(&key) else {
            continue;
        };
        members.sort_by_key(|&i| (ctx.start(i), i));
        let mut current: Option<Episode<'a>> = None;
        for i in members {
            let (start, end) = (ctx.start(i), ctx.end(i));
            match current.as_mut() {
                Some(ep) if start <= ep.end + quiet => {
                    ep.events.push(i);
                    ep.end = ep.end.max(end);
                }
                _ => {
                    out.extend(current.take());
                    current = Some(Episode {
                        cluster: key.0,
                        scope: key.1,
                        events: vec![i],
                        start,
                        end,
                    });
                }
            }
        }
        out.extend(current);
    }
    out
}
