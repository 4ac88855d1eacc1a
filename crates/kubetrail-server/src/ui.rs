//! The web UI: plain HTML, CSS and JavaScript files embedded in the binary at build time (no
//! build step, no CDN, no request to anything but this server). The page fetches the JSON API
//! with the token the user gave it, so a tenant's page shows only its own data, and it writes
//! every string it got from an event with `textContent`, never as HTML. The Content Security
//! Policy allows scripts and styles from this server only: even an injected `<script>` would
//! not run.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use crate::{ApiError, AppState};

/// `(name, content type, bytes)` of every asset.
const ASSETS: [(&str, &str, &str); 6] = [
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("../ui/app.css"),
    ),
    (
        "dom.js",
        "text/javascript; charset=utf-8",
        include_str!("../ui/dom.js"),
    ),
    (
        "charts.js",
        "text/javascript; charset=utf-8",
        include_str!("../ui/charts.js"),
    ),
    (
        "pages.js",
        "text/javascript; charset=utf-8",
        include_str!("../ui/pages.js"),
    ),
    (
        "alert.js",
        "text/javascript; charset=utf-8",
        include_str!("../ui/alert.js"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../ui/app.js"),
    ),
];

const INDEX: &str = include_str!("../ui/index.html");

/// The assets of the fleet page, the swimlanes, the changes and the shared filters.
const VIEW_ASSETS: [(&str, &str, &str); 5] = [
    (
        "views.css",
        "text/css; charset=utf-8",
        include_str!("../ui/views.css"),
    ),
    (
        "filters.js",
        "text/javascript; charset=utf-8",
        include_str!("../ui/filters.js"),
    ),
    (
        "changes.js",
        "text/javascript; charset=utf-8",
        include_str!("../ui/changes.js"),
    ),
    (
        "swimlanes.js",
        "text/javascript; charset=utf-8",
        include_str!("../ui/swimlanes.js"),
    ),
    (
        "fleet.js",
        "text/javascript; charset=utf-8",
        include_str!("../ui/fleet.js"),
    ),
];

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/ui/{file}", get(asset))
        .route("/alerts/{id}", get(alert_redirect))
}

/// `/alerts/{id}`, the link notifications carried before the UI had alert pages: redirected
/// to the alert's page, `#/alert/{id}`. The target is relative (`../`), so it also works
/// behind a proxy that serves the UI under a path prefix.
async fn alert_redirect(Path(id): Path<String>) -> Result<Response, ApiError> {
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::not_found(format!("no alert {id:?}")))?;
    Ok(Redirect::to(&format!("../#/alert/{id}")).into_response())
}

async fn index() -> Response {
    with_headers(INDEX, "text/html; charset=utf-8")
}

async fn asset(Path(file): Path<String>) -> Result<Response, ApiError> {
    ASSETS
        .iter()
        .chain(VIEW_ASSETS.iter())
        .find(|(name, _, _)| *name == file)
        .map(|(_, content_type, body)| with_headers(body, content_type))
        .ok_or_else(|| ApiError::not_found(format!("no UI file {file:?}")))
}

fn with_headers(body: &'static str, content_type: &'static str) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}
