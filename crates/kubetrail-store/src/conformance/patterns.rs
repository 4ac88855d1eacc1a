//! Pattern parts kept at ingest ([`PatternStore`]): replaced by cluster, span and bucket range,
//! read by span and bucket range.

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};

use crate::{PartSpan, PatternStore, Store, StoredPatternPart};

fn kept(store: &Arc<dyn Store>) -> &dyn PatternStore {
    store
        .pattern_store()
        .expect("the store keeps pattern parts")
}

fn hour(h: i64) -> Timestamp {
    Timestamp::from_second(1_714_521_600).expect("a time") + SignedDuration::from_hours(h)
}

fn part(cluster: &str, h: i64, body: &str) -> StoredPatternPart {
    StoredPatternPart {
        bucket: hour(h),
        cluster: cluster.into(),
        namespace: "ns".into(),
        kind: "Pod".into(),
        reason: "BackOff".into(),
        body: body.into(),
    }
}

async fn bodies(store: &Arc<dyn Store>, span: PartSpan, from: i64, to: i64) -> Vec<String> {
    kept(store)
        .pattern_parts(span, hour(from), hour(to))
        .await
        .expect("parts")
        .into_iter()
        .map(|p| p.body)
        .collect()
}

/// A replacement deletes the parts of its cluster and span in its bucket range, and only
/// those; a read returns a span's parts in a bucket range, oldest first, as stored.
pub async fn pattern_parts_are_replaced_by_cluster_span_and_bucket_range(store: Arc<dyn Store>) {
    let k = kept(&store);
    k.replace_pattern_parts(
        "prod",
        PartSpan::Hour,
        hour(0),
        hour(3),
        vec![
            part("prod", 2, "p2"),
            part("prod", 0, "p0"),
            part("prod", 3, "p3"),
        ],
    )
    .await
    .expect("replace");
    k.replace_pattern_parts(
        "dev",
        PartSpan::Hour,
        hour(0),
        hour(3),
        vec![part("dev", 1, "d1")],
    )
    .await
    .expect("replace");
    k.replace_pattern_parts(
        "prod",
        PartSpan::Day,
        hour(0),
        hour(0),
        vec![part("prod", 0, "day")],
    )
    .await
    .expect("replace");
    assert_eq!(
        bodies(&store, PartSpan::Hour, 0, 3).await,
        ["p0", "d1", "p2", "p3"]
    );
    assert_eq!(bodies(&store, PartSpan::Hour, 1, 2).await, ["d1", "p2"]);
    assert_eq!(bodies(&store, PartSpan::Day, 0, 100).await, ["day"]);
    let read = k
        .pattern_parts(PartSpan::Hour, hour(0), hour(0))
        .await
        .expect("parts");
    assert_eq!(read, [part("prod", 0, "p0")], "every column as stored");
    // Hours 1..2 of prod replaced: hour 2 goes, 0 and 3 stay, dev and the day part stay.
    k.replace_pattern_parts(
        "prod",
        PartSpan::Hour,
        hour(1),
        hour(2),
        vec![part("prod", 1, "n1")],
    )
    .await
    .expect("replace");
    assert_eq!(
        bodies(&store, PartSpan::Hour, 0, 3).await,
        ["p0", "d1", "n1", "p3"]
    );
    assert_eq!(bodies(&store, PartSpan::Day, 0, 100).await, ["day"]);
}
