//! Notifiers do not wait on each other (issue 11, item 12): a receiver that hangs until its
//! timeout holds only its own delivery, while a healthy receiver's retries keep to the retry
//! policy's schedule.

mod common;

use std::time::Duration;

use common::{Receiver, backoff, commit, config, start, stop, store, wait_for};
use kubetrail_store::{AlertFilter, DeliveryState};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_receiver_does_not_delay_the_retries_of_a_healthy_one() {
    // Regression: a delivery pass awaited every send, so the healthy receiver's retries came
    // once per hanging timeout (every 10s) instead of 1, 2, 4, 8s.
    let stuck = Receiver::start(0).await;
    stuck.hang_first(usize::MAX);
    let healthy = Receiver::start(4).await;
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let (alerting, cancel) = start(
        config(&format!(
            "default_rules: {{enabled: false}}
evaluate_every: 100ms
rules:
  - name: crash-loop
    match: {{reason: BackOff}}
    condition: count >= 3 within 10m
notifiers:
  - name: stuck
    type: webhook
    url: {}
    timeout: 60s
  - name: healthy
    type: webhook
    url: {}
    timeout: 2s
delivery: {{initial_backoff: 100ms, max_backoff: 5s, jitter: 0.1}}
",
            stuck.url(),
            healthy.url()
        )),
        store.clone(),
    )
    .await;
    commit(&store, &alerting.feed, vec![backoff("web-1", 3)]).await;

    // Well within the stuck receiver's 60s timeout: the healthy one does not wait for it.
    wait_for(
        "the healthy receiver to take the notification",
        Duration::from_secs(30),
        async || healthy.accepted().into_iter().next(),
    )
    .await;
    let deliveries = wait_for(
        "the healthy delivery to be recorded",
        Duration::from_secs(10),
        async || {
            let alerts = store.alerts(&AlertFilter::default()).await.ok()?;
            let deliveries = alerts.into_iter().next()?.deliveries;
            deliveries
                .iter()
                .any(|d| d.notifier == "healthy" && d.state == DeliveryState::Delivered)
                .then_some(deliveries)
        },
    )
    .await;
    let of = |name: &str| deliveries.iter().find(|d| d.notifier == name).unwrap();
    assert_eq!(of("healthy").attempts, 5, "4 failures, then success");
    // The stuck receiver's first send is still open: the healthy one's five attempts did not
    // wait for it.
    assert_eq!(of("stuck").state, DeliveryState::Delivering);
    assert_eq!(of("stuck").attempts, 1);
    assert_eq!(
        stuck.requests().len(),
        0,
        "the stuck receiver never answered"
    );

    // The attempts follow the backoff (100ms doubling, ±10%): no gap shorter than its delay.
    let times: Vec<_> = healthy.requests().iter().map(|r| r.at).collect();
    assert_eq!(times.len(), 5);
    for (i, pair) in times.windows(2).enumerate() {
        let delay = Duration::from_millis(100 << i).mul_f64(0.9);
        let gap = pair[1] - pair[0];
        assert!(
            gap >= delay,
            "retry {} came after {gap:?}, before {delay:?}",
            i + 1
        );
    }
    stop(alerting, cancel).await;
}
