//! Bulk writes ([`EventSink::begin_bulk`](crate::EventSink::begin_bulk), what an import
//! uses): they commit what a plain write commits, into an empty store (where SQLite builds its
//! secondary and full-text indexes at commit) and into one that holds events.

use std::sync::Arc;

use kubetrail_model::{Category, EventFilter, Severity};

use super::{all, assert_rollups_match_occurrences, event, minute, sorted_uids, total};
use crate::Store;

fn search(s: &str) -> EventFilter {
    EventFilter {
        search: Some(s.into()),
        ..Default::default()
    }
}

pub async fn a_bulk_write_commits_what_a_plain_write_does_into_an_empty_store_and_a_full_one(
    store: Arc<dyn Store>,
) {
    // Rolled back: nothing stays, and the store works as before.
    {
        let mut txn = store.begin_bulk().await.expect("begin");
        txn.write(vec![event("gone", minute(5), 1)])
            .await
            .expect("write");
    }
    assert!(all(&store, EventFilter::default()).await.is_empty());

    let mut a = event("a", minute(10), 2);
    a.note = "container alpha is waiting".into();
    let mut b = event("b", minute(20), 1);
    b.namespace = "shop".into();
    b.reason = "FailedMount".into();
    b.note = "MountVolume.SetUp failed for volume config".into();
    b.category = Category::Storage;
    b.severity = Severity::Warning;
    let mut long = event("long", minute(100), 30);
    long.note = "readiness probe flapping".into();
    let mut txn = store.begin_bulk().await.expect("begin");
    let w = txn.write(vec![a.clone(), b.clone()]).await.expect("write");
    assert_eq!(w.summary.new, 2);
    // A later copy in the same transaction: a new count and a new note.
    a.count = 3;
    a.last_seen = minute(40);
    a.note = "container gamma was OOMKilled".into();
    let w = txn
        .write(vec![a.clone(), long.clone()])
        .await
        .expect("write");
    assert_eq!((w.summary.new, w.summary.updated), (1, 1));
    txn.commit().await.expect("commit");

    assert_eq!(
        sorted_uids(&all(&store, search("OOMKilled")).await),
        ["a"].into()
    );
    assert!(
        all(&store, search("alpha")).await.is_empty(),
        "the old note is not found"
    );
    assert_eq!(
        sorted_uids(&all(&store, search("volume")).await),
        ["b"].into()
    );
    let shop = EventFilter {
        namespaces: vec!["shop".into()],
        reasons: vec!["FailedMount".into()],
        ..Default::default()
    };
    assert_eq!(sorted_uids(&all(&store, shop).await), ["b"].into());
    let window = EventFilter {
        since: Some(minute(30)),
        until: Some(minute(45)),
        ..Default::default()
    };
    assert_eq!(sorted_uids(&all(&store, window).await), ["a"].into());
    let flapping = EventFilter {
        since: Some(minute(80)),
        until: Some(minute(85)),
        search: Some("flapping".into()),
        ..Default::default()
    };
    assert_eq!(sorted_uids(&all(&store, flapping).await), ["long"].into());
    assert_eq!(total(&store, None, None).await, 3 + 1 + 30);
    assert_rollups_match_occurrences(&store, &EventFilter::default()).await;

    // Into a store that holds events.
    let mut c = event("c", minute(50), 1);
    c.note = "delta node pressure".into();
    let mut txn = store.begin_bulk().await.expect("begin");
    txn.write(vec![c]).await.expect("write");
    txn.commit().await.expect("commit");
    assert_eq!(
        sorted_uids(&all(&store, search("delta")).await),
        ["c"].into()
    );
    assert_eq!(
        sorted_uids(&all(&store, search("OOMKilled")).await),
        ["a"].into()
    );
    assert_eq!(all(&store, EventFilter::default()).await.len(), 4);
}
