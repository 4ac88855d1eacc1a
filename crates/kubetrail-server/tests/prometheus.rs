//! A real Prometheus scrapes a kubetrail server started here, and its query API returns our
//! series. `scripts/test.sh` installs `prometheus` (Debian) when it is missing.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::*;
use kubetrail_server::{AppState, Auth, Limits, Telemetry, router};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::process::Command;
use tokio_util::sync::CancellationToken;

use kubetrail_testkit::free_port;

async fn query(client: &reqwest::Client, prometheus: &str, promql: &str) -> Option<Vec<Value>> {
    let url = format!("{prometheus}/api/v1/query");
    let response = client
        .get(url)
        .query(&[("query", promql)])
        .send()
        .await
        .ok()?;
    let body: Value = serde_json::from_slice(&response.bytes().await.ok()?).ok()?;
    body["data"]["result"].as_array().cloned()
}

#[tokio::test]
async fn prometheus_scrapes_our_series() {
    let binary = which("prometheus").expect(
        "the prometheus binary is needed (apt-get install prometheus; scripts/test.sh does it)",
    );
    // kubetrail, with an event of now so that the analysis rates have a series too.
    let (dir, store) = store_with(fixture()).await;
    let telemetry = Telemetry::new();
    telemetry.cluster("prod").processed(3);
    let app = router(
        AppState::new(
            store,
            Auth::tokens(tenants(), false),
            Limits::default(),
            telemetry,
        )
        .with_default_cluster("prod"),
    );
    let event = json!({
        "metadata": {"name": "checkout.now", "namespace": "shop"},
        "regarding": {"kind": "Deployment", "namespace": "shop", "name": "checkout"},
        "reason": "PaymentDeclined", "note": "declined", "type": "Warning",
    });
    let (s, _) = send(&app, json_req("POST", "/api/v1/events", Some(SHOP), &event)).await;
    assert!(s.is_success());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target = listener.local_addr().unwrap();
    let cancel = CancellationToken::new();
    let server = tokio::spawn(kubetrail_server::serve(listener, app, cancel.clone()));

    let port = free_port();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: kubetrail\n    metrics_path: /metrics\n    authorization:\n      credentials: {ADMIN}\n    static_configs:\n      - targets: ['{target}']\n"
        ),
    )
    .unwrap();
    let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
    let mut prometheus = Command::new(binary)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .expect("prometheus starts");

    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let wanted = [
        r#"up{job="kubetrail"} == 1"#,
        r#"kubetrail_http_requests_total{route="/metrics",status="200"}"#,
        r#"kubetrail_events_received_total{cluster="prod",source="api"}"#,
        r#"kubetrail_pipeline_events_processed_total{cluster="prod"}"#,
        r#"kubetrail_analyze_event_occurrences{namespace="shop",reason="PaymentDeclined"}"#,
        r#"kubetrail_alerts{status="firing"}"#,
        r#"kubetrail_events_total{namespace="shop",reason="PaymentDeclined",type="Warning"}"#,
        r#"kubetrail_build_info == 1"#,
        // A counter: rate() works on it (needs two scrapes).
        r#"rate(kubetrail_events_total{namespace="shop"}[10s]) >= 0"#,
    ];
    let mut missing: Vec<&str> = wanted.to_vec();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    while !missing.is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "Prometheus never returned {missing:?}; its log: {}",
            std::fs::read_to_string(dir.path().join("prometheus.log")).unwrap_or_default()
        );
        if let Ok(Some(status)) = prometheus.try_wait() {
            panic!(
                "prometheus exited ({status}): {}",
                std::fs::read_to_string(dir.path().join("prometheus.log")).unwrap_or_default()
            );
        }
        tick.tick().await;
        let mut still = Vec::new();
        for q in missing {
            match query(&client, &base, q).await {
                Some(result) if !result.is_empty() => {}
                _ => still.push(q),
            }
        }
        missing = still;
    }
    let received = query(&client, &base, wanted[2]).await.unwrap();
    assert_eq!(received[0]["value"][1], "1", "{received:?}");
    prometheus.kill().await.ok();
    cancel.cancel();
    server.await.unwrap().unwrap();
}

fn which(name: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    })
}
