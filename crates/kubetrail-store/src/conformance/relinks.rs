//! Relinks: stored events get the correlation learned after them (see `kubetrail_model::Relink`).

use std::collections::BTreeMap;
use std::sync::Arc;

use kubetrail_model::{AggregateQuery, Dimension, Event, EventFilter, Owner, Relink};

use super::{all, event, minute};
use crate::Store;

fn pod_event(uid: &str, namespace: &str, pod: &str, correlation: &str, count: u64) -> Event {
    let mut e = event(uid, minute(30 + count as i64), count);
    e.namespace = namespace.into();
    e.regarding.namespace = namespace.into();
    e.regarding.name = pod.into();
    e.correlation_id = correlation.into();
    e
}

fn relink(pod: &str, kind: &str, to: &str, absorbs: Option<&str>) -> Relink {
    Relink {
        cluster: "prod".into(),
        namespace: "default".into(),
        kind: kind.into(),
        name: pod.into(),
        owner: Owner {
            kind: to.split('/').nth(1).unwrap_or_default().into(),
            name: to.rsplit('/').next().unwrap_or_default().into(),
        },
        correlation_id: to.into(),
        absorbs: absorbs.map(str::to_string),
    }
}

/// Occurrences per correlation ID, from the rollups (whole hours, grouped by correlation
/// only) and from raw occurrences (grouped by name too, which the rollups cannot answer).
async fn per_correlation(store: &Arc<dyn Store>) -> (BTreeMap<String, u64>, BTreeMap<String, u64>) {
    let filter = EventFilter {
        since: Some(minute(-60)),
        until: Some(minute(180)),
        ..EventFilter::default()
    };
    let by = |group_by: Vec<Dimension>| AggregateQuery {
        filter: filter.clone(),
        group_by,
        ..AggregateQuery::default()
    };
    let mut rolled = BTreeMap::new();
    for row in store
        .aggregate(&by(vec![Dimension::Correlation]))
        .await
        .expect("aggregate")
    {
        *rolled
            .entry(row.key[0].1.clone().unwrap_or_default())
            .or_insert(0) += row.count;
    }
    let mut raw = BTreeMap::new();
    let rows = store
        .aggregate(&by(vec![Dimension::Correlation, Dimension::Name]))
        .await
        .expect("aggregate");
    for row in rows {
        *raw.entry(row.key[0].1.clone().unwrap_or_default())
            .or_insert(0) += row.count;
    }
    (rolled, raw)
}

pub async fn a_relink_moves_an_objects_stored_events_and_their_counts_to_the_learned_owner(
    store: Arc<dyn Store>,
) {
    let mut txn = store.begin().await.expect("begin");
    txn.write(vec![
        // A DaemonSet's pod stored before the controller's event named it.
        pod_event("a", "default", "agent-x7k2p", "default/Workload/agent", 3),
        pod_event("b", "default", "agent-x7k2p", "default/Workload/agent", 2),
        // The same pod name in another namespace, and another pod of the same guess.
        pod_event("c", "other", "agent-x7k2p", "other/Workload/agent", 4),
        pod_event("d", "default", "agent-q9z8w", "default/Workload/agent", 1),
        // A ReplicaSet's pod, under the ReplicaSet while its Deployment was unknown.
        pod_event(
            "e",
            "default",
            "api-v2-abcde",
            "default/ReplicaSet/api-v2",
            5,
        ),
    ])
    .await
    .expect("write");
    let moved = txn
        .relink(vec![
            relink("agent-x7k2p", "Pod", "default/DaemonSet/agent", None),
            relink(
                "api-v2",
                "ReplicaSet",
                "default/Deployment/api",
                Some("default/ReplicaSet/api-v2"),
            ),
        ])
        .await
        .expect("relink");
    txn.commit().await.expect("commit");
    assert_eq!(moved, 3, "a, b and e move");

    let stored: BTreeMap<String, (String, Option<Owner>)> = all(&store, EventFilter::default())
        .await
        .into_iter()
        .map(|s| (s.event.uid, (s.event.correlation_id, s.event.owner)))
        .collect();
    let daemonset = Some(Owner {
        kind: "DaemonSet".into(),
        name: "agent".into(),
    });
    assert_eq!(
        stored["a"],
        ("default/DaemonSet/agent".into(), daemonset.clone())
    );
    assert_eq!(stored["b"], ("default/DaemonSet/agent".into(), daemonset));
    assert_eq!(
        stored["c"].0, "other/Workload/agent",
        "never across namespaces"
    );
    assert_eq!(
        stored["d"].0, "default/Workload/agent",
        "only the named pod"
    );
    assert_eq!(stored["e"].0, "default/Deployment/api");

    let (rolled, raw) = per_correlation(&store).await;
    let expected: BTreeMap<String, u64> = [
        ("default/DaemonSet/agent", 5),
        ("default/Deployment/api", 5),
        ("default/Workload/agent", 1),
        ("other/Workload/agent", 4),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(rolled, expected, "the rollups follow");
    assert_eq!(raw, expected);

    // Applied again, nothing is left to move.
    let mut txn = store.begin().await.expect("begin");
    let again = txn
        .relink(vec![relink(
            "agent-x7k2p",
            "Pod",
            "default/DaemonSet/agent",
            None,
        )])
        .await
        .expect("relink");
    txn.commit().await.expect("commit");
    assert_eq!(again, 0);
}
