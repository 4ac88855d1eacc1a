//! `/metrics` follows Prometheus' contracts: `promtool check metrics` (Debian's `prometheus`
//! package; `scripts/test.sh` installs it) passes on the real answer in the classic text format,
//! which a scraper gets unless it asks for OpenMetrics; occurrences are a counter
//! (`kubetrail_events_total`) that a replayed event does not move; `kubetrail_build_info` is 1.
//!
//! Bugs pinned: the only per-event metrics were gauges over an analysis window
//! (`kubetrail_analyze_event_rate_per_minute`), which `rate()` cannot use; and `/metrics`
//! answered OpenMetrics to every scraper, which promtool (a text-format parser) refused
//! ("no help text" for every counter: OpenMetrics names the family without `_total`).

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::*;
use http_body_util::BodyExt;
use kubetrail_server::{AppState, Auth, Limits, Telemetry, router};
use serde_json::json;
use tower::ServiceExt;

const TEXT: &str = "text/plain; version=0.0.4";
const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// `/metrics` with an `Accept` header: the content type and the body.
async fn scrape(app: &axum::Router, accept: Option<&str>) -> (String, String) {
    let mut request =
        Request::get("/metrics").header(header::AUTHORIZATION, format!("Bearer {ADMIN}"));
    if let Some(a) = accept {
        request = request.header(header::ACCEPT, a);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_string();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (content_type, String::from_utf8(body.to_vec()).unwrap())
}

fn promtool(text: &str) -> (bool, String) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs (apt-get install prometheus; scripts/test.sh does it)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success() && said.trim().is_empty(), said)
}

/// The value of the sample line that starts with `series` (0 when absent).
fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

fn event(name: &str, count: u64) -> serde_json::Value {
    json!({
        "metadata": {"name": name, "namespace": "shop"},
        "regarding": {"kind": "Deployment", "namespace": "shop", "name": "checkout"},
        "reason": "PaymentDeclined", "note": "declined", "type": "Warning",
        "deprecatedCount": count,
    })
}

#[tokio::test]
async fn promtool_passes_on_the_text_format_and_events_are_a_counter() {
    let (_d, store) = store_with(fixture()).await;
    let telemetry = Telemetry::new();
    telemetry.set_alert_metrics(kubetrail_alert::AlertMetrics::default());
    let prod = telemetry.cluster("prod");
    prod.watch_stats()
        .received
        .fetch_add(3, std::sync::atomic::Ordering::Relaxed);
    prod.processed(3);
    prod.dropped("spool_full", 1);
    prod.spool_bytes(1024);
    let app = router(
        AppState::new(
            store,
            Auth::tokens(tenants(), false),
            Limits::default(),
            telemetry,
        )
        .with_default_cluster("prod"),
    );
    let post = |body: serde_json::Value| {
        let app = app.clone();
        async move {
            let (s, answer) =
                send(&app, json_req("POST", "/api/v1/events", Some(SHOP), &body)).await;
            assert!(s.is_success(), "{}", short(&answer));
        }
    };
    post(json!([event("a", 1), event("b", 2)])).await;
    get(&app, "/api/v1/incidents/x", Some(ADMIN)).await;

    // A scraper that asks for the text format (or for nothing) gets it, and promtool agrees.
    for accept in [Some(TEXT), None, Some("*/*")] {
        let (content_type, text) = scrape(&app, accept).await;
        assert!(content_type.starts_with(TEXT), "{accept:?}: {content_type}");
        let (ok, said) = promtool(&text);
        assert!(
            ok,
            "promtool check metrics refused the answer:\n{said}\n{text}"
        );
        assert!(!text.contains("# EOF"), "{text}");
    }
    // Prometheus asks for OpenMetrics first, and gets it.
    let (content_type, om) = scrape(&app, Some(PROMETHEUS_ACCEPT)).await;
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    assert!(om.trim_end().ends_with("# EOF"));
    assert_eq!(om.matches("# EOF").count(), 1);

    let (_, text) = scrape(&app, Some(TEXT)).await;
    let series = r#"kubetrail_events_total{cluster="prod",namespace="shop",reason="PaymentDeclined",type="Warning",severity="warning",category="rollout"}"#;
    assert!(
        text.contains("# TYPE kubetrail_events_total counter"),
        "{text}"
    );
    assert_eq!(value(&text, series), 3.0, "1 + 2 occurrences:\n{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("kubetrail_build_info{version=\"") && l.ends_with(" 1")),
        "{text}"
    );
    // The same events again add nothing (the store's dedup); a count increase adds its delta.
    post(json!([event("a", 1), event("b", 2)])).await;
    let (_, text) = scrape(&app, Some(TEXT)).await;
    assert_eq!(
        value(&text, series),
        3.0,
        "a replay is not counted:\n{text}"
    );
    post(json!(event("b", 5))).await;
    let (_, text) = scrape(&app, Some(TEXT)).await;
    assert_eq!(value(&text, series), 6.0, "only the increase of b:\n{text}");
    // The deprecated gauges are still served, and say what replaces them.
    assert!(
        text.contains("# HELP kubetrail_analyze_event_rate_per_minute Deprecated, use rate(kubetrail_events_total[5m])"),
        "{text}"
    );
}

/// The cap on label sets holds through the real write path: later label sets land in `_other`.
#[tokio::test]
async fn event_label_sets_beyond_the_cap_are_counted_as_other() {
    let (_d, store) = store_with(Vec::new()).await;
    let telemetry = Telemetry::with_max_event_series(2);
    let app = router(
        AppState::new(
            store,
            Auth::tokens(tenants(), false),
            Limits::default(),
            telemetry,
        )
        .with_default_cluster("prod"),
    );
    for reason in ["One", "Two", "Three", "Four"] {
        let mut e = event(&format!("e-{reason}"), 1);
        e["reason"] = json!(reason);
        let (s, answer) = send(&app, json_req("POST", "/api/v1/events", Some(SHOP), &e)).await;
        assert!(s.is_success(), "{}", short(&answer));
    }
    let (_, text) = scrape(&app, Some(TEXT)).await;
    let series: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("kubetrail_events_total{"))
        .collect();
    assert_eq!(series.len(), 3, "two of their own and one _other:\n{text}");
    assert_eq!(
        value(
            &text,
            r#"kubetrail_events_total{cluster="_other",namespace="_other",reason="_other",type="Warning",severity="warning",category="rollout"}"#
        ),
        2.0,
        "{text}"
    );
    let (ok, said) = promtool(&text);
    assert!(ok, "{said}");
}
