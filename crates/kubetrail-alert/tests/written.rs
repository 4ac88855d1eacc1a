//! Alerting counts what the store committed (issue 12 §1: a write returns what it committed),
//! never its own guess from the raw batch: a batch stored again adds nothing, whether it comes
//! back in the same run, after a restart, or as a copy the store refuses as another object's.

mod common;

use std::sync::Arc;

use common::{backoff, commit, config, start, stop, store};
use jiff::SignedDuration;
use kubetrail_store::{AlertFilter, Store, StoredAlert};

/// A count rule with a window long enough to hold events of hours ago.
fn rules() -> kubetrail_alert::AlertingConfig {
    config(
        "default_rules: {enabled: false}
evaluate_every: 100ms
rules:
  - name: crash-loop
    match: {reason: BackOff}
    condition: count >= 3 within 6h
",
    )
}

async fn alerts(store: &Arc<dyn Store>) -> Vec<StoredAlert> {
    store.alerts(&AlertFilter::default()).await.expect("alerts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_written_again_in_the_same_run_adds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let (alerting, cancel) = start(rules(), store.clone()).await;
    let batch = vec![backoff("web-1", 3)];
    commit(&store, &alerting.feed, batch.clone()).await;
    commit(&store, &alerting.feed, batch).await;
    stop(alerting, cancel).await;

    let all = alerts(&store).await;
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].alert.event_count, 3, "the replay counted nothing");
}

/// Regression: a JetStream batch the store had committed but whose ack was lost is delivered
/// again after a restart; the count tracker had only replayed the last 90 minutes from the
/// store, so events older than that were counted a second time (the open alert's count
/// doubled).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_delivered_again_after_a_restart_is_not_counted_twice() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let mut old = backoff("web-1", 3);
    old.first_seen -= SignedDuration::from_hours(3);
    old.last_seen -= SignedDuration::from_hours(2);
    let (alerting, cancel) = start(rules(), store.clone()).await;
    commit(&store, &alerting.feed, vec![old.clone()]).await;
    stop(alerting, cancel).await;
    let raised = alerts(&store).await;
    assert_eq!(raised.len(), 1, "{raised:?}");
    assert_eq!(raised[0].alert.event_count, 3);

    let (alerting, cancel) = start(rules(), store.clone()).await;
    commit(&store, &alerting.feed, vec![old]).await;
    stop(alerting, cancel).await;
    let after = alerts(&store).await;
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!(
        after[0].alert.event_count, 3,
        "the store added nothing, so alerting counts nothing"
    );
}

/// Regression: an Event with the `(cluster, uid)` of a stored one but about another object is
/// an identity conflict the store keeps out; alerting counted its count increase anyway and
/// raised an alert the stored events do not support.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_the_store_refuses_as_another_objects_counts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let (alerting, cancel) = start(rules(), store.clone()).await;
    let first = backoff("web-1", 1);
    let mut other = backoff("web-2", 3);
    other.uid = first.uid.clone();
    commit(&store, &alerting.feed, vec![first]).await;
    commit(&store, &alerting.feed, vec![other]).await;
    stop(alerting, cancel).await;

    let all = alerts(&store).await;
    assert!(all.is_empty(), "one occurrence is stored: {all:?}");
}

/// Regression: a restart restored the open alert with its count, then replayed the stored
/// occurrences of the last 90 minutes into it, so every restart added the alert's recent
/// occurrences to its count once more (3, then 6 after one restart).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_does_not_count_the_open_alerts_occurrences_again() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let (alerting, cancel) = start(rules(), store.clone()).await;
    commit(&store, &alerting.feed, vec![backoff("web-1", 3)]).await;
    stop(alerting, cancel).await;

    let (alerting, cancel) = start(rules(), store.clone()).await;
    stop(alerting, cancel).await;
    let after = alerts(&store).await;
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!(
        after[0].alert.event_count, 3,
        "the replay refilled the window and counted nothing"
    );
}
