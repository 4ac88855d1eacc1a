//! `GET /api/v1/timeline/{namespace}/{kind}/{name}`: the story of one object, as `kubetrail
//! explain` tells it: its events and those of its owners, its pods and its node, the incidents
//! it is part of, their root cause and what to check next. Every read is narrowed to the
//! caller's scope, so a node's story shows only the caller's pods on it.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::Uri;
use jiff::Timestamp;
use kubetrail_analyze::Explanation;
use kubetrail_query::{StoryRequest, parse_target, story};

use crate::api::docs::TimelineParams;
use crate::api::max_events;
use crate::auth::Caller;
use crate::error::ErrorBody;
use crate::params::Params;
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
    let target = parse_target(&[object], None)?;
    if target.namespace.is_empty() && target.kind != "Node" {
        return Err(ApiError::bad_parameter(
            "object",
            format!("a {} has a namespace: give it instead of -", target.kind),
        ));
    }
    let now = Timestamp::now();
    let mut p = Params::from_uri(&uri)?;
    let range = p.range(now)?;
    let clusters = p.list("cluster");
    let max = max_events(&mut p, &state)?;
    p.finish()?;
    let namespaces = if target.kind == "Node" {
        Vec::new()
    } else {
        vec![target.namespace.clone()]
    };
    let scope = caller.scope(&state, &namespaces).await?;
    let ask = StoryRequest {
        target: &target,
        clusters: &clusters,
        range,
        max_events: max,
        max_range: Some(state.limits.max_range),
        now,
    };
    let told = story(state.reader.as_ref(), &ask, |f| scope.narrow(f));
    match state.timed("telling the story", told).await? {
        Some(told) => Ok(Json(told.explanation)),
        None => Err(ApiError::forbidden(format!(
            "nothing is visible to {}",
            scope.who
        ))),
    }
}
