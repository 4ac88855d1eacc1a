//! Queries: each filter, time overlap, full-text search, paging.

use std::sync::Arc;

use kubetrail_model::{AggregateQuery, Category, Event, EventFilter, Severity, SeveritySet};

use super::{all, event, minute, row, sorted_uids, uids, write};
use crate::{Error, Page, Store};

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
