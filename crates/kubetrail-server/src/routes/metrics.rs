//! `/metrics`: kubetrail's own metrics (see `telemetry`), the number of alerts by status, and
//! the analysis crate's occurrence gauges over the last five minutes (deprecated: they cannot be
//! `rate()`d; `kubetrail_events_total` can). Only for callers who see everything (an admin
//! token, or anonymous on loopback). OpenMetrics to scrapers that ask for it (Prometheus does),
//! the classic text format to the others.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use jiff::{SignedDuration, Timestamp};
use kubetrail_analyze::{MetricsConfig, render_metrics};
use kubetrail_model::{AggregateQuery, Dimension, EventFilter};
use kubetrail_store::{AlertFilter, AlertStatus};

use crate::auth::Caller;
use crate::telemetry::{Format, negotiate, strip_eof, to_text};
use crate::{ApiError, AppState};

/// Most alerts counted per status (the gauge says "at least" beyond it).
const MAX_ALERTS: usize = 10_000;

pub(crate) async fn metrics(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if !caller.is_admin(&state).await? {
        return Err(ApiError::forbidden(
            "/metrics is for admins (it covers every tenant)",
        ));
    }
    let fault = |e: std::fmt::Error| ApiError::internal("cannot encode the metrics", &e);
    let mut out = state.telemetry.render_own().map_err(fault)?;
    out.push_str("# HELP kubetrail_alerts Alerts recorded in the store, by status.\n");
    out.push_str("# TYPE kubetrail_alerts gauge\n");
    for status in [AlertStatus::Firing, AlertStatus::Resolved] {
        let filter = AlertFilter {
            status: Some(status),
            limit: MAX_ALERTS,
            ..AlertFilter::default()
        };
        let n = state
            .timed("counting alerts", state.records.alerts(&filter))
            .await?
            .len();
        out.push_str(&format!("kubetrail_alerts{{status=\"{status}\"}} {n}\n"));
    }
    let window = SignedDuration::from_mins(5);
    let now = Timestamp::now();
    let rows = state
        .timed(
            "the metrics aggregation",
            state.reader.aggregate(&AggregateQuery {
                filter: EventFilter {
                    since: Some(now - window),
                    until: Some(now),
                    ..EventFilter::default()
                },
                group_by: vec![
                    Dimension::Cluster,
                    Dimension::Namespace,
                    Dimension::Reason,
                    Dimension::Category,
                    Dimension::Severity,
                ],
                interval: None,
                limit: None,
            }),
        )
        .await?;
    let rates = render_metrics(
        &rows,
        &MetricsConfig {
            window,
            ..MetricsConfig::default()
        },
    )?;
    out.push_str(&rates);
    if !out.trim_end().ends_with("# EOF") {
        strip_eof(&mut out);
        out.push_str("# EOF\n");
    }
    let format = negotiate(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()));
    if format == Format::Text {
        out = to_text(&out);
    }
    let mut response = out.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    Ok(response)
}
