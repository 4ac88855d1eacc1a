//! Pattern parts kept at ingest ([`PatternStore`]): replaced by cluster, span and bucket range;
//! their sums read by span and bucket range (per part, and added up per key), their bodies by
//! key or by cluster.

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};

use crate::{KeyTotal, PartKey, PartSpan, PartSum, PatternStore, Store, StoredPatternPart};

fn kept(store: &Arc<dyn Store>) -> &dyn PatternStore {
    store
        .pattern_store()
        .expect("the store keeps pattern parts")
}

fn hour(h: i64) -> Timestamp {
    Timestamp::from_second(1_714_521_600).expect("a time") + SignedDuration::from_hours(h)
}

fn key(cluster: &str, template: &str) -> PartKey {
    PartKey {
        cluster: cluster.into(),
        namespace: "ns".into(),
        kind: "Pod".into(),
        reason: "BackOff".into(),
        template: template.into(),
    }
}

fn part(cluster: &str, template: &str, h: i64, body: &str) -> StoredPatternPart {
    StoredPatternPart {
        sum: PartSum {
            bucket: hour(h),
            key: key(cluster, template),
            count: 10 + h as u64,
            first: hour(h),
            last: hour(h) + SignedDuration::from_mins(59),
        },
        body: body.into(),
    }
}

async fn bodies(
    store: &Arc<dyn Store>,
    cluster: &str,
    span: PartSpan,
    from: i64,
    to: i64,
) -> Vec<String> {
    kept(store)
        .pattern_parts(cluster, span, hour(from), hour(to))
        .await
        .expect("parts")
        .into_iter()
        .map(|p| p.body)
        .collect()
}

/// A replacement deletes the parts of its cluster and span in its bucket range, and only
/// those; reads return a span's parts in a bucket range, oldest first, as stored: the sums of
/// every key, the bodies of some keys or of one cluster.
pub async fn pattern_parts_are_replaced_by_cluster_span_and_bucket_range(store: Arc<dyn Store>) {
    let k = kept(&store);
    k.replace_pattern_parts(
        "prod",
        PartSpan::Hour,
        hour(0),
        hour(3),
        vec![
            part("prod", "a", 2, "p2"),
            part("prod", "a", 0, "p0"),
            part("prod", "b", 0, "q0"),
            part("prod", "a", 3, "p3"),
        ],
    )
    .await
    .expect("replace");
    k.replace_pattern_parts(
        "dev",
        PartSpan::Hour,
        hour(0),
        hour(3),
        vec![part("dev", "a", 1, "d1")],
    )
    .await
    .expect("replace");
    k.replace_pattern_parts(
        "prod",
        PartSpan::Day,
        hour(0),
        hour(0),
        vec![part("prod", "a", 0, "day")],
    )
    .await
    .expect("replace");
    assert_eq!(
        bodies(&store, "prod", PartSpan::Hour, 0, 3).await,
        ["p0", "q0", "p2", "p3"]
    );
    assert_eq!(bodies(&store, "dev", PartSpan::Hour, 0, 3).await, ["d1"]);
    assert_eq!(bodies(&store, "prod", PartSpan::Hour, 1, 2).await, ["p2"]);
    assert_eq!(bodies(&store, "prod", PartSpan::Day, 0, 100).await, ["day"]);
    let sums = k
        .pattern_sums(PartSpan::Hour, hour(0), hour(1))
        .await
        .expect("sums");
    assert_eq!(
        sums,
        [
            part("prod", "a", 0, "").sum,
            part("prod", "b", 0, "").sum,
            part("dev", "a", 1, "").sum
        ],
        "every column as stored"
    );
    let mut totals = k
        .pattern_totals(PartSpan::Hour, hour(0), hour(3))
        .await
        .expect("totals");
    totals.sort_by(|a, b| a.key.cmp(&b.key));
    let total = |cluster: &str, template: &str, count: u64, first: i64, last: i64| KeyTotal {
        key: key(cluster, template),
        count,
        first: hour(first),
        last: hour(last) + SignedDuration::from_mins(59),
    };
    assert_eq!(
        totals,
        [
            total("dev", "a", 11, 1, 1),
            total("prod", "a", 10 + 12 + 13, 0, 3),
            total("prod", "b", 10, 0, 0),
        ],
        "one total per key, over the hour parts of the range only (not the day part)"
    );
    let mut inner = k
        .pattern_totals(PartSpan::Hour, hour(1), hour(2))
        .await
        .expect("totals");
    inner.sort_by(|a, b| a.key.cmp(&b.key));
    assert_eq!(
        inner,
        [total("dev", "a", 11, 1, 1), total("prod", "a", 12, 2, 2)]
    );
    let keys = [
        key("prod", "a"),
        key("dev", "a"),
        key("prod", "none"),
        key("prod", "b"),
        key("prod", "a"),
    ];
    let of_keys = k
        .pattern_bodies(PartSpan::Hour, hour(0), hour(3), &keys)
        .await
        .expect("bodies");
    assert_eq!(
        of_keys,
        [
            vec!["p0", "p2", "p3"],
            vec!["d1"],
            vec![],
            vec!["q0"],
            vec![]
        ],
        "one list per key, oldest bucket first; a key given twice in its first place only"
    );
    let inner = k
        .pattern_bodies(PartSpan::Hour, hour(1), hour(2), &keys[..2])
        .await
        .expect("bodies");
    assert_eq!(inner, [vec!["p2"], vec!["d1"]]);
    let days = k
        .pattern_bodies(PartSpan::Day, hour(0), hour(100), &keys[..2])
        .await
        .expect("bodies");
    assert_eq!(days, [vec!["day"], vec![]], "the day parts apart");
    let none = k
        .pattern_bodies(PartSpan::Hour, hour(0), hour(3), &[])
        .await
        .expect("bodies");
    assert!(none.is_empty());
    // Hours 1..2 of prod replaced: hour 2 goes, 0 and 3 stay, dev and the day part stay.
    k.replace_pattern_parts(
        "prod",
        PartSpan::Hour,
        hour(1),
        hour(2),
        vec![part("prod", "a", 1, "n1")],
    )
    .await
    .expect("replace");
    assert_eq!(
        bodies(&store, "prod", PartSpan::Hour, 0, 3).await,
        ["p0", "q0", "n1", "p3"]
    );
    assert_eq!(bodies(&store, "dev", PartSpan::Hour, 0, 3).await, ["d1"]);
    assert_eq!(bodies(&store, "prod", PartSpan::Day, 0, 100).await, ["day"]);
}
