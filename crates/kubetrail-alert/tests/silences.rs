//! Silences: a silenced alert is recorded but neither it nor its resolution is sent.

mod common;

use std::time::Duration;

use common::{Receiver, backoff, commit, config, start, stop, store, wait_for};
use jiff::{SignedDuration, Timestamp};
use kubetrail_alert::{new_silence, parse_matcher};
use kubetrail_store::{AlertFilter, AlertStatus};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silenced_alert_is_recorded_but_not_sent_and_others_still_are() {
    let receiver = Receiver::start(0).await;
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let silence = new_silence(
        vec![
            parse_matcher("alertname=crash-loop").unwrap(),
            parse_matcher("namespace=~shop|cart").unwrap(),
        ],
        Timestamp::now(),
        SignedDuration::from_hours(1),
        "tests",
        "deploying",
    )
    .unwrap();
    let id = store
        .save_silence(&silence, Timestamp::now())
        .await
        .unwrap();
    let cfg = config(&format!(
        "default_rules: {{enabled: false}}
evaluate_every: 100ms
rules:
  - name: crash-loop
    match: {{reason: BackOff}}
    condition: count >= 3 within 10m
    group_by: [cluster, namespace, correlation]
    resolve_after: 1s
notifiers: [{{name: hook, type: webhook, url: \"{}\"}}]
",
        receiver.url()
    ));
    let (alerting, cancel) = start(cfg, store.clone()).await;
    let mut other = backoff("api-1", 3);
    other.namespace = "payments".into();
    other.regarding.namespace = "payments".into();
    other.correlation_id = "payments/Deployment/api".into();
    commit(&store, &alerting.feed, vec![backoff("web-1", 3), other]).await;
    let alerts = wait_for(
        "both alerts resolved",
        Duration::from_secs(20),
        async || {
            let a = store.alerts(&AlertFilter::default()).await.ok()?;
            (a.len() == 2 && a.iter().all(|a| a.alert.status == AlertStatus::Resolved)).then_some(a)
        },
    )
    .await;
    let silenced = alerts
        .iter()
        .find(|a| a.alert.labels["namespace"] == "shop")
        .unwrap();
    assert_eq!(silenced.alert.silenced_by, Some(id));
    assert!(
        silenced.deliveries.is_empty(),
        "neither firing nor resolution sent"
    );
    let sent = alerts
        .iter()
        .find(|a| a.alert.labels["namespace"] == "payments")
        .unwrap();
    assert_eq!(sent.alert.silenced_by, None);
    assert_eq!(sent.deliveries.len(), 2);
    wait_for(
        "the other alert's two notifications",
        Duration::from_secs(20),
        async || (receiver.accepted().len() == 2).then_some(()),
    )
    .await;
    for r in receiver.accepted() {
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body["labels"]["namespace"], "payments");
    }
    let text = alerting.metrics.render().unwrap();
    assert!(
        text.contains("kubetrail_alert_silenced_total{rule=\"crash-loop\"} 1"),
        "{text}"
    );
    stop(alerting, cancel).await;
}

/// Regression (issue 16, item 2): alerts of the default grouping (cluster, correlation) had no
/// `namespace` label, so a tenant's silence, which must name its namespace, never matched
/// them: the built-in crash-loop alert of `shop` was sent despite `namespace=shop`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_silence_silences_a_built_in_workload_alert() {
    let receiver = Receiver::start(0).await;
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let silence = new_silence(
        vec![
            parse_matcher("alertname=crash-loop").unwrap(),
            parse_matcher("namespace=shop").unwrap(),
        ],
        Timestamp::now(),
        SignedDuration::from_hours(1),
        "shop",
        "deploying",
    )
    .unwrap();
    let id = store
        .save_silence(&silence, Timestamp::now())
        .await
        .unwrap();
    let cfg = config(&format!(
        "evaluate_every: 100ms
notifiers: [{{name: hook, type: webhook, url: \"{}\"}}]
",
        receiver.url()
    ));
    let (alerting, cancel) = start(cfg, store.clone()).await;
    commit(&store, &alerting.feed, vec![backoff("web-1", 3)]).await;
    let alert = wait_for(
        "the crash-loop alert",
        Duration::from_secs(20),
        async || {
            let a = store.alerts(&AlertFilter::default()).await.ok()?;
            a.into_iter().find(|a| a.alert.rule == "crash-loop")
        },
    )
    .await;
    assert_eq!(alert.alert.labels["namespace"], "shop");
    assert_eq!(
        alert.alert.silenced_by,
        Some(id),
        "silenced by the tenant's silence"
    );
    assert!(alert.deliveries.is_empty(), "{:?}", alert.deliveries);
    stop(alerting, cancel).await;
    assert!(receiver.requests().is_empty(), "nothing sent");
}
