//! `GET /api/v1/incidents` and `GET /api/v1/incidents/{id}`: failures grouped into incidents
//! with a likely root cause, as `kubetrail incidents` finds them, over the caller's events.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{Uri, header};
use axum::response::{IntoResponse, Response};
use jiff::{SignedDuration, Timestamp};
use kubetrail_analyze::{Incident, IncidentConfig, Window, link_changes};
use kubetrail_model::EventFilter;
use kubetrail_query::JsonLayout;

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
) -> Result<Response, ApiError> {
    let Some(asked) = Asked::of(&state, &caller, &uri).await? else {
        return Ok(Json(Vec::<Incident>::new()).into_response());
    };
    // Kept incidents are listed from their summaries and their stored text copied into the
    // answer (issue 14 §1): no incident is decoded but those a change may be linked to.
    let reader = state.reader.as_ref();
    let kept = state
        .timed(
            "listing the window's kept incidents",
            kubetrail_query::window_list(reader, &asked.filter, asked.window, &asked.cfg),
        )
        .await?;
    let Some(mut list) = kept else {
        return Ok(Json(asked.find(&state).await?).into_response());
    };
    let since = kubetrail_query::changes_from(&asked.filter, list.earliest_start());
    let changes = window_changes(&state, &since, asked.cfg.change_window, asked.max).await?;
    list.whole_where_changes(reader, &changes, &asked.cfg)
        .await?;
    link_changes(&mut list.whole, &changes, &asked.cfg);
    let mut body = Vec::new();
    state
        .timed(
            "writing the kept incidents",
            list.write_json(reader, &mut body, JsonLayout::Compact),
        )
        .await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
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

/// What a request asks: its filter (narrowed to the caller's), window and settings.
struct Asked {
    filter: EventFilter,
    window: Window,
    cfg: IncidentConfig,
    max: usize,
}

impl Asked {
    /// `None` when the caller may see none of what the filter names.
    async fn of(state: &AppState, caller: &Caller, uri: &Uri) -> Result<Option<Asked>, ApiError> {
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
            return Ok(None);
        };
        let window = resolve(
            state,
            range,
            &mut filter,
            SignedDuration::from_hours(24),
            now,
        )
        .await?;
        Ok(Some(Asked {
            filter,
            window,
            cfg,
            max,
        }))
    }

    /// The window's incidents, whole, changes linked.
    async fn find(&self, state: &AppState) -> Result<Vec<Incident>, ApiError> {
        let found = state
            .timed(
                "finding the window's incidents",
                kubetrail_query::window_incidents(
                    state.reader.as_ref(),
                    &self.filter,
                    self.window,
                    &self.cfg,
                    self.max,
                    kubetrail_query::Detail::Whole,
                ),
            )
            .await?;
        let changes = window_changes(
            state,
            &kubetrail_query::changes_filter(&self.filter, &found),
            self.cfg.change_window,
            self.max,
        )
        .await?;
        let mut found = found.incidents;
        link_changes(&mut found, &changes, &self.cfg);
        Ok(found)
    }
}

async fn find(state: &AppState, caller: &Caller, uri: &Uri) -> Result<Vec<Incident>, ApiError> {
    match Asked::of(state, caller, uri).await? {
        Some(asked) => asked.find(state).await,
        None => Ok(Vec::new()),
    }
}
