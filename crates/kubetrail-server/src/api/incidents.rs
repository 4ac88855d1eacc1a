//! `GET /api/v1/incidents` and `GET /api/v1/incidents/{id}`: failures grouped into incidents
//! with a likely root cause, as `kubetrail incidents` finds them, over the caller's events.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::Uri;
use jiff::{SignedDuration, Timestamp};
use kubetrail_analyze::{Incident, IncidentConfig, link_changes};

use crate::api::docs::{FilterParams, IncidentParams};
use crate::api::{max_events, window_changes};
use crate::auth::Caller;
use crate::error::ErrorBody;
use crate::params::Params;
use crate::window::resolve;
use crate::{ApiError, AppState};

/// Incidents in a window (default: the last 24 hours of the matching data), newest first.
#[utoipa::path(
    get,
    path = "/api/v1/incidents",
    operation_id = "listIncidents",
    tag = "analysis",
    params(FilterParams, IncidentParams),
    responses(
        (status = 200, description = "Incidents, as `kubetrail incidents -o json`", body = Vec<Incident>),
        (status = 400, description = "A bad parameter", body = ErrorBody),
        (status = 401, description = "No or an unknown token", body = ErrorBody),
        (status = 403, description = "A cluster or namespace outside the caller's", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
) -> Result<Json<Vec<Incident>>, ApiError> {
    Ok(Json(find(&state, &caller, &uri).await?))
}

/// One incident by id, found in the same window as the list (pass the list's `since`/`until`
/// for incidents older than the default window).
#[utoipa::path(
    get,
    path = "/api/v1/incidents/{id}",
    operation_id = "getIncident",
    tag = "analysis",
    params(("id" = String, Path, description = "The incident's id"), FilterParams, IncidentParams),
    responses(
        (status = 200, description = "The incident", body = Incident),
        (status = 400, description = "A bad parameter", body = ErrorBody),
        (status = 401, description = "No or an unknown token", body = ErrorBody),
        (status = 404, description = "No such incident in the window (or not visible to the caller)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn one(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    uri: Uri,
) -> Result<Json<Incident>, ApiError> {
    find(&state, &caller, &uri)
        .await?
        .into_iter()
        .find(|i| i.id == id)
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no incident {id:?} in the window")))
}

async fn find(state: &AppState, caller: &Caller, uri: &Uri) -> Result<Vec<Incident>, ApiError> {
    let now = Timestamp::now();
    let mut p = Params::from_uri(uri)?;
    let filter = p.filter_lists()?;
    let range = p.range(now)?;
    let cfg = IncidentConfig {
        quiet: p.duration("quiet", "30m")?,
        link_window: p.duration("link_window", "10m")?,
        now: Some(now),
        ..IncidentConfig::default()
    };
    let max = max_events(&mut p, state)?;
    p.finish()?;
    let Some(mut filter) = caller.narrow(state, filter).await? else {
        return Ok(Vec::new());
    };
    let window = resolve(
        state,
        range,
        &mut filter,
        SignedDuration::from_hours(24),
        now,
    )
    .await?;
    let found = state
        .timed(
            "finding the window's incidents",
            kubetrail_query::window_incidents(
                state.reader.as_ref(),
                &filter,
                window,
                &cfg,
                max,
                kubetrail_query::Detail::Whole,
            ),
        )
        .await?;
    let changes = window_changes(
        state,
        &kubetrail_query::changes_filter(&filter, &found),
        cfg.change_window,
        max,
    )
    .await?;
    let mut found = found.incidents;
    link_changes(&mut found, &changes, &cfg);
    Ok(found)
}
