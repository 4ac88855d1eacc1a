//! Aggregations: groups, buckets, filters, limits.

use std::sync::Arc;

use jiff::SignedDuration;
use kubetrail_model::{AggregateQuery, Dimension, EventFilter};

use super::{assert_rollups_match_occurrences, minute, placed, row, write};
use crate::{Error, Store};

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
