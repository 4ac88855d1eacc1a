//! Issue 14 §1: patterns kept at ingest are those of one analysis of the window's events. Real
//! dumps (two of them, as two clusters), shuffled and split into batches at random, are written
//! one batch per transaction; the maintainer runs after some batches (at random: it may lag
//! behind); the patterns read back (`kept_patterns`) for windows with ragged edges, whole hours
//! and whole days, with and without filters, before and after the last maintenance, equal
//! `patterns()` over every event of the window.

use jiff::{SignedDuration, Timestamp};
use kubetrail_analyze::{
    IncidentConfig, KEPT_SAMPLES, Pattern, PatternConfig, pattern_parts, patterns,
};
use kubetrail_model::{AnalysisOccurrences, Event, EventFilter};
use kubetrail_process::{Processor, Rules};
use kubetrail_query::{
    PassReads, kept_patterns, maintain_incidents, maintain_incidents_reading, maintain_patterns,
};
use kubetrail_source::import::{Item, read_file};
use kubetrail_store::{DirtyRange, EventReader, EventSink, PartSpan, SqliteStore, Store};
use proptest::prelude::*;
use proptest::sample::Index;

/// Every Event copy of a dump, processed in file order as an import would, in `cluster`.
fn copies(name: &str, cluster: &str) -> Vec<Event> {
    let path = kubetrail_testkit::real(name);
    let mut processor = Processor::new(Rules::builtin());
    let mut out = Vec::new();
    for item in read_file(&path, cluster).expect("a readable dump") {
        match item.expect("a readable item") {
            Item::Object(link) => processor.observe(link),
            Item::Event { event, .. } => out.push(processor.process(event)),
            Item::Revision(_) | Item::Skipped { .. } => {}
        }
    }
    out
}

/// Dumps spanning days (so that windows hold whole days and hours) and hours.
const DUMPS: [&str; 4] = [
    "troubleshoot__support-bundle-2021-03-24__test.events.json",
    "k8s-failure-reproduction__others__H2-2__php__2023-05-18T00-16-53.events.json",
    "k8s-failure-reproduction__C5__2023-08-29T23-48-45.events.json",
    "troubleshoot__message-container-creating-failed-mount.events.json",
];

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

fn everything() -> EventFilter {
    EventFilter {
        since: Some("1970-01-01T00:00:00Z".parse().expect("a time")),
        until: Some("2100-01-01T00:00:00Z".parse().expect("a time")),
        ..EventFilter::default()
    }
}

/// Every pattern, however rare, and the default thresholds.
fn configs() -> [PatternConfig; 2] {
    [
        PatternConfig {
            min_count: 1,
            min_per_minute: 0.0,
            ..PatternConfig::default()
        },
        PatternConfig::default(),
    ]
}

fn names(found: &[Pattern]) -> Vec<String> {
    found
        .iter()
        .map(|p| format!("{:?} {} {}..{}", p.key, p.count, p.first_seen, p.last_seen))
        .collect()
}

/// The windows and filters checked: the whole span, one with edges off the hour, those
/// `picks` give, each alone and narrowed to one cluster, namespace or reason.
async fn questions(store: &dyn Store, picks: &[(Index, Index)]) -> Vec<EventFilter> {
    let all = store
        .occurrences(&everything(), 0)
        .await
        .expect("occurrences");
    let first = all.iter().filter_map(|e| e.first()).min().expect("events");
    let last = all.iter().filter_map(|e| e.last()).max().expect("events");
    let end = last + SignedDuration::from_micros(1);
    let mut windows = vec![(first, end)];
    let ragged = (
        first + SignedDuration::from_mins(17),
        end - SignedDuration::from_mins(23),
    );
    if ragged.0 < ragged.1 {
        windows.push(ragged);
    }
    let length = end.duration_since(first).as_secs().max(1) as usize;
    for (a, b) in picks {
        let (a, b) = (a.index(length), b.index(length));
        let (a, b) = (a.min(b), a.max(b) + 1);
        windows.push((
            first + SignedDuration::from_secs(a as i64),
            first + SignedDuration::from_secs(b as i64),
        ));
    }
    let sample = &all[all.len() / 2].event;
    let narrowings = [
        EventFilter::default(),
        EventFilter {
            clusters: vec![sample.cluster.clone()],
            ..EventFilter::default()
        },
        EventFilter {
            namespaces: vec![sample.namespace.clone()],
            kinds: vec![sample.regarding.kind.clone()],
            ..EventFilter::default()
        },
        EventFilter {
            reasons: vec![sample.reason.clone(), "BackOff".into()],
            ..EventFilter::default()
        },
    ];
    let mut out = Vec::new();
    for (since, until) in windows {
        for n in &narrowings {
            out.push(EventFilter {
                since: Some(since),
                until: Some(until),
                ..n.clone()
            });
        }
    }
    out
}

async fn same_answers(store: &dyn Store, questions: &[EventFilter]) {
    for filter in questions {
        let events = store.occurrences(filter, 0).await.expect("occurrences");
        let events = AnalysisOccurrences::of_all(&events);
        for cfg in configs() {
            let expected = patterns(&events, &cfg);
            let kept = kept_patterns(store, filter, &cfg)
                .await
                .expect("kept patterns")
                .expect("the store keeps patterns");
            assert_eq!(names(&kept), names(&expected), "{filter:?}");
            assert_eq!(kept, expected, "{filter:?}");
        }
    }
}

/// Writes `events` cut at `cuts` (maintaining after the batches `maintain` says), then checks
/// the kept patterns against the analysis of the window's events.
async fn check_on(
    store: &dyn Store,
    events: Vec<Event>,
    cuts: &[usize],
    maintain: &[bool],
    picks: &[(Index, Index)],
) {
    let cfg = IncidentConfig::default();
    let mut at: Vec<usize> = cuts.to_vec();
    at.push(0);
    at.push(events.len());
    at.sort_unstable();
    at.dedup();
    for (n, pair) in at.windows(2).enumerate() {
        let mut txn = store.begin().await.expect("begin");
        txn.write(events[pair[0]..pair[1]].to_vec())
            .await
            .expect("write");
        txn.commit().await.expect("commit");
        if maintain.get(n).copied().unwrap_or(false) {
            maintain_incidents(store, &cfg).await.expect("maintain");
        }
    }
    let questions = questions(store, picks).await;
    // Before the last maintenance: what is dirty is read raw.
    same_answers(store, &questions).await;
    let done = maintain_incidents(store, &cfg)
        .await
        .expect("maintain")
        .expect("the store keeps incidents");
    let kept = store.pattern_store().expect("the store keeps patterns");
    let hours = kept
        .pattern_sums(PartSpan::Hour, Timestamp::MIN, Timestamp::MAX)
        .await
        .expect("hour parts");
    assert!(!hours.is_empty(), "hour parts kept");
    assert!(done.ranges == 0 || done.pattern_hours > 0);
    same_answers(store, &questions).await;
}

fn check(events: Vec<Event>, cuts: &[usize], maintain: &[bool], picks: &[(Index, Index)]) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = SqliteStore::open(dir.path().join("kubetrail.db")).expect("a store");
    runtime().block_on(check_on(&store, events, cuts, maintain, picks));
}

/// Two dumps as two clusters.
fn two(a: usize, b: usize) -> Vec<Event> {
    let mut events = copies(DUMPS[a], "one");
    events.extend(copies(DUMPS[b], "two"));
    events
}

type Case = (Vec<Event>, Vec<Index>, Vec<bool>, Vec<(Index, Index)>);

fn case() -> impl Strategy<Value = Case> {
    (0..DUMPS.len(), 0..DUMPS.len()).prop_flat_map(|(a, b)| {
        (
            Just(two(a, b)).prop_shuffle(),
            prop::collection::vec(any::<Index>(), 0..10),
            prop::collection::vec(any::<bool>(), 0..11),
            prop::collection::vec(any::<(Index, Index)>(), 1..4),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10, ..ProptestConfig::default() })]

    #[test]
    fn kept_patterns_equal_the_analysis_of_the_windows_events(
        (events, cuts, maintain, picks) in case()
    ) {
        let cuts: Vec<usize> = cuts.iter().map(|c| c.index(events.len() + 1)).collect();
        check(events, &cuts, &maintain, &picks);
    }
}

#[test]
fn a_ten_day_dump_is_answered_from_day_parts() {
    let events = copies(DUMPS[0], "one");
    let cuts: Vec<usize> = (50..events.len()).step_by(50).collect();
    let every = vec![true; cuts.len() + 1];
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = SqliteStore::open(dir.path().join("kubetrail.db")).expect("a store");
    runtime().block_on(async {
        check_on(&store, events, &cuts, &every, &[]).await;
        let days = store
            .pattern_store()
            .expect("kept")
            .pattern_sums(PartSpan::Day, Timestamp::MIN, Timestamp::MAX)
            .await
            .expect("day parts");
        assert!(days.len() >= 5, "day parts kept: {}", days.len());
    });
}

#[tokio::test]
async fn kept_patterns_equal_the_analysis_of_the_windows_events_on_postgres() {
    let (store, _guard) = kubetrail_store::conformance::fresh_postgres_store().await;
    let events = two(1, 2);
    let cuts: Vec<usize> = (40..events.len()).step_by(97).collect();
    let maintain: Vec<bool> = (0..=cuts.len()).map(|n| n % 3 == 1).collect();
    check_on(store.as_ref(), events, &cuts, &maintain, &[]).await;
}

/// Every part kept, hour and day, of `cluster`: (span, bucket, body), in order.
async fn kept_parts(store: &dyn Store, cluster: &str) -> Vec<(u8, Timestamp, String)> {
    let kept = store.pattern_store().expect("the store keeps patterns");
    let mut out = Vec::new();
    for (n, span) in [PartSpan::Hour, PartSpan::Day].into_iter().enumerate() {
        for row in kept
            .pattern_parts(cluster, span, Timestamp::MIN, Timestamp::MAX)
            .await
            .expect("parts")
        {
            out.push((n as u8, row.sum.bucket, row.body));
        }
    }
    out.sort();
    out
}

/// Issue 14 §1: the maintainer takes each dirty hour's parts from the incidents walk's reads
/// (an hour a read holds whole), and reads by hour only what none held whole (a read cut at
/// its bound). Both give the parts of one read of each hour: the walk's parts, with bounds
/// that cut reads and without, equal those `maintain_patterns` computes alone, reading each
/// hour of the ten-day dump.
#[test]
fn the_parts_taken_from_the_walks_reads_equal_those_read_by_hour() {
    let events = copies(DUMPS[0], "one");
    runtime().block_on(async {
        for (bound, ahead) in [(50_000, false), (50_000, true), (40, true), (5, false)] {
            let dir = tempfile::tempdir().expect("a temporary directory");
            let store = SqliteStore::open(dir.path().join("kubetrail.db")).expect("a store");
            for batch in events.chunks(500) {
                store
                    .write_batch(batch.to_vec(), None)
                    .await
                    .expect("write");
            }
            let reads = PassReads {
                max_read: bound,
                ahead,
            };
            let done = maintain_incidents_reading(&store, &IncidentConfig::default(), reads)
                .await
                .expect("maintain")
                .expect("the store keeps incidents");
            assert!(done.pattern_hours > 24, "bound {bound}: {done:?}");
            let walked = kept_parts(&store, "one").await;
            assert!(!walked.is_empty());
            let all = store
                .occurrences(&everything(), 0)
                .await
                .expect("occurrences");
            let first = all.iter().filter_map(|e| e.first()).min().expect("events");
            let last = all.iter().filter_map(|e| e.last()).max().expect("events");
            let dirty = DirtyRange {
                id: 0,
                cluster: "one".into(),
                since: first,
                until: last,
            };
            let kept = store.pattern_store().expect("the store keeps patterns");
            maintain_patterns(&store, kept, &[dirty])
                .await
                .expect("parts read by hour");
            assert_eq!(walked, kept_parts(&store, "one").await, "bound {bound}");
        }
    });
}

/// Issue 14 §1: the maintainer's pattern parts are stored beside its walk, which goes on
/// reading and analysing meanwhile. A write the store refuses (here a trigger: SQLite's own
/// failure) still fails the pass with the store's own error, and leaves every dirty range to
/// the next pass, which then keeps what the analysis of the events finds.
#[test]
fn a_refused_parts_write_fails_the_pass_and_leaves_its_ranges_dirty() {
    let events = copies(DUMPS[0], "one");
    runtime().block_on(async {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("kubetrail.db");
        let store = SqliteStore::open(&path).expect("a store");
        for batch in events.chunks(500) {
            store
                .write_batch(batch.to_vec(), None)
                .await
                .expect("write");
        }
        let incidents = store.incident_store().expect("the store keeps incidents");
        let dirty = incidents.dirty_ranges().await.expect("dirty ranges");
        assert!(!dirty.is_empty());
        let sql = rusqlite::Connection::open(&path).expect("a second connection");
        sql.execute_batch(
            "CREATE TRIGGER refuse_parts BEFORE INSERT ON pattern_parts
             BEGIN SELECT RAISE(ABORT, 'pattern parts refused'); END;",
        )
        .expect("a trigger");
        let cfg = IncidentConfig::default();
        let error = maintain_incidents(&store, &cfg)
            .await
            .expect_err("a refused write fails the pass");
        let chain = kubetrail_model::error_chain(&error);
        assert!(chain.contains("pattern parts refused"), "{chain}");
        assert!(
            !matches!(error, kubetrail_query::Error::NotWritten),
            "{chain}"
        );
        assert_eq!(
            incidents.dirty_ranges().await.expect("dirty ranges"),
            dirty,
            "every range stays dirty"
        );
        sql.execute_batch("DROP TRIGGER refuse_parts")
            .expect("the trigger dropped");
        maintain_incidents(&store, &cfg)
            .await
            .expect("the next pass")
            .expect("the store keeps incidents");
        assert!(incidents.dirty_ranges().await.expect("dirty").is_empty());
        let questions = questions(&store, &[]).await;
        same_answers(&store, &questions).await;
    });
}

/// Issue 14 §1: a store written before the compact bodies (version 2) keeps its parts as
/// serde wrote `PatternPart` (version 1), and is read as before. The ten-day dump's kept
/// parts, each rewritten as version 1 (computed again from its bucket's events), give the
/// same patterns as the analysis of every window's events; the pass writes version 2.
#[test]
fn parts_kept_as_version_1_bodies_are_read_as_before() {
    let events = copies(DUMPS[0], "one");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = SqliteStore::open(dir.path().join("kubetrail.db")).expect("a store");
    runtime().block_on(async {
        for batch in events.chunks(500) {
            store
                .write_batch(batch.to_vec(), None)
                .await
                .expect("write");
        }
        maintain_incidents(&store, &IncidentConfig::default())
            .await
            .expect("maintain")
            .expect("the store keeps incidents");
        let kept = store.pattern_store().expect("the store keeps patterns");
        let mut rewritten = Vec::new();
        for span in [PartSpan::Hour, PartSpan::Day] {
            let mut n = 0;
            let rows = kept
                .pattern_parts("one", span, Timestamp::MIN, Timestamp::MAX)
                .await
                .expect("parts");
            let mut buckets: Vec<Timestamp> = rows.iter().map(|r| r.sum.bucket).collect();
            buckets.dedup();
            for bucket in buckets {
                let filter = EventFilter {
                    clusters: vec!["one".into()],
                    since: Some(bucket),
                    until: Some(bucket + SignedDuration::from_micros(span.micros())),
                    ..EventFilter::default()
                };
                let parts = pattern_parts(
                    &AnalysisOccurrences::of_all(
                        &store.occurrences(&filter, 0).await.expect("occurrences"),
                    ),
                    KEPT_SAMPLES,
                );
                let mut old = Vec::new();
                for mut row in rows.iter().filter(|r| r.sum.bucket == bucket).cloned() {
                    assert!(row.body.starts_with("[2,"), "{}", row.body);
                    let k = &row.sum.key;
                    let part = parts
                        .iter()
                        .find(|p| {
                            (
                                &p.key.namespace,
                                &p.key.kind,
                                &p.key.reason,
                                &p.key.template,
                            ) == (&k.namespace, &k.kind, &k.reason, &k.template)
                        })
                        .expect("the part of the row's key");
                    row.body = serde_json::to_string(part).expect("version 1");
                    old.push(row);
                }
                assert_eq!(old.len(), parts.len(), "{span:?} {bucket}");
                n += old.len();
                kept.replace_pattern_parts("one", span, bucket, bucket, old)
                    .await
                    .expect("rewritten");
            }
            rewritten.push(n);
        }
        // The dump's hour and day parts (18 each: an hour or two of events a day).
        assert!(
            rewritten[0] >= 10 && rewritten[1] >= 5,
            "{rewritten:?} parts rewritten"
        );
        let questions = questions(&store, &[]).await;
        same_answers(&store, &questions).await;
    });
}
