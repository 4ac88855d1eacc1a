//! Changes (issue 15) as `kubetrail changes`, `explain`, the incident analyses and
//! `GET /api/v1/changes` read them: the filter from text, the listing's time rule (the one of
//! `query`, ending at the newest matching change), and the changes an analysis window links
//! its incidents to.
//!
//! A store that keeps no changes ([`EventReader::change_store`] is `None`: the agent's) answers none.

use std::collections::HashSet;

use jiff::{SignedDuration, Timestamp};
use kubetrail_model::{Change, ChangeFilter, EventFilter};
use kubetrail_store::EventReader;

use crate::range::Range;
use crate::{Result, split_list};

/// Workload kinds whose records say which ConfigMaps and Secrets they reference.
const WORKLOAD_KINDS: [&str; 4] = ["Deployment", "StatefulSet", "DaemonSet", "CronJob"];

/// Most workload records read to learn what the workloads of an analysis reference.
const MAX_WORKLOAD_RECORDS: usize = 10_000;

/// The filters of a change listing as typed (comma lists allowed).
#[derive(Debug, Clone, Default)]
pub struct ChangeText {
    /// Cluster names (`--cluster`, `cluster=`); empty: every cluster in scope.
    pub clusters: Vec<String>,
    /// Namespaces; empty: every namespace in scope.
    pub namespaces: Vec<String>,
    /// Object kinds, e.g. `Deployment`, `ConfigMap`, `Node`; empty: every kind.
    pub kinds: Vec<String>,
    /// Object names; empty: every name.
    pub names: Vec<String>,
}

impl ChangeText {
    /// The model filter, without times and limit.
    pub fn filter(&self) -> ChangeFilter {
        ChangeFilter {
            clusters: split_list(&self.clusters),
            namespaces: split_list(&self.namespaces),
            kinds: split_list(&self.kinds)
                .iter()
                .map(|k| crate::parse_kind(k))
                .collect(),
            names: split_list(&self.names),
            ..ChangeFilter::default()
        }
    }
}

/// Changes matching `filter`, newest first (none when the store keeps none).
pub async fn read_changes(store: &dyn EventReader, filter: &ChangeFilter) -> Result<Vec<Change>> {
    match store.change_store() {
        Some(changes) => Ok(changes.changes(filter).await?),
        None => Ok(Vec::new()),
    }
}

/// The bounds of a change listing, set on `filter` as [`resolve_bounds`](crate::resolve_bounds)
/// sets a listing's: unbounded unless given; a duration counts back from `until`, else from just
/// after the newest matching change, which then bounds the listing too.
pub async fn resolve_change_bounds(
    store: &dyn EventReader,
    filter: &mut ChangeFilter,
    range: Range,
    now: Timestamp,
) -> Result<()> {
    let end = if range.needs_end() {
        newest_change(store, filter).await?
    } else {
        None
    };
    (filter.since, filter.until) = range.listing_bounds(end.unwrap_or(now))?;
    Ok(())
}

/// Just after the newest change matching `filter` at any time.
async fn newest_change(
    store: &dyn EventReader,
    filter: &ChangeFilter,
) -> Result<Option<Timestamp>> {
    let any_time = ChangeFilter {
        since: None,
        until: None,
        limit: 1,
        ..filter.clone()
    };
    Ok(read_changes(store, &any_time)
        .await?
        .first()
        .map(|c| c.at + SignedDuration::from_micros(1)))
}

/// The changes an analysis of `events` (a filter with its window set) links incidents to
/// (`kubetrail_analyze::link_changes`): those made in its clusters and namespaces from
/// `change_window` before the window's start to its end, at most `max` (0: no limit, else the
/// latest), and the latest records of the workloads of the namespaces where a ConfigMap or
/// Secret changed (which say what the workloads reference). Cluster-scoped changes (Nodes) are
/// read only when the filter names no namespace: a namespace (or a tenant's scope) sees its
/// own objects' changes.
pub async fn window_changes(
    store: &dyn EventReader,
    events: &EventFilter,
    change_window: SignedDuration,
    max: usize,
) -> Result<Vec<Change>> {
    let mut filter = ChangeFilter {
        since: events.since.map(|s| s - change_window),
        until: events.until,
        clusters: events.clusters.clone(),
        namespaces: events.namespaces.clone(),
        limit: max,
        ..ChangeFilter::default()
    };
    let mut found = read_changes(store, &filter).await?;
    let mut config_namespaces: Vec<String> = found
        .iter()
        .filter(|c| matches!(c.object.kind.as_str(), "ConfigMap" | "Secret"))
        .map(|c| c.object.namespace.clone())
        .collect();
    config_namespaces.sort();
    config_namespaces.dedup();
    if config_namespaces.is_empty() {
        return Ok(found);
    }
    filter.since = None;
    filter.until = events.until;
    filter.namespaces = config_namespaces;
    filter.kinds = WORKLOAD_KINDS.iter().map(|k| k.to_string()).collect();
    filter.limit = MAX_WORKLOAD_RECORDS;
    let key = |c: &Change| {
        (
            c.cluster.clone(),
            c.object.uid.clone(),
            c.resource_version.clone(),
        )
    };
    let seen: HashSet<_> = found.iter().map(key).collect();
    let records = read_changes(store, &filter).await?;
    found.extend(records.into_iter().filter(|c| !seen.contains(&key(c))));
    Ok(found)
}
