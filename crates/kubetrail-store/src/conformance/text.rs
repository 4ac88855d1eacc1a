//! Text every backend holds the same way (issue 11, item 2: a NUL in a note, or a 1 MB reason,
//! made every PostgreSQL write of its batch fail and wedged the live pipeline): a NUL is stored
//! as the symbol `␀` (U+2400) and over-long fields are cut with a visible marker, on SQLite and
//! PostgreSQL alike.

use std::collections::BTreeMap;
use std::sync::Arc;

use kubetrail_model::{AggregateQuery, Dimension, EventFilter};

use super::{all, event, minute, write};
use crate::Store;

pub async fn a_nul_in_any_text_is_stored_as_the_nul_symbol_on_every_backend(store: Arc<dyn Store>) {
    let mut e = event("nul\0uid", minute(10), 2);
    e.note = "exit code 1\0 then \0\0 more".into();
    e.reason = "Back\0Off".into();
    e.regarding.name = "web\0-1".into();
    e.labels = BTreeMap::from([("team\0".into(), "sh\0op".into())]);
    let clean = event("clean", minute(20), 1);
    let s = write(&store, vec![e, clean]).await;
    assert_eq!(s.new, 2, "both events of the batch are stored: {s:?}");

    let stored = all(&store, EventFilter::default()).await;
    let got = &stored[1].event;
    assert_eq!(got.uid, "nul\u{2400}uid");
    assert_eq!(got.note, "exit code 1\u{2400} then \u{2400}\u{2400} more");
    assert_eq!(got.reason, "Back\u{2400}Off");
    assert_eq!(got.regarding.name, "web\u{2400}-1");
    assert_eq!(
        got.labels,
        BTreeMap::from([("team\u{2400}".to_string(), "sh\u{2400}op".to_string())])
    );
    // Found by the stored text, and written again without a second copy.
    let by_reason = all(
        &store,
        EventFilter {
            reasons: vec!["Back\u{2400}Off".into()],
            ..EventFilter::default()
        },
    )
    .await;
    assert_eq!(by_reason.len(), 1);
    let mut again = got.clone();
    again.note = "exit code 1\0 then \0\0 more".into();
    again.uid = "nul\0uid".into();
    again.count = 3;
    let s = write(&store, vec![again]).await;
    assert_eq!((s.new, s.updated), (0, 1), "{s:?}");
}

pub async fn a_megabyte_reason_and_a_note_over_a_megabyte_are_stored_cut_with_a_marker(
    store: Arc<dyn Store>,
) {
    let mut e = event("big", minute(10), 1);
    e.reason = "R".repeat(1 << 20);
    // Distinct words: the note's search text alone would pass PostgreSQL's 1 MB tsvector limit.
    e.note = (0..160_000).map(|i| format!("w{i:06} ")).collect();
    assert!(e.note.len() > 1 << 20);
    e.regarding.name = "p".repeat(10_000);
    e.correlation_id = "c".repeat(10_000);
    let s = write(&store, vec![e, event("small", minute(20), 1)]).await;
    assert_eq!(s.new, 2, "{s:?}");

    let stored = all(&store, EventFilter::default()).await;
    let got = &stored[1].event;
    assert_eq!(got.uid, "big");
    let reason_marker = format!("…[truncated from {} bytes]", 1 << 20);
    assert!(got.reason.len() <= 256, "{}", got.reason.len());
    assert!(got.reason.starts_with("RRRR"));
    assert!(got.reason.ends_with(&reason_marker), "{}", got.reason);
    assert!(got.note.len() <= 128 * 1024, "{}", got.note.len());
    assert!(got.note.starts_with("w000000 w000001 "));
    assert!(
        got.note.ends_with(" bytes]"),
        "{}",
        &got.note[got.note.len() - 40..]
    );
    assert!(got.regarding.name.len() <= 253);
    assert!(
        got.regarding
            .name
            .ends_with("…[truncated from 10000 bytes]")
    );
    assert!(got.correlation_id.len() <= 1024);

    // The cut text is what queries and aggregations see.
    let q = AggregateQuery {
        group_by: vec![Dimension::Reason],
        ..AggregateQuery::default()
    };
    let rows = store.aggregate(&q).await.expect("aggregate");
    assert!(
        rows.iter()
            .any(|r| r.key[0].1.as_deref() == Some(got.reason.as_str()) && r.count == 1),
        "{rows:?}"
    );
    let found = all(
        &store,
        EventFilter {
            search: Some("w000001".into()),
            ..EventFilter::default()
        },
    )
    .await;
    assert_eq!(found.len(), 1);
}
