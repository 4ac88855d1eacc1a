//! The HTTP API end to end: one GET request through the real [`router`] (authentication,
//! scopes, every handler's parameter reading, the store's queries) over a SQLite store that
//! holds a few events.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, header};
use http_body_util::BodyExt;
use jiff::SignedDuration;
use kubetrail_model::Event;
use kubetrail_process::{Processor, Rules};
use kubetrail_server::{AppState, Auth, Limits, Telemetry, TenantToken, hash_token, router};
use kubetrail_store::{SqliteStore, Store};
use tokio::runtime::Runtime;
use tower::ServiceExt;

const ADMIN: &str = "admin-token-0123456789";
const SHOP: &str = "shop-token-0123456789";

/// The first byte chooses the caller (an admin, or a tenant that sees namespace `shop` of
/// cluster `prod`); the rest is the path and query after `/api/v1/`.
pub fn run(data: &[u8]) {
    let Some((&caller, rest)) = data.split_first() else {
        return;
    };
    let Ok(rest) = std::str::from_utf8(rest) else {
        return;
    };
    let token = if caller & 1 == 0 { ADMIN } else { SHOP };
    let Ok(request) = Request::get(format!("/api/v1/{rest}"))
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
    else {
        return;
    };
    let (runtime, app) = server();
    runtime.block_on(async {
        let response = app
            .clone()
            .oneshot(request)
            .await
            .expect("the router answers every request");
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("the body is read")
            .to_bytes();
        // A 500 is a handler error the caller could not cause by a bad parameter alone.
        assert!(
            !status.is_server_error() || status.as_u16() == 503,
            "{status} for /api/v1/{rest}: {}",
            String::from_utf8_lossy(&body)
        );
    });
}

fn server() -> &'static (Runtime, Router) {
    static SERVER: OnceLock<(Runtime, Router)> = OnceLock::new();
    SERVER.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let dir = scratch_dir();
        let _ = std::fs::remove_file(dir.join("kubetrail.db"));
        let store: Arc<dyn Store> =
            Arc::new(SqliteStore::open(dir.join("kubetrail.db")).expect("the store opens"));
        let mut processor = Processor::new(Rules::builtin());
        let events: Vec<Event> = events().into_iter().map(|e| processor.process(e)).collect();
        runtime
            .block_on(store.write_batch(events, None))
            .expect("the events are stored");
        let auth = Auth::tokens(
            vec![
                TenantToken {
                    name: "ops".into(),
                    sha256: hash_token(ADMIN),
                    admin: true,
                    clusters: None,
                    namespaces: None,
                },
                TenantToken {
                    name: "shop".into(),
                    sha256: hash_token(SHOP),
                    admin: false,
                    clusters: Some(vec!["prod".into()]),
                    namespaces: Some(vec!["shop".into()]),
                },
            ],
            false,
        );
        let state = AppState::new(store, auth, Limits::default(), Telemetry::new())
            .with_default_cluster("prod");
        (runtime, router(state))
    })
}

/// A few events in two namespaces and two clusters, over a day.
fn events() -> Vec<Event> {
    let base = crate::rules::sample_event();
    let mut out = Vec::new();
    for (i, (cluster, namespace, reason, kind)) in [
        ("prod", "shop", "BackOff", "Pod"),
        ("prod", "shop", "FailedScheduling", "Pod"),
        ("prod", "payments", "Unhealthy", "Pod"),
        ("prod", "", "NodeNotReady", "Node"),
        ("staging", "shop", "ScalingReplicaSet", "Deployment"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut e = base.clone();
        let offset = SignedDuration::from_mins(i64::try_from(i).unwrap_or(0) * 97);
        e.cluster = cluster.into();
        e.uid = format!("uid-{i}");
        e.namespace = namespace.into();
        e.regarding.namespace = namespace.into();
        e.regarding.kind = kind.into();
        e.reason = reason.into();
        e.first_seen = base.first_seen - offset;
        e.last_seen = base.last_seen + offset;
        out.push(e);
    }
    out
}

fn scratch_dir() -> PathBuf {
    let shm = PathBuf::from("/dev/shm");
    let base = if shm.is_dir() {
        shm
    } else {
        std::env::temp_dir()
    };
    let dir = base.join(format!("kubetrail-fuzz-http-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a directory for the fuzz store");
    dir
}
