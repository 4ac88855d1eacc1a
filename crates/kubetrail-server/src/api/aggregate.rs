//! `GET /api/v1/aggregate`: occurrence counts grouped by dimensions, optionally per bucket.

use axum::Json;
use axum::extract::State;
use axum::http::Uri;
use kubetrail_model::{AggregateQuery, AggregateRow, Dimension, Timestamp, parse_duration};
use kubetrail_query::resolve_bounds;

use crate::api::docs::{AggregateParams, AggregateRowDoc, FilterParams};
use crate::auth::Caller;
use crate::error::ErrorBody;
use crate::params::Params;
use crate::window::check_range;
use crate::{ApiError, AppState};

/// Occurrences inside the range, grouped and sorted by count (descending), as
/// `kubetrail aggregate -o json` prints them.
#[utoipa::path(
    get,
    path = "/api/v1/aggregate",
    operation_id = "aggregateEvents",
    tag = "events",
    params(FilterParams, AggregateParams),
    responses(
        (status = 200, description = "Groups and their counts", body = Vec<AggregateRowDoc>),
        (status = 400, description = "A bad parameter, named in the message", body = ErrorBody),
        (status = 401, description = "No or an unknown token", body = ErrorBody),
        (status = 403, description = "A cluster or namespace outside the caller's", body = ErrorBody),
        (status = 503, description = "The query took too long", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn aggregate(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
) -> Result<Json<Vec<AggregateRow>>, ApiError> {
    let now = Timestamp::now();
    let mut p = Params::from_uri(&uri)?;
    let filter = p.filter_lists()?;
    let range = p.range(now)?;
    let group_by = Dimension::parse_list(&p.text("group_by")?.unwrap_or("reason".into()))
        .map_err(|e| ApiError::bad_parameter("group_by", e))?;
    let interval = p
        .text("interval")?
        .map(|i| parse_duration(&i).map_err(|e| ApiError::bad_parameter("interval", e)))
        .transpose()?;
    let limit = p.value::<usize>("limit")?;
    p.finish()?;
    let Some(mut filter) = caller.narrow(&state, filter).await? else {
        return Ok(Json(Vec::new()));
    };
    let bounds = resolve_bounds(state.reader.as_ref(), &mut filter, range, now);
    state.timed("finding the range", bounds).await?;
    if let Some(interval) = interval {
        if interval.as_secs() < 1 {
            return Err(ApiError::bad_parameter("interval", "must be at least 1s"));
        }
        let since = filter.since.ok_or_else(|| {
            ApiError::bad_parameter("since", "is required with interval (it bounds the buckets)")
        })?;
        let until = filter.until.unwrap_or(now);
        check_range(&state, since, until)?;
        let buckets = until.duration_since(since).as_secs_f64() / interval.as_secs_f64();
        if buckets > state.limits.max_buckets as f64 {
            return Err(ApiError::bad_parameter(
                "interval",
                format!(
                    "gives {buckets:.0} buckets over the range, more than the limit of {}",
                    state.limits.max_buckets
                ),
            ));
        }
    }
    let query = AggregateQuery {
        filter,
        group_by,
        interval,
        limit: limit.filter(|l| *l > 0),
    };
    let rows = state
        .timed("the aggregation", state.reader.aggregate(&query))
        .await?;
    Ok(Json(rows))
}
