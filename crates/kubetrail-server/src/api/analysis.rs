//! `GET /api/v1/patterns` and `GET /api/v1/anomalies`: the analyses of `kubetrail patterns`
//! and `kubetrail anomalies`, over the caller's events only.

use axum::Json;
use axum::extract::State;
use axum::http::Uri;
use jiff::{SignedDuration, Timestamp};
use kubetrail_analyze::{Anomaly, AnomalyConfig, Pattern, PatternConfig, anomalies, patterns};
use kubetrail_query::anomaly_plan;

use crate::api::docs::{AnomalyParams, FilterParams, PatternParams};
use crate::api::{max_events, window_events};
use crate::auth::Caller;
use crate::error::ErrorBody;
use crate::params::Params;
use crate::window::{check_range, resolve};
use crate::{ApiError, AppState};

/// Recurring groups of events (cluster, namespace, kind, reason, message template) in a window
/// (default: the last hour of the matching data).
#[utoipa::path(
    get,
    path = "/api/v1/patterns",
    operation_id = "listPatterns",
    tag = "analysis",
    params(FilterParams, PatternParams),
    responses(
        (status = 200, description = "Patterns, as `kubetrail patterns -o json`", body = Vec<Pattern>),
        (status = 400, description = "A bad parameter", body = ErrorBody),
        (status = 401, description = "No or an unknown token", body = ErrorBody),
        (status = 403, description = "A cluster or namespace outside the caller's", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn list_patterns(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
) -> Result<Json<Vec<Pattern>>, ApiError> {
    let now = Timestamp::now();
    let mut p = Params::from_uri(&uri)?;
    let filter = p.filter_lists()?;
    let range = p.range(now)?;
    let cfg = PatternConfig {
        min_count: p.value("min_count")?.unwrap_or(3),
        min_per_minute: p.value("min_rate")?.unwrap_or(0.5),
        ..PatternConfig::default()
    };
    cfg.validate()
        .map_err(|e| ApiError::bad_parameter("min_rate", e))?;
    let max = max_events(&mut p, &state)?;
    p.finish()?;
    let Some(mut filter) = caller.narrow(&state, filter).await? else {
        return Ok(Json(Vec::new()));
    };
    resolve(
        &state,
        range,
        &mut filter,
        SignedDuration::from_hours(1),
        now,
    )
    .await?;
    // Kept parts answer with no cap on the events; raw events otherwise.
    let kept = state
        .timed(
            "reading the window's patterns",
            kubetrail_query::kept_patterns(state.reader.as_ref(), &filter, &cfg),
        )
        .await?;
    if let Some(found) = kept {
        return Ok(Json(found));
    }
    let events = window_events(&state, &filter, max).await?;
    Ok(Json(patterns(&events, &cfg)))
}

/// Rate spikes above a baseline learned over `history`, and reasons new to a namespace, in a
/// window (default: the last hour of the matching data, widened to whole buckets).
#[utoipa::path(
    get,
    path = "/api/v1/anomalies",
    operation_id = "listAnomalies",
    tag = "analysis",
    params(FilterParams, AnomalyParams),
    responses(
        (status = 200, description = "Anomalies, as `kubetrail anomalies -o json`", body = Vec<Anomaly>),
        (status = 400, description = "A bad parameter", body = ErrorBody),
        (status = 401, description = "No or an unknown token", body = ErrorBody),
        (status = 403, description = "A cluster or namespace outside the caller's", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn list_anomalies(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
) -> Result<Json<Vec<Anomaly>>, ApiError> {
    let now = Timestamp::now();
    let mut p = Params::from_uri(&uri)?;
    let filter = p.filter_lists()?;
    let range = p.range(now)?;
    let bucket = p.duration("bucket", "1h")?;
    let history = p.duration("history", "7d")?;
    let cfg = AnomalyConfig {
        bucket,
        threshold: p.value("threshold")?.unwrap_or(3.0),
        min_count: p.value("min_count")?.unwrap_or(5),
        ..AnomalyConfig::default()
    };
    cfg.validate()
        .map_err(|e| ApiError::bad_parameter("bucket/threshold", e))?;
    p.finish()?;
    let Some(mut filter) = caller.narrow(&state, filter).await? else {
        return Ok(Json(Vec::new()));
    };
    let window = resolve(
        &state,
        range,
        &mut filter,
        SignedDuration::from_hours(1),
        now,
    )
    .await?;
    let plan = anomaly_plan(filter, window, bucket, history)?;
    let baseline = plan.query.filter.since.unwrap_or(plan.since);
    check_range(&state, baseline, plan.until)?;
    let rows = state
        .timed("the anomaly baseline", state.reader.aggregate(&plan.query))
        .await?;
    Ok(Json(anomalies(&rows, plan.since, plan.until, &cfg)?))
}
