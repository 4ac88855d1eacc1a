//! Incidents: what went wrong and why. Failures (events rated warning or worse) are grouped by
//! their top owner (the correlation ID) or, for node conditions, by node; a group splits where
//! it goes quiet; an owner's group joins a node's when a causal chain links them through that
//! node (its condition and the eviction of its pods, its OOM killer and its pods' crash loops).
//! One cause that hits many workloads (no ready node, every node tainted, the pod network not
//! ready, the control plane disrupted so many workloads crash-loop together) is one
//! cluster-wide incident listing the workloads it hit ([`cluster`](self::ClusterCause)).
//! Nothing else merges groups: two workloads failing on one node at the same time for their
//! own reasons are two incidents. Each incident gets a root cause from the causal rules
//! ([`rules`](self::Rule)), the evidence, a hint of what to check, and a timeline.
//! [`link_changes`] then roots incidents that began shortly after a change in the change.

mod changes;
mod cluster;
mod context;
mod episodes;
mod evidence;
mod hints;
mod id;
mod links;
mod named;
mod rules;
mod signals;

#[cfg(test)]
mod tests;

pub(crate) use changes::concerning;
pub use changes::link_changes;
pub use cluster::ClusterCause;
pub use rules::Rule;

/// The reasons of the failures a cluster-wide cause is read from ([`cluster_cause`]) or joined
/// by (a node's `NodeNotReady`): what `explain` reads across the cluster when its target
/// reports such a cause, so that the one incident it belongs to is found.
pub const CLUSTER_CAUSE_REASONS: [&str; 3] =
    ["FailedScheduling", "NetworkNotReady", "NodeNotReady"];

/// The cluster-wide cause an event reports by itself (a scheduler summary that rejects every
/// node for a taint or finds none, a sandbox without network), if any.
pub fn cluster_cause(e: &kubetrail_model::AnalysisEvent) -> Option<ClusterCause> {
    cluster::reported(e)
}

use std::collections::BTreeSet;

/// The maps of an analysis, keyed by borrowed strings and indexes: foldhash, not SipHash (the
/// maintainer analyses every stored event; SipHash was ~3 % of its pass). Their order is
/// random in either case: nothing here depends on it.
pub(crate) type Map<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
/// A set of the same kind as [`Map`].
pub(crate) type Set<T> = std::collections::HashSet<T, foldhash::fast::RandomState>;

use jiff::{SignedDuration, Timestamp};
use kubetrail_model::{AnalysisOccurrences, Change, Severity};
use serde::{Deserialize, Serialize};

use crate::objects::full_object;
use crate::{Error, Result, Window};
use context::Ctx;
use episodes::{Episode, Scope};

/// Settings of [`incidents`].
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentConfig {
    /// Silence that ends an incident: a longer gap starts a new one, and an incident silent
    /// this long before the end of the window is resolved (default 30m).
    pub quiet: SignedDuration,
    /// How long after a node condition or OOM kill an eviction or crash loop on that node is
    /// taken as its effect (default 10m).
    pub link_window: SignedDuration,
    /// Timeline entries kept per incident, the oldest first (default 50).
    pub max_timeline: usize,
    /// Objects named per incident (default 50; `object_count` has them all).
    pub max_objects: usize,
    /// When the question is asked: an incident is ongoing only when it failed within `quiet`
    /// before both the window's end and this time (an imported bundle's last incident is
    /// over). Default: none, the window's end alone.
    pub now: Option<Timestamp>,
    /// How long before an incident's first failure a change of what it depends on is taken as
    /// its cause ([`link_changes`]; default 15m).
    pub change_window: SignedDuration,
}

impl Default for IncidentConfig {
    fn default() -> Self {
        IncidentConfig {
            quiet: SignedDuration::from_mins(30),
            link_window: SignedDuration::from_mins(10),
            max_timeline: 50,
            max_objects: 50,
            now: None,
            change_window: SignedDuration::from_mins(15),
        }
    }
}

impl IncidentConfig {
    /// Refuses a negative `quiet` or `link_window`; the error names the setting.
    pub fn validate(&self) -> Result<()> {
        for (name, d) in [
            ("quiet", self.quiet),
            ("link_window", self.link_window),
            ("change_window", self.change_window),
        ] {
            if d.is_negative() {
                return Err(Error::InvalidSetting {
                    name,
                    reason: format!("must not be negative, not {d:?}"),
                });
            }
        }
        Ok(())
    }
}

/// Whether an incident is still going on when the question is asked.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
#[schema(as = IncidentStatus)]
pub enum Status {
    /// Still failing within the quiet period before the end of the window.
    Ongoing,
    /// Silent for at least the quiet period.
    Resolved,
}

/// The likely root cause of an incident and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RootCause {
    /// Reason of the root event.
    pub reason: String,
    /// Name of the rule that chose it (`failed-mount`, `image-pull`, …).
    pub rule: String,
    /// Facts the rule relied on, the root event first.
    pub evidence: Vec<String>,
    /// The object of the root event (`namespace/Kind/name`).
    pub object: String,
    /// The root event's message.
    pub message: String,
    /// When the root event was first seen.
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    /// What to check next.
    pub hint: String,
    /// The change the failures followed, when the root cause is one (rule `change`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<Change>,
}

/// One Event object in an incident's timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TimelineEntry {
    /// When the Event object was first seen (possibly before the window).
    #[schema(value_type = String, format = DateTime)]
    pub first_seen: Timestamp,
    /// When it was last seen.
    #[schema(value_type = String, format = DateTime)]
    pub last_seen: Timestamp,
    /// Occurrences in the window.
    pub count: u64,
    /// The regarding object (`namespace/Kind/name`).
    pub object: String,
    /// The event reason.
    pub reason: String,
    /// The severity processing gave it.
    pub severity: Severity,
    /// The event's message.
    pub message: String,
}

/// A workload an incident hit, with how much of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AffectedWorkload {
    /// Its correlation ID (`shop/Deployment/web`).
    pub workload: String,
    /// Distinct objects of it with a failure (pods, mostly).
    pub objects: usize,
    /// Occurrences of its failures in the window.
    pub events: u64,
}

/// Failures that belong together, with their likely root cause.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Incident {
    /// Stable for the same failures: a hash of the cluster, what the incident is about and its
    /// start.
    pub id: String,
    /// The cluster its events come from.
    pub cluster: String,
    /// The correlation ID (`shop/Deployment/web`), node (`Node/worker-1`) or, for a
    /// cluster-wide cause, `Cluster/<cause>` (`Cluster/no-ready-node`) it is about.
    pub subject: String,
    /// Whether one cause hit many workloads (the subject is then `Cluster/<cause>`).
    pub cluster_wide: bool,
    /// The workloads hit, in order of first failure, with counts (all of them, not capped).
    pub affected: Vec<AffectedWorkload>,
    /// The subject and the root-cause rule in words, e.g. `shop/Deployment/web: container
    /// crash-looping`.
    pub title: String,
    /// The highest severity among its events.
    pub severity: Severity,
    /// Ongoing or resolved at the end of the window (or at `IncidentConfig::now`, if later).
    pub status: Status,
    /// When its first failure began.
    #[schema(value_type = String, format = DateTime)]
    pub start: Timestamp,
    /// When its last failure was last seen.
    #[schema(value_type = String, format = DateTime)]
    pub end: Timestamp,
    /// The likely root cause and why.
    pub root_cause: RootCause,
    /// Objects affected (`namespace/Kind/name`), in order of first failure.
    pub objects: Vec<String>,
    /// How many objects are affected, including those beyond `max_objects` in `objects`.
    pub object_count: usize,
    /// Nodes its pods ran on, when known.
    pub nodes: Vec<String>,
    /// Occurrences of its events in the window.
    pub event_count: u64,
    /// Its Event objects, oldest first, at most `max_timeline`.
    pub timeline: Vec<TimelineEntry>,
    /// Timeline entries left out beyond `max_timeline`.
    pub timeline_omitted: usize,
}

/// The incidents among `events` (each with its occurrences inside `window`): ongoing first, then
/// the most severe, then the most recent.
pub fn incidents(
    events: &[AnalysisOccurrences],
    window: Window,
    cfg: &IncidentConfig,
) -> Result<Vec<Incident>> {
    let events: Vec<&AnalysisOccurrences> = events.iter().collect();
    incidents_in(&events, window, cfg)
}

/// [`incidents`] of events held apart (each read where it lies: the incidents maintainer
/// merges the parts of its reads by reference, never moving an event), in this order.
pub fn incidents_in(
    events: &[&AnalysisOccurrences],
    window: Window,
    cfg: &IncidentConfig,
) -> Result<Vec<Incident>> {
    cfg.validate()?;
    let ctx = Ctx::new(events);
    let all: Vec<Episode<'_>> = episodes::episodes(&ctx, cfg.quiet);
    // A failure got past is no incident of its own, but when many workloads crash together
    // it is part of what the disruption did: crash waves are found among all episodes, and a
    // healed episode stays only as a wave's member.
    let found = cluster::waves(&ctx, &all);
    let in_wave: Set<usize> = found
        .iter()
        .flat_map(|w| w.members.iter().copied())
        .collect();
    let mut index = vec![usize::MAX; all.len()];
    let mut episodes: Vec<Episode<'_>> = Vec::new();
    for (n, ep) in all.into_iter().enumerate() {
        if in_wave.contains(&n) || !evidence::healed(&ctx, &ep) {
            index[n] = episodes.len();
            episodes.push(ep);
        }
    }
    let found: Vec<cluster::Wave> = found
        .into_iter()
        .map(|mut w| {
            w.members = w.members.iter().map(|&m| index[m]).collect();
            w
        })
        .collect();
    // (effect, cause) episode pairs; the cause's episode stays the representative: it names
    // the incident.
    let mut joins: Vec<(usize, usize)> = links::links(&ctx, &episodes, cfg.link_window)
        .iter()
        .map(|l| (l.effect, l.cause))
        .collect();
    joins.extend(cluster::node_links(&ctx, &episodes, cfg.link_window));
    joins.extend(named::links(&ctx, &episodes));
    joins.extend(named::api_check_links(&ctx, &episodes));
    joins.extend(links::probes_before_not_ready(&ctx, &episodes));
    // A crash wave gets an episode of its own, holding its control-plane cause (if seen),
    // that its workloads' episodes join.
    for wave in found {
        let n = episodes.len();
        let cluster = ctx
            .events
            .iter()
            .map(|e| e.event.cluster.as_str())
            .find(|c| *c == wave.cluster)
            .unwrap_or_default();
        let start = wave
            .anchor
            .map_or(wave.start, |a| ctx.start(a).min(wave.start));
        // The episode of a failing control-plane pod that roots the wave (its probes failing
        // since before the crashes) is the wave's cause, not an incident of its own.
        let cause = wave.anchor.and_then(|a| {
            episodes
                .iter()
                .position(|ep| matches!(ep.scope, Scope::Owner(_)) && ep.events.contains(&a))
        });
        episodes.push(Episode {
            cluster,
            scope: Scope::Cluster(ClusterCause::CrashWave),
            events: wave.anchor.into_iter().collect(),
            start,
            end: wave.end,
        });
        joins.extend(wave.members.iter().chain(&cause).map(|&m| (m, n)));
    }
    let mut parent: Vec<usize> = (0..episodes.len()).collect();
    for (effect, cause) in joins {
        let (a, b) = (find(&mut parent, effect), find(&mut parent, cause));
        if a != b {
            parent[a] = b;
        }
    }
    let mut groups: Map<usize, Vec<usize>> = Map::default();
    for e in 0..episodes.len() {
        let root = find(&mut parent, e);
        groups.entry(root).or_default().push(e);
    }
    let mut out: Vec<Incident> = groups
        .into_iter()
        .map(|(root, members)| build(&ctx, &episodes, root, &members, window, cfg))
        .collect();
    sort_incidents(&mut out);
    Ok(out)
}

/// Sorts incidents as [`incidents`] answers them: ongoing first, then the most severe, then
/// the latest to end.
pub fn sort_incidents(found: &mut [Incident]) {
    found.sort_by(incident_order);
}

/// The order of [`sort_incidents`]: ongoing first, then the most severe, then the most recent.
pub fn incident_order(a: &Incident, b: &Incident) -> std::cmp::Ordering {
    incident_order_by(
        (a.status, a.severity, a.end, &a.id),
        (b.status, b.severity, b.end, &b.id),
    )
}

/// [`incident_order`] by what it looks at, `(status, severity, end, id)`: for what stands
/// for an incident without being one (a stored incident's summary).
pub fn incident_order_by(
    (a_status, a_severity, a_end, a_id): (Status, Severity, Timestamp, &str),
    (b_status, b_severity, b_end, b_id): (Status, Severity, Timestamp, &str),
) -> std::cmp::Ordering {
    a_status
        .cmp(&b_status)
        .then_with(|| b_severity.cmp(&a_severity))
        .then_with(|| b_end.cmp(&a_end))
        .then_with(|| a_id.cmp(b_id))
}

fn find(parent: &mut [usize], mut x: usize) -> usize {
    while parent[x] != x {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    x
}

fn build(
    ctx: &Ctx<'_>,
    episodes: &[Episode<'_>],
    root: usize,
    members: &[usize],
    window: Window,
    cfg: &IncidentConfig,
) -> Incident {
    let primary = &episodes[root];
    let mut events: Vec<usize> = members
        .iter()
        .flat_map(|&m| episodes[m].events.iter().copied())
        .collect();
    events.sort_by_key(|&i| (ctx.start(i), i));
    events.dedup();
    let start = members
        .iter()
        .map(|&m| episodes[m].start)
        .min()
        .unwrap_or(primary.start);
    let end = members
        .iter()
        .map(|&m| episodes[m].end)
        .max()
        .unwrap_or(primary.end);
    // A failure the object got past (issue 13, 2.3) is not the root of what still failed.
    let live: Vec<usize> = events
        .iter()
        .copied()
        .filter(|&i| !evidence::got_past(ctx, i))
        .collect();
    let basis = if live.is_empty() { &events } else { &live };
    let finding = match primary.scope {
        // A wave's own episode holds only its anchor, when it has one.
        Scope::Cluster(c @ ClusterCause::CrashWave) => {
            rules::cluster_root(ctx, c, basis, primary.events.first().copied())
        }
        Scope::Cluster(c) => rules::cluster_root(ctx, c, basis, None),
        _ => rules::root_cause(ctx, basis),
    };
    let root_event = ctx.event(finding.root);
    let subject = match primary.scope {
        Scope::Owner(c) => c.to_string(),
        Scope::Node(n) => format!("Node/{n}"),
        Scope::Cluster(c) => format!("Cluster/{}", c.name()),
    };
    let cluster_wide = matches!(primary.scope, Scope::Cluster(_));
    let affected = affected(ctx, &events);
    let mut objects: Vec<String> = Vec::new();
    let mut seen = BTreeSet::new();
    let mut nodes = BTreeSet::new();
    for &i in &events {
        let o = full_object(ctx.event(i));
        if seen.insert(o.clone()) {
            objects.push(o);
        }
        if let Some(n) = ctx.node(i) {
            nodes.insert(n.to_string());
        }
    }
    let object_count = objects.len();
    objects.truncate(cfg.max_objects);
    let timeline: Vec<TimelineEntry> = events
        .iter()
        .take(cfg.max_timeline)
        .map(|&i| entry(ctx.events[i]))
        .collect();
    let asked = cfg.now.map_or(window.until, |now| now.max(window.until));
    let status = if asked.duration_since(end) >= cfg.quiet || node_recovered(ctx, &events) {
        Status::Resolved
    } else {
        Status::Ongoing
    };
    let title = if cluster_wide {
        format!(
            "cluster-wide: {} ({} workloads)",
            finding.rule.describe(),
            affected.len()
        )
    } else {
        format!("{subject}: {}", finding.rule.describe())
    };
    Incident {
        id: id::incident_id(primary.cluster, &subject, start),
        cluster: primary.cluster.to_string(),
        title,
        subject,
        cluster_wide,
        affected,
        severity: events
            .iter()
            .map(|&i| ctx.event(i).severity)
            .max()
            .unwrap_or(Severity::Warning),
        status,
        start,
        end,
        root_cause: RootCause {
            reason: root_event.reason.to_string(),
            rule: finding.rule.name().to_string(),
            evidence: finding.evidence,
            object: full_object(root_event),
            message: root_event.note.to_string(),
            at: root_event.first_seen,
            hint: hints::hint(finding.rule, root_event, ctx.node(finding.root)),
            change: None,
        },
        objects,
        object_count,
        nodes: nodes.into_iter().collect(),
        event_count: events.iter().map(|&i| ctx.events[i].count()).sum(),
        timeline_omitted: events.len() - timeline.len(),
        timeline,
    }
}

/// The workloads (correlation IDs) of the incident's failures about namespaced objects, in
/// order of first failure, with their objects and occurrences.
fn affected(ctx: &Ctx<'_>, events: &[usize]) -> Vec<AffectedWorkload> {
    let mut out: Vec<AffectedWorkload> = Vec::new();
    let mut objects: Vec<BTreeSet<&str>> = Vec::new();
    let mut index: Map<&str, usize> = Map::default();
    for &i in events {
        let e = ctx.event(i);
        if matches!(e.regarding.kind.as_str(), "Node" | "Namespace")
            || e.correlation_id.is_empty()
            || ctx.failures.binary_search(&i).is_err()
        {
            continue;
        }
        let k = *index.entry(e.correlation_id.as_str()).or_insert_with(|| {
            out.push(AffectedWorkload {
                workload: e.correlation_id.to_string(),
                objects: 0,
                events: 0,
            });
            objects.push(BTreeSet::new());
            out.len() - 1
        });
        objects[k].insert(e.regarding.name.as_str());
        out[k].objects = objects[k].len();
        out[k].events += ctx.events[i].count();
    }
    out
}

/// Whether the incident is only node conditions, each cleared since by the node (`NodeReady`
/// after `NodeNotReady`): over without waiting for the quiet period.
fn node_recovered(ctx: &Ctx<'_>, events: &[usize]) -> bool {
    events.iter().all(|&i| {
        ctx.signals[i] == signals::Signal::NodeDown
            && ctx
                .node(i)
                .is_some_and(|n| links::recovered(ctx, i, n, Timestamp::MAX))
    })
}

/// One timeline entry for an event.
pub(crate) fn entry(e: &AnalysisOccurrences) -> TimelineEntry {
    TimelineEntry {
        first_seen: e.event.first_seen,
        last_seen: e.event.last_seen,
        count: e.count(),
        object: full_object(&e.event),
        reason: e.event.reason.to_string(),
        severity: e.event.severity,
        message: e.event.note.to_string(),
    }
}
