//! Retention by age, by severity and by size.

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::SignedDuration;
use kubetrail_model::{Event, EventFilter, Severity};

use super::{
    all, assert_rollups_match_occurrences, days, event, minute, placed, sorted_uids, t0, total,
    uids, write,
};
use crate::{RetentionPolicy, Store};

pub async fn retention_by_age_deletes_old_events_and_old_occurrences_of_kept_events(
    store: Arc<dyn Store>,
) {
    let now = t0() + days(60);
    let mut old = placed("old", "shop", "BackOff", 0, 2);
    old.last_seen = now - days(40);
    old.first_seen = now - days(41);
    let mut kept = placed("kept", "shop", "Unhealthy", 0, 2);
    kept.first_seen = now - days(36);
    kept.last_seen = now - days(35);
    let fresh = {
        let mut e = placed("fresh", "db", "BackOff", 0, 1);
        e.first_seen = now - SignedDuration::from_hours(1);
        e.last_seen = e.first_seen;
        e
    };
    write(&store, vec![old, kept.clone(), fresh]).await;
    kept.count = 5;
    kept.last_seen = now - days(1);
    write(&store, vec![kept]).await;
    // old: 1@-41d 1@-40d; kept: 1@-36d 1@-35d 3@-1d; fresh: 1@-1h.
    let policy = RetentionPolicy {
        max_age: days(30),
        ..RetentionPolicy::default()
    };
    let report = store
        .apply_retention(&policy, now)
        .await
        .expect("retention");
    assert_eq!((report.events_deleted, report.occurrences_deleted), (1, 4));
    let left = all(&store, EventFilter::default()).await;
    assert_eq!(uids(&left), ["fresh", "kept"]);
    assert_eq!(total(&store, None, None).await, 4);
    assert_eq!(
        total(&store, Some(now - days(50)), Some(now - days(30))).await,
        0
    );
    let stats = store.stats().await.expect("stats");
    assert_eq!((stats.events, stats.occurrences), (2, 4));
    assert_rollups_match_occurrences(&store, &EventFilter::default()).await;
    let again = store
        .apply_retention(&policy, now)
        .await
        .expect("retention");
    assert_eq!((again.events_deleted, again.occurrences_deleted), (0, 0));
}

pub async fn retention_by_severity_uses_the_override_ages(store: Arc<dyn Store>) {
    let now = t0() + days(100);
    let aged = |uid: &str, severity: Severity, age: SignedDuration| {
        let mut e = event(uid, now - age, 1);
        e.severity = severity;
        e
    };
    write(
        &store,
        vec![
            aged("info-10d", Severity::Info, days(10)),
            aged("info-1d", Severity::Info, days(1)),
            aged("error-10d", Severity::Error, days(10)),
            aged("error-40d", Severity::Error, days(40)),
            aged("critical-60d", Severity::Critical, days(60)),
            aged("critical-95d", Severity::Critical, days(95)),
        ],
    )
    .await;
    let policy = RetentionPolicy {
        max_age: days(30),
        max_age_by_severity: BTreeMap::from([
            (Severity::Info, days(7)),
            (Severity::Critical, days(90)),
        ]),
        max_bytes: None,
    };
    let report = store
        .apply_retention(&policy, now)
        .await
        .expect("retention");
    assert_eq!(report.events_deleted, 3);
    let left = all(&store, EventFilter::default()).await;
    assert_eq!(uids(&left), ["info-1d", "error-10d", "critical-60d"]);
    assert_rollups_match_occurrences(&store, &EventFilter::default()).await;
}

pub async fn retention_by_size_deletes_the_oldest_events_until_the_store_fits(
    store: Arc<dyn Store>,
) {
    let filler = "lorem ipsum dolor sit amet consectetur adipiscing elit ".repeat(8);
    for batch in 0..10 {
        let events: Vec<Event> = (0..300)
            .map(|i| {
                let n = batch * 300 + i;
                let mut e = placed(&format!("e{n:05}"), "shop", "BackOff", n, 2);
                e.note = format!("{filler} {n}");
                e.regarding.name = format!("web-{n:05}");
                e
            })
            .collect();
        write(&store, events).await;
    }
    let before = store.stats().await.expect("stats");
    let max_bytes = before.bytes / 2;
    let policy = RetentionPolicy {
        max_age: days(3650),
        max_bytes: Some(max_bytes),
        ..RetentionPolicy::default()
    };
    let report = store
        .apply_retention(&policy, minute(3000))
        .await
        .expect("retention");
    let after = store.stats().await.expect("stats");
    assert!(
        report.events_deleted > 0 && report.events_deleted < 3000,
        "{report:?}"
    );
    assert!(
        after.bytes <= max_bytes,
        "{} bytes > {max_bytes}",
        after.bytes
    );
    assert!(report.bytes_after <= max_bytes && report.bytes_before >= before.bytes);
    assert_eq!(after.events, 3000 - report.events_deleted);
    assert_eq!(after.occurrences, 6000 - report.occurrences_deleted);
    let left = all(&store, EventFilter::default()).await;
    let oldest_left = left.last().expect("some events are kept");
    let kept_from = 3000 - left.len();
    assert_eq!(
        oldest_left.event.uid,
        format!("e{kept_from:05}"),
        "the oldest went first"
    );
    assert_rollups_match_occurrences(&store, &EventFilter::default()).await;
}

/// Alerts, deliveries, silences and gaps do not outlive the events: retention removes resolved
/// alerts whose deliveries are finished, ended silences and gaps, once older than the longest
/// age; a firing alert and one with a delivery still to attempt stay, whatever their age.
pub async fn retention_removes_old_resolved_alerts_ended_silences_and_gaps(store: Arc<dyn Store>) {
    use super::alerts::alert_record;
    use crate::{
        AlertFilter, AlertStatus, DeliveryState, DeliveryUpdate, Gap, NewDelivery, Silence,
    };
    let now = t0() + days(100);
    let policy = RetentionPolicy {
        max_age: days(30),
        max_age_by_severity: BTreeMap::from([(Severity::Critical, days(60))]),
        ..RetentionPolicy::default()
    };
    // The longest age is 60 days: records that ended before day 40 go.
    let resolved = |group: &str, ended: i64| crate::AlertRecord {
        status: AlertStatus::Resolved,
        ends_at: Some(t0() + days(ended)),
        ..alert_record("crash-loop", group, 0)
    };
    let delivery = |at: i64| NewDelivery {
        notifier: "webhook".into(),
        due_at: t0() + days(at),
    };
    let mut ids = BTreeMap::new();
    for (group, alert) in [
        ("old-delivered", resolved("old-delivered", 10)),
        ("old-pending", resolved("old-pending", 10)),
        ("recent", resolved("recent", 50)),
        ("old-firing", alert_record("crash-loop", "old-firing", 0)),
    ] {
        let id = store
            .save_alert(&alert, &[delivery(10)], t0() + days(10))
            .await
            .expect("save alert");
        ids.insert(group, id);
    }
    // Every delivery but old-pending's is finished.
    let stored = store.alerts(&AlertFilter::default()).await.expect("alerts");
    for a in &stored {
        if a.alert.group_key != "old-pending" {
            store
                .update_delivery(&DeliveryUpdate {
                    id: a.deliveries[0].id,
                    state: DeliveryState::Delivered,
                    attempts: 1,
                    next_attempt_at: t0() + days(10),
                    last_error: None,
                    at: t0() + days(10),
                })
                .await
                .expect("delivered");
        }
    }
    let silence = |ends: i64| Silence {
        id: 0,
        matchers: Vec::new(),
        starts_at: t0(),
        ends_at: t0() + days(ends),
        created_by: "ops".into(),
        comment: String::new(),
    };
    store
        .save_silence(&silence(20), t0())
        .await
        .expect("silence");
    let kept_silence = store
        .save_silence(&silence(45), t0())
        .await
        .expect("silence");
    let mut txn = store.begin().await.expect("begin");
    for (ended, cluster) in [(5, "old"), (70, "recent")] {
        txn.save_gap(Gap {
            cluster: cluster.into(),
            stream: "events".into(),
            from: t0() + days(ended - 1),
            to: t0() + days(ended),
            cause: "410 Gone".into(),
        })
        .await
        .expect("gap");
    }
    txn.commit().await.expect("commit");

    let report = store
        .apply_retention(&policy, now)
        .await
        .expect("retention");
    assert_eq!(
        (
            report.alerts_deleted,
            report.silences_deleted,
            report.gaps_deleted
        ),
        (1, 1, 1),
        "{report:?}"
    );
    let mut left: Vec<String> = store
        .alerts(&AlertFilter::default())
        .await
        .expect("alerts")
        .into_iter()
        .map(|a| a.alert.group_key)
        .collect();
    left.sort();
    assert_eq!(left, ["old-firing", "old-pending", "recent"]);
    let silences: Vec<i64> = store
        .silences(None)
        .await
        .expect("silences")
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(silences, [kept_silence]);
    let gaps = store.gaps(None, None).await.expect("gaps");
    assert_eq!(
        gaps.iter().map(|g| g.cluster.as_str()).collect::<Vec<_>>(),
        ["recent"]
    );
    let again = store
        .apply_retention(&policy, now)
        .await
        .expect("retention");
    assert_eq!(
        (
            again.alerts_deleted,
            again.silences_deleted,
            again.gaps_deleted
        ),
        (0, 0, 0)
    );
}

/// Regression (issue 11, item 1): `run` applies retention at once with the default policy
/// (30 days); it counted that age from the events' own times, so a support bundle from last
/// year, imported just before, was deleted whole and silently. Age counts from when kubetrail
/// stored an event when that is later than the event's time.
pub async fn retention_keeps_old_history_that_was_just_imported(store: Arc<dyn Store>) {
    let now = kubetrail_model::Timestamp::now();
    let year_ago = now - days(400);
    let mut bundle = Vec::new();
    for (i, cluster) in ["prod", "staging"].into_iter().enumerate() {
        for n in 0..3 {
            let mut e = event(&format!("{cluster}-{n}"), year_ago + days(n), 2);
            e.cluster = cluster.into();
            if i == 1 {
                e.severity = Severity::Info;
            }
            bundle.push(e);
        }
    }
    store.write_batch(bundle, None).await.expect("import");
    let before = store.stats().await.expect("stats");
    let report = store
        .apply_retention(
            &RetentionPolicy::default(),
            kubetrail_model::Timestamp::now(),
        )
        .await
        .expect("retention");
    assert_eq!(
        (report.events_deleted, report.occurrences_deleted),
        (0, 0),
        "{report:?}"
    );
    let after = store.stats().await.expect("stats");
    assert_eq!((after.events, after.occurrences), (6, 12));
    assert_eq!(
        (after.events, after.occurrences),
        (before.events, before.occurrences)
    );
    assert_rollups_match_occurrences(&store, &EventFilter::default()).await;
}

/// Live events (stored as they happen), history imported later, and a live event whose first
/// occurrence is old: what `retention_counts_age_from_when_history_was_stored` and the dry run
/// start from. Returns the time retention runs at.
async fn live_and_imported(store: &Arc<dyn Store>) -> kubetrail_model::Timestamp {
    use super::write_stored_at;
    let at = |d: i64| t0() + days(d);
    let live_old = event("live-old", at(10), 1);
    write_stored_at(store, vec![live_old], at(10)).await;
    let mut grow = event("grow", at(20), 1);
    grow.cluster = "staging".into();
    write_stored_at(store, vec![grow.clone()], at(20)).await;
    // Imported on day 90: a dump of day 10, the same day as live-old.
    let mut imported = event("imported", at(10), 1);
    imported.regarding.name = "web-2".into();
    write_stored_at(store, vec![imported], at(90)).await;
    grow.count = 3;
    grow.last_seen = at(98);
    write_stored_at(store, vec![grow], at(98)).await;
    let live_new = event("live-new", at(95), 1);
    write_stored_at(store, vec![live_new], at(95)).await;
    at(100)
}

/// An occurrence's age counts from the later of its time and when it was stored: live events
/// (and the old occurrences of a live event seen again) go after the age, history imported
/// later stays for the age after its import, even when it shares a day with live events that
/// go (PostgreSQL then deletes that day's rows one by one instead of dropping its partition).
pub async fn retention_counts_age_from_when_history_was_stored(store: Arc<dyn Store>) {
    let now = live_and_imported(&store).await;
    let policy = RetentionPolicy {
        max_age: days(30),
        ..RetentionPolicy::default()
    };
    let report = store
        .apply_retention(&policy, now)
        .await
        .expect("retention");
    assert_eq!(
        (report.events_deleted, report.occurrences_deleted),
        (1, 2),
        "{report:?}"
    );
    let part = |events, occurrences, day: i64| crate::ClusterRetention {
        events,
        occurrences,
        oldest: Some(t0() + days(day)),
        newest: Some(t0() + days(day)),
    };
    assert_eq!(
        report.clusters,
        BTreeMap::from([
            ("prod".to_string(), part(1, 1, 10)),
            ("staging".to_string(), part(0, 1, 20)),
        ])
    );
    let mut left: Vec<String> = all(&store, EventFilter::default())
        .await
        .iter()
        .map(|e| e.event.uid.clone())
        .collect();
    left.sort();
    assert_eq!(left, ["grow", "imported", "live-new"]);
    assert_eq!(total(&store, None, None).await, 1 + 2 + 1);
    assert_rollups_match_occurrences(&store, &EventFilter::default()).await;

    // 30 days after its import, the imported history goes too.
    let report = store
        .apply_retention(&policy, t0() + days(121))
        .await
        .expect("retention");
    assert_eq!(
        (report.events_deleted, report.occurrences_deleted),
        (1, 1),
        "{report:?}"
    );
    let left = all(&store, EventFilter::default()).await;
    assert_eq!(sorted_uids(&left), ["grow", "live-new"].into());
    assert_rollups_match_occurrences(&store, &EventFilter::default()).await;
}

/// A dry run counts per cluster what retention would delete, with the time range, and deletes
/// nothing; the real run then deletes exactly that.
pub async fn a_retention_dry_run_reports_what_would_go_and_deletes_nothing(store: Arc<dyn Store>) {
    let now = live_and_imported(&store).await;
    let policy = RetentionPolicy {
        max_age: days(30),
        ..RetentionPolicy::default()
    };
    let before = store.stats().await.expect("stats");
    let preview = store
        .preview_retention(&policy, now)
        .await
        .expect("dry run");
    assert!(preview.dry_run);
    assert_eq!(
        (preview.events_deleted, preview.occurrences_deleted),
        (1, 2),
        "{preview:?}"
    );
    assert_eq!(preview.clusters.len(), 2, "{preview:?}");
    let after = store.stats().await.expect("stats");
    assert_eq!(
        (after.events, after.occurrences),
        (before.events, before.occurrences)
    );
    assert_eq!(all(&store, EventFilter::default()).await.len(), 4);
    let report = store
        .apply_retention(&policy, now)
        .await
        .expect("retention");
    assert!(!report.dry_run);
    assert_eq!(report.clusters, preview.clusters);
}
