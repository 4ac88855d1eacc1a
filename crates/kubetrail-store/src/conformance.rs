//! The behaviour every [`Store`] backend must have, written once and run against each of them
//! (like quickwit's `metastore_test_suite!`).
//!
//! A backend instantiates every test with
//! [`store_conformance_tests!`](crate::store_conformance_tests), giving an async factory that
//! returns a fresh, empty store and a guard kept alive for the test (a temporary directory, a
//! database schema to drop):
//!
//! ```no_run
//! use std::sync::Arc;
//! use kubetrail_store::{SqliteStore, Store};
//!
//! async fn sqlite() -> (Arc<dyn Store>, tempfile::TempDir) {
//!     let dir = tempfile::tempdir().expect("a temporary directory");
//!     let store = SqliteStore::open(dir.path().join("kubetrail.db")).expect("open");
//!     (Arc::new(store), dir)
//! }
//! kubetrail_store::store_conformance_tests!(sqlite);
//! # fn main() {}
//! ```
//!
//! These are tests: they panic on failure.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use jiff::SignedDuration;
use kubetrail_model::{
    AggregateQuery, AggregateRow, Category, Dimension, Event, EventFilter, ObjectRef, Owner,
    Severity, SeveritySet, Timestamp,
};

use crate::{Error, Page, RetentionPolicy, Store, StoredEvent, WatchCursor, WriteSummary};

/// Generates one `#[tokio::test]` per conformance test, each with a fresh store from `$factory`
/// (an async function returning `(Arc<dyn Store>, guard)`).
#[macro_export]
macro_rules! store_conformance_tests {
    ($factory:expr) => {
        $crate::store_conformance_tests!(@each $factory;
            new_events_are_stored_once_and_a_repeated_batch_is_unchanged,
            count_increases_become_occurrences_with_exact_window_counts,
            a_second_copy_in_one_batch_adds_only_its_count_increase,
            a_rolled_back_transaction_leaves_neither_events_nor_cursor,
            a_cursor_saved_with_a_batch_reads_back_and_later_saves_replace_it,
            every_field_of_an_event_round_trips,
            each_query_filter_selects_only_matching_events,
            query_times_select_events_overlapping_the_range,
            search_matches_words_of_notes_and_bad_syntax_is_an_invalid_query,
            paging_walks_every_event_newest_first_without_overlap_or_gaps,
            aggregate_groups_by_dimensions_and_interval_buckets,
            aggregate_filters_apply_and_an_empty_interval_is_invalid,
            updated_events_take_the_newer_note_and_processing_fields,
            a_pod_event_with_a_node_fills_the_node_of_the_pods_other_events,
            retention_by_age_deletes_old_events_and_old_occurrences_of_kept_events,
            retention_by_severity_uses_the_override_ages,
            retention_by_size_deletes_the_oldest_events_until_the_store_fits,
            stats_count_events_occurrences_and_their_time_range,
        );
    };
    (@each $factory:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let (store, _guard) = ($factory)().await;
                $crate::conformance::$name(store).await;
            }
        )*
    };
}

/// 2024-05-01T00:00:00Z, the start of every test's timeline.
pub fn t0() -> Timestamp {
    Timestamp::from_second(1_714_521_600).expect("a valid timestamp")
}

/// `t0()` plus some minutes.
pub fn minute(m: i64) -> Timestamp {
    t0() + SignedDuration::from_mins(m)
}

/// A Warning `BackOff` event about pod `default/web-1`, seen `count` times, the last at
/// `last_seen` and the first `count - 1` minutes earlier.
pub fn event(uid: &str, last_seen: Timestamp, count: u64) -> Event {
    let first_seen = last_seen - SignedDuration::from_mins(count.saturating_sub(1) as i64);
    Event {
        cluster: "prod".into(),
        uid: uid.into(),
        namespace: "default".into(),
        name: format!("web-1.{uid}"),
        regarding: ObjectRef {
            api_version: "v1".into(),
            kind: "Pod".into(),
            namespace: "default".into(),
            name: "web-1".into(),
            uid: "pod-uid-1".into(),
            field_path: String::new(),
        },
        related: None,
        reason: "BackOff".into(),
        note: "Back-off restarting failed container app in pod web-1".into(),
        type_: "Warning".into(),
        action: String::new(),
        reporting_controller: "kubelet".into(),
        reporting_instance: String::new(),
        first_seen,
        last_seen,
        count,
        resource_version: "1".into(),
        category: Category::Crash,
        severity: Severity::Error,
        correlation_id: "Deployment/web".into(),
        owner: None,
        node: None,
        template: "Back-off restarting failed container <*> in pod <*>".into(),
        labels: BTreeMap::new(),
    }
}

async fn write(store: &Arc<dyn Store>, events: Vec<Event>) -> WriteSummary {
    store.write_batch(events, None).await.expect("write")
}

async fn all(store: &Arc<dyn Store>, filter: EventFilter) -> Vec<StoredEvent> {
    store.query(&filter, &Page::default()).await.expect("query")
}

fn uids(events: &[StoredEvent]) -> Vec<&str> {
    events.iter().map(|e| e.event.uid.as_str()).collect()
}

fn sorted_uids(events: &[StoredEvent]) -> BTreeSet<&str> {
    events.iter().map(|e| e.event.uid.as_str()).collect()
}

async fn total(store: &Arc<dyn Store>, since: Option<Timestamp>, until: Option<Timestamp>) -> u64 {
    let q = AggregateQuery {
        filter: EventFilter {
            since,
            until,
            ..EventFilter::default()
        },
        ..AggregateQuery::default()
    };
    let rows = store.aggregate(&q).await.expect("aggregate");
    assert!(rows.len() <= 1, "one group without group_by: {rows:?}");
    rows.first().map_or(0, |r| r.count)
}

fn row(key: &[(Dimension, &str)], bucket: Option<Timestamp>, count: u64) -> AggregateRow {
    AggregateRow {
        key: key.iter().map(|(d, v)| (*d, Some(v.to_string()))).collect(),
        bucket,
        count,
    }
}

type Key = Vec<(Dimension, Option<String>)>;

/// The same aggregation grouped additionally by name (which no rollup keeps) and summed back:
/// a second way to count that a backend with rollups must agree with.
pub async fn assert_rollups_match_occurrences(store: &Arc<dyn Store>, filter: &EventFilter) {
    use Dimension::*;
    let groupings: [&[Dimension]; 4] = [
        &[],
        &[Reason],
        &[Namespace, Severity],
        &[Category, Correlation, Kind],
    ];
    for group_by in groupings {
        for interval in [
            None,
            Some(SignedDuration::from_hours(1)),
            Some(SignedDuration::from_hours(3)),
        ] {
            let q = AggregateQuery {
                filter: filter.clone(),
                group_by: group_by.to_vec(),
                interval,
                limit: None,
            };
            let direct = store.aggregate(&q).await.expect("aggregate");
            let mut by_name = q.clone();
            by_name.group_by.push(Name);
            let mut summed: HashMap<(Key, Option<Timestamp>), u64> = HashMap::new();
            for mut r in store.aggregate(&by_name).await.expect("aggregate") {
                r.key.pop();
                *summed.entry((r.key, r.bucket)).or_insert(0) += r.count;
            }
            let mut summed: Vec<AggregateRow> = summed
                .into_iter()
                .map(|((key, bucket), count)| AggregateRow { key, bucket, count })
                .collect();
            summed.sort_by(|a, b| {
                b.count
                    .cmp(&a.count)
                    .then_with(|| a.key.cmp(&b.key))
                    .then_with(|| a.bucket.cmp(&b.bucket))
            });
            assert_eq!(
                direct, summed,
                "group by {group_by:?}, interval {interval:?}"
            );
        }
    }
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
            occurrences: 4
        }
    );
    let again = write(&store, batch).await;
    assert_eq!(
        again,
        WriteSummary {
            new: 0,
            updated: 0,
            unchanged: 2,
            occurrences: 0
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
            occurrences: 4
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
    assert_eq!(s.new, 1);
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
    full.related = Some(ObjectRef {
        api_version: "v1".into(),
        kind: "Node".into(),
        namespace: String::new(),
        name: "node-a".into(),
        uid: "node-uid".into(),
        field_path: String::new(),
    });
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

/// An event differing from `event(uid, ..)` in one field.
fn variant(uid: &str, change: impl FnOnce(&mut Event)) -> Event {
    let mut e = event(uid, minute(10), 1);
    change(&mut e);
    e
}

pub async fn each_query_filter_selects_only_matching_events(store: Arc<dyn Store>) {
    let events = vec![
        event("base", minute(10), 1),
        variant("cluster", |e| e.cluster = "staging".into()),
        variant("namespace", |e| {
            e.namespace = "kube-system".into();
            e.regarding.namespace = "kube-system".into();
        }),
        variant("kind", |e| e.regarding.kind = "Node".into()),
        variant("name", |e| e.regarding.name = "web-2".into()),
        variant("reason", |e| e.reason = "Unhealthy".into()),
        variant("category", |e| e.category = Category::Health),
        variant("severity", |e| e.severity = Severity::Critical),
        variant("type", |e| e.type_ = "Normal".into()),
        variant("correlation", |e| e.correlation_id = "Job/backup".into()),
        variant("node", |e| {
            e.regarding.name = "web-9".into();
            e.node = Some("node-b".into());
        }),
    ];
    write(&store, events).await;
    let cases: Vec<(EventFilter, &[&str])> = vec![
        (
            EventFilter {
                clusters: vec!["staging".into()],
                ..Default::default()
            },
            &["cluster"],
        ),
        (
            EventFilter {
                namespaces: vec!["kube-system".into()],
                ..Default::default()
            },
            &["namespace"],
        ),
        (
            EventFilter {
                kinds: vec!["Node".into()],
                ..Default::default()
            },
            &["kind"],
        ),
        (
            EventFilter {
                names: vec!["web-2".into()],
                ..Default::default()
            },
            &["name"],
        ),
        (
            EventFilter {
                reasons: vec!["Unhealthy".into()],
                ..Default::default()
            },
            &["reason"],
        ),
        (
            EventFilter {
                categories: vec![Category::Health],
                ..Default::default()
            },
            &["category"],
        ),
        (
            EventFilter {
                severities: SeveritySet(vec![Severity::Critical]),
                ..Default::default()
            },
            &["severity"],
        ),
        (
            EventFilter {
                types: vec!["Normal".into()],
                ..Default::default()
            },
            &["type"],
        ),
        (
            EventFilter {
                correlations: vec!["Job/backup".into()],
                ..Default::default()
            },
            &["correlation"],
        ),
        (
            EventFilter {
                nodes: vec!["node-b".into()],
                ..Default::default()
            },
            &["node"],
        ),
        (
            EventFilter {
                reasons: vec!["Unhealthy".into(), "Nope".into()],
                types: vec!["Warning".into()],
                ..Default::default()
            },
            &["reason"],
        ),
        (
            EventFilter {
                clusters: vec!["staging".into()],
                namespaces: vec!["kube-system".into()],
                ..Default::default()
            },
            &[],
        ),
    ];
    for (filter, want) in cases {
        let got = all(&store, filter.clone()).await;
        assert_eq!(
            sorted_uids(&got),
            want.iter().copied().collect(),
            "{filter:?}"
        );
    }
    assert_eq!(all(&store, EventFilter::default()).await.len(), 11);
}

pub async fn query_times_select_events_overlapping_the_range(store: Arc<dyn Store>) {
    let span = |uid: &str, first: i64, last: i64| {
        let mut e = event(uid, minute(last), 2);
        e.first_seen = minute(first);
        e
    };
    write(
        &store,
        vec![span("a", 0, 10), span("b", 20, 30), span("c", 40, 50)],
    )
    .await;
    let range = |since: Option<i64>, until: Option<i64>| EventFilter {
        since: since.map(minute),
        until: until.map(minute),
        ..Default::default()
    };
    let cases: [(EventFilter, &[&str]); 6] = [
        (range(Some(25), None), &["c", "b"]),
        (range(None, Some(20)), &["a"]),
        (range(Some(10), Some(21)), &["b", "a"]),
        (range(Some(11), Some(20)), &[]),
        (range(Some(50), Some(51)), &["c"]),
        (range(Some(51), None), &[]),
    ];
    for (filter, want) in cases {
        assert_eq!(uids(&all(&store, filter.clone()).await), want, "{filter:?}");
    }
}

pub async fn search_matches_words_of_notes_and_bad_syntax_is_an_invalid_query(
    store: Arc<dyn Store>,
) {
    let with_note = |uid: &str, note: &str| {
        let mut e = event(uid, minute(10), 1);
        e.note = note.into();
        e
    };
    write(
        &store,
        vec![
            with_note(
                "backoff",
                "Back-off restarting failed container app in pod web-1",
            ),
            with_note(
                "probe",
                "Liveness probe failed: HTTP probe failed with statuscode: 500",
            ),
            with_note("pulled", "Successfully pulled image \"nginx:1.25\" in 1.2s"),
        ],
    )
    .await;
    let search = |s: &str| EventFilter {
        search: Some(s.into()),
        ..Default::default()
    };
    let cases: [(&str, &[&str]); 5] = [
        ("probe", &["probe"]),
        ("failed", &["backoff", "probe"]),
        ("nginx OR restarting", &["backoff", "pulled"]),
        ("\"probe failed\"", &["probe"]),
        ("nothing", &[]),
    ];
    for (s, want) in cases {
        let got = all(&store, search(s)).await;
        assert_eq!(
            sorted_uids(&got),
            want.iter().copied().collect(),
            "search {s}"
        );
    }
    let mut narrowed = search("failed");
    narrowed.names = vec!["nobody".into()];
    assert!(all(&store, narrowed).await.is_empty());

    let bad = search("\"unterminated");
    let err = store
        .query(&bad, &Page::default())
        .await
        .expect_err("bad search");
    assert!(matches!(err, Error::InvalidQuery(_)), "{err:?}");
    let q = AggregateQuery {
        filter: bad,
        ..AggregateQuery::default()
    };
    let err = store.aggregate(&q).await.expect_err("bad search");
    assert!(matches!(err, Error::InvalidQuery(_)), "{err:?}");
    let counted = AggregateQuery {
        filter: search("failed"),
        ..AggregateQuery::default()
    };
    assert_eq!(
        store.aggregate(&counted).await.expect("aggregate"),
        [row(&[], None, 2)]
    );
}

pub async fn paging_walks_every_event_newest_first_without_overlap_or_gaps(store: Arc<dyn Store>) {
    // Three events share each last_seen, so pages also split ties.
    let events: Vec<Event> = (0..25)
        .map(|i| event(&format!("e{i:02}"), minute(i / 3), 1))
        .collect();
    write(&store, events).await;
    let everything = all(&store, EventFilter::default()).await;
    assert_eq!(everything.len(), 25);
    for pair in everything.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        assert!(
            (a.event.last_seen, a.id) > (b.event.last_seen, b.id),
            "newest first"
        );
    }
    let mut walked = Vec::new();
    let mut page = Page {
        limit: 4,
        after: None,
    };
    loop {
        let got = store
            .query(&EventFilter::default(), &page)
            .await
            .expect("query");
        assert!(got.len() <= 4);
        let Some(last) = got.last() else { break };
        page.after = Some((last.event.last_seen, last.id));
        walked.extend(got);
    }
    assert_eq!(walked, everything);
    let filtered = EventFilter {
        since: Some(minute(3)),
        ..Default::default()
    };
    let first = store
        .query(
            &filtered,
            &Page {
                limit: 5,
                after: None,
            },
        )
        .await
        .expect("query");
    assert_eq!(first.len(), 5);
    let last = first.last().expect("a page");
    let rest = store
        .query(
            &filtered,
            &Page {
                limit: 0,
                after: Some((last.event.last_seen, last.id)),
            },
        )
        .await
        .expect("query");
    assert_eq!(first.len() + rest.len(), 25 - 9);
}

fn placed(uid: &str, namespace: &str, reason: &str, at: i64, count: u64) -> Event {
    let mut e = event(uid, minute(at), count);
    e.namespace = namespace.into();
    e.regarding.namespace = namespace.into();
    e.reason = reason.into();
    e
}

pub async fn aggregate_groups_by_dimensions_and_interval_buckets(store: Arc<dyn Store>) {
    use Dimension::{Namespace, Reason};
    // count n at minute m puts 1 at m - (n - 1) and n - 1 at m.
    write(
        &store,
        vec![
            placed("a", "shop", "BackOff", 30, 3),    // 1@28, 2@30
            placed("b", "shop", "BackOff", 90, 1),    // 1@90
            placed("c", "shop", "Unhealthy", 150, 4), // 1@147, 3@150
            placed("d", "db", "BackOff", 61, 2),      // 1@60, 1@61
        ],
    )
    .await;
    let by = |group_by: Vec<Dimension>, interval: Option<SignedDuration>| AggregateQuery {
        group_by,
        interval,
        ..AggregateQuery::default()
    };
    let grouped = store
        .aggregate(&by(vec![Namespace, Reason], None))
        .await
        .expect("aggregate");
    assert_eq!(
        grouped,
        [
            row(&[(Namespace, "shop"), (Reason, "BackOff")], None, 4),
            row(&[(Namespace, "shop"), (Reason, "Unhealthy")], None, 4),
            row(&[(Namespace, "db"), (Reason, "BackOff")], None, 2),
        ]
    );
    let hourly = store
        .aggregate(&by(vec![Reason], Some(SignedDuration::from_hours(1))))
        .await
        .expect("aggregate");
    assert_eq!(
        hourly,
        [
            row(&[(Reason, "Unhealthy")], Some(minute(120)), 4),
            row(&[(Reason, "BackOff")], Some(minute(0)), 3),
            row(&[(Reason, "BackOff")], Some(minute(60)), 3),
        ]
    );
    let half_hourly = store
        .aggregate(&by(vec![Reason], Some(SignedDuration::from_mins(30))))
        .await
        .expect("aggregate");
    assert_eq!(
        half_hourly,
        [
            row(&[(Reason, "Unhealthy")], Some(minute(150)), 3),
            row(&[(Reason, "BackOff")], Some(minute(30)), 2),
            row(&[(Reason, "BackOff")], Some(minute(60)), 2),
            row(&[(Reason, "BackOff")], Some(minute(0)), 1),
            row(&[(Reason, "BackOff")], Some(minute(90)), 1),
            row(&[(Reason, "Unhealthy")], Some(minute(120)), 1),
        ]
    );
    let mut top = by(vec![Namespace], None);
    top.limit = Some(1);
    assert_eq!(
        store.aggregate(&top).await.expect("aggregate"),
        [row(&[(Namespace, "shop")], None, 8)]
    );
    assert_rollups_match_occurrences(&store, &EventFilter::default()).await;
    let window = EventFilter {
        since: Some(minute(29)),
        until: Some(minute(148)),
        ..Default::default()
    };
    assert_rollups_match_occurrences(&store, &window).await;
}

pub async fn aggregate_filters_apply_and_an_empty_interval_is_invalid(store: Arc<dyn Store>) {
    use Dimension::Reason;
    write(
        &store,
        vec![
            placed("a", "shop", "BackOff", 30, 3),
            placed("c", "shop", "Unhealthy", 150, 4),
            placed("d", "db", "BackOff", 61, 2),
        ],
    )
    .await;
    let q = AggregateQuery {
        filter: EventFilter {
            namespaces: vec!["shop".into()],
            // Occurrence times, not event overlap: the first occurrence of "c" is at 147.
            since: Some(minute(29)),
            until: Some(minute(148)),
            ..Default::default()
        },
        group_by: vec![Reason],
        ..AggregateQuery::default()
    };
    assert_eq!(
        store.aggregate(&q).await.expect("aggregate"),
        [
            row(&[(Reason, "BackOff")], None, 2),
            row(&[(Reason, "Unhealthy")], None, 1)
        ]
    );
    let mut by_name = q.clone();
    by_name.filter.names = vec!["web-1".into()];
    assert_eq!(
        store.aggregate(&by_name).await.expect("aggregate"),
        store.aggregate(&q).await.expect("aggregate")
    );
    let zero = AggregateQuery {
        interval: Some(SignedDuration::ZERO),
        ..AggregateQuery::default()
    };
    let err = store.aggregate(&zero).await.expect_err("zero interval");
    assert!(matches!(err, Error::InvalidQuery(_)), "{err:?}");
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

fn days(d: i64) -> SignedDuration {
    SignedDuration::from_hours(24 * d)
}

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
