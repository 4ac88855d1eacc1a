//! `POST /api/v1/events`: application events, in the Kubernetes Event shape
//! (`events.k8s.io/v1`, or `v1` core Events), one object or an array. Every event is validated
//! before any is stored (all or nothing), must be about a namespace the caller may write to, is
//! labelled with the caller (`kubetrail.io/tenant`), and goes through the same processing
//! (classification, correlation, templates) and store path as watched events. Its stored uid
//! is derived from the caller, the cluster, the namespace and the uid (or name) it was sent
//! with: a write only ever touches the writer's own events, never a watched event or another
//! caller's, and the answer (`new`, `updated`, `unchanged`) tells nothing about those.

use std::time::Instant;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::events::v1 as events;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kubetrail_model::{Event, Timestamp};
use kubetrail_process::{from_core, from_events_v1};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::api::body;
use crate::api::docs::{IngestParams, IngestResultDoc};
use crate::auth::Caller;
use crate::error::ErrorBody;
use crate::params::Params;
use crate::scope::Allowed;
use crate::{ApiError, AppState};

/// Longest reason, as the API server allows.
const MAX_REASON: usize = 128;
/// Largest note, as `events.k8s.io/v1` allows (1 kB).
const MAX_NOTE: usize = 1024;

#[derive(Debug, Serialize)]
pub(crate) struct IngestResult {
    #[serde(flatten)]
    pub summary: kubetrail_store::WriteSummary,
    /// `cluster/uid` of each event, in the order sent.
    pub ids: Vec<String>,
}

/// Stores application events. The same caller sending the same event again (same
/// `metadata.uid`, or same namespace and `metadata.name` when there is no uid) with a higher
/// count adds only the new occurrences. Events are stored under a uid of kubetrail's (the
/// `ids` of the answer), derived from the caller and the event's namespace and uid.
#[utoipa::path(
    post,
    path = "/api/v1/events",
    operation_id = "postEvents",
    tag = "events",
    params(IngestParams),
    request_body(content = Object, description = "An Event (events.k8s.io/v1 or v1) or an array of them", content_type = "application/json"),
    responses(
        (status = 200, description = "What was stored", body = IngestResultDoc),
        (status = 400, description = "An invalid event, named by its index and field", body = ErrorBody),
        (status = 401, description = "No or an unknown token (anonymous callers only read)", body = ErrorBody),
        (status = 403, description = "A namespace or cluster the caller may not write to", body = ErrorBody),
        (status = 413, description = "The body is too large or has too many events", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        (status = 422, description = "The store refused an event (a value or size it cannot hold), named by its index; nothing was stored", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn post(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    headers: HeaderMap,
    request: Body,
) -> Result<Json<IngestResult>, ApiError> {
    caller.require_writer()?;
    let mut p = Params::from_uri(&uri)?;
    let cluster = p.text("cluster")?;
    p.finish()?;
    let cluster = match cluster {
        Some(c) => c,
        None => default_cluster(&state, &caller).await?,
    };
    let bytes = body::bytes(&headers, request, state.limits.max_body_bytes).await?;
    let items = match body::decode::<Value>(&bytes)? {
        Value::Array(items) => items,
        one @ Value::Object(_) => vec![one],
        _ => {
            return Err(ApiError::bad_request(
                "bad_body",
                "the body must be an Event object or an array of them",
            ));
        }
    };
    if items.is_empty() {
        return Err(ApiError::bad_request("bad_body", "no events in the body"));
    }
    if items.len() > state.limits.max_post_events {
        return Err(ApiError::too_large(format!(
            "{} events in one request; at most {}",
            items.len(),
            state.limits.max_post_events
        )));
    }
    let now = Timestamp::now();
    let tenant = caller.name();
    let writer = caller.identity();
    let mut received = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let event = validate(item, &cluster, &tenant, &writer, now, state.max_future)
            .map_err(|(field, why)| ApiError::bad_parameter(&format!("[{i}].{field}"), why))?;
        if !caller.may_write(&state, &cluster, &event.namespace).await? {
            return Err(ApiError::forbidden(format!(
                "[{i}]: {tenant} may not write events into namespace {:?} of cluster {cluster:?}",
                event.namespace
            )));
        }
        received.push(event);
    }
    let started = Instant::now();
    let metrics = state.telemetry.cluster(&cluster);
    metrics.received_from_api(received.len() as u64);
    let processed: Vec<Event> = {
        let mut processor = state
            .processor
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let processed = received.into_iter().map(|e| processor.process(e)).collect();
        // Posted events never change stored ones (see `Caller::identity`): a late owner link
        // does not relink what another caller or the watch stored.
        drop(processor.take_relinks());
        processed
    };
    metrics.processed(processed.len() as u64);
    let ids = processed
        .iter()
        .map(|e| format!("{}/{}", e.cluster, e.uid))
        .collect();
    let written = store(&state, &metrics, processed).await?;
    metrics.stored(&written.summary, started.elapsed());
    let summary = written.summary.clone();
    if let Some(feed) = &state.alerts {
        feed.committed(written).await;
    }
    Ok(Json(IngestResult { summary, ids }))
}

/// Writes the events in one transaction, all or nothing: an event the store refuses (a data
/// error) is a 422 naming its index, never a 500; a failing store counts for `/readyz`. What it
/// committed.
async fn store(
    state: &AppState,
    metrics: &crate::ClusterTelemetry,
    events: Vec<Event>,
) -> Result<kubetrail_store::Written, ApiError> {
    let written = async {
        let mut txn = state.sink.begin().await?;
        let written = txn.write_isolating(events).await?;
        if written.rejected.is_empty() {
            txn.commit().await?;
        }
        Ok::<_, kubetrail_store::Error>(written)
    }
    .await;
    let written = written.inspect_err(|e| {
        if !e.is_data_error() {
            metrics.write_failed(&kubetrail_alert::error_chain(e));
        }
    })?;
    match written.rejected.first() {
        None => Ok(written.written),
        Some(r) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "rejected_event",
            format!(
                "[{}]: the store cannot hold this event ({}); nothing was stored",
                r.index, r.error
            ),
        )),
    }
}

/// The caller's only cluster, or the server's default.
async fn default_cluster(state: &AppState, caller: &Caller) -> Result<String, ApiError> {
    let scope = caller.scope(state, &[]).await?;
    match &scope.clusters {
        Allowed::Only(set) if set.len() == 1 => Ok(set.iter().next().cloned().unwrap_or_default()),
        Allowed::Only(_) => Err(ApiError::bad_parameter(
            "cluster",
            "required: the caller sees several clusters",
        )),
        Allowed::All => Ok(state.default_cluster.clone()),
    }
}

/// One posted object → an Event (with the writer's own uid, see [`own_uid`]), or the field
/// that is wrong and why.
fn validate(
    item: Value,
    cluster: &str,
    tenant: &str,
    writer: &str,
    now: Timestamp,
    max_future: kubetrail_process::FutureLimit,
) -> Result<Event, (&'static str, String)> {
    let api_version = item
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("events.k8s.io/v1")
        .to_string();
    let kind = item.get("kind").and_then(Value::as_str).unwrap_or("Event");
    if kind != "Event" {
        return Err(("kind", format!("must be Event, not {kind:?}")));
    }
    let mut event = match api_version.as_str() {
        "events.k8s.io/v1" => {
            let mut ev: events::Event =
                serde_json::from_value(item).map_err(|e| ("", e.to_string()))?;
            if ev.event_time.is_none()
                && ev.deprecated_first_timestamp.is_none()
                && ev.deprecated_last_timestamp.is_none()
                && ev.series.is_none()
            {
                ev.event_time = Some(MicroTime(now));
            }
            own_uid(&mut ev.metadata, cluster, writer);
            from_events_v1(ev, cluster).map_err(|e| ("metadata", e.to_string()))?
        }
        "v1" => {
            let mut ev: core::Event =
                serde_json::from_value(item).map_err(|e| ("", e.to_string()))?;
            if ev.event_time.is_none()
                && ev.first_timestamp.is_none()
                && ev.last_timestamp.is_none()
            {
                ev.event_time = Some(MicroTime(now));
            }
            own_uid(&mut ev.metadata, cluster, writer);
            from_core(ev, cluster).map_err(|e| ("metadata", e.to_string()))?
        }
        other => {
            return Err((
                "apiVersion",
                format!("must be events.k8s.io/v1 or v1, not {other:?}"),
            ));
        }
    };
    check(&event)?;
    max_future
        .check(&event, now)
        .map_err(|rejected| ("eventTime", rejected.to_string()))?;
    if event.reporting_controller.is_empty() {
        event.reporting_controller = format!("kubetrail.io/api/{tenant}");
    }
    event
        .labels
        .insert("kubetrail.io/tenant".into(), tenant.to_string());
    event
        .labels
        .insert("kubetrail.io/source".into(), "api".into());
    Ok(event)
}

fn check(e: &Event) -> Result<(), (&'static str, String)> {
    if e.namespace.is_empty() {
        return Err((
            "metadata.namespace",
            "required (the namespace the event belongs to)".into(),
        ));
    }
    if !e.regarding.namespace.is_empty() && e.regarding.namespace != e.namespace {
        return Err((
            "regarding.namespace",
            format!(
                "must be the event's namespace {:?} (an event is about an object of its own namespace)",
                e.namespace
            ),
        ));
    }
    if e.regarding.kind.is_empty() || e.regarding.name.is_empty() {
        return Err(("regarding", "needs a kind and a name".into()));
    }
    if e.reason.trim().is_empty() {
        return Err(("reason", "required".into()));
    }
    if e.reason.len() > MAX_REASON {
        return Err(("reason", format!("longer than {MAX_REASON} bytes")));
    }
    if e.note.len() > MAX_NOTE {
        return Err(("note", format!("longer than {MAX_NOTE} bytes")));
    }
    if e.type_ != "Normal" && e.type_ != "Warning" {
        return Err((
            "type",
            format!("must be Normal or Warning, not {:?}", e.type_),
        ));
    }
    Ok(())
}

/// The uid an API-posted event is stored under: a hash of who writes it (`writer`, from
/// [`Caller::identity`]), where (cluster, namespace) and which event it is to the client (its
/// `metadata.uid`, else its `metadata.name`, else a fresh random one). Sending the same event
/// again updates it; no caller can name, and so overwrite or probe, an event of another caller,
/// of another namespace, or a watched one (their uids are the API server's UUIDs, never
/// `api-…`).
fn own_uid(
    meta: &mut k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    cluster: &str,
    writer: &str,
) {
    let random;
    let (kind, key) = match (
        meta.uid.as_deref().filter(|u| !u.is_empty()),
        meta.name.as_deref().filter(|n| !n.is_empty()),
    ) {
        (Some(uid), _) => ("uid", uid),
        (None, Some(name)) => ("name", name),
        (None, None) => {
            random = uuid::Uuid::new_v4().to_string();
            ("random", random.as_str())
        }
    };
    let namespace = meta.namespace.as_deref().unwrap_or_default();
    let mut hash = Sha256::new();
    // Each part with its length first, so that no two lists of parts hash alike.
    for part in ["kubetrail.io/api", writer, cluster, namespace, kind, key] {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part.as_bytes());
    }
    let digest = hash.finalize();
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    meta.uid = Some(format!("api-{hex}"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn uid(writer: &str, ns: &str, client_uid: Option<&str>, name: Option<&str>) -> String {
        let mut meta = ObjectMeta {
            namespace: Some(ns.into()),
            uid: client_uid.map(Into::into),
            name: name.map(Into::into),
            ..ObjectMeta::default()
        };
        own_uid(&mut meta, "prod", writer);
        meta.uid.unwrap()
    }

    #[test]
    fn an_event_keeps_its_uid_for_its_writer_and_no_one_else() {
        let mine = uid("tenant:shop", "shop", Some("u1"), None);
        assert!(mine.starts_with("api-"), "{mine}");
        assert_eq!(mine, uid("tenant:shop", "shop", Some("u1"), Some("n")));
        assert_ne!(mine, uid("tenant:payments", "shop", Some("u1"), None));
        assert_ne!(mine, uid("kubernetes:shop", "shop", Some("u1"), None));
        assert_ne!(mine, uid("tenant:shop", "cart", Some("u1"), None));
        assert_ne!(
            mine,
            uid("tenant:shop", "shop", None, Some("u1")),
            "uid vs name"
        );
        let by_name = uid("tenant:shop", "shop", None, Some("n"));
        assert_eq!(by_name, uid("tenant:shop", "shop", None, Some("n")));
        assert_ne!(
            uid("tenant:shop", "shop", None, None),
            uid("tenant:shop", "shop", None, None),
            "no uid, no name: a new event each time"
        );
    }
}
