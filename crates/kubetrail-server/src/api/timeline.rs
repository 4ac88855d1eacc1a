//! `GET /api/v1/timeline/{namespace}/{kind}/{name}`: the story of one object, as `kubetrail
//! explain` tells it: its events and those of its owners, its pods and its node, the incidents
//! it is part of, their root cause and what to check next. Every read is narrowed to the
//! caller's scope, so a node's story shows only the caller's pods on it.

use std::collections::HashSet;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::Uri;
use jiff::{SignedDuration, Timestamp};
use kubetrail_analyze::{Explanation, IncidentConfig, Target, Window, explain, nodes_of};
use kubetrail_model::{EventFilter, EventOccurrences};
use kubetrail_store::Page;

use crate::api::docs::TimelineParams;
use crate::api::{max_events, window_events};
use crate::auth::Caller;
use crate::error::ErrorBody;
use crate::params::Params;
use crate::window::{check_range, newest, since_before};
use crate::{ApiError, AppState};

/// The story of one object. Use `-` as the namespace of a cluster-scoped object
/// (`/api/v1/timeline/-/Node/worker-1`).
#[utoipa::path(
    get,
    path = "/api/v1/timeline/{namespace}/{kind}/{name}",
    operation_id = "getTimeline",
    tag = "analysis",
    params(
        ("namespace" = String, Path, description = "Namespace, or `-` for a Node"),
        ("kind" = String, Path, description = "Kind, e.g. Deployment, Pod, Node"),
        ("name" = String, Path, description = "Name"),
        TimelineParams
    ),
    responses(
        (status = 200, description = "The story, as `kubetrail explain -o json`", body = Explanation),
        (status = 400, description = "A bad parameter", body = ErrorBody),
        (status = 401, description = "No or an unknown token", body = ErrorBody),
        (status = 403, description = "The namespace is outside the caller's", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn timeline(
    State(state): State<AppState>,
    caller: Caller,
    Path((namespace, kind, name)): Path<(String, String, String)>,
    uri: Uri,
) -> Result<Json<Explanation>, ApiError> {
    let object = if namespace == "-" {
        format!("{kind}/{name}")
    } else {
        format!("{namespace}/{kind}/{name}")
    };
    let target: Target = object
        .parse()
        .map_err(|e| ApiError::bad_parameter("object", e))?;
    let mut p = Params::from_uri(&uri)?;
    let now = Timestamp::now();
    let since_text = p.text("since")?;
    let until_given = p.time("until", now)?;
    let clusters = p.list("cluster");
    let max = max_events(&mut p, &state)?;
    p.finish()?;

    let own = EventFilter {
        clusters: clusters.clone(),
        namespaces: if target.kind == "Node" {
            Vec::new()
        } else {
            vec![target.namespace.clone()]
        },
        kinds: vec![target.kind.clone()],
        names: vec![target.name.clone()],
        ..EventFilter::default()
    };
    let scope = caller.scope(&state, &own.namespaces).await?;
    let Some(own) = scope.narrow(own)? else {
        return Err(ApiError::forbidden(format!(
            "nothing is visible to {}",
            scope.who
        )));
    };
    let family = family_filter(&state, &target, &own).await?;
    let family = scope.narrow(family)?;
    let until = match until_given {
        Some(t) => t,
        None => {
            let a = newest(&state, &own).await?;
            let b = match &family {
                Some(f) => newest(&state, f).await?,
                None => None,
            };
            a.max(b).unwrap_or(now)
        }
    };
    let since = since_before(since_text.as_deref(), until, SignedDuration::from_hours(24))?;
    let window = Window::new(since, until).map_err(|e| ApiError::bad_parameter("since", e))?;
    check_range(&state, since, until)?;
    let timed = |mut f: EventFilter| {
        f.since = Some(since);
        f.until = Some(until);
        f
    };
    let mut found = window_events(&state, &timed(own), max).await?;
    if let Some(family) = family {
        found.extend(window_events(&state, &timed(family), max).await?);
    }
    let nodes = nodes_of(&target, &found);
    if !nodes.is_empty() && target.kind != "Node" {
        let node_filter = EventFilter {
            clusters,
            kinds: vec!["Node".into()],
            names: nodes,
            ..EventFilter::default()
        };
        if let Some(f) = scope.narrow(node_filter)? {
            found.extend(window_events(&state, &timed(f), max).await?);
        }
    }
    let story = explain(&target, &dedupe(found), window, &IncidentConfig::default())?;
    Ok(Json(story))
}

/// The events around the target: those of its correlation ID, or, for a Node, those placed on
/// it.
async fn family_filter(
    state: &AppState,
    target: &Target,
    own: &EventFilter,
) -> Result<EventFilter, ApiError> {
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
    let correlation = state
        .timed("finding the object", state.store.query(own, &page))
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

fn dedupe(events: Vec<EventOccurrences>) -> Vec<EventOccurrences> {
    let mut seen: HashSet<(String, String)> = HashSet::new();
    events
        .into_iter()
        .filter(|e| seen.insert((e.event.cluster.clone(), e.event.uid.clone())))
        .collect()
}
