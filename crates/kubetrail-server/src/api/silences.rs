//! Silences: `GET /api/v1/silences`, `POST /api/v1/silences`, `DELETE /api/v1/silences/{id}`
//! (ends it now). A silence applies to alert labels, across tenants; so a tenant may create,
//! see and end only silences that name one of its namespaces with `namespace=NAME` (and, when
//! they name a cluster with `cluster=NAME`, one of its clusters). Admins manage all.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use jiff::Timestamp;
use kubetrail_alert::{new_silence, parse_matcher};
use kubetrail_model::parse_duration;
use kubetrail_store::{MatchOp, Silence};
use serde::Deserialize;

use crate::api::body;
use crate::api::docs::{NewSilenceDoc, SilenceDoc, SilenceListParams};
use crate::auth::Caller;
use crate::error::ErrorBody;
use crate::params::Params;
use crate::scope::Scope;
use crate::{ApiError, AppState};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewSilence {
    matchers: Vec<String>,
    duration: String,
    #[serde(default)]
    comment: String,
}

/// Silences in force (with `all=true`, also ended ones), newest first.
#[utoipa::path(
    get,
    path = "/api/v1/silences",
    operation_id = "listSilences",
    tag = "alerts",
    params(SilenceListParams),
    responses(
        (status = 200, description = "Silences", body = Vec<SilenceDoc>),
        (status = 400, description = "A bad parameter", body = ErrorBody),
        (status = 401, description = "No or an unknown token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
) -> Result<Json<Vec<Silence>>, ApiError> {
    let mut p = Params::from_uri(&uri)?;
    let all = p.value::<bool>("all")?.unwrap_or(false);
    p.finish()?;
    let scope = caller.scope(&state, &[]).await?;
    let now = Timestamp::now();
    let silences = state
        .timed(
            "the silences query",
            state.records.silences(if all { None } else { Some(now) }),
        )
        .await?;
    Ok(Json(
        silences
            .into_iter()
            .filter(|s| owned_by(&scope, s))
            .collect(),
    ))
}

/// Creates a silence from now for `duration`.
#[utoipa::path(
    post,
    path = "/api/v1/silences",
    operation_id = "createSilence",
    tag = "alerts",
    request_body = NewSilenceDoc,
    responses(
        (status = 201, description = "The silence", body = SilenceDoc),
        (status = 400, description = "A bad matcher or duration", body = ErrorBody),
        (status = 401, description = "No or an unknown token (anonymous callers only read)", body = ErrorBody),
        (status = 403, description = "The silence does not name one of the caller's namespaces", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    request: Body,
) -> Result<(StatusCode, Json<Silence>), ApiError> {
    caller.require_writer()?;
    let new: NewSilence = body::json(&headers, request, state.limits.max_body_bytes).await?;
    let matchers = new
        .matchers
        .iter()
        .map(|m| parse_matcher(m).map_err(|e| ApiError::bad_parameter("matchers", e)))
        .collect::<Result<Vec<_>, _>>()?;
    let duration =
        parse_duration(&new.duration).map_err(|e| ApiError::bad_parameter("duration", e))?;
    let now = Timestamp::now();
    let mut silence = new_silence(matchers, now, duration, &caller.name(), &new.comment)
        .map_err(|e| ApiError::bad_parameter("matchers", e))?;
    let named: Vec<String> = equal_values(&silence, "namespace").cloned().collect();
    let scope = caller.scope(&state, &named).await?;
    if !owned_by(&scope, &silence) {
        return Err(ApiError::forbidden(format!(
            "a silence of {} must name one of its namespaces with namespace=NAME (and only its clusters)",
            scope.who
        )));
    }
    silence.id = state
        .timed(
            "saving the silence",
            state.records.save_silence(&silence, now),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(silence)))
}

/// Ends a silence now.
#[utoipa::path(
    delete,
    path = "/api/v1/silences/{id}",
    operation_id = "expireSilence",
    tag = "alerts",
    params(("id" = i64, Path, description = "The silence's id")),
    responses(
        (status = 200, description = "The ended silence", body = SilenceDoc),
        (status = 401, description = "No or an unknown token", body = ErrorBody),
        (status = 404, description = "No such silence visible to the caller", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn expire(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Silence>, ApiError> {
    caller.require_writer()?;
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::bad_parameter("id", format!("{id:?} is not a silence id")))?;
    let scope = caller.scope(&state, &[]).await?;
    let all = state
        .timed("the silences query", state.records.silences(None))
        .await?;
    let mut silence = all
        .into_iter()
        .find(|s| s.id == id && owned_by(&scope, s))
        .ok_or_else(|| ApiError::not_found(format!("no silence {id}")))?;
    let now = Timestamp::now();
    if silence.ends_at > now {
        silence.ends_at = now.max(silence.starts_at);
        state
            .timed(
                "saving the silence",
                state.records.save_silence(&silence, now),
            )
            .await?;
    }
    Ok(Json(silence))
}

fn equal_values<'a>(s: &'a Silence, label: &'a str) -> impl Iterator<Item = &'a String> + 'a {
    s.matchers
        .iter()
        .filter(move |m| m.name == label && m.op == MatchOp::Equal)
        .map(|m| &m.value)
}

/// Whether the silence belongs to the scope: everything for admins; else it names one of the
/// scope's namespaces and only the scope's clusters.
fn owned_by(scope: &Scope, s: &Silence) -> bool {
    if scope.is_everything() {
        return true;
    }
    let namespaces: Vec<&String> = equal_values(s, "namespace").collect();
    let clusters_ok = s
        .matchers
        .iter()
        .filter(|m| m.name == "cluster")
        .all(|m| m.op == MatchOp::Equal && scope.clusters.contains(&m.value));
    let cluster_named = s.matchers.iter().any(|m| m.name == "cluster");
    let clusters_ok = clusters_ok && (cluster_named || scope.clusters == crate::Allowed::All);
    clusters_ok && !namespaces.is_empty() && namespaces.iter().all(|n| scope.namespaces.contains(n))
}
