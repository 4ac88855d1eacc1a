//! The rollup path of `aggregate` gives exactly what counting every occurrence gives, for any
//! writes, ranges, groupings, filters and retention.

use std::collections::HashMap;

use jiff::SignedDuration;
use kubetrail_model::{
    AggregateQuery, Category, Dimension, EventFilter, Severity, SeveritySet, Timestamp,
};
use kubetrail_store::conformance::{event, t0};
use kubetrail_store::{EventReader, EventSink, Retention, RetentionPolicy, SqliteStore};
use proptest::prelude::*;

const NAMESPACES: [&str; 3] = ["shop", "db", "kube-system"];
const REASONS: [&str; 3] = ["BackOff", "Unhealthy", "FailedMount"];
const ROLLUP_DIMS: [Dimension; 8] = [
    Dimension::Cluster,
    Dimension::Namespace,
    Dimension::Kind,
    Dimension::Reason,
    Dimension::Category,
    Dimension::Severity,
    Dimension::Type,
    Dimension::Correlation,
];

/// One sighting of event `uid`: its count grows by `more`, last seen `at` minutes after t0;
/// the other fields are what processing says this time (they may change between sightings).
#[derive(Debug, Clone)]
struct Sighting {
    uid: u8,
    at: i64,
    more: u64,
    namespace: usize,
    reason: usize,
    category: usize,
    severity: usize,
    correlation: u8,
    batch_ends: bool,
}

fn sighting() -> impl Strategy<Value = Sighting> {
    (
        0u8..8,
        // Minutes over ~4 days, so that whole days (the daily rollup level) and partial days
        // occur in the ranges asked.
        prop_oneof![-120i64..900, -3_000i64..6_000],
        1u64..4,
        0..NAMESPACES.len(),
        0..REASONS.len(),
        0..3usize,
        0..4usize,
        0u8..2,
        any::<bool>(),
    )
        .prop_map(
            |(uid, at, more, namespace, reason, category, severity, correlation, batch_ends)| {
                Sighting {
                    uid,
                    at,
                    more,
                    namespace,
                    reason,
                    category,
                    severity,
                    correlation,
                    batch_ends,
                }
            },
        )
}

#[derive(Debug, Clone)]
struct Ask {
    /// Seconds after t0, so that ranges cut hours anywhere.
    since: Option<i64>,
    until: Option<i64>,
    group_by: Vec<Dimension>,
    interval_hours: Option<i64>,
    namespaces: Vec<String>,
    severities: Vec<Severity>,
}

fn ask() -> impl Strategy<Value = Ask> {
    (
        proptest::option::of(prop_oneof![-10_000i64..60_000, -200_000i64..400_000]),
        proptest::option::of(prop_oneof![-10_000i64..60_000, -200_000i64..400_000]),
        proptest::sample::subsequence(ROLLUP_DIMS.to_vec(), 0..=3).prop_shuffle(),
        proptest::option::of(prop_oneof![1i64..4, Just(24i64), Just(48i64)]),
        proptest::sample::subsequence(NAMESPACES.to_vec(), 0..=2),
        proptest::sample::subsequence(Severity::ALL.to_vec(), 0..=2),
    )
        .prop_map(
            |(since, until, group_by, interval_hours, namespaces, severities)| Ask {
                since,
                until,
                group_by,
                interval_hours,
                namespaces: namespaces.into_iter().map(String::from).collect(),
                severities,
            },
        )
}

impl Ask {
    fn query(&self) -> AggregateQuery {
        let at = |s: i64| t0() + SignedDuration::from_secs(s);
        AggregateQuery {
            filter: EventFilter {
                since: self.since.map(at),
                until: self.until.map(at),
                namespaces: self.namespaces.clone(),
                severities: SeveritySet(self.severities.clone()),
                ..EventFilter::default()
            },
            group_by: self.group_by.clone(),
            interval: self.interval_hours.map(SignedDuration::from_hours),
            limit: None,
        }
    }
}

async fn write_all(store: &SqliteStore, sightings: &[Sighting]) {
    let mut counts: HashMap<u8, u64> = HashMap::new();
    let mut batch = Vec::new();
    for s in sightings {
        let count = counts.entry(s.uid).or_insert(0);
        *count += s.more;
        let last_seen = t0() + SignedDuration::from_mins(s.at);
        let mut e = event(&format!("uid-{}", s.uid), last_seen, *count);
        e.namespace = NAMESPACES[s.namespace].into();
        e.regarding.namespace = e.namespace.clone();
        e.regarding.name = format!("web-{}", s.uid);
        e.reason = REASONS[s.reason].into();
        e.category = [Category::Crash, Category::Health, Category::Storage][s.category];
        e.severity = Severity::ALL[s.severity];
        e.correlation_id = format!("Deployment/app-{}", s.correlation);
        batch.push(e);
        if s.batch_ends {
            write_live(store, std::mem::take(&mut batch)).await;
        }
    }
    write_live(store, batch).await;
}

/// Writes live events: stored at `t0()`, before any of them happened, so their age counts from
/// their own times (an import's would count from when it was stored).
async fn write_live(store: &SqliteStore, events: Vec<kubetrail_model::Event>) {
    let mut txn = store.begin_at(t0()).await.unwrap();
    txn.write(events).await.unwrap();
    txn.commit().await.unwrap();
}

async fn assert_paths_agree(store: &SqliteStore, asks: &[Ask]) -> Result<(), TestCaseError> {
    for a in asks {
        let q = a.query();
        let rollup = store.aggregate(&q).await.unwrap();
        let raw = store.aggregate_raw(&q).await.unwrap();
        prop_assert_eq!(rollup, raw, "{:?}", a);
    }
    Ok(())
}

fn run(sightings: Vec<Sighting>, asks: Vec<Ask>, keep_hours: i64) -> Result<(), TestCaseError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("kubetrail.db")).unwrap();
        write_all(&store, &sightings).await;
        assert_paths_agree(&store, &asks).await?;
        let everything = AggregateQuery::default();
        let before = store.aggregate_raw(&everything).await.unwrap();
        let policy = RetentionPolicy {
            max_age: SignedDuration::from_hours(keep_hours),
            max_age_by_severity: [(Severity::Info, SignedDuration::from_hours(keep_hours / 2))]
                .into(),
            max_bytes: None,
        };
        let now: Timestamp = t0() + SignedDuration::from_hours(16);
        let report = store.apply_retention(&policy, now).await.unwrap();
        let after = store.aggregate_raw(&everything).await.unwrap();
        let total = |rows: &[kubetrail_model::AggregateRow]| rows.first().map_or(0, |r| r.count);
        prop_assert_eq!(total(&before) - total(&after), report.occurrences_deleted);
        assert_paths_agree(&store, &asks).await
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn rollups_count_exactly_what_the_occurrences_count(
        sightings in proptest::collection::vec(sighting(), 1..40),
        asks in proptest::collection::vec(ask(), 1..8),
        keep_hours in 1i64..20,
    ) {
        run(sightings, asks, keep_hours)?;
    }
}
