//! Against a real Alertmanager: an alert raised from committed events arrives through
//! `POST /api/v2/alerts` with its labels, annotations and times, and its resolution ends it.

mod common;

use std::time::Duration;

use common::{
    AlertmanagerProcess, backoff, commit, config, probe_failure, start, stop, store, wait_for,
};
use jiff::Timestamp;
use kubetrail_store::{AlertFilter, AlertStatus, DeliveryState};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_and_their_resolution_reach_a_real_alertmanager() {
    let am = AlertmanagerProcess::start().await;
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let cfg = config(&format!(
        "default_rules: {{enabled: false}}
evaluate_every: 100ms
ui_url: http://kubetrail.test
rules:
  - name: crash-loop
    match: {{reason: BackOff, category: crash}}
    condition: count >= 3 within 10m
    resolve_after: 2s
    labels: {{team: \"{{{{ namespace }}}}-team\"}}
    annotations:
      summary: \"{{{{ correlation }}}} is crash-looping\"
notifiers:
  - name: am
    type: alertmanager
    url: {}
delivery: {{initial_backoff: 50ms, max_backoff: 200ms}}
",
        am.url
    ));
    let (alerting, cancel) = start(cfg, store.clone()).await;
    let before = Timestamp::now();
    // Two replicas of one Deployment crash-looping: one alert for the Deployment.
    commit(
        &store,
        &alerting.feed,
        vec![backoff("web-1", 2), backoff("web-2", 2)],
    )
    .await;

    let alert = wait_for(
        "the alert in Alertmanager",
        Duration::from_secs(30),
        async || {
            am.alerts()
                .await
                .into_iter()
                .find(|a| a["labels"]["alertname"] == "crash-loop")
        },
    )
    .await;
    let labels = &alert["labels"];
    assert_eq!(labels["severity"], "error");
    assert_eq!(labels["cluster"], "prod");
    assert_eq!(labels["correlation"], "shop/Deployment/web");
    assert_eq!(labels["team"], "shop-team");
    assert_eq!(
        alert["annotations"]["summary"],
        "shop/Deployment/web is crash-looping"
    );
    assert_eq!(alert["annotations"]["event_count"], "4");
    assert_eq!(
        alert["annotations"]["group_key"],
        "prod/shop/Deployment/web"
    );
    let id = store.alerts(&AlertFilter::default()).await.unwrap()[0].id;
    assert_eq!(
        alert["generatorURL"],
        format!("http://kubetrail.test/#/alert/{id}"),
        "the link opens the alert's page in the UI"
    );
    assert_eq!(alert["status"]["state"], "active");
    let starts: Timestamp = alert["startsAt"].as_str().unwrap().parse().unwrap();
    let ends: Timestamp = alert["endsAt"].as_str().unwrap().parse().unwrap();
    assert!(
        starts >= before - jiff::SignedDuration::from_secs(1),
        "{starts} {before}"
    );
    assert!(
        ends > Timestamp::now() + jiff::SignedDuration::from_hours(4),
        "firing: ends after the validity, {ends}"
    );
    assert_eq!(
        am.alerts()
            .await
            .iter()
            .filter(|a| a["labels"]["alertname"] == "crash-loop")
            .count(),
        1,
        "one alert per group"
    );

    // No more events: resolved after 2s, and the resolution (endsAt) reaches Alertmanager.
    wait_for(
        "the alert to resolve in Alertmanager",
        Duration::from_secs(30),
        async || {
            let active = am
                .alerts()
                .await
                .into_iter()
                .any(|a| a["labels"]["alertname"] == "crash-loop");
            (!active).then_some(())
        },
    )
    .await;
    let stored = store.alerts(&AlertFilter::default()).await.unwrap();
    assert_eq!(stored.len(), 1);
    let a = &stored[0];
    assert_eq!(a.alert.status, AlertStatus::Resolved);
    let ends_at = a.alert.ends_at.expect("resolved");
    assert_eq!(a.deliveries.len(), 2, "firing and resolved");
    assert!(
        a.deliveries
            .iter()
            .all(|d| d.state == DeliveryState::Delivered)
    );
    assert_eq!(a.deliveries[1].payload.ends_at, Some(ends_at));
    stop(alerting, cancel).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alertmanager_refusing_an_alert_fails_it_without_retries() {
    // A label name Alertmanager rejects: a bad request is not retried.
    let am = AlertmanagerProcess::start().await;
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let alert = kubetrail_store::conformance::alert_record("r", "g", 0);
    let mut bad = alert.clone();
    bad.labels.insert("not a label".into(), "x".into());
    bad.starts_at = Timestamp::now();
    bad.first_seen = bad.starts_at;
    bad.last_seen = bad.starts_at;
    store
        .save_alert(
            &bad,
            &[kubetrail_store::NewDelivery {
                notifier: "am".into(),
                due_at: Timestamp::now(),
            }],
            Timestamp::now(),
        )
        .await
        .unwrap();
    let cfg = config(&format!(
        "default_rules: {{enabled: false}}\nnotifiers: [{{name: am, type: alertmanager, url: \"{}\"}}]\ndelivery: {{initial_backoff: 50ms}}\n",
        am.url
    ));
    let (alerting, cancel) = start(cfg, store.clone()).await;
    let d = wait_for(
        "the delivery to fail",
        Duration::from_secs(30),
        async || {
            let a = store.alerts(&AlertFilter::default()).await.ok()?;
            let d = a.first()?.deliveries.first()?.clone();
            (d.state == DeliveryState::Failed).then_some(d)
        },
    )
    .await;
    assert_eq!(d.attempts, 1);
    assert!(
        d.last_error
            .as_deref()
            .unwrap_or("")
            .starts_with("HTTP 400"),
        "{:?}",
        d.last_error
    );
    stop(alerting, cancel).await;
}

/// Regression (issue 16, item 2): Alertmanager got only `alertname`, `severity` and the group's
/// dimensions, so routes on `namespace`, `kind`, `name`, `reason` or `node` never matched; and
/// the description was the note of the last event, here a passing probe failure instead of the
/// crash loop the alert is about.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alertmanager_gets_the_routing_labels_and_the_most_informative_note() {
    let am = AlertmanagerProcess::start().await;
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let cfg = config(&format!(
        "default_rules: {{enabled: false}}
evaluate_every: 100ms
rules:
  - name: shop-trouble
    match: {{namespace: shop, type: Warning}}
    condition: count >= 4 within 10m
notifiers:
  - name: am
    type: alertmanager
    url: {}
delivery: {{initial_backoff: 50ms, max_backoff: 200ms}}
",
        am.url
    ));
    let (alerting, cancel) = start(cfg, store.clone()).await;
    // The crash loop three times, then one probe failure of another replica, which raises
    // the alert: the last note is the probe's.
    commit(
        &store,
        &alerting.feed,
        vec![backoff("web-1", 3), probe_failure("web-2", 1)],
    )
    .await;
    let alert = wait_for(
        "the alert in Alertmanager",
        Duration::from_secs(30),
        async || {
            am.alerts()
                .await
                .into_iter()
                .find(|a| a["labels"]["alertname"] == "shop-trouble")
        },
    )
    .await;
    let labels = &alert["labels"];
    for (name, value) in [
        ("alertname", "shop-trouble"),
        ("rule", "shop-trouble"),
        ("severity", "error"),
        ("cluster", "prod"),
        ("namespace", "shop"),
        ("kind", "Deployment"),
        ("name", "web"),
        ("reason", "BackOff"),
        ("node", "node-1"),
        ("correlation", "shop/Deployment/web"),
        ("group_key", "prod/shop/Deployment/web"),
    ] {
        assert_eq!(labels[name], value, "label {name} in {labels}");
    }
    assert_eq!(
        alert["annotations"]["description"],
        "Back-off restarting failed container app in pod web-1",
        "the crash loop's note (error, most frequent), not the last note"
    );
    stop(alerting, cancel).await;
}
