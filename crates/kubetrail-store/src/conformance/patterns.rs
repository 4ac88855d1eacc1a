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

/// Totals as (key, count, first, last), sorted by key (their order is the store's).
fn sums_of(totals: &[KeyTotal]) -> Vec<(PartKey, u64, Timestamp, Timestamp)> {
    let mut out: Vec<_> = totals
        .iter()
        .map(|t| (t.key.clone(), t.count, t.first, t.last))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
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
/// every key (with their parts' rows), the bodies by those rows or of one cluster.
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
    let totals = k
        .pattern_totals(PartSpan::Hour, hour(0), hour(3))
        .await
        .expect("totals");
    let total = |cluster: &str, template: &str, count: u64, first: i64, last: i64| {
        (
            key(cluster, template),
            count,
            hour(first),
            hour(last) + SignedDuration::from_mins(59),
        )
    };
    assert_eq!(
        sums_of(&totals),
        [
            total("dev", "a", 11, 1, 1),
            total("prod", "a", 10 + 12 + 13, 0, 3),
            total("prod", "b", 10, 0, 0),
        ],
        "one total per key, over the hour parts of the range only (not the day part)"
    );
    // Each total's parts, oldest bucket first, read by their rows: several keys' at once, in
    // the order asked.
    let rows = |totals: &[KeyTotal], template: &str| -> Vec<i64> {
        totals
            .iter()
            .filter(|t| t.key == key("prod", template))
            .flat_map(|t| t.parts.clone())
            .collect()
    };
    let (of_a, of_b) = (rows(&totals, "a"), rows(&totals, "b"));
    let asked: Vec<i64> = of_b.iter().chain(&of_a).copied().collect();
    let read = k.pattern_bodies(&asked).await.expect("bodies");
    let bodies_read: Vec<&str> = read.iter().map(|(_, b)| b.as_str()).collect();
    assert_eq!(bodies_read, ["q0", "p0", "p2", "p3"]);
    assert_eq!(
        read.iter().map(|(r, _)| *r).collect::<Vec<_>>(),
        asked,
        "each body with its row"
    );
    let inner = k
        .pattern_totals(PartSpan::Hour, hour(1), hour(2))
        .await
        .expect("totals");
    assert_eq!(
        sums_of(&inner),
        [total("dev", "a", 11, 1, 1), total("prod", "a", 12, 2, 2)]
    );
    let days = k
        .pattern_totals(PartSpan::Day, hour(0), hour(100))
        .await
        .expect("totals");
    let day_rows = rows(&days, "a");
    let read = k.pattern_bodies(&day_rows).await.expect("bodies");
    assert_eq!(
        read.into_iter().map(|(_, b)| b).collect::<Vec<_>>(),
        ["day"],
        "the day parts apart"
    );
    assert!(k.pattern_bodies(&[]).await.expect("bodies").is_empty());
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
    // A row no longer stored (hour 2's part, replaced) is left out of a read by rows.
    let read = k.pattern_bodies(&of_a).await.expect("bodies");
    assert_eq!(
        read.into_iter().map(|(_, b)| b).collect::<Vec<_>>(),
        ["p0", "p3"]
    );
    assert_eq!(bodies(&store, "dev", PartSpan::Hour, 0, 3).await, ["d1"]);
    assert_eq!(bodies(&store, "prod", PartSpan::Day, 0, 100).await, ["day"]);
}
