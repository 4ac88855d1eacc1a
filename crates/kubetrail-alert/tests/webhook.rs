//! The generic webhook against a local receiver: signed JSON, retries with backoff after
//! failures, timeouts, refusals, and delivery after a restart from the outbox in the store.

mod common;

use std::time::Duration;

use common::{
    Receiver, backoff, commit, config, dump_events, probe_failure, real_events, start, start_with,
    stop, store, wait_for,
};
use kubetrail_alert::notify::{SIGNATURE_HEADER, verify};
use kubetrail_store::{AlertFilter, DeliveryState, Store, StoredAlert};

const SECRET: &str = "s3cret-for-tests";

fn hook_config(
    url: &str,
    secret_file: &std::path::Path,
    extra: &str,
) -> kubetrail_alert::AlertingConfig {
    config(&format!(
        "default_rules: {{enabled: false}}
evaluate_every: 100ms
rules:
  - name: crash-loop
    match: {{reason: BackOff}}
    condition: count >= 3 within 10m
notifiers:
  - name: hook
    type: webhook
    url: {url}
    secret_file: {}
    timeout: 500ms
{extra}delivery: {{initial_backoff: 50ms, max_backoff: 200ms, jitter: 0.1}}
",
        secret_file.display()
    ))
}

fn secret_file(dir: &std::path::Path) -> std::path::PathBuf {
    let p = dir.join("hmac");
    std::fs::write(&p, format!("{SECRET}\n")).unwrap();
    p
}

/// The one alert of the test, once it is recorded.
async fn only_alert(store: &std::sync::Arc<dyn Store>) -> Option<StoredAlert> {
    let mut all = store.alerts(&AlertFilter::default()).await.unwrap();
    assert!(all.len() <= 1, "{all:?}");
    all.pop()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_notification_is_retried_with_backoff_until_the_receiver_takes_it() {
    let receiver = Receiver::start(3).await;
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let (alerting, cancel) = start(
        hook_config(&receiver.url(), &secret_file(dir.path()), ""),
        store.clone(),
    )
    .await;
    let metrics = alerting.metrics.clone();
    commit(&store, &alerting.feed, vec![backoff("web-1", 3)]).await;

    let accepted = wait_for(
        "the webhook to be accepted",
        Duration::from_secs(20),
        async || receiver.accepted().into_iter().next(),
    )
    .await;
    let all = receiver.requests();
    assert_eq!(all.len(), 4, "3 failures, then success");
    // Every attempt carries the same delivery id and a valid signature of its body.
    let ids: Vec<_> = all
        .iter()
        .map(|r| r.headers["x-kubetrail-delivery"].clone())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] == w[1]));
    for r in &all {
        let sig = r.headers[SIGNATURE_HEADER].to_str().unwrap();
        assert!(
            verify(SECRET.as_bytes(), &r.body, sig),
            "signature of {:?}",
            r.body
        );
        assert!(!verify(b"wrong", &r.body, sig));
    }
    let body: serde_json::Value = serde_json::from_slice(&accepted.body).unwrap();
    assert_eq!(body["version"], "1");
    assert_eq!(body["status"], "firing");
    assert_eq!(body["rule"], "crash-loop");
    assert_eq!(body["group_key"], "prod/shop/Deployment/web");
    assert_eq!(body["event_count"], 3);
    assert_eq!(body["labels"]["alertname"], "crash-loop");
    assert_eq!(body["events"][0]["object"], "shop/Pod/web-1");
    assert_eq!(accepted.headers["content-type"], "application/json");

    let a = wait_for(
        "the delivery to be recorded",
        Duration::from_secs(10),
        async || {
            let a = only_alert(&store).await?;
            (a.deliveries[0].state == DeliveryState::Delivered).then_some(a)
        },
    )
    .await;
    let d = &a.deliveries[0];
    assert_eq!(d.attempts, 4);
    assert_eq!(d.last_error, None);
    assert!(d.delivered_at.is_some());
    // Backoff: the attempts were spread out (50ms, 100ms, 200ms at least, minus jitter).
    let took = d.delivered_at.unwrap().duration_since(d.created_at);
    assert!(took >= jiff::SignedDuration::from_millis(300), "{took:?}");
    let text = metrics.render().unwrap();
    assert!(
        text.contains("kubetrail_alert_retried_total{notifier=\"hook\"} 3"),
        "{text}"
    );
    assert!(
        text.contains("kubetrail_alert_delivered_total{notifier=\"hook\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("kubetrail_alert_raised_total{rule=\"crash-loop\"} 1"),
        "{text}"
    );
    stop(alerting, cancel).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_receiver_times_out_and_the_notification_is_retried() {
    let receiver = Receiver::start(0).await;
    receiver.hang_first(1);
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let (alerting, cancel) = start(
        hook_config(&receiver.url(), &secret_file(dir.path()), ""),
        store.clone(),
    )
    .await;
    commit(&store, &alerting.feed, vec![backoff("web-1", 3)]).await;
    wait_for(
        "the retry after the timeout",
        Duration::from_secs(20),
        async || receiver.accepted().into_iter().next(),
    )
    .await;
    let a = wait_for("the delivery", Duration::from_secs(10), async || {
        let a = only_alert(&store).await?;
        (a.deliveries[0].state == DeliveryState::Delivered).then_some(a)
    })
    .await;
    assert_eq!(a.deliveries[0].attempts, 2);
    stop(alerting, cancel).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_is_not_retried() {
    let receiver = Receiver::start_on("127.0.0.1:0".parse().unwrap(), 1, 400).await;
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let (alerting, cancel) = start(
        hook_config(&receiver.url(), &secret_file(dir.path()), ""),
        store.clone(),
    )
    .await;
    commit(&store, &alerting.feed, vec![backoff("web-1", 3)]).await;
    let a = wait_for(
        "the delivery to fail",
        Duration::from_secs(20),
        async || {
            let a = only_alert(&store).await?;
            (a.deliveries[0].state == DeliveryState::Failed).then_some(a)
        },
    )
    .await;
    assert_eq!(a.deliveries[0].attempts, 1);
    assert_eq!(receiver.requests().len(), 1);
    assert!(
        a.deliveries[0]
            .last_error
            .as_deref()
            .unwrap()
            .starts_with("HTTP 400")
    );
    stop(alerting, cancel).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_raised_before_a_crash_is_delivered_once_after_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    let secret = secret_file(dir.path());
    // The receiver's address is taken, then the receiver is not there: delivery fails.
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let url = format!("http://{addr}/hook");
    {
        let store = store(dir.path());
        let (alerting, _cancel) = start(hook_config(&url, &secret, ""), store.clone()).await;
        commit(&store, &alerting.feed, vec![backoff("web-1", 3)]).await;
        wait_for("an attempt to fail", Duration::from_secs(20), async || {
            let a = store.alerts(&AlertFilter::default()).await.ok()?;
            let d = a.first()?.deliveries.first()?.clone();
            (d.attempts >= 1 && d.state == DeliveryState::Pending).then_some(())
        })
        .await;
        // Crash: the tasks are killed, nothing is flushed or stopped cleanly.
        alerting.evaluation.abort();
        alerting.delivery.abort();
    }
    let receiver = Receiver::start_on(addr, 0, 503).await;
    let store = store(dir.path());
    let (alerting, cancel) = start(hook_config(&url, &secret, ""), store.clone()).await;
    wait_for(
        "the delivery after the restart",
        Duration::from_secs(20),
        async || receiver.accepted().into_iter().next(),
    )
    .await;
    let a = wait_for(
        "the delivery to be recorded",
        Duration::from_secs(10),
        async || {
            let a = only_alert(&store).await?;
            (a.deliveries[0].state == DeliveryState::Delivered).then_some(a)
        },
    )
    .await;
    // Still one alert (the restarted evaluator took it over), delivered once.
    assert_eq!(a.deliveries.len(), 1);
    // More events of the same group after the restart do not raise a second alert.
    commit(&store, &alerting.feed, vec![backoff("web-2", 5)]).await;
    tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let a = only_alert(&store).await.expect("the alert");
            if a.alert.event_count >= 8 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    })
    .await
    .expect("the open alert absorbs the new events");
    assert_eq!(receiver.accepted().len(), 1, "delivered exactly once");
    stop(alerting, cancel).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_to_another_host_fails_the_delivery_and_sends_that_host_nothing() {
    // Regression (issue 11, item 9): the 307 was followed, so the other host got the body and
    // its signature.
    let elsewhere = Receiver::start(0).await;
    let target = elsewhere.url();
    let redirector = axum::Router::new().fallback(axum::routing::post(move || {
        let target = target.clone();
        async move {
            (
                axum::http::StatusCode::TEMPORARY_REDIRECT,
                [(axum::http::header::LOCATION, target)],
            )
        }
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, redirector).await.unwrap() });
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let (alerting, cancel) = start(
        hook_config(&hook, &secret_file(dir.path()), ""),
        store.clone(),
    )
    .await;
    commit(&store, &alerting.feed, vec![backoff("web-1", 3)]).await;
    let a = wait_for(
        "the delivery to fail",
        Duration::from_secs(20),
        async || {
            let a = only_alert(&store).await?;
            (a.deliveries[0].state == DeliveryState::Failed).then_some(a)
        },
    )
    .await;
    let d = &a.deliveries[0];
    assert_eq!(d.attempts, 1, "a redirect elsewhere is not retried");
    let error = d.last_error.as_deref().unwrap();
    assert!(
        error.starts_with("HTTP 307")
            && error.contains("redirect")
            && error.contains(&format!("http://{}", elsewhere.addr)),
        "{error}"
    );
    assert!(
        elsewhere.requests().is_empty(),
        "the other host got nothing"
    );
    stop(alerting, cancel).await;
}

/// Regression (issue 16, item 2): the webhook's labels lacked what receivers route on
/// (`namespace`, `kind`, `name`, `reason`, `node`, `rule`), its description was the last note
/// (a passing probe failure here, not the crash loop), and its link answered 404.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_carries_routing_labels_the_most_informative_note_and_the_page_link() {
    let receiver = Receiver::start(0).await;
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let (alerting, cancel) = start(
        config(&format!(
            "default_rules: {{enabled: false}}
evaluate_every: 100ms
ui_url: https://kubetrail.example/
rules:
  - name: shop-trouble
    match: {{namespace: shop, type: Warning}}
    condition: count >= 4 within 10m
    annotations: {{summary: \"{{{{ correlation }}}} is in trouble\"}}
notifiers:
  - {{name: hook, type: webhook, url: \"{}\"}}
delivery: {{initial_backoff: 50ms}}
",
            receiver.url()
        )),
        store.clone(),
    )
    .await;
    commit(
        &store,
        &alerting.feed,
        vec![backoff("web-1", 3), probe_failure("web-2", 1)],
    )
    .await;
    let accepted = wait_for(
        "the webhook to be accepted",
        Duration::from_secs(20),
        async || receiver.accepted().into_iter().next(),
    )
    .await;
    let body: serde_json::Value = serde_json::from_slice(&accepted.body).unwrap();
    let labels = &body["labels"];
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
        ("group_key", "prod/shop/Deployment/web"),
    ] {
        assert_eq!(labels[name], value, "label {name} in {labels}");
    }
    assert_eq!(
        body["annotations"]["summary"],
        "shop/Deployment/web is in trouble"
    );
    assert_eq!(
        body["annotations"]["description"], "Back-off restarting failed container app in pod web-1",
        "the crash loop's note (error, most frequent), not the last note"
    );
    let id = only_alert(&store).await.unwrap().id;
    assert_eq!(
        body["url"],
        format!("https://kubetrail.example/#/alert/{id}")
    );
    stop(alerting, cancel).await;
}

/// An alert about an incident (a real dump's mount failure, moved to the last minutes, found
/// by the real analysis) reaches the webhook described by its root cause, with the hint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incident_alert_reaches_the_webhook_with_its_root_cause_and_hint() {
    let ns = "message-container-creating-failed-mount";
    let mut events = dump_events(&real_events().join(format!("troubleshoot__{ns}.events.json")));
    // The dump's newest event ten seconds ago: its incidents are ongoing.
    let newest = events.iter().map(|e| e.last_seen).max().unwrap();
    let shift = jiff::Timestamp::now().duration_since(newest) - jiff::SignedDuration::from_secs(10);
    for e in &mut events {
        e.first_seen += shift;
        e.last_seen += shift;
    }
    let receiver = Receiver::start(0).await;
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    store.write_batch(events, None).await.unwrap();
    let (alerting, cancel) = start_with(
        config(&format!(
            "default_rules: {{enabled: false}}
evaluate_every: 100ms
rules:
  - name: incidents
    condition: incident >= error
notifiers:
  - {{name: hook, type: webhook, url: \"{}\"}}
delivery: {{initial_backoff: 50ms}}
",
            receiver.url()
        )),
        store.clone(),
        std::sync::Arc::new(kubetrail_alert::Analysis),
    )
    .await;
    let group = format!("default/{ns}/Workload/troubleshoot-copyfromhost-4m79m");
    let body = wait_for(
        "the mount failure's incident alert",
        Duration::from_secs(30),
        async || {
            receiver.accepted().into_iter().find_map(|r| {
                let body: serde_json::Value = serde_json::from_slice(&r.body).ok()?;
                (body["group_key"] == group.as_str()).then_some(body)
            })
        },
    )
    .await;
    let annotations = &body["annotations"];
    let cause = format!(
        "FailedMount on {ns}/Pod/troubleshoot-copyfromhost-4m79m-psdjm: MountVolume.SetUp \
         failed for volume \"host\" : hostPath type check failed: /var/lib/collectd is not a directory"
    );
    assert_eq!(annotations["description"], cause.as_str(), "{annotations}");
    assert_eq!(annotations["root_cause"], cause.as_str());
    assert!(
        annotations["hint"].as_str().is_some_and(|h| !h.is_empty()),
        "{annotations}"
    );
    let labels = &body["labels"];
    assert_eq!(labels["namespace"], ns, "{labels}");
    assert_eq!(labels["reason"], "FailedMount", "{labels}");
    assert_eq!(
        labels["name"], "troubleshoot-copyfromhost-4m79m",
        "{labels}"
    );
    stop(alerting, cancel).await;
}
