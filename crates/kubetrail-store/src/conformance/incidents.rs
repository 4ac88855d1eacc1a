//! Incidents kept at ingest ([`IncidentStore`]): what writes and relinks mark dirty, and how
//! stored incidents are replaced by span and read by overlap.

use std::sync::Arc;

use kubetrail_model::{Owner, Relink};

use super::{event, minute, write};
use crate::{
    Error, IncidentBodies, IncidentStore, IncidentSummary, Replaced, Store, StoredIncident,
};

/// Generates one `#[tokio::test]` per incident conformance test, each with a fresh store from
/// `$factory` (an async function returning `(Arc<dyn Store>, guard)`), which must keep
/// incidents ([`EventReader::incident_store`](crate::EventReader::incident_store)).
#[macro_export]
macro_rules! incident_conformance_tests {
    ($factory:expr) => {
        $crate::incident_conformance_tests!(@each $factory;
            a_write_marks_the_span_of_what_it_changed_dirty_per_cluster,
            a_bulk_write_into_an_empty_store_marks_what_it_wrote_dirty,
            a_rolled_back_write_or_a_replay_marks_nothing,
            a_relink_marks_the_span_of_the_moved_events_dirty,
            cleared_dirty_ranges_go_and_later_ones_stay,
            stored_incidents_are_replaced_by_span_and_read_by_overlap,
            pattern_parts_are_replaced_by_cluster_span_and_bucket_range,
            incident_lines_are_their_summaries_read_by_overlap,
            bodies_read_into_one_buffer_are_the_bodies_read_one_by_one,
            a_replacement_keeps_the_incidents_found_unchanged_as_stored,
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

fn kept(store: &Arc<dyn Store>) -> &dyn IncidentStore {
    store.incident_store().expect("the store keeps incidents")
}

/// `(cluster, since, until)` of every dirty range, oldest first.
async fn dirty(store: &Arc<dyn Store>) -> Vec<(String, jiff::Timestamp, jiff::Timestamp)> {
    kept(store)
        .dirty_ranges()
        .await
        .expect("dirty ranges")
        .into_iter()
        .map(|d| (d.cluster, d.since, d.until))
        .collect()
}

async fn clear_all(store: &Arc<dyn Store>) {
    let ids = kept(store)
        .dirty_ranges()
        .await
        .expect("dirty ranges")
        .iter()
        .map(|d| d.id)
        .collect();
    kept(store).clear_dirty(ids).await.expect("clear");
}

pub async fn a_write_marks_the_span_of_what_it_changed_dirty_per_cluster(store: Arc<dyn Store>) {
    let mut other = event("b", minute(30), 1);
    other.cluster = "dev".into();
    // "a": first seen at minute 8, last at 10; "c" at minute 20.
    store
        .write_batch(
            vec![event("a", minute(10), 3), other, event("c", minute(20), 1)],
            None,
        )
        .await
        .expect("write");
    assert_eq!(
        dirty(&store).await,
        [
            ("prod".to_string(), minute(8), minute(20)),
            ("dev".to_string(), minute(30), minute(30)),
        ]
    );
    clear_all(&store).await;
    // A count increase marks the event's whole span: its incident may end later now.
    write(&store, vec![event("a", minute(40), 33)]).await;
    assert_eq!(
        dirty(&store).await,
        [("prod".to_string(), minute(8), minute(40))]
    );
}

/// An import's bulk write into an empty store (no savepoint per batch on SQLite) marks what
/// it wrote dirty, as a plain write does: else the pass after the import found nothing to
/// analyse and kept no incident (the merge of the savepoint-free bulk write lost the mark).
pub async fn a_bulk_write_into_an_empty_store_marks_what_it_wrote_dirty(store: Arc<dyn Store>) {
    let mut txn = store.begin_bulk().await.expect("begin");
    txn.write(vec![event("a", minute(10), 3), event("c", minute(20), 1)])
        .await
        .expect("write");
    txn.commit().await.expect("commit");
    assert_eq!(
        dirty(&store).await,
        [("prod".to_string(), minute(8), minute(20))]
    );
}

pub async fn a_rolled_back_write_or_a_replay_marks_nothing(store: Arc<dyn Store>) {
    write(&store, vec![event("a", minute(10), 3)]).await;
    clear_all(&store).await;
    let mut txn = store.begin().await.expect("begin");
    txn.write(vec![event("b", minute(50), 1)])
        .await
        .expect("write");
    drop(txn);
    write(&store, vec![event("a", minute(10), 3)]).await;
    assert_eq!(dirty(&store).await, []);
}

pub async fn a_relink_marks_the_span_of_the_moved_events_dirty(store: Arc<dyn Store>) {
    write(&store, vec![event("a", minute(10), 3)]).await;
    clear_all(&store).await;
    let mut txn = store.begin().await.expect("begin");
    let moved = txn
        .relink(vec![Relink {
            cluster: "prod".into(),
            namespace: "default".into(),
            kind: "Pod".into(),
            name: "web-1".into(),
            owner: Owner {
                kind: "DaemonSet".into(),
                name: "web".into(),
            },
            correlation_id: "default/DaemonSet/web".into(),
            absorbs: None,
        }])
        .await
        .expect("relink");
    txn.commit().await.expect("commit");
    assert_eq!(moved, 1);
    assert_eq!(
        dirty(&store).await,
        [("prod".to_string(), minute(8), minute(10))]
    );
}

pub async fn cleared_dirty_ranges_go_and_later_ones_stay(store: Arc<dyn Store>) {
    write(&store, vec![event("a", minute(10), 1)]).await;
    let first: Vec<i64> = kept(&store)
        .dirty_ranges()
        .await
        .expect("dirty")
        .iter()
        .map(|d| d.id)
        .collect();
    write(&store, vec![event("b", minute(20), 1)]).await;
    kept(&store).clear_dirty(first).await.expect("clear");
    assert_eq!(
        dirty(&store).await,
        [("prod".to_string(), minute(20), minute(20))]
    );
}

fn incident(cluster: &str, start: i64, end: i64, body: &str) -> StoredIncident {
    StoredIncident {
        cluster: cluster.into(),
        start: minute(start),
        end: minute(end),
        summary: summary(body),
        head: format!("head of {body}"),
        body: body.into(),
    }
}

/// A summary whose every field is told from another's by `id`.
fn summary(id: &str) -> IncidentSummary {
    let even = id.len().is_multiple_of(2);
    let n = id.len() as u64;
    IncidentSummary {
        id: id.into(),
        subject: format!("default/Deployment/{id}"),
        severity: if even {
            kubetrail_model::Severity::Critical
        } else {
            kubetrail_model::Severity::Warning
        },
        ongoing: !even,
        event_count: u64::from(u32::MAX) + n,
        cluster_wide: even,
        rule: format!("rule-{id}"),
        reason: format!("Reason{id}"),
        message: format!("message of {id}: \"quoted\" ünïcode"),
    }
}

pub async fn incident_lines_are_their_summaries_read_by_overlap(store: Arc<dyn Store>) {
    let kept = kept(&store);
    kept.replace_incidents(
        "prod",
        minute(0),
        minute(10),
        None,
        vec![incident("prod", 0, 5, "i1"), incident("prod", 6, 9, "i22")],
    )
    .await
    .expect("replace");
    kept.replace_incidents(
        "dev",
        minute(0),
        minute(10),
        None,
        vec![incident("dev", 4, 6, "d1")],
    )
    .await
    .expect("replace");
    let lines = kept
        .incident_lines(None, minute(5), minute(7))
        .await
        .expect("lines");
    assert_eq!(
        lines
            .iter()
            .map(|l| (l.cluster.as_str(), l.start, l.end, l.summary.clone()))
            .collect::<Vec<_>>(),
        [
            ("prod", minute(0), minute(5), summary("i1")),
            ("dev", minute(4), minute(6), summary("d1")),
            ("prod", minute(6), minute(9), summary("i22")),
        ]
    );
    let prod = kept
        .incident_lines(Some("prod"), minute(7), minute(60))
        .await
        .expect("lines");
    assert_eq!(prod.len(), 1);
    // Each line's row reads its whole incident.
    assert_eq!(
        kept.incident_bodies(vec![prod[0].row])
            .await
            .expect("bodies"),
        [(prod[0].row, "i22".to_string())]
    );
    // The stored incidents carry the same summaries.
    let whole = kept
        .stored_incidents(Some("dev"), minute(0), minute(60))
        .await
        .expect("read");
    assert_eq!(whole[0].summary, summary("d1"));
}

pub async fn stored_incidents_are_replaced_by_span_and_read_by_overlap(store: Arc<dyn Store>) {
    let kept = kept(&store);
    let bodies =
        |found: Vec<StoredIncident>| -> Vec<String> { found.into_iter().map(|i| i.body).collect() };
    kept.replace_incidents(
        "prod",
        minute(0),
        minute(10),
        None,
        vec![incident("prod", 0, 5, "i1"), incident("prod", 6, 9, "i2")],
    )
    .await
    .expect("replace");
    kept.replace_incidents(
        "dev",
        minute(0),
        minute(10),
        None,
        vec![incident("dev", 4, 6, "d1")],
    )
    .await
    .expect("replace");
    let read = |cluster: Option<&'static str>, a: i64, b: i64| {
        kept.stored_incidents(cluster, minute(a), minute(b))
    };
    assert_eq!(bodies(read(None, 5, 5).await.expect("read")), ["i1", "d1"]);
    assert_eq!(
        bodies(read(Some("prod"), 5, 7).await.expect("read")),
        ["i1", "i2"]
    );
    assert_eq!(
        bodies(read(Some("prod"), 10, 20).await.expect("read")),
        [] as [&str; 0]
    );
    let whole = read(Some("dev"), 0, 60).await.expect("read");
    assert_eq!(whole, [incident("dev", 4, 6, "d1")]);
    // Heads: the same incidents, with their rows to read each whole by.
    let heads = kept
        .incident_heads(Some("prod"), minute(5), minute(7))
        .await
        .expect("heads");
    assert_eq!(
        heads.iter().map(|h| h.head.as_str()).collect::<Vec<_>>(),
        ["head of i1", "head of i2"]
    );
    assert_eq!((heads[1].start, heads[1].end), (minute(6), minute(9)));
    let rows: Vec<i64> = heads.iter().map(|h| h.row).collect();
    assert_eq!(
        kept.incident_bodies(vec![rows[1], rows[0]])
            .await
            .expect("bodies"),
        [(rows[1], "i2".to_string()), (rows[0], "i1".to_string())]
    );
    assert_eq!(
        kept.incident_heads(None, minute(0), minute(60))
            .await
            .expect("heads")
            .len(),
        3
    );
    // Replacing [5, 20] of prod but what starts before minute 3 removes i2 only.
    kept.replace_incidents(
        "prod",
        minute(5),
        minute(20),
        Some(minute(3)),
        vec![incident("prod", 7, 12, "i4")],
    )
    .await
    .expect("replace");
    assert_eq!(
        bodies(read(None, 0, 60).await.expect("read")),
        ["i1", "d1", "i4"]
    );
    // Replacing [5, 20] of prod removes all that overlap it, keeps dev's; a replaced row is
    // no longer read by its row.
    kept.replace_incidents(
        "prod",
        minute(5),
        minute(20),
        None,
        vec![incident("prod", 3, 12, "i3")],
    )
    .await
    .expect("replace");
    assert_eq!(bodies(read(None, 0, 60).await.expect("read")), ["i3", "d1"]);
    assert_eq!(
        kept.incident_bodies(rows).await.expect("bodies"),
        [] as [(i64, String); 0]
    );
}

/// `incident_bodies_into` gives what `incident_bodies` gives, in the order asked, in the buffer
/// it was handed (emptied first); a replaced incident's row reads nothing.
pub async fn bodies_read_into_one_buffer_are_the_bodies_read_one_by_one(store: Arc<dyn Store>) {
    let kept = kept(&store);
    let long = format!("{{\"id\":\"i2\",\"note\":\"{}\"}}", "é".repeat(10_000));
    kept.replace_incidents(
        "prod",
        minute(0),
        minute(10),
        None,
        vec![incident("prod", 0, 5, "i1"), incident("prod", 6, 9, &long)],
    )
    .await
    .expect("replace");
    // Stored after them (SQLite then gives no new incident their rows).
    kept.replace_incidents(
        "dev",
        minute(0),
        minute(10),
        None,
        vec![incident("dev", 7, 8, "d1")],
    )
    .await
    .expect("replace");
    let heads = kept
        .incident_heads(Some("prod"), minute(0), minute(60))
        .await
        .expect("heads");
    let rows = vec![heads[1].row, heads[0].row, heads[1].row];
    let mut into = IncidentBodies::default();
    into.push(-1, b"left from before");
    let into = kept
        .incident_bodies_into(rows.clone(), into)
        .await
        .expect("bodies");
    let one_by_one = kept.incident_bodies(rows).await.expect("bodies");
    assert_eq!(
        into.iter()
            .map(|(row, body)| (row, String::from_utf8(body.to_vec()).expect("utf-8")))
            .collect::<Vec<_>>(),
        one_by_one
    );
    assert_eq!(
        into.iter().map(|(_, body)| body.len()).collect::<Vec<_>>(),
        [long.len(), 2, long.len()]
    );
    // Replaced: its row reads nothing, and the buffer handed back is empty.
    kept.replace_incidents(
        "prod",
        minute(0),
        minute(10),
        None,
        vec![incident("prod", 0, 5, "i3")],
    )
    .await
    .expect("replace");
    let into = kept
        .incident_bodies_into(vec![heads[0].row, heads[1].row], into)
        .await
        .expect("bodies");
    assert!(into.is_empty());
}

/// A replacement keeping some incidents unchanged leaves the store as the same replacement
/// with them found again would: those kept stay (their rows too), the rest of what it covers
/// goes, `found` is stored. One kept that it does not cover fails it, and nothing changes.
pub async fn a_replacement_keeps_the_incidents_found_unchanged_as_stored(store: Arc<dyn Store>) {
    let kept = kept(&store);
    let bodies =
        |found: Vec<StoredIncident>| -> Vec<String> { found.into_iter().map(|i| i.body).collect() };
    let first = vec![
        incident("prod", 0, 5, "i1"),
        incident("prod", 6, 9, "i2"),
        incident("prod", 10, 30, "i3"),
    ];
    kept.replace_incidents("prod", minute(0), minute(30), None, first)
        .await
        .expect("replace");
    kept.replace_incidents(
        "dev",
        minute(0),
        minute(30),
        None,
        vec![incident("dev", 4, 6, "d1")],
    )
    .await
    .expect("replace");
    let rows = |heads: Vec<crate::IncidentHead>| -> Vec<(String, i64)> {
        heads.into_iter().map(|h| (h.head, h.row)).collect()
    };
    let before = rows(
        kept.incident_heads(Some("prod"), minute(0), minute(60))
            .await
            .expect("heads"),
    );
    // [6, 40]: i2 found again as stored, i3 changed (it grew), i5 new; i1 is before it.
    let replaced = Replaced {
        since: minute(6),
        until: minute(40),
        keep_before: None,
    };
    kept.replace_incidents_keeping(
        "prod",
        replaced,
        vec!["i2".into()],
        vec![
            incident("prod", 10, 35, "i3"),
            incident("prod", 36, 40, "i5"),
        ],
    )
    .await
    .expect("replace keeping");
    let after = kept
        .stored_incidents(None, minute(0), minute(60))
        .await
        .expect("read");
    assert_eq!(
        after,
        [
            incident("prod", 0, 5, "i1"),
            incident("dev", 4, 6, "d1"),
            incident("prod", 6, 9, "i2"),
            incident("prod", 10, 35, "i3"),
            incident("prod", 36, 40, "i5"),
        ]
    );
    // Those kept keep their rows.
    let heads = rows(
        kept.incident_heads(Some("prod"), minute(0), minute(9))
            .await
            .expect("heads"),
    );
    assert_eq!(heads, before[..2]);
    // One kept that the replacement does not cover (i1 ends before it): refused, nothing changed.
    let refused = kept
        .replace_incidents_keeping("prod", replaced, vec!["i1".into(), "i2".into()], Vec::new())
        .await;
    assert!(
        matches!(&refused, Err(Error::NotKept { cluster, id }) if cluster == "prod" && id == "i1"),
        "{refused:?}"
    );
    assert_eq!(
        bodies(
            kept.stored_incidents(None, minute(0), minute(60))
                .await
                .expect("read")
        ),
        ["i1", "d1", "i2", "i3", "i5"]
    );
}
