//! `/healthz` (the process is up) and `/readyz` (the store answers, its writes are not failing
//! in a row — see `telemetry::StoreWrites` — and every watcher has handed over its initial
//! list). Neither needs a token.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use kubetrail_model::EventFilter;
use kubetrail_store::Page;
use serde_json::{Value, json};

use crate::AppState;

pub(crate) async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

pub(crate) async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let page = Page {
        limit: 1,
        after: None,
    };
    let store = match state
        .timed(
            "the readiness check",
            state.reader.query(&EventFilter::default(), &page),
        )
        .await
    {
        Ok(_) => match state.telemetry.store_writes().failing() {
            None => "ok".to_string(),
            Some(why) => why,
        },
        Err(e) => e.message,
    };
    let (synced, total) = state.telemetry.watchers_synced();
    let ready = store == "ok" && synced == total;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({
            "status": if ready { "ready" } else { "not ready" },
            "store": store,
            "watchers": {"synced": synced, "total": total},
        })),
    )
}
