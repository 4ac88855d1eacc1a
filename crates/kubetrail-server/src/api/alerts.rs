//! `GET /api/v1/alerts`: recorded alerts with the state of their notifications, as `kubetrail
//! alerts list -o json` prints them; `GET /api/v1/alerts/{id}`: one alert, for its page (the
//! link every notification carries). A tenant sees an alert only when every event it sampled
//! is in the tenant's clusters and namespaces.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::Uri;
use jiff::Timestamp;
use kubetrail_alert::silence_matchers;
use kubetrail_store::{AlertFilter, AlertStatus, StoredAlert};
use serde::Serialize;

use crate::api::docs::AlertParams;
use crate::auth::Caller;
use crate::error::ErrorBody;
use crate::params::Params;
use crate::scope::Scope;
use crate::{ApiError, AppState};

/// Alerts, newest start first.
#[utoipa::path(
    get,
    path = "/api/v1/alerts",
    operation_id = "listAlerts",
    tag = "alerts",
    params(AlertParams),
    responses(
        (status = 200, description = "Alerts with their deliveries", body = Vec<StoredAlert>),
        (status = 400, description = "A bad parameter", body = ErrorBody),
        (status = 401, description = "No or an unknown token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
) -> Result<Json<Vec<StoredAlert>>, ApiError> {
    let mut p = Params::from_uri(&uri)?;
    let status = p.value::<AlertStatus>("status")?;
    let rules = p.list("rule");
    let since = p.time("since", Timestamp::now())?;
    let limit = match p.value::<usize>("limit")? {
        None => 100,
        Some(n) if n == 0 || n > state.limits.max_page => {
            return Err(ApiError::bad_parameter(
                "limit",
                format!("between 1 and {}", state.limits.max_page),
            ));
        }
        Some(n) => n,
    };
    p.finish()?;
    let scope = caller.scope(&state, &[]).await?;
    let filter = AlertFilter {
        id: None,
        status,
        rules,
        group_key: None,
        since,
        // A tenant's alerts are picked from more, so that its page is not emptied by others'.
        limit: if scope.is_everything() {
            limit
        } else {
            limit * 10
        },
    };
    let alerts = state
        .timed("the alerts query", state.records.alerts(&filter))
        .await?;
    Ok(Json(
        alerts
            .into_iter()
            .filter(|a| visible(&scope, a))
            .take(limit)
            .collect(),
    ))
}

/// One alert with its deliveries, and what its page needs besides.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct AlertPage {
    #[serde(flatten)]
    alert: StoredAlert,
    /// The matchers of a silence of the alert's group (`kubetrail_alert::silence_matchers`),
    /// as `POST /api/v1/silences` takes them.
    silence_matchers: Vec<String>,
}

/// One alert by id, with its deliveries and the matchers that silence its group.
#[utoipa::path(
    get,
    path = "/api/v1/alerts/{id}",
    operation_id = "getAlert",
    tag = "alerts",
    params(("id" = i64, Path, description = "The alert's id (in every notification's link)")),
    responses(
        (status = 200, description = "The alert with its deliveries and `silence_matchers`", body = AlertPage),
        (status = 400, description = "An id that is not a number", body = ErrorBody),
        (status = 401, description = "No or an unknown token", body = ErrorBody),
        (status = 404, description = "No such alert (or not visible to the caller)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn one(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    uri: Uri,
) -> Result<Json<AlertPage>, ApiError> {
    Params::from_uri(&uri)?.finish()?;
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::bad_parameter("id", "an alert id is a number"))?;
    let scope = caller.scope(&state, &[]).await?;
    let filter = AlertFilter {
        id: Some(id),
        ..AlertFilter::default()
    };
    let found = state
        .timed("the alert query", state.records.alerts(&filter))
        .await?;
    // Another tenant's alert is answered as an unknown one: its existence is not told.
    let alert = found
        .into_iter()
        .find(|a| visible(&scope, a))
        .ok_or_else(|| ApiError::not_found(format!("no alert {id}")))?;
    let silence_matchers = silence_matchers(&alert.alert)
        .iter()
        .map(ToString::to_string)
        .collect();
    Ok(Json(AlertPage {
        alert,
        silence_matchers,
    }))
}

/// Whether every sampled event of the alert is inside the scope.
pub(crate) fn visible(scope: &Scope, a: &StoredAlert) -> bool {
    if scope.is_everything() {
        return true;
    }
    !a.alert.events.is_empty()
        && a.alert.events.iter().all(|e| {
            let namespace = match e.object.split('/').collect::<Vec<_>>().as_slice() {
                [ns, _, _] => *ns,
                _ => "",
            };
            scope.sees(&e.cluster, namespace)
        })
}
