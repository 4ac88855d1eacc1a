//! `GET /api/v1/me`: who the caller is and what it may see (the UI shows it).

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::ErrorBody;
use crate::scope::Allowed;
use crate::{ApiError, AppState};

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Me {
    pub name: String,
    /// Sees every cluster and namespace.
    pub admin: bool,
    /// May write custom events and manage silences.
    pub writer: bool,
    /// Visible clusters (null: all).
    pub clusters: Option<Vec<String>>,
    /// Visible namespaces (null: all).
    pub namespaces: Option<Vec<String>>,
}

/// The caller and its scope.
#[utoipa::path(
    get,
    path = "/api/v1/me",
    operation_id = "getMe",
    tag = "auth",
    responses(
        (status = 200, description = "The caller", body = Me),
        (status = 401, description = "No or an unknown token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn me(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Me>, ApiError> {
    let scope = caller.scope(&state, &[]).await?;
    let list = |a: &Allowed| match a {
        Allowed::All => None,
        Allowed::Only(set) => Some(set.iter().cloned().collect()),
    };
    Ok(Json(Me {
        name: caller.name(),
        admin: caller.is_admin(&state).await?,
        writer: caller.require_writer().is_ok(),
        clusters: list(&scope.clusters),
        namespaces: list(&scope.namespaces),
    }))
}
