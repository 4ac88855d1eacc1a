//! Writing: new, updated and unchanged events, transactions, cursors, round trips, nodes.

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::SignedDuration;
use kubetrail_model::{
    AggregateQuery, Category, Dimension, EventFilter, ObjectRef, Owner, Severity,
};

use super::{all, assert_rollups_match_occurrences, event, minute, row, total, uids, write};
use crate::{OccurrenceGroup, Store, WatchCursor, WriteSummary};

/// New occurrences of the tests' default event (`prod`, `default`, BackOff, Warning, error,
/// crash), as a summary counts them by group.
fn backoff(n: u64) -> BTreeMap<OccurrenceGroup, u64> {
    BTreeMap::from([(
        OccurrenceGroup {
            cluster: "prod".into(),
            namespace: "default".into(),
            reason: "BackOff".into(),
            type_: "Warning".into(),
            severity: Severity::Error,
            category: Category::Crash,
        },
        n,
    )])
}

pub async fn new_events_are_stored_once_and_a_repeated_batch_is_unchanged(store: Arc<dyn Store>) {
    let batch = vec![event("a", minute(10), 1), event("b", minute(20), 3)];
    let first = write(&store, batch.clone()).await;
    assert_eq!(
        first,
        WriteSummary {
            new: 2,
            updated: 0,
            unchanged: 0,
            occurrences: 4,
            conflicts: 0,
            quarantined: 0,
            by_group: backoff(4),
        }
    );
    let again = write(&store, batch).await;
    assert_eq!(
        again,
        WriteSummary {
            new: 0,
            updated: 0,
            unchanged: 2,
            occurrences: 0,
            conflicts: 0,
            quarantined: 0,
            by_group: BTreeMap::new(),
        }
    );
    let events = all(&store, EventFilter::default()).await;
    assert_eq!(uids(&events), ["b", "a"]);
    let stats = store.stats().await.expect("stats");
    assert_eq!((stats.events, stats.occurrences), (2, 4));
    assert_eq!(total(&store, None, None).await, 4);
}

pub async fn count_increases_become_occurrences_with_exact_window_counts(store: Arc<dyn Store>) {
    let mut e = event("a", minute(10), 3);
    e.first_seen = minute(0);
    write(&store, vec![e.clone()]).await;
    // Now 1 at minute 0 and 2 at minute 10.
    e.count = 5;
    e.last_seen = minute(70);
    e.resource_version = "2".into();
    let s = write(&store, vec![e.clone()]).await;
    assert_eq!((s.updated, s.occurrences), (1, 2));
    // A lower count (an older copy arriving late) adds nothing.
    let mut stale = e.clone();
    stale.count = 4;
    assert_eq!(write(&store, vec![stale]).await.unchanged, 1);

    let stored = all(&store, EventFilter::default()).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(
        stored[0].event, e,
        "count, last_seen and resource version are the newest"
    );

    let windows = [
        (Some(minute(0)), Some(minute(5)), 1),
        (Some(minute(5)), Some(minute(15)), 2),
        (Some(minute(15)), Some(minute(65)), 0),
        (Some(minute(65)), Some(minute(75)), 2),
        (Some(minute(10)), Some(minute(70)), 2),
        (Some(minute(-60)), Some(minute(180)), 5),
        (Some(minute(1)), Some(minute(120)), 4),
        (None, Some(minute(60)), 3),
        (Some(minute(60)), None, 2),
        (None, None, 5),
        (Some(minute(70)), Some(minute(70)), 0),
    ];
    for (since, until, want) in windows {
        assert_eq!(
            total(&store, since, until).await,
            want,
            "{since:?}..{until:?}"
        );
    }
    let hourly = AggregateQuery {
        interval: Some(SignedDuration::from_hours(1)),
        ..AggregateQuery::default()
    };
    assert_eq!(
        store.aggregate(&hourly).await.expect("aggregate"),
        [row(&[], Some(minute(0)), 3), row(&[], Some(minute(60)), 2)]
    );
}

pub async fn a_second_copy_in_one_batch_adds_only_its_count_increase(store: Arc<dyn Store>) {
    let s = write(
        &store,
        vec![
            event("a", minute(10), 2),
            event("a", minute(20), 4),
            event("a", minute(20), 4),
        ],
    )
    .await;
    assert_eq!(
        s,
        WriteSummary {
            new: 1,
            updated: 1,
            unchanged: 1,
            occurrences: 4,
            conflicts: 0,
            quarantined: 0,
            by_group: backoff(4),
        }
    );
    let stored = all(&store, EventFilter::default()).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].event.count, 4);
    assert_eq!(total(&store, None, None).await, 4);
}

pub async fn a_rolled_back_transaction_leaves_neither_events_nor_cursor(store: Arc<dyn Store>) {
    let cursor = WatchCursor {
        cluster: "prod".into(),
        stream: "events".into(),
        resource_version: "100".into(),
        updated_at: minute(1),
    };
    {
        let mut txn = store.begin().await.expect("begin");
        txn.write(vec![event("a", minute(10), 2)])
            .await
            .expect("write");
        txn.save_cursor(cursor.clone()).await.expect("save cursor");
        // Dropped without commit.
    }
    assert!(all(&store, EventFilter::default()).await.is_empty());
    assert_eq!(store.cursor("prod", "events").await.expect("cursor"), None);
    assert_eq!(total(&store, None, None).await, 0);
    // The store is usable again at once.
    let s = store
        .write_batch(vec![event("a", minute(10), 2)], Some(cursor.clone()))
        .await
        .expect("write");
    assert_eq!(s.summary.new, 1);
    assert_eq!(
        store.cursor("prod", "events").await.expect("cursor"),
        Some(cursor)
    );
    assert_eq!(total(&store, None, None).await, 2);
}

pub async fn a_cursor_saved_with_a_batch_reads_back_and_later_saves_replace_it(
    store: Arc<dyn Store>,
) {
    let mut c = WatchCursor {
        cluster: "prod".into(),
        stream: "events.k8s.io/v1".into(),
        resource_version: "100".into(),
        updated_at: minute(1),
    };
    store
        .write_batch(vec![event("a", minute(1), 1)], Some(c.clone()))
        .await
        .expect("write");
    assert_eq!(
        store.cursor(&c.cluster, &c.stream).await.expect("cursor"),
        Some(c.clone())
    );
    c.resource_version = "200".into();
    c.updated_at = minute(2);
    store
        .write_batch(Vec::new(), Some(c.clone()))
        .await
        .expect("write");
    assert_eq!(
        store.cursor(&c.cluster, &c.stream).await.expect("cursor"),
        Some(c.clone())
    );
    assert_eq!(store.cursor("prod", "pods").await.expect("cursor"), None);
    assert_eq!(
        store.cursor("staging", &c.stream).await.expect("cursor"),
        None
    );
}

pub async fn every_field_of_an_event_round_trips(store: Arc<dyn Store>) {
    let mut full = event("full", minute(30), 7);
    full.related = Some(Box::new(ObjectRef {
        api_version: "v1".into(),
        kind: "Node".into(),
        namespace: String::new(),
        name: "node-a".into(),
        uid: "node-uid".into(),
        field_path: String::new(),
    }));
    full.regarding.field_path = "spec.containers{app}".into();
    full.action = "Restarting".into();
    full.reporting_instance = "kubelet-node-a".into();
    full.owner = Some(Owner {
        kind: "Deployment".into(),
        name: "web".into(),
    });
    full.node = Some("node-a".into());
    full.labels = BTreeMap::from([
        ("team".into(), "shop".into()),
        ("tier".into(), "front".into()),
    ]);
    full.first_seen = minute(1) + SignedDuration::from_micros(123_456);
    full.note = "naïve ünïcödé note with \"quotes\" and 'apostrophes' ✓".into();
    let mut bare = event("bare", minute(40), 1);
    bare.regarding.kind = "Node".into();
    bare.regarding.namespace = String::new();
    bare.namespace = String::new();
    bare.correlation_id = String::new();
    bare.type_ = "Custom".into();
    write(&store, vec![full.clone(), bare.clone()]).await;
    let stored = all(&store, EventFilter::default()).await;
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0].event, bare);
    assert_eq!(stored[1].event, full);
    assert_ne!(stored[0].id, stored[1].id);
}

pub async fn updated_events_take_the_newer_note_and_processing_fields(store: Arc<dyn Store>) {
    let mut e = event("a", minute(10), 2);
    e.note = "container app is waiting".into();
    e.category = Category::Other;
    e.severity = Severity::Info;
    e.correlation_id = "Pod/web-1".into();
    write(&store, vec![e.clone()]).await;
    e.count = 3;
    e.last_seen = minute(130);
    e.note = "container app was OOMKilled".into();
    e.category = Category::Crash;
    e.severity = Severity::Critical;
    e.correlation_id = "Deployment/web".into();
    e.template = "container <*> was OOMKilled".into();
    e.owner = Some(Owner {
        kind: "Deployment".into(),
        name: "web".into(),
    });
    e.labels = BTreeMap::from([("team".into(), "shop".into())]);
    assert_eq!(write(&store, vec![e.clone()]).await.updated, 1);
    let stored = all(&store, EventFilter::default()).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].event, e);
    let search = |s: &str| EventFilter {
        search: Some(s.into()),
        ..Default::default()
    };
    assert!(all(&store, search("waiting")).await.is_empty());
    assert_eq!(all(&store, search("OOMKilled")).await.len(), 1);
    // Earlier occurrences count under the new dimensions too.
    let q = AggregateQuery {
        group_by: vec![Dimension::Category, Dimension::Severity],
        ..AggregateQuery::default()
    };
    assert_eq!(
        store.aggregate(&q).await.expect("aggregate"),
        [row(
            &[
                (Dimension::Category, "crash"),
                (Dimension::Severity, "critical")
            ],
            None,
            3
        )]
    );
    assert_rollups_match_occurrences(&store, &EventFilter::default()).await;
}

pub async fn a_pod_event_with_a_node_fills_the_node_of_the_pods_other_events(
    store: Arc<dyn Store>,
) {
    let before = event("before", minute(1), 1);
    let mut placed_event = event("placed", minute(2), 1);
    placed_event.node = Some("node-a".into());
    let mut other_pod = event("other", minute(3), 1);
    other_pod.regarding.name = "web-2".into();
    let mut node_event = event("node", minute(4), 1);
    node_event.regarding.kind = "Node".into();
    node_event.regarding.name = "web-3".into();
    node_event.node = Some("node-z".into());
    write(&store, vec![before, other_pod]).await;
    write(&store, vec![placed_event, node_event]).await;
    write(&store, vec![event("after", minute(5), 1)]).await;
    let mut after_node_event = event("web-3-pod", minute(6), 1);
    after_node_event.regarding.name = "web-3".into();
    write(&store, vec![after_node_event]).await;
    let nodes: BTreeMap<String, Option<String>> = all(&store, EventFilter::default())
        .await
        .into_iter()
        .map(|s| (s.event.uid, s.event.node))
        .collect();
    let want: BTreeMap<String, Option<String>> = [
        ("before", Some("node-a")),
        ("placed", Some("node-a")),
        ("after", Some("node-a")),
        ("other", None),
        ("node", Some("node-z")),
        ("web-3-pod", None),
    ]
    .into_iter()
    .map(|(u, n)| (u.to_string(), n.map(String::from)))
    .collect();
    assert_eq!(nodes, want);
    let on_a = EventFilter {
        nodes: vec!["node-a".into()],
        ..Default::default()
    };
    assert_eq!(all(&store, on_a).await.len(), 3);
}

pub async fn stats_count_events_occurrences_and_their_time_range(store: Arc<dyn Store>) {
    let empty = store.stats().await.expect("stats");
    assert_eq!(
        (empty.events, empty.occurrences, empty.oldest, empty.newest),
        (0, 0, None, None)
    );
    write(
        &store,
        vec![event("a", minute(10), 3), event("b", minute(50), 1)],
    )
    .await;
    let s = store.stats().await.expect("stats");
    assert_eq!((s.events, s.occurrences), (2, 4));
    assert_eq!((s.oldest, s.newest), (Some(minute(8)), Some(minute(50))));
    assert!(s.bytes > 0);
}

pub async fn gaps_are_kept_with_their_batch_and_found_by_time(store: Arc<dyn Store>) {
    let gap = crate::Gap {
        cluster: "prod".into(),
        stream: "events".into(),
        from: minute(10),
        to: minute(20),
        cause: "resourceVersion expired".into(),
    };
    {
        let mut txn = store.begin().await.expect("begin");
        txn.save_gap(gap.clone()).await.expect("save gap");
        // Dropped without commit: rolled back.
    }
    assert!(store.gaps(None, None).await.expect("gaps").is_empty());
    let mut txn = store.begin().await.expect("begin");
    txn.write(vec![event("a", minute(21), 1)])
        .await
        .expect("write");
    txn.save_gap(gap.clone()).await.expect("save gap");
    txn.commit().await.expect("commit");
    assert_eq!(
        store.gaps(None, None).await.expect("gaps"),
        vec![gap.clone()]
    );
    assert_eq!(
        store
            .gaps(Some(minute(15)), Some(minute(16)))
            .await
            .expect("gaps"),
        vec![gap]
    );
    assert!(
        store
            .gaps(Some(minute(21)), None)
            .await
            .expect("gaps")
            .is_empty()
    );
    assert!(
        store
            .gaps(None, Some(minute(10)))
            .await
            .expect("gaps")
            .is_empty()
    );
}

/// Issue 11, item 5 (store side): an event arriving with the `(cluster, uid)` of a stored one
/// but about another namespace or object was taken as an update (its note, count, category and
/// correlation overwrote the stored event's). It is a conflict: the stored event is kept as it
/// was, and the write counts it.
pub async fn the_same_uid_about_another_object_is_a_conflict_not_an_update(store: Arc<dyn Store>) {
    let victim = event("v", minute(10), 1);
    write(&store, vec![victim.clone()]).await;
    let mut other_namespace = event("v", minute(20), 500);
    other_namespace.namespace = "attacker".into();
    other_namespace.regarding.namespace = "attacker".into();
    other_namespace.note = "overwritten".into();
    other_namespace.category = Category::Network;
    let mut other_object = event("v", minute(20), 500);
    other_object.regarding.name = "web-2".into();
    let mut other_kind = event("v", minute(20), 500);
    other_kind.regarding.kind = "Node".into();
    let s = write(&store, vec![other_namespace, other_object, other_kind]).await;
    assert_eq!((s.new, s.updated, s.unchanged, s.occurrences), (0, 0, 0, 0));
    assert_eq!(s.conflicts, 3);
    let stored = all(&store, EventFilter::default()).await;
    assert_eq!(stored.len(), 1);
    let kept = &stored[0].event;
    assert_eq!(
        (
            kept.namespace.as_str(),
            kept.note.as_str(),
            kept.count,
            kept.category
        ),
        ("default", victim.note.as_str(), 1, Category::Crash)
    );
    assert_eq!(total(&store, None, None).await, 1, "no fake occurrences");
    assert_rollups_match_occurrences(&store, &EventFilter::default()).await;
    // The same event, about the same object, still updates.
    let s = write(&store, vec![event("v", minute(30), 4)]).await;
    assert_eq!((s.updated, s.conflicts, s.occurrences), (1, 0, 3));
}

/// Issue 13 §2.6: an identity conflict was counted only in the summary of the write that met
/// it, so `kubetrail status` never told that copies had been refused (a merged bundle, a
/// hand-edited fixture). The store counts every conflicting copy it keeps out, durably, also
/// one that meets an event first stored by the same batch; the stored events stay unchanged.
pub async fn identity_conflicts_are_counted_in_the_stats(store: Arc<dyn Store>) {
    let victim = event("v", minute(10), 1);
    write(&store, vec![victim.clone()]).await;
    let mut moved = event("v", minute(20), 5);
    moved.namespace = "elsewhere".into();
    moved.regarding.namespace = "elsewhere".into();
    assert_eq!(write(&store, vec![moved.clone()]).await.conflicts, 1);
    // Refused again when it comes again (a re-import): counted again.
    assert_eq!(write(&store, vec![moved]).await.conflicts, 1);
    // A new event and, in the same batch, a copy of it about another object.
    let first = event("w", minute(10), 1);
    let mut renamed = event("w", minute(20), 3);
    renamed.regarding.name = "web-9".into();
    let s = write(&store, vec![first, renamed]).await;
    assert_eq!((s.new, s.conflicts), (1, 1));
    let stats = store.stats().await.expect("stats");
    assert_eq!((stats.events, stats.conflicts), (2, 3));
    let stored = all(&store, EventFilter::default()).await;
    assert!(
        stored
            .iter()
            .all(|s| s.event.namespace == "default" && s.event.regarding.name == "web-1"),
        "{stored:?}"
    );
    assert_eq!(
        total(&store, None, None).await,
        2,
        "no occurrence of a refused copy"
    );
}
