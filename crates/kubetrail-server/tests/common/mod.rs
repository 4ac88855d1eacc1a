//! Shared by the server's tests: a real SQLite store with events, the router, and requests
//! sent to it with `oneshot`.

#![allow(dead_code)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use kubetrail_model::{Category, Event, Severity, Timestamp};
use kubetrail_process::{Processor, Rules};
use kubetrail_server::{AppState, Auth, Limits, Telemetry, TenantToken, hash_token, router};
use kubetrail_store::{SqliteStore, Store};
use serde_json::Value;
use tower::ServiceExt;

pub const SHOP: &str = "shop-token-0123456789";
pub const PAYMENTS: &str = "payments-token-0123456789";
pub const ADMIN: &str = "admin-token-0123456789";

/// `2024-05-01T12:00:00Z` plus `secs`.
pub fn at(secs: i64) -> Timestamp {
    Timestamp::from_second(1_714_564_800 + secs).expect("a valid time")
}

/// A raw event as a source would hand it over (processing fills in the rest).
pub fn raw(cluster: &str, ns: &str, kind: &str, name: &str, reason: &str, note: &str) -> Event {
    let normal = reason == "Pulled" || reason == "Started";
    let mut e = kubetrail_testkit::event(ns, kind, name, reason)
        .cluster(cluster)
        .uid(&format!("{cluster}-{ns}-{kind}-{name}-{reason}-{note}"))
        .type_(if normal { "Normal" } else { "Warning" })
        .classified(Category::Other, Severity::Info)
        .seen(at(0), at(0), 1)
        .build();
    e.note = note.into();
    e.regarding.uid = format!("uid-{name}");
    e.reporting_controller = "kubelet".into();
    e.correlation_id = String::new();
    e
}

/// Processes and stores `events` in a fresh store.
pub async fn store_with(events: Vec<Event>) -> (tempfile::TempDir, Arc<dyn Store>) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(dir.path().join("kubetrail.db")).expect("the store opens"));
    let mut processor = Processor::new(Rules::builtin());
    let events: Vec<Event> = events.into_iter().map(|e| processor.process(e)).collect();
    store
        .write_batch(events, None)
        .await
        .expect("events stored");
    (dir, store)
}

/// Tenants: `shop` (cluster prod, namespace shop), `payments` (prod, payments), an admin.
pub fn tenants() -> Vec<TenantToken> {
    vec![
        TenantToken {
            name: "shop".into(),
            sha256: hash_token(SHOP),
            admin: false,
            clusters: Some(vec!["prod".into()]),
            namespaces: Some(vec!["shop".into()]),
        },
        TenantToken {
            name: "payments".into(),
            sha256: hash_token(PAYMENTS),
            admin: false,
            clusters: Some(vec!["prod".into()]),
            namespaces: Some(vec!["payments".into()]),
        },
        TenantToken {
            name: "ops".into(),
            sha256: hash_token(ADMIN),
            admin: true,
            clusters: None,
            namespaces: None,
        },
    ]
}

pub fn app(store: Arc<dyn Store>, auth: Auth) -> Router {
    app_with(store, auth, Limits::default())
}

pub fn app_with(store: Arc<dyn Store>, auth: Auth, limits: Limits) -> Router {
    router(AppState::new(store, auth, limits, Telemetry::new()).with_default_cluster("prod"))
}

/// Sends a request; returns the status and the body as JSON (or as a JSON string when it is
/// not JSON).
pub async fn send(app: &Router, request: Request<Body>) -> (StatusCode, Value) {
    let response = app
        .clone()
        .oneshot(request)
        .await
        .expect("the router answers");
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("a body")
        .to_bytes();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, body)
}

pub fn get_req(uri: &str, token: Option<&str>) -> Request<Body> {
    let mut b = Request::get(uri);
    if let Some(t) = token {
        b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    b.body(Body::empty()).expect("a request")
}

pub fn json_req(method: &str, uri: &str, token: Option<&str>, body: &Value) -> Request<Body> {
    let mut b = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(t) = token {
        b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    b.body(Body::from(body.to_string())).expect("a request")
}

pub async fn get(app: &Router, uri: &str, token: Option<&str>) -> (StatusCode, Value) {
    send(app, get_req(uri, token)).await
}

/// Asserts the JSON error shape and returns its code.
pub fn error_code(body: &Value) -> String {
    let e = &body["error"];
    assert!(
        e["code"].is_string() && e["message"].is_string(),
        "not an error body: {body}"
    );
    e["code"].as_str().unwrap_or_default().to_string()
}

/// Events of two tenants' namespaces in `prod` and one namespace in `staging`:
/// - `prod/shop`: pods of Deployment `web` crash-looping (BackOff) for 40 minutes, 60 events
///   in all, some sharing a `last_seen` (paging must order them by id too), and one note with
///   HTML in it;
/// - `prod/payments`: a pod whose volume cannot mount (FailedMount), 20 events;
/// - `staging/shop`: 5 events (same namespace name, another cluster).
pub fn fixture() -> Vec<Event> {
    let mut out = Vec::new();
    for i in 0..60 {
        let pod = format!("web-7d9f8b6c5-{}", ["x2k4p", "q7z9m", "b5n8t"][i % 3]);
        let (reason, note) = if i % 4 == 0 {
            (
                "Pulled",
                "Successfully pulled image \"web:1.2\"".to_string(),
            )
        } else {
            (
                "BackOff",
                format!("Back-off restarting failed container app in pod {pod}"),
            )
        };
        let mut e = raw("prod", "shop", "Pod", &pod, reason, &note);
        e.uid = format!("shop-{i}");
        // Pairs of events share a last_seen.
        e.first_seen = at((i as i64 / 2) * 40);
        e.last_seen = at((i as i64 / 2) * 40);
        out.push(e);
    }
    let mut xss = raw(
        "prod",
        "shop",
        "Pod",
        "web-7d9f8b6c5-x2k4p",
        "Unhealthy",
        r#"<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>"#,
    );
    xss.uid = "shop-xss".into();
    xss.first_seen = at(30);
    xss.last_seen = at(30);
    out.push(xss);
    for i in 0..20 {
        let mut e = raw(
            "prod",
            "payments",
            "Pod",
            "api-5f6d7c8b9-xyz12",
            "FailedMount",
            "MountVolume.SetUp failed for volume \"secrets\" : secret \"api-keys\" not found",
        );
        e.uid = format!("payments-{i}");
        e.first_seen = at(i * 60);
        e.last_seen = at(i * 60);
        out.push(e);
    }
    for i in 0..5 {
        let mut e = raw(
            "staging",
            "shop",
            "Pod",
            "web-6c5d4b3a2-zzzzz",
            "BackOff",
            "Back-off restarting failed container app in pod web-6c5d4b3a2-zzzzz",
        );
        e.uid = format!("staging-{i}");
        e.first_seen = at(i * 60);
        e.last_seen = at(i * 60);
        out.push(e);
    }
    out
}

/// A body cut to a readable length for assertion messages.
pub fn short(body: &Value) -> String {
    let text = body.to_string();
    text.chars().take(600).collect()
}
