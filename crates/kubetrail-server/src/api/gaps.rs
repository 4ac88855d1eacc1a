//! `GET /api/v1/gaps`: when a watch may have missed events, for the caller's clusters.

use axum::Json;
use axum::extract::State;
use axum::http::Uri;
use jiff::Timestamp;
use kubetrail_store::Gap;

use crate::api::docs::{GapDoc, GapParams};
use crate::auth::Caller;
use crate::error::ErrorBody;
use crate::params::Params;
use crate::{ApiError, AppState};

/// Gap markers overlapping the range.
#[utoipa::path(
    get,
    path = "/api/v1/gaps",
    operation_id = "listGaps",
    tag = "events",
    params(GapParams),
    responses(
        (status = 200, description = "Gaps", body = Vec<GapDoc>),
        (status = 400, description = "A bad parameter", body = ErrorBody),
        (status = 401, description = "No or an unknown token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
) -> Result<Json<Vec<Gap>>, ApiError> {
    let now = Timestamp::now();
    let mut p = Params::from_uri(&uri)?;
    let since = p.time("since", now)?;
    let until = p.time("until", now)?;
    p.finish()?;
    let scope = caller.scope(&state, &[]).await?;
    let gaps = state
        .timed("the gaps query", state.reader.gaps(since, until))
        .await?;
    Ok(Json(
        gaps.into_iter()
            .filter(|g| scope.clusters.contains(&g.cluster))
            .collect(),
    ))
}
