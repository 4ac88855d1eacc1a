//! Issue 13, §2.5: correlation does not depend on the order of the input. Dumps are often
//! sorted by name, so a DaemonSet's pods come before the controller's `SuccessfulCreate` that
//! names them, and a static pod's mirror pod before its Node; the store back-fills the earlier
//! events when the link is learned (`Processor::take_relinks`, `StoreTxn::relink`).

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{Kt, real};
use proptest::prelude::*;
use serde::Deserialize;
use serde_json::Value;

/// The OpenShift must-gather: its namespaces' events as `kubectl get events -o yaml` lists
/// them, by name (so a pod's `<pod>.<hash>` events before its DaemonSet's `<ds>.<hash>`), with
/// DaemonSets, StatefulSets and static pods on six nodes.
const OPENSHIFT: &str = "openshift-must-gather-aws-4.8.events.yaml";

/// Every Event object of a dump (a multi-document YAML of Lists, or one JSON List).
fn items(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut out = Vec::new();
    for doc in yaml_serde::Deserializer::from_str(&text) {
        let v = Value::deserialize(doc).unwrap();
        if let Some(items) = v.get("items").and_then(Value::as_array) {
            out.extend(items.iter().cloned());
        }
    }
    out
}

/// A store with `events` imported as one JSON List, in that order.
fn imported(events: &[Value]) -> Kt {
    let kt = Kt::new();
    let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": events});
    let file = kt.file("dump.json", serde_json::to_vec(&list).unwrap());
    kt.import(&[&file]);
    kt
}

/// uid → correlation ID of every stored event. (Not the owner: a mirror pod's events stored
/// before its node was known keep no owner when their correlation, the pod itself, stays.)
fn correlations(kt: &Kt) -> BTreeMap<String, String> {
    let db = rusqlite::Connection::open(kt.data.path().join("data/kubetrail.db")).unwrap();
    let mut st = db
        .prepare("SELECT uid, correlation_id FROM events")
        .unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// The incidents over the whole store, as what they say: subject, root cause, objects, counts.
fn incidents(kt: &Kt) -> Vec<String> {
    let found = kt.json(&["incidents", "--since", "all", "-o", "json"]);
    let mut out: Vec<String> = found
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let mut objects: Vec<&str> = i["objects"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o.as_str().unwrap())
                .collect();
            objects.sort();
            format!(
                "{} {} {} at {} on {} ({} events, {} affected) {objects:?}",
                i["id"],
                i["subject"],
                i["root_cause"]["reason"],
                i["start"],
                i["root_cause"]["object"],
                i["event_count"],
                i["affected"].as_array().map_or(0, Vec::len),
            )
        })
        .collect();
    out.sort();
    out
}

fn event_name(e: &Value) -> &str {
    e["metadata"]["name"].as_str().unwrap_or_default()
}

fn by_time(events: &mut [Value]) {
    events.sort_by(|a, b| {
        let t = |e: &Value| {
            e["lastTimestamp"]
                .as_str()
                .or(e["eventTime"].as_str())
                .unwrap_or_default()
                .to_string()
        };
        t(a).cmp(&t(b))
            .then_with(|| event_name(a).cmp(event_name(b)))
    });
}

/// The dump as the must-gather holds it (sorted by name) and the same events in time order
/// give the same correlation and the same incidents.
#[test]
fn a_name_sorted_dump_and_the_same_events_in_time_order_correlate_alike() {
    let original = items(&real(OPENSHIFT));
    let mut in_time = original.clone();
    by_time(&mut in_time);
    let (a, b) = (imported(&original), imported(&in_time));
    let (ca, cb) = (correlations(&a), correlations(&b));
    assert_eq!(ca.len(), original.len());
    let differ: Vec<_> = ca
        .iter()
        .filter(|(uid, c)| cb.get(*uid) != Some(c))
        .map(|(uid, c)| (uid, c, cb.get(uid)))
        .take(10)
        .collect();
    assert!(differ.is_empty(), "{differ:#?}");
    assert_eq!(incidents(&a), incidents(&b));
}

/// Issue 13, §2.5: `explain NS/DaemonSet/X` sees its pods' failures when the pods' events come
/// before the DaemonSet's (as in the must-gather, sorted by name). Failed before the relinks:
/// the pods' events were stored under the guess `Workload/controller-manager`.
#[test]
fn explain_a_daemonset_of_a_name_sorted_dump_sees_its_pods_failures() {
    let kt = imported(&items(&real(OPENSHIFT)));
    let story = kt.json(&[
        "explain",
        "openshift-controller-manager/DaemonSet/controller-manager",
        "-o",
        "json",
    ]);
    let pods_failing: Vec<&str> = story["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["object"]
                .as_str()
                .is_some_and(|o| o.contains("/Pod/controller-manager-"))
                && e["severity"] != "info"
        })
        .filter_map(|e| e["reason"].as_str())
        .collect();
    assert!(pods_failing.contains(&"FailedMount"), "{story:#}");
    let correlations = correlations(&kt);
    assert!(
        !correlations
            .values()
            .any(|c| c == "openshift-controller-manager/Workload/controller-manager"),
        "no pod of the DaemonSet is left under a guess"
    );
    // A static pod is owned by its node and correlated as itself (its component on that node),
    // not to a made-up StatefulSet or workload.
    let db = rusqlite::Connection::open(kt.data.path().join("data/kubetrail.db")).unwrap();
    let mirror: Vec<String> = db
        .prepare("SELECT DISTINCT correlation_id || ' ' || owner_kind || '/' || owner_name FROM events WHERE reg_name = ?1")
        .unwrap()
        .query_map(["etcd-ip-10-0-195-177.ec2.internal"], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        mirror,
        ["openshift-etcd/Pod/etcd-ip-10-0-195-177.ec2.internal Node/ip-10-0-195-177.ec2.internal"]
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2, ..ProptestConfig::default() })]

    /// Any order of a real dump's events gives the same correlation and incidents as time
    /// order (a troubleshoot bundle's kube-system: a DaemonSet, static pods, a Deployment).
    #[test]
    fn shuffled_events_of_a_real_dump_correlate_as_in_time_order(
        order in Just(items(&real("troubleshoot__e2e-baseline-bundle__kube-system.events.json")))
            .prop_shuffle()
    ) {
        let mut in_time = order.clone();
        by_time(&mut in_time);
        let (a, b) = (imported(&order), imported(&in_time));
        prop_assert_eq!(correlations(&a), correlations(&b));
        prop_assert_eq!(incidents(&a), incidents(&b));
    }
}
