//! The HTTP server: the router and starting the simulator.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::error::{Error, Result};
use crate::faults::Faults;
use crate::handle::SimHandle;
use crate::policy::Policy;
use crate::state::{AppState, SimConfig};
use crate::status::ApiError;
use crate::store::Store;
use crate::{api, discovery, openapi};

/// Discovery routes by name; everything else is parsed by [`api::handle`].
pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route(
            "/version",
            get(|| async { axum::Json(discovery::version()) }),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(|| async { "ok" }))
        .route("/livez", get(|| async { "ok" }))
        .route("/api", get(core_discovery))
        .route("/api/v1", get(|| async { resource_list("", "v1") }))
        .route(
            "/apis",
            get(|headers: HeaderMap| async move { discovery::groups(&headers) }),
        )
        .route("/apis/{group}", get(group_discovery))
        .route("/apis/{group}/{version}", get(group_version_discovery))
        .route("/openapi/v3", get(|| async { axum::Json(openapi::root()) }))
        .route(
            "/openapi/v3/api/v1",
            get(|| async { openapi_document("", "v1") }),
        )
        .route(
            "/openapi/v3/apis/{group}/{version}",
            get(
                |Path((group, version)): Path<(String, String)>| async move {
                    openapi_document(&group, &version)
                },
            ),
        )
        .fallback(api::handle)
        .with_state(state)
}

async fn core_discovery(State(state): State<AppState>, headers: HeaderMap) -> Response {
    discovery::core(&headers, &state.addr.to_string())
}

async fn group_discovery(Path(group): Path<String>) -> Response {
    if discovery::is_group(&group) {
        axum::Json(discovery::group(&group)).into_response()
    } else {
        ApiError::no_route().into_response()
    }
}

async fn group_version_discovery(Path((group, version)): Path<(String, String)>) -> Response {
    resource_list(&group, &version)
}

fn openapi_document(group: &str, version: &str) -> Response {
    match openapi::group_version(group, version) {
        Some(document) => axum::Json(document).into_response(),
        None => ApiError::no_route().into_response(),
    }
}

fn resource_list(group: &str, version: &str) -> Response {
    match discovery::resource_list(group, version) {
        Some(list) => axum::Json(list).into_response(),
        None => ApiError::no_route().into_response(),
    }
}

/// Starts simulators.
pub struct Simulator;

impl Simulator {
    /// Starts a simulator with the default [`SimConfig`] on 127.0.0.1 and a free port.
    pub async fn start() -> Result<SimHandle> {
        Self::start_with(SimConfig::default()).await
    }

    /// Starts a simulator with `config`, on `config.listen` or 127.0.0.1 and a free port.
    pub async fn start_with(config: SimConfig) -> Result<SimHandle> {
        let listen = config
            .listen
            .unwrap_or_else(|| std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
        let listener = TcpListener::bind(listen).await.map_err(Error::Bind)?;
        let addr = listener.local_addr().map_err(Error::Bind)?;
        let store = Arc::new(Store::new(config.history_limit, config.watch_buffer));
        let faults = Faults::new(Arc::clone(&store));
        let policy = Policy::default();
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let state = AppState {
            store: Arc::clone(&store),
            faults: faults.clone(),
            policy: policy.clone(),
            config: config.clone(),
            shutdown: shutdown_rx.clone(),
            addr,
        };
        if let Some(ttl) = config.event_ttl {
            tokio::spawn(expire_events(Arc::clone(&store), ttl, shutdown_rx.clone()));
        }
        let app = router(state);
        let mut stop = shutdown_rx;
        let task = tokio::spawn(async move {
            let stopping = async move {
                // Also ends when every handle is gone (the sender is dropped).
                let _ = stop.wait_for(|stopping| *stopping).await;
            };
            if let Err(error) = axum::serve(listener, app)
                .with_graceful_shutdown(stopping)
                .await
            {
                tracing::warn!(%error, "simulator server stopped with an error");
            }
        });
        tracing::debug!(%addr, "simulator listening");
        Ok(SimHandle::new(
            addr,
            store,
            faults,
            policy,
            shutdown_tx,
            task,
        ))
    }
}

/// Deletes expired Events until the simulator stops; checks ten times per TTL.
async fn expire_events(store: Arc<Store>, ttl: Duration, mut shutdown: watch::Receiver<bool>) {
    let period = (ttl / 10).max(Duration::from_millis(50));
    let mut ticker = tokio::time::interval(period);
    loop {
        tokio::select! {
            _ = shutdown.wait_for(|stopping| *stopping) => return,
            _ = ticker.tick() => {}
        }
        let ttl = jiff::SignedDuration::try_from(ttl).unwrap_or(jiff::SignedDuration::MAX);
        if let Ok(cutoff) = jiff::Timestamp::now().checked_sub(ttl) {
            let expired = store.expire_events(cutoff);
            if expired > 0 {
                tracing::debug!(expired, "expired events");
            }
        }
    }
}
