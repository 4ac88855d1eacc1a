//! Latency from a committed batch to the notifier's request: a rule over BackOff events, a
//! webhook notifier pointing at a local receiver; for each of 200 new groups, the time from
//! handing the committed events to alerting until the receiver has the request (the alert is
//! recorded in the store's outbox first). Prints p50/p99/max; run with `cargo bench -p
//! kubetrail-alert --bench latency`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{Receiver, backoff, config, start, stop, store};

const GROUPS: usize = 200;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(measure());
}

async fn measure() {
    let receiver = Receiver::start(0).await;
    let dir = tempfile::tempdir().expect("a temp dir");
    let store = store(dir.path());
    let cfg = config(&format!(
        "default_rules: {{enabled: false}}
rules:
  - name: crash-loop
    match: {{reason: BackOff}}
    condition: count >= 3 within 10m
notifiers:
  - name: hook
    type: webhook
    url: {}
",
        receiver.url()
    ));
    let (alerting, cancel) = start(cfg, store.clone()).await;
    let mut latencies = Vec::with_capacity(GROUPS);
    for i in 0..GROUPS {
        let mut e = backoff(&format!("web-{i}"), 3);
        e.correlation_id = format!("shop/Deployment/web-{i}");
        e.uid = format!("uid-latency-{i}");
        let written = store.write_batch(vec![e], None).await.expect("stored");
        let t = Instant::now();
        alerting.feed.committed(written).await;
        let deadline = t + Duration::from_secs(10);
        while receiver.requests().len() <= i {
            assert!(Instant::now() < deadline, "no notification for group {i}");
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        latencies.push(t.elapsed().as_secs_f64() * 1e3);
    }
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| latencies[((p / 100.0) * (latencies.len() - 1) as f64).round() as usize];
    println!(
        "{{\"measure\":\"commit_to_notifier_request\",\"groups\":{GROUPS},\"p50_ms\":{:.2},\"p99_ms\":{:.2},\"max_ms\":{:.2}}}",
        pct(50.0),
        pct(99.0),
        pct(100.0)
    );
    stop(alerting, cancel).await;
}
