//! `GET /api/v1/changes`: stored changes of watched objects (issue 15), newest first, as
//! `kubetrail changes -o json` lists them, scoped like events: the caller's clusters and
//! namespaces narrow the filter (`Caller::narrow`), so a tenant sees only the changes of its
//! own namespaces' objects (never a Node's: cluster-scoped objects have no namespace).

use axum::Json;
use axum::extract::State;
use axum::http::Uri;
use kubetrail_model::{Change, EventFilter, Timestamp};
use kubetrail_query::{ChangeText, read_changes, resolve_change_bounds};

use crate::api::docs::ChangeParams;
use crate::auth::Caller;
use crate::error::ErrorBody;
use crate::params::Params;
use crate::{ApiError, AppState};

/// Changes made in the range (default: all), newest first, each with its diff.
#[utoipa::path(
    get,
    path = "/api/v1/changes",
    operation_id = "listChanges",
    tag = "changes",
    params(ChangeParams),
    responses(
        (status = 200, description = "Changes, as `kubetrail changes -o json`", body = Vec<Change>),
        (status = 400, description = "A bad parameter, named in the message", body = ErrorBody),
        (status = 401, description = "No or an unknown token", body = ErrorBody),
        (status = 403, description = "A cluster or namespace outside the caller's", body = ErrorBody),
        (status = 503, description = "The query took too long", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
) -> Result<Json<Vec<Change>>, ApiError> {
    let now = Timestamp::now();
    let mut p = Params::from_uri(&uri)?;
    let text = ChangeText {
        clusters: p.list("cluster"),
        namespaces: p.list("namespace"),
        kinds: p.list("kind"),
        names: p.list("name"),
    };
    let range = p.range(now)?;
    let limit = limit(&mut p, &state)?;
    p.finish()?;
    let mut filter = text.filter();
    filter.limit = limit;
    // The scope is the events': the same clusters and namespaces, the same 403s.
    let scope = EventFilter {
        clusters: std::mem::take(&mut filter.clusters),
        namespaces: std::mem::take(&mut filter.namespaces),
        ..EventFilter::default()
    };
    let Some(scope) = caller.narrow(&state, scope).await? else {
        return Ok(Json(Vec::new()));
    };
    filter.clusters = scope.clusters;
    filter.namespaces = scope.namespaces;
    let store = state.reader.as_ref();
    state
        .timed(
            "finding the range",
            resolve_change_bounds(store, &mut filter, range, now),
        )
        .await?;
    let changes = state
        .timed("the changes query", read_changes(store, &filter))
        .await?;
    Ok(Json(changes))
}

/// `limit`: at most the configured page size (default the default page size).
fn limit(p: &mut Params, state: &AppState) -> Result<usize, ApiError> {
    let max = state.limits.max_page;
    match p.value::<usize>("limit")? {
        None => Ok(state.limits.default_page.min(max)),
        Some(0) => Err(ApiError::bad_parameter("limit", "must be at least 1")),
        Some(n) if n > max => Err(ApiError::bad_parameter(
            "limit",
            format!("at most {max} changes per request; narrow the range for more"),
        )),
        Some(n) => Ok(n),
    }
}
