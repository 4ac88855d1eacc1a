//! Issue 13, §3: the simulator's cluster-wide scenarios, each run in a simulator of its own,
//! its Events imported as a dump, and the incident the engine opens (or not) asserted.

mod common;

use common::Kt;
use k8s_openapi::api::events::v1::Event;
use kubetrail_sim::{Pace, Scenario, Simulator, run_scenario};
use serde_json::Value;

/// Runs `scenario` alone and imports its Events as one `events.k8s.io/v1` list: in the order
/// they were written, or sorted by name as `kubectl get events` and most dumps list them.
async fn imported(scenario: Scenario, by_name: bool) -> Kt {
    let sim = Simulator::start().await.expect("simulator");
    run_scenario(&sim, scenario, Pace::instant())
        .await
        .expect("scenario");
    let mut events = sim.list::<Event>(None).expect("events");
    sim.shutdown().await;
    let version = |e: &Event| {
        e.metadata
            .resource_version
            .as_deref()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    if by_name {
        events.sort_by(|a, b| {
            (&a.metadata.namespace, &a.metadata.name)
                .cmp(&(&b.metadata.namespace, &b.metadata.name))
        });
    } else {
        events.sort_by_key(version);
    }
    let kt = Kt::new();
    let list =
        serde_json::json!({"apiVersion": "events.k8s.io/v1", "kind": "EventList", "items": events});
    let file = kt.file("events.json", serde_json::to_vec(&list).expect("json"));
    kt.import(&[&file]);
    kt
}

fn incidents(kt: &Kt) -> Vec<Value> {
    let found = kt.json(&["incidents", "--since", "all", "-o", "json"]);
    found.as_array().expect("a list").clone()
}

fn workloads(incident: &Value) -> Vec<&str> {
    incident["affected"]
        .as_array()
        .expect("affected")
        .iter()
        .map(|a| a["workload"].as_str().expect("a workload"))
        .collect()
}

/// A fresh cluster with no ready node: one cluster-wide incident rooted in the node not being
/// ready, naming the workloads that wait, not one per workload.
#[tokio::test]
async fn no_ready_node_at_start_is_one_cluster_wide_incident() {
    let kt = imported(Scenario::NoReadyNode, false).await;
    let found = incidents(&kt);
    assert_eq!(found.len(), 1, "{found:#?}");
    let i = &found[0];
    assert_eq!(i["subject"], "Cluster/no-ready-node", "{i:#}");
    assert_eq!(i["cluster_wide"], true);
    assert_eq!(i["root_cause"]["reason"], "NodeNotReady", "{i:#}");
    let hit = workloads(i);
    for w in [
        "kube-system/Deployment/coredns",
        "local-path-storage/Deployment/local-path-provisioner",
    ] {
        assert!(hit.contains(&w), "{w} not in {hit:?}");
    }
    // `explain` of one waiting workload shows the incident's cause and every workload it hit,
    // one line each with counts, under the incident's own window.
    let text = kt.table(&["explain", "kube-system/Deployment/coredns", "-o", "table"]);
    assert!(
        text.contains("cause: NodeNotReady on kube-system/Pod/"),
        "{text}"
    );
    assert!(text.contains("workloads hit ("), "{text}");
    assert!(
        text.contains("        local-path-storage/Deployment/local-path-provisioner  1 objects, "),
        "{text}"
    );
    assert!(
        text.contains("        kube-system/Deployment/coredns  2 objects, "),
        "{text}"
    );
}

/// The API server restarts and three operators crash-loop together: one incident rooted in
/// the API server's failure, the operators listed as hit.
#[tokio::test]
async fn a_control_plane_restart_is_one_incident_rooted_in_the_api_server() {
    let kt = imported(Scenario::ControlPlaneRestart, false).await;
    let found = incidents(&kt);
    assert_eq!(found.len(), 1, "{found:#?}");
    let i = &found[0];
    assert_eq!(i["subject"], "Cluster/control-plane-disruption", "{i:#}");
    assert_eq!(
        i["root_cause"]["object"], "kube-system/Pod/kube-apiserver-control-plane",
        "{i:#}"
    );
    let hit = workloads(i);
    for w in [
        "cert-manager/Deployment/cert-manager",
        "ingress-nginx/Deployment/ingress-nginx-controller",
        "monitoring/Deployment/prometheus-operator",
    ] {
        assert!(hit.contains(&w), "{w} not in {hit:?}");
    }
}

/// The kubelet's `kube-root-ca.crt ... not registered` race on pods that then complete or
/// run: no incident, and the events are still stored and found.
#[tokio::test]
async fn the_root_ca_mount_race_on_pods_that_start_is_no_incident_but_stays_queryable() {
    let kt = imported(Scenario::RootCaRace, false).await;
    let found = incidents(&kt);
    assert!(found.is_empty(), "{found:#?}");
    let mounts = kt.json(&[
        "query",
        "--since",
        "all",
        "--reason",
        "FailedMount",
        "-o",
        "json",
    ]);
    let mounts = mounts.as_array().expect("a list");
    assert_eq!(mounts.len(), 2, "{mounts:#?}");
    assert!(mounts.iter().all(|e| {
        e["note"]
            .as_str()
            .is_some_and(|n| n.contains("\"jobs\"/\"kube-root-ca.crt\" not registered"))
    }));
}

/// A DaemonSet rollout read back sorted by name (its pods' events first): `explain` on the
/// DaemonSet sees its pods' crash loops.
#[tokio::test]
async fn explain_a_daemonset_of_a_name_sorted_rollout_sees_its_pods_failures() {
    let kt = imported(Scenario::DaemonSetRollout, true).await;
    let story = kt.json(&["explain", "logging/DaemonSet/node-agent", "-o", "json"]);
    let backoffs = story["timeline"]
        .as_array()
        .expect("a timeline")
        .iter()
        .filter(|e| {
            e["reason"] == "BackOff"
                && e["object"]
                    .as_str()
                    .is_some_and(|o| o.starts_with("logging/Pod/node-agent-"))
        })
        .count();
    assert_eq!(backoffs, 3, "{story:#}");
    assert_eq!(story["root_cause"]["rule"], "crash-loop", "{story:#}");
    let found = incidents(&kt);
    assert!(
        found
            .iter()
            .any(|i| i["subject"] == "logging/DaemonSet/node-agent"),
        "{found:#?}"
    );
}
