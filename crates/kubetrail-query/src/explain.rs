//! An object's story (`kubetrail explain`, `GET /api/v1/timeline/...`): which object is meant
//! (kubectl's forms and short names), and what to read about it.

use std::collections::{BTreeSet, HashSet};

use jiff::{SignedDuration, Timestamp};
use kubetrail_analyze::{
    CLUSTER_CAUSE_REASONS, Explanation, IncidentConfig, Target, Window, cluster_cause, explain,
    explain_changes, nodes_of, parse_kind,
};
use kubetrail_model::{AnalysisOccurrences, ArcStr, EventFilter};
use kubetrail_store::{EventReader, Page};

use crate::changes::window_changes;
use crate::range::{Range, read_events, resolve_window};
use crate::{Error, Result};

/// The object named by `words` as kubectl takes it: `NAMESPACE/KIND/NAME`, `KIND/NAME` (with
/// `namespace`, the `-n` flag), or `KIND NAME`; kinds by their short names too (`po/x`,
/// `deploy/web`, `node/worker-1`). A namespaced object without a namespace has an empty one:
/// [`find_namespace`] looks it up.
pub fn parse_target<S: AsRef<str>>(words: &[S], namespace: Option<&str>) -> Result<Target> {
    let text = words
        .iter()
        .map(|w| w.as_ref().trim())
        .collect::<Vec<_>>()
        .join("/");
    let bad = || {
        Error::param(
            "object",
            format!(
                "{text:?} is not NAMESPACE/KIND/NAME, KIND/NAME (with -n) or KIND NAME, e.g. shop/Deployment/web, deploy/web, node/worker-1"
            ),
        )
    };
    let parts: Vec<&str> = text.split('/').collect();
    let (ns, kind, name) = match parts.as_slice() {
        [ns, kind, name] => (Some(*ns), *kind, *name),
        [kind, name] => (None, *kind, *name),
        _ => return Err(bad()),
    };
    let kind = parse_kind(kind);
    if kind.is_empty() || name.is_empty() || ns.is_some_and(str::is_empty) {
        return Err(bad());
    }
    let namespace = match (ns, namespace.map(str::trim).filter(|n| !n.is_empty())) {
        (Some(a), Some(b)) if a != b => {
            return Err(Error::param(
                "namespace",
                format!("{b:?} differs from the object's namespace {a:?}"),
            ));
        }
        (Some(a), _) | (None, Some(a)) => a.to_string(),
        (None, None) => String::new(),
    };
    Ok(Target {
        namespace: if kind == "Node" {
            String::new()
        } else {
            namespace
        },
        kind,
        name: name.to_string(),
    })
}

/// The namespace of the newest event about `target`'s kind and name, for a target named
/// without one (`explain po/web-1`); `None` when the store has no event about it.
pub async fn find_namespace(
    store: &dyn EventReader,
    target: &Target,
    clusters: &[String],
) -> Result<Option<String>> {
    let filter = EventFilter {
        clusters: clusters.to_vec(),
        kinds: vec![target.kind.clone()],
        names: vec![target.name.clone()],
        ..EventFilter::default()
    };
    let page = Page {
        limit: 1,
        after: None,
    };
    let found = store.query(&filter, &page).await?;
    Ok(found.first().map(|e| e.event.regarding.namespace.clone()))
}

/// What [`story`] is asked.
#[derive(Debug, Clone, Copy)]
pub struct StoryRequest<'a> {
    /// The object whose story is told.
    pub target: &'a Target,
    /// The clusters to read; empty reads every cluster.
    pub clusters: &'a [String],
    /// The window as asked (see [`resolve_window`](crate::resolve_window); default 24h).
    pub range: Range,
    /// Most events per read (0: no limit).
    pub max_events: usize,
    /// The longest window allowed (the server's limit).
    pub max_range: Option<SignedDuration>,
    /// When the question is asked (incidents ongoing or not).
    pub now: Timestamp,
}

/// An object's story and the window it covers.
#[derive(Debug)]
pub struct Story {
    /// The story: incidents, hints and the events it is told from.
    pub explanation: Explanation,
    /// The window the events were read in.
    pub window: Window,
    /// A read stopped at `max_events`: the story may miss older events.
    pub cut: bool,
}

/// Reads and tells `target`'s story: its own events, those of its correlation ID (its
/// owner's pods, ReplicaSets) or, for a Node, those placed on it, and its nodes' events, in
/// the window `range` gives (default 24h, ending at the newest of them). Every filter goes
/// through `narrow` (the API's tenant scope); `None` when the target's own events are outside
/// it.
pub async fn story<E: From<Error>>(
    store: &dyn EventReader,
    ask: &StoryRequest<'_>,
    narrow: impl Fn(EventFilter) -> Result<Option<EventFilter>, E>,
) -> Result<Option<Story>, E> {
    let StoryRequest {
        target,
        clusters,
        range,
        max_events,
        max_range,
        now,
    } = *ask;
    let own = EventFilter {
        clusters: clusters.to_vec(),
        namespaces: if target.kind == "Node" {
            Vec::new()
        } else {
            vec![target.namespace.clone()]
        },
        kinds: vec![target.kind.clone()],
        names: vec![target.name.clone()],
        ..EventFilter::default()
    };
    let Some(own) = narrow(own)? else {
        return Ok(None);
    };
    // Changes of cluster-scoped objects (Nodes) only for a caller who sees every namespace.
    let probe = EventFilter {
        clusters: own.clusters.clone(),
        namespaces: vec![String::new()],
        ..EventFilter::default()
    };
    let cluster_scoped = matches!(narrow(probe), Ok(Some(_)));
    let family = narrow(family_filter(store, target, &own).await?)?;
    let mut ends = vec![&own];
    ends.extend(family.as_ref());
    let window = resolve_window(
        store,
        &ends,
        range,
        SignedDuration::from_hours(24),
        max_range,
        now,
    )
    .await?;
    let timed = |mut f: EventFilter| {
        f.since = Some(window.since);
        f.until = Some(window.until);
        f
    };
    let (mut found, mut cut) = read_events(store, &timed(own.clone()), max_events).await?;
    if let Some(family) = family {
        let (more, more_cut) = read_events(store, &timed(family), max_events).await?;
        found.extend(more);
        cut |= more_cut;
    }
    let nodes = nodes_of(target, &found);
    if !nodes.is_empty() && target.kind != "Node" {
        let node_filter = EventFilter {
            clusters: clusters.to_vec(),
            kinds: vec!["Node".into()],
            names: nodes,
            ..EventFilter::default()
        };
        if let Some(f) = narrow(node_filter)? {
            let (more, more_cut) = read_events(store, &timed(f), max_events).await?;
            found.extend(more);
            cut |= more_cut;
        }
    }
    // A failure of the target's that reports a cluster-wide cause: the cluster's failures of
    // that kind belong to the same incident.
    if found.iter().any(|e| cluster_cause(&e.event).is_some()) {
        let wide = EventFilter {
            clusters: clusters.to_vec(),
            reasons: CLUSTER_CAUSE_REASONS
                .iter()
                .map(|r| r.to_string())
                .collect(),
            ..EventFilter::default()
        };
        if let Some(f) = narrow(wide)? {
            let (more, more_cut) = read_events(store, &timed(f), max_events).await?;
            // The events of the objects told `NodeNotReady` (a not-ready node's static pods):
            // the kubelet's tell which node each is on.
            let nodes: BTreeSet<String> = more
                .iter()
                .filter(|e| e.event.reason == "NodeNotReady")
                .map(|e| e.event.correlation_id.to_string())
                .collect();
            found.extend(more);
            cut |= more_cut;
            let of_nodes = EventFilter {
                clusters: clusters.to_vec(),
                correlations: nodes.into_iter().collect(),
                ..EventFilter::default()
            };
            if !of_nodes.correlations.is_empty()
                && let Some(f) = narrow(of_nodes)?
            {
                let (more, more_cut) = read_events(store, &timed(f), max_events).await?;
                found.extend(more);
                cut |= more_cut;
            }
        }
    }
    let cfg = IncidentConfig {
        now: Some(now),
        ..IncidentConfig::default()
    };
    let mut explanation = explain(target, &dedupe(found), window, &cfg).map_err(Error::from)?;
    let mut changes_of = EventFilter {
        since: Some(window.since),
        until: Some(window.until),
        clusters: own.clusters.clone(),
        namespaces: own.namespaces.clone(),
        ..EventFilter::default()
    };
    if cluster_scoped && !changes_of.namespaces.is_empty() {
        changes_of.namespaces.push(String::new());
    }
    let changes = window_changes(store, &changes_of, cfg.change_window, max_events).await?;
    explain_changes(&mut explanation, &changes, &cfg);
    Ok(Some(Story {
        explanation,
        window,
        cut,
    }))
}

/// The events around the target: those of its correlation ID, or, for a Node, those placed on
/// it.
async fn family_filter(
    store: &dyn EventReader,
    target: &Target,
    own: &EventFilter,
) -> Result<EventFilter> {
    if target.kind == "Node" {
        return Ok(EventFilter {
            clusters: own.clusters.clone(),
            nodes: vec![target.name.clone()],
            ..EventFilter::default()
        });
    }
    let page = Page {
        limit: 1,
        after: None,
    };
    let correlation = store
        .query(own, &page)
        .await?
        .first()
        .map(|e| e.event.correlation_id.clone())
        .unwrap_or_else(|| target.correlation_id());
    Ok(EventFilter {
        clusters: own.clusters.clone(),
        correlations: vec![correlation],
        ..EventFilter::default()
    })
}

fn dedupe(events: Vec<AnalysisOccurrences>) -> Vec<AnalysisOccurrences> {
    let mut seen: HashSet<(ArcStr, ArcStr)> = HashSet::new();
    events
        .into_iter()
        .filter(|e| seen.insert((e.event.cluster.clone(), e.event.uid.clone())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(words: &[&str], ns: Option<&str>) -> String {
        parse_target(words, ns).unwrap().to_string()
    }

    #[test]
    fn kubectl_forms_and_short_names_name_the_same_object() {
        assert_eq!(
            target(&["shop/Deployment/web"], None),
            "shop/Deployment/web"
        );
        assert_eq!(target(&["deploy/web"], Some("shop")), "shop/Deployment/web");
        assert_eq!(
            target(&["deployments.apps", "web"], Some("shop")),
            "shop/Deployment/web"
        );
        assert_eq!(target(&["po/x"], Some("shop")), "shop/Pod/x");
        assert_eq!(target(&["node/worker-1"], None), "Node/worker-1");
        assert_eq!(target(&["no", "worker-1"], Some("shop")), "Node/worker-1");
        assert_eq!(target(&["pods/x"], None), "Pod/x", "namespace to be found");
        assert_eq!(parse_kind("ingresses"), "Ingress");
        assert_eq!(parse_kind("statefulsets"), "StatefulSet");
        assert_eq!(parse_kind("Widget"), "Widget");
    }

    #[test]
    fn a_malformed_object_or_two_namespaces_are_refused() {
        for bad in [&["web"][..], &["a/b/c/d"], &["/Pod/x"], &["Pod/"]] {
            let err = parse_target(bad, None).unwrap_err().to_string();
            assert!(err.starts_with("object:"), "{bad:?}: {err}");
        }
        let err = parse_target(&["shop/Pod/x"], Some("db")).unwrap_err();
        assert!(err.to_string().starts_with("namespace:"), "{err}");
    }
}
