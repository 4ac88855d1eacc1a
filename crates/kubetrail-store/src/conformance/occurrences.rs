//! Events with their occurrences inside a range: the feed of analysis.

use std::sync::Arc;

use kubetrail_model::{AnalysisOccurrences, EventFilter, EventOccurrences, Occurrence, Timestamp};

use super::{event, minute, placed, total, write};
use crate::{Error, Fields, Store};

async fn occurrences(
    store: &Arc<dyn Store>,
    filter: EventFilter,
    limit: usize,
) -> Vec<EventOccurrences> {
    store
        .occurrences(&filter, limit)
        .await
        .expect("occurrences")
}

fn range(since: Option<i64>, until: Option<i64>) -> EventFilter {
    EventFilter {
        since: since.map(minute),
        until: until.map(minute),
        ..Default::default()
    }
}

fn shape(got: &[EventOccurrences]) -> Vec<(&str, Vec<(Timestamp, u64)>)> {
    got.iter()
        .map(|e| {
            (
                e.event.uid.as_str(),
                e.occurrences.iter().map(|o| (o.at, o.count)).collect(),
            )
        })
        .collect()
}

pub async fn occurrences_in_a_range_come_with_their_events_latest_first(store: Arc<dyn Store>) {
    // count n at minute m puts 1 at m - (n - 1) and n - 1 at m.
    write(
        &store,
        vec![
            event("a", minute(10), 3), // 1@8, 2@10
            event("b", minute(40), 1), // 1@40
            event("c", minute(25), 6), // 1@20, 5@25
        ],
    )
    .await;
    // A later copy of "a" adds its count increase as a new occurrence.
    let mut a = event("a", minute(30), 7);
    a.first_seen = minute(8);
    write(&store, vec![a]).await; // 4@30

    let everything = occurrences(&store, EventFilter::default(), 0).await;
    assert_eq!(
        shape(&everything),
        [
            ("b", vec![(minute(40), 1)]),
            ("a", vec![(minute(8), 1), (minute(10), 2), (minute(30), 4)]),
            ("c", vec![(minute(20), 1), (minute(25), 5)]),
        ]
    );
    assert_eq!(everything[1].event.count, 7, "the event as last stored");
    let sum: u64 = everything.iter().map(EventOccurrences::count).sum();
    assert_eq!(sum, total(&store, None, None).await);

    // Only occurrences inside [since, until), and only events that have one there.
    let window = occurrences(&store, range(Some(10), Some(30)), 0).await;
    assert_eq!(
        shape(&window),
        [
            ("c", vec![(minute(20), 1), (minute(25), 5)]),
            ("a", vec![(minute(10), 2)]),
        ]
    );
    assert_eq!(
        window[1].occurrences,
        [Occurrence {
            at: minute(10),
            count: 2
        }]
    );
    assert!(
        occurrences(&store, range(Some(41), None), 0)
            .await
            .is_empty()
    );
    assert!(
        occurrences(&store, range(Some(11), Some(20)), 0)
            .await
            .is_empty()
    );
}

pub async fn occurrences_apply_filters_and_keep_the_latest_events_under_a_limit(
    store: Arc<dyn Store>,
) {
    write(
        &store,
        vec![
            placed("a", "shop", "BackOff", 10, 1),
            placed("b", "shop", "Unhealthy", 20, 2),
            placed("c", "db", "BackOff", 30, 1),
            placed("d", "shop", "BackOff", 40, 1),
        ],
    )
    .await;
    let shop_backoff = EventFilter {
        namespaces: vec!["shop".into()],
        reasons: vec!["BackOff".into()],
        ..Default::default()
    };
    let got = occurrences(&store, shop_backoff.clone(), 0).await;
    let uids: Vec<&str> = got.iter().map(|e| e.event.uid.as_str()).collect();
    assert_eq!(uids, ["d", "a"]);
    let limited = occurrences(&store, EventFilter::default(), 2).await;
    let uids: Vec<&str> = limited.iter().map(|e| e.event.uid.as_str()).collect();
    assert_eq!(uids, ["d", "c"], "the limit keeps the latest");
    let limited = occurrences(&store, shop_backoff, 1).await;
    assert_eq!(limited.len(), 1);
    assert_eq!(limited[0].event.uid, "d");
    // The latest occurrence inside the range decides the order, not the event's last_seen.
    let early = occurrences(&store, range(None, Some(20)), 0).await;
    let uids: Vec<&str> = early.iter().map(|e| e.event.uid.as_str()).collect();
    assert_eq!(uids, ["b", "a"]);
    let searched = EventFilter {
        search: Some("restarting".into()),
        names: vec!["web-1".into()],
        ..Default::default()
    };
    assert_eq!(occurrences(&store, searched, 0).await.len(), 4);
    let bad = EventFilter {
        search: Some("\"unbalanced".into()),
        ..Default::default()
    };
    assert!(matches!(
        store.occurrences(&bad, 0).await,
        Err(Error::InvalidQuery(_))
    ));
}

/// Issue 14 §2: alerting's start-up replay reads in pages what `occurrences` reads at once,
/// the same events in the same order with the same occurrences, holding one page at a time.
pub async fn occurrences_in_pages_are_the_occurrences_read_at_once_in_order(store: Arc<dyn Store>) {
    let mut events = Vec::new();
    for (i, (ns, reason)) in [
        ("shop", "BackOff"),
        ("db", "Unhealthy"),
        ("shop", "Killing"),
    ]
    .iter()
    .cycle()
    .take(9)
    .enumerate()
    {
        let i = i64::try_from(i).expect("small");
        events.push(placed(
            &format!("e{i}"),
            ns,
            reason,
            10 + 5 * i,
            1 + i as u64 % 3,
        ));
    }
    write(&store, events).await;
    let shop = EventFilter {
        namespaces: vec!["shop".into()],
        ..range(Some(12), Some(45))
    };
    for (filter, limit) in [
        (EventFilter::default(), 0),
        (EventFilter::default(), 4),
        (range(Some(12), Some(45)), 0),
        (shop, 3),
    ] {
        let whole = occurrences(&store, filter.clone(), limit).await;
        assert!(!whole.is_empty(), "{filter:?} reads something");
        let lean = store
            .latest_analysis_occurrences(&filter, limit)
            .await
            .expect("latest analysis occurrences");
        for fields in [Fields::Whole, Fields::Analysis] {
            for page in [0, 1, 2, 4, 100] {
                let mut pages: Vec<Vec<EventOccurrences>> = Vec::new();
                let n = store
                    .occurrences_in_pages(&filter, limit, page, fields, &mut |p| pages.push(p))
                    .await
                    .expect("pages");
                assert_eq!(n, whole.len(), "{filter:?}, pages of {page}");
                if page > 0 {
                    assert!(pages.iter().all(|p| p.len() <= page), "pages of {page}");
                    assert_eq!(pages.len(), whole.len().div_ceil(page), "pages of {page}");
                }
                let joined: Vec<EventOccurrences> = pages.into_iter().flatten().collect();
                let at = format!("{filter:?}, {fields:?} in pages of {page}");
                match fields {
                    Fields::Whole => assert_eq!(joined, whole, "{at}"),
                    Fields::Analysis => {
                        assert_eq!(AnalysisOccurrences::of_all(&joined), lean, "{at}")
                    }
                }
            }
        }
    }
}

/// Issue 14 §1/§2/§3: what analysis reads is what `occurrences` gives, in the same order, as
/// analysis reads it (the incidents maintainer holds up to 50,000 of these at once), each
/// string the read's events repeat held once; over its limit, nothing (the maintainer drops
/// such a read), or the latest when asked for.
pub async fn analysis_occurrences_are_the_occurrences_without_what_analysis_never_reads(
    store: Arc<dyn Store>,
) {
    let mut a = event("a", minute(10), 3);
    a.related = Some(Box::new(kubetrail_model::ObjectRef {
        kind: "Node".into(),
        name: "node-1".into(),
        ..Default::default()
    }));
    a.labels.insert("team".into(), "shop".into());
    a.action = "Killing".into();
    a.node = Some("node-1".into());
    write(
        &store,
        vec![
            a,
            placed("b", "shop", "Unhealthy", 20, 2),
            placed("c", "db", "BackOff", 30, 1),
        ],
    )
    .await;
    for filter in [EventFilter::default(), range(Some(9), Some(25))] {
        let whole = occurrences(&store, filter.clone(), 0).await;
        let n = whole.len();
        let expected = AnalysisOccurrences::of_all(&whole);
        assert!(n > 1);
        for limit in [0, n] {
            let lean = store
                .analysis_occurrences(&filter, limit)
                .await
                .expect("analysis occurrences")
                .expect("within the limit: read");
            assert_eq!(lean, expected, "{filter:?}, limit {limit}");
            assert_eq!(lean.capacity(), lean.len(), "sized from the read's count");
            for e in &lean[1..] {
                assert!(
                    kubetrail_model::ArcStr::ptr_eq(&e.event.cluster, &lean[0].event.cluster),
                    "{filter:?}: the cluster's name is held once per read"
                );
            }
        }
        // More than the limit: nothing read (where `occurrences` gives the latest).
        let over = store
            .analysis_occurrences(&filter, n - 1)
            .await
            .expect("analysis occurrences");
        assert_eq!(over, None, "{filter:?}, limit {}", n - 1);
        // Unless the latest are asked for: those `occurrences` gives, as lean.
        for limit in [0, n, n - 1, 1] {
            let latest = store
                .latest_analysis_occurrences(&filter, limit)
                .await
                .expect("latest analysis occurrences");
            let kept = if limit == 0 { n } else { limit };
            assert_eq!(latest, expected[..kept], "{filter:?}, latest {limit}");
        }
    }
}
