//! The alert outbox and silences: what `kubetrail-alert` relies on to deliver every alert at
//! least once across restarts.

use std::collections::BTreeMap;
use std::sync::Arc;

use kubetrail_model::Severity;

use super::minute;
use crate::{
    AlertEvent, AlertFilter, AlertRecord, AlertStatus, DeliveryState, DeliveryUpdate, Error,
    MatchOp, NewDelivery, Silence, SilenceMatcher, Store,
};

/// A firing alert of `rule` for `group` that started at minute `start`.
pub fn alert_record(rule: &str, group: &str, start: i64) -> AlertRecord {
    AlertRecord {
        rule: rule.into(),
        group_key: group.into(),
        status: AlertStatus::Firing,
        severity: Severity::Error,
        labels: BTreeMap::from([
            ("alertname".to_string(), rule.to_string()),
            ("group".to_string(), group.to_string()),
        ]),
        annotations: BTreeMap::from([("summary".to_string(), format!("{rule} in {group}"))]),
        starts_at: minute(start),
        ends_at: None,
        first_seen: minute(start - 3),
        last_seen: minute(start),
        event_count: 5,
        silenced_by: None,
        events: vec![AlertEvent {
            cluster: "prod".into(),
            uid: "u1".into(),
            object: "shop/Pod/web-1".into(),
            reason: "BackOff".into(),
            note: "Back-off restarting failed container".into(),
            count: 5,
            last_seen: minute(start),
        }],
    }
}

fn to(notifier: &str, at: i64) -> NewDelivery {
    NewDelivery {
        notifier: notifier.into(),
        due_at: minute(at),
    }
}

async fn list(store: &Arc<dyn Store>, filter: AlertFilter) -> Vec<(String, AlertStatus)> {
    store
        .alerts(&filter)
        .await
        .expect("alerts")
        .into_iter()
        .map(|a| (a.alert.group_key, a.alert.status))
        .collect()
}

pub async fn alerts_are_saved_with_their_deliveries_and_read_back_whole(store: Arc<dyn Store>) {
    let record = alert_record("crash-loop", "prod/shop/Deployment/web", 10);
    let id = store
        .save_alert(&record, &[to("slack", 10), to("webhook", 10)], minute(10))
        .await
        .expect("save");
    let got = store.alerts(&AlertFilter::default()).await.expect("alerts");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].id, id);
    assert_eq!(got[0].alert, record, "every field round-trips");
    let d = &got[0].deliveries;
    assert_eq!(
        d.iter().map(|d| d.notifier.as_str()).collect::<Vec<_>>(),
        ["slack", "webhook"]
    );
    for d in d {
        assert_eq!(d.alert_id, id);
        assert_eq!(d.state, DeliveryState::Pending);
        assert_eq!(d.attempts, 0);
        assert_eq!(d.created_at, minute(10));
        assert_eq!(d.next_attempt_at, minute(10));
        assert_eq!(d.delivered_at, None);
        assert_eq!(
            d.payload, record,
            "the notification carries the alert as queued"
        );
    }
}

pub async fn an_open_alert_is_updated_in_place_and_a_second_one_for_its_group_merges_into_it(
    store: Arc<dyn Store>,
) {
    let mut record = alert_record("crash-loop", "g1", 10);
    let id = store
        .save_alert(&record, &[to("slack", 10)], minute(10))
        .await
        .expect("save");
    // Still firing, more events: same alert, no new delivery queued.
    record.event_count = 9;
    record.last_seen = minute(12);
    let again = store
        .save_alert(&record, &[], minute(12))
        .await
        .expect("update");
    assert_eq!(again, id);
    // A firing alert of the same group with another start (a restarted evaluator that forgot
    // it) is the same open alert.
    let mut twin = alert_record("crash-loop", "g1", 15);
    twin.event_count = 11;
    twin.last_seen = minute(15);
    let merged = store
        .save_alert(&twin, &[], minute(15))
        .await
        .expect("merge");
    assert_eq!(merged, id);
    let all = store.alerts(&AlertFilter::default()).await.expect("alerts");
    assert_eq!(all.len(), 1);
    assert_eq!(
        all[0].alert.starts_at,
        minute(10),
        "the open alert keeps its start"
    );
    assert_eq!(all[0].alert.event_count, 11);
    assert_eq!(all[0].alert.last_seen, minute(15));
    assert_eq!(all[0].deliveries.len(), 1);

    // Resolved: the resolution is queued with the resolved alert as payload.
    let mut resolved = all[0].alert.clone();
    resolved.status = AlertStatus::Resolved;
    resolved.ends_at = Some(minute(30));
    store
        .save_alert(&resolved, &[to("slack", 30)], minute(30))
        .await
        .expect("resolve");
    // The group fires again later: a new alert.
    let later = store
        .save_alert(&alert_record("crash-loop", "g1", 60), &[], minute(60))
        .await
        .expect("new");
    assert_ne!(later, id);
    let all = store.alerts(&AlertFilter::default()).await.expect("alerts");
    assert_eq!(
        all.iter()
            .map(|a| (a.id, a.alert.status))
            .collect::<Vec<_>>(),
        [(later, AlertStatus::Firing), (id, AlertStatus::Resolved)],
        "newest first"
    );
    let first = &all[1];
    assert_eq!(first.alert.ends_at, Some(minute(30)));
    assert_eq!(first.deliveries.len(), 2);
    assert_eq!(first.deliveries[0].payload.status, AlertStatus::Firing);
    assert_eq!(first.deliveries[1].payload.status, AlertStatus::Resolved);
}

pub async fn alert_filters_select_by_status_rule_group_time_and_limit(store: Arc<dyn Store>) {
    let mut ids = Vec::new();
    for (rule, group, start) in [("a", "g1", 0), ("b", "g2", 10), ("a", "g3", 20)] {
        let id = store
            .save_alert(
                &alert_record(rule, group, start),
                &[to("hook", start)],
                minute(start),
            )
            .await
            .expect("save");
        ids.push(id);
    }
    // One alert by id (the alert page), with its deliveries.
    let by_id = store
        .alerts(&AlertFilter {
            id: Some(ids[1]),
            ..AlertFilter::default()
        })
        .await
        .expect("by id");
    assert_eq!(by_id.len(), 1);
    assert_eq!(by_id[0].alert.group_key, "g2");
    assert_eq!(by_id[0].deliveries.len(), 1);
    let none = store
        .alerts(&AlertFilter {
            id: Some(ids[2] + 1000),
            ..AlertFilter::default()
        })
        .await
        .expect("unknown id");
    assert!(none.is_empty());
    let mut resolved = alert_record("a", "g1", 0);
    resolved.status = AlertStatus::Resolved;
    resolved.ends_at = Some(minute(5));
    store
        .save_alert(&resolved, &[], minute(5))
        .await
        .expect("resolve");

    let all = list(&store, AlertFilter::default()).await;
    assert_eq!(
        all.iter().map(|(g, _)| g.as_str()).collect::<Vec<_>>(),
        ["g3", "g2", "g1"]
    );
    let firing = list(
        &store,
        AlertFilter {
            status: Some(AlertStatus::Firing),
            ..AlertFilter::default()
        },
    )
    .await;
    assert_eq!(firing.len(), 2);
    let rule_a = list(
        &store,
        AlertFilter {
            rules: vec!["a".into()],
            ..AlertFilter::default()
        },
    )
    .await;
    assert_eq!(
        rule_a,
        [
            ("g3".to_string(), AlertStatus::Firing),
            ("g1".to_string(), AlertStatus::Resolved)
        ]
    );
    let g2 = list(
        &store,
        AlertFilter {
            group_key: Some("g2".into()),
            ..AlertFilter::default()
        },
    )
    .await;
    assert_eq!(g2.len(), 1);
    let since = list(
        &store,
        AlertFilter {
            since: Some(minute(6)),
            ..AlertFilter::default()
        },
    )
    .await;
    assert_eq!(since.len(), 2, "g1 ended before the range: {since:?}");
    let limited = list(
        &store,
        AlertFilter {
            limit: 1,
            ..AlertFilter::default()
        },
    )
    .await;
    assert_eq!(limited, [("g3".to_string(), AlertStatus::Firing)]);
}

pub async fn due_deliveries_follow_retry_times_and_leases_and_final_states_stick(
    store: Arc<dyn Store>,
) {
    store
        .save_alert(
            &alert_record("r", "g", 0),
            &[to("now", 0), to("later", 10), to("third", 1)],
            minute(0),
        )
        .await
        .expect("save");
    let due = |at: i64| {
        let store = store.clone();
        async move {
            store
                .due_deliveries(minute(at), 0)
                .await
                .expect("due")
                .into_iter()
                .map(|d| (d.notifier, d.id, d.attempts))
                .collect::<Vec<_>>()
        }
    };
    let now = due(0).await;
    assert_eq!(
        now.iter().map(|d| d.0.as_str()).collect::<Vec<_>>(),
        ["now"]
    );
    assert_eq!(
        due(20)
            .await
            .iter()
            .map(|d| d.0.as_str())
            .collect::<Vec<_>>(),
        ["now", "third", "later"],
        "oldest due first"
    );
    assert_eq!(
        store
            .due_deliveries(minute(20), 1)
            .await
            .expect("due")
            .len(),
        3,
        "the limit is per notifier"
    );

    // A worker takes "now" with a lease of one minute: not due again before the lease ends.
    let id = now[0].1;
    let update = |state, attempts, next: i64, error: Option<&str>, at: i64| DeliveryUpdate {
        id,
        state,
        attempts,
        next_attempt_at: minute(next),
        last_error: error.map(str::to_string),
        at: minute(at),
    };
    store
        .update_delivery(&update(DeliveryState::Delivering, 1, 1, None, 0))
        .await
        .expect("take");
    assert!(due(0).await.is_empty());
    // The worker died: the lease ran out, it is due again with its attempt counted.
    assert_eq!(due(1).await[0].0, "now");
    assert_eq!(due(1).await[0].2, 1);
    // A retriable failure: pending again after a backoff.
    store
        .update_delivery(&update(DeliveryState::Pending, 1, 3, Some("HTTP 503"), 1))
        .await
        .expect("retry");
    assert!(due(2).await.iter().all(|d| d.1 != id));
    assert!(due(3).await.iter().any(|d| d.1 == id));
    // Delivered: final, never due again, and a late update cannot undo it.
    store
        .update_delivery(&update(DeliveryState::Delivered, 2, 4, None, 4))
        .await
        .expect("deliver");
    store
        .update_delivery(&update(DeliveryState::Pending, 3, 5, Some("late"), 5))
        .await
        .expect("late update is ignored, not an error");
    assert!(due(100).await.iter().all(|d| d.1 != id));
    let stored = store.alerts(&AlertFilter::default()).await.expect("alerts");
    let d = stored[0]
        .deliveries
        .iter()
        .find(|d| d.id == id)
        .expect("the delivery");
    assert_eq!(d.state, DeliveryState::Delivered);
    assert_eq!(d.attempts, 2);
    assert_eq!(d.delivered_at, Some(minute(4)));
    assert_eq!(d.updated_at, minute(4));
    assert_eq!(d.last_error, None);
}

/// Regression (issue 11, item 12): the limit was for all notifiers together, so a notifier
/// with a backlog of due deliveries hid every other notifier's behind it.
pub async fn due_deliveries_are_limited_per_notifier_so_a_backlog_hides_nothing(
    store: Arc<dyn Store>,
) {
    for i in 0..5 {
        store
            .save_alert(
                &alert_record("r", &format!("g{i}"), 0),
                &[to("stuck", i)],
                minute(0),
            )
            .await
            .expect("save");
    }
    store
        .save_alert(
            &alert_record("r", "late", 0),
            &[to("healthy", 9)],
            minute(0),
        )
        .await
        .expect("save");
    let due = store.due_deliveries(minute(10), 2).await.expect("due");
    let notifiers: Vec<(&str, i64)> = due
        .iter()
        .map(|d| (d.notifier.as_str(), d.next_attempt_at.as_second()))
        .collect();
    assert_eq!(
        notifiers,
        [
            ("stuck", minute(0).as_second()),
            ("stuck", minute(1).as_second()),
            ("healthy", minute(9).as_second()),
        ],
        "the oldest two of each notifier, oldest first"
    );
    assert_eq!(
        store
            .due_deliveries(minute(10), 0)
            .await
            .expect("due")
            .len(),
        6
    );
}

pub async fn silences_are_saved_found_by_time_and_ended_by_saving_them_again(
    store: Arc<dyn Store>,
) {
    let silence = Silence {
        id: 0,
        matchers: vec![
            SilenceMatcher {
                name: "alertname".into(),
                op: MatchOp::Equal,
                value: "crash-loop".into(),
            },
            SilenceMatcher {
                name: "namespace".into(),
                op: MatchOp::Regex,
                value: "shop|cart".into(),
            },
        ],
        starts_at: minute(0),
        ends_at: minute(60),
        created_by: "ops".into(),
        comment: "deploying".into(),
    };
    let id = store.save_silence(&silence, minute(0)).await.expect("save");
    assert!(id > 0);
    let other = store
        .save_silence(
            &Silence {
                starts_at: minute(30),
                ends_at: minute(90),
                ..silence.clone()
            },
            minute(0),
        )
        .await
        .expect("save");
    let ids = |v: Vec<Silence>| v.into_iter().map(|s| s.id).collect::<Vec<_>>();
    assert_eq!(ids(store.silences(None).await.expect("all")), [other, id]);
    assert_eq!(
        ids(store.silences(Some(minute(10))).await.expect("at 10")),
        [id]
    );
    assert_eq!(
        ids(store.silences(Some(minute(45))).await.expect("at 45")),
        [other, id]
    );
    assert_eq!(
        ids(store.silences(Some(minute(60))).await.expect("at 60")),
        [other]
    );
    let stored = store.silences(None).await.expect("all");
    assert_eq!(
        stored[1],
        Silence {
            id,
            ..silence.clone()
        },
        "round-trips"
    );

    // Expire early by saving it with an earlier end.
    store
        .save_silence(
            &Silence {
                id,
                ends_at: minute(20),
                ..silence.clone()
            },
            minute(20),
        )
        .await
        .expect("expire");
    assert!(ids(store.silences(Some(minute(25))).await.expect("at 25")).is_empty());
    let missing = store
        .save_silence(
            &Silence {
                id: 999_999,
                ..silence
            },
            minute(20),
        )
        .await;
    assert!(
        matches!(missing, Err(Error::NotFound { .. })),
        "{missing:?}"
    );
}
