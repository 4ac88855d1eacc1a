//! Where people and tools meet kubetrail: the JSON API under `/api/v1/`, the web UI, Prometheus
//! `/metrics`, `/healthz` and `/readyz`, with bearer tokens mapped to tenants.
//!
//! `store → analyze → serve`: every endpoint reads the store (the roles it needs, [`Stores`]) and
//! calls the same analysis functions as the CLI, so both give the same JSON. Custom events
//! (`POST /api/v1/events`) go through the same processing and store path as watched ones.
//! [`router`] builds the whole HTTP surface from an [`AppState`]; [`serve`] runs it on a
//! listener until cancelled.
//!
//! ```no_run
//! # async fn demo(store: std::sync::Arc<dyn kubetrail_store::Store>) -> Result<(), Box<dyn std::error::Error>> {
//! use kubetrail_server::{AppState, Auth, Limits, Telemetry, router};
//! let state = AppState::new(store, Auth::anonymous_admin(), Limits::default(), Telemetry::new());
//! let app = router(state);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:7070").await?;
//! kubetrail_server::serve(listener, app, tokio_util::sync::CancellationToken::new()).await?;
//! # Ok(()) }
//! ```

// Shipped code neither unwraps nor prints (stdout is the CLI's output); tests may. Set
// here, not in [workspace.lints], which would cover tests too (CONTRIBUTING.md, Lints).
#![warn(clippy::unwrap_used, clippy::print_stdout, clippy::print_stderr)]

mod api;
mod auth;
pub mod config;
#[doc(hidden)]
pub mod cursor;
mod error;
mod openapi;
#[doc(hidden)]
pub mod params;
mod routes;
mod scope;
mod serve;
mod state;
mod telemetry;
mod ui;
mod window;

pub use auth::{
    AccessReviewer, Auth, KubeUser, REVIEW_DEADLINE, ReviewError, TenantToken, hash_token,
};
pub use config::{AuthMode, RawAuth, RawKubeAuth, RawServe, RawTenant, ServeConfig};
pub use error::{ApiError, Error, Result};
pub use routes::{metrics_router, router};
pub use scope::{Allowed, Scope};
pub use serve::serve;
pub use state::{AppState, Limits, Stores};
pub use telemetry::{ClusterTelemetry, FAILING_WRITES, MAX_EVENT_SERIES, StoreWrites, Telemetry};
