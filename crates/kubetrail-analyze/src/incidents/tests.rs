//! Hand-built event sequences for every causal rule, each with the case it must not match.

use super::*;
use crate::testing::{about, at, node_event, pod_normal, pod_warning};

const WEB: &str = "web-7d9f8b6c4-x2x9z";
const API: &str = "api-5c9b7d8f6d-4kqzv";

fn run(events: Vec<AnalysisOccurrences>, until: i64) -> Vec<Incident> {
    let window = Window::new(at(-24 * 60), at(until)).unwrap();
    incidents(&events, window, &IncidentConfig::default()).unwrap()
}

fn only(incidents: &[Incident]) -> &Incident {
    assert_eq!(incidents.len(), 1, "{incidents:#?}");
    &incidents[0]
}

fn by_subject<'a>(incidents: &'a [Incident], subject: &str) -> &'a Incident {
    incidents
        .iter()
        .find(|i| i.subject == subject)
        .unwrap_or_else(|| panic!("no incident about {subject} in {incidents:#?}"))
}

fn started(pod: &str, node: &str, m: i64) -> AnalysisOccurrences {
    pod_normal("shop", pod, "Started", "Started container app")
        .container("app")
        .by_kubelet(node)
        .at(m)
        .build()
}

fn failed_mount(pod: &str, node: &str) -> Vec<AnalysisOccurrences> {
    vec![
        pod_warning(
            "shop",
            pod,
            "FailedMount",
            r#"Unable to attach or mount volumes: unmounted volumes=[data], unattached volumes=[data kube-api-access-xddvj]: timed out waiting for the condition"#,
        )
        .by_kubelet(node)
        .span(2, 30, 14)
        .build(),
        pod_warning(
            "shop",
            pod,
            "FailedMount",
            r#"MountVolume.SetUp failed for volume "data" : rpc error: code = Internal desc = volume not attached"#,
        )
        .by_kubelet(node)
        .span(0, 30, 20)
        .build(),
    ]
}

fn image_pull(pod: &str, node: &str) -> Vec<AnalysisOccurrences> {
    let w = |reason: &str, note: &str| {
        pod_warning("shop", pod, reason, note)
            .container("app")
            .by_kubelet(node)
    };
    vec![
        pod_normal("shop", pod, "BackOff", r#"Back-off pulling image "registry.local/web:v2""#)
            .container("app")
            .by_kubelet(node)
            .span(1, 30, 40)
            .build(),
        w(
            "Failed",
            r#"Failed to pull image "registry.local/web:v2": rpc error: code = NotFound desc = manifest unknown"#,
        )
        .span(2, 25, 5)
        .build(),
        w("Failed", "Error: ErrImagePull").span(2, 25, 5).build(),
        w("Failed", "Error: ImagePullBackOff").span(2, 30, 30).build(),
    ]
}

#[test]
fn a_failed_mount_of_a_pod_that_never_starts_is_the_root_cause() {
    let found = run(failed_mount(WEB, "node-a"), 40);
    let i = only(&found);
    assert_eq!(i.subject, "shop/Deployment/web");
    assert_eq!(i.root_cause.rule, "failed-mount");
    assert_eq!(i.root_cause.reason, "FailedMount");
    assert!(
        i.root_cause
            .message
            .starts_with("MountVolume.SetUp failed for volume \"data\"")
    );
    assert!(
        i.root_cause
            .hint
            .contains("PersistentVolumeClaim behind volume data")
    );
    assert!(
        i.root_cause
            .evidence
            .iter()
            .any(|e| e.contains("no container"))
    );
    assert_eq!(i.severity, Severity::Error);
    assert_eq!(i.status, Status::Ongoing);
    assert_eq!(i.event_count, 34);
    assert_eq!(i.objects, [format!("shop/Pod/{WEB}")]);
    assert_eq!(i.nodes, ["node-a"]);
    assert_eq!(i.timeline.len(), 2);
    assert_eq!(i.timeline[0].first_seen, at(0), "oldest first");
}

#[test]
fn a_failed_mount_the_pod_got_past_is_not_a_stuck_pod() {
    let mut events = failed_mount(WEB, "node-a");
    events.push(started(WEB, "node-a", 31));
    events.push(
        pod_warning(
            "shop",
            WEB,
            "BackOff",
            "Back-off restarting failed container",
        )
        .container("app")
        .by_kubelet("node-a")
        .at(32)
        .build(),
    );
    let i = only(&run(events, 40)).clone();
    assert_ne!(i.root_cause.rule, "failed-mount");
}

#[test]
fn an_image_pull_failure_names_the_detailed_error_as_root() {
    let i = &run(image_pull(WEB, "node-a"), 40)[0];
    assert_eq!(i.root_cause.rule, "image-pull");
    assert!(
        i.root_cause.message.contains("manifest unknown"),
        "{:?}",
        i.root_cause
    );
    assert!(
        i.root_cause
            .hint
            .contains("image registry.local/web:v2 exists")
    );
    assert!(
        i.root_cause
            .evidence
            .iter()
            .any(|e| e.contains("1 pods could not pull"))
    );
}

#[test]
fn liveness_failures_then_kills_then_backoff_are_one_chain() {
    let events = vec![
        pod_warning(
            "shop",
            WEB,
            "Unhealthy",
            "Liveness probe failed: HTTP probe failed with statuscode: 500",
        )
        .container("app")
        .span(0, 10, 9)
        .build(),
        pod_normal(
            "shop",
            WEB,
            "Killing",
            "Container app failed liveness probe, will be restarted",
        )
        .container("app")
        .span(1, 10, 3)
        .build(),
        pod_warning(
            "shop",
            WEB,
            "BackOff",
            "Back-off restarting failed container app in pod web",
        )
        .container("app")
        .span(3, 20, 12)
        .build(),
    ];
    let found = run(events, 25);
    let i = only(&found);
    assert_eq!(i.root_cause.rule, "liveness-restart");
    assert_eq!(i.root_cause.reason, "Unhealthy");
    assert!(
        i.root_cause
            .hint
            .contains("liveness probe of container app")
    );
    assert_eq!(
        i.root_cause.evidence.len(),
        3,
        "{:?}",
        i.root_cause.evidence
    );
}

#[test]
fn a_readiness_failure_with_a_crash_loop_of_the_same_container_is_a_crash_loop() {
    let events = vec![
        pod_warning("shop", WEB, "Unhealthy", "Readiness probe failed: 503")
            .container("app")
            .span(0, 10, 9)
            .build(),
        pod_warning(
            "shop",
            WEB,
            "Failed",
            r#"Error: failed to start container "app": exec: "wge": executable file not found in $PATH"#,
        )
        .container("app")
        .span(1, 10, 4)
        .build(),
        pod_warning("shop", WEB, "BackOff", "Back-off restarting failed container")
            .container("app")
            .span(2, 20, 12)
            .build(),
    ];
    let found = run(events, 25);
    let i = only(&found);
    assert_eq!(i.root_cause.rule, "crash-loop");
    assert!(i.root_cause.message.contains("executable file not found"));
}

#[test]
fn a_sidecar_not_ready_before_its_app_fails_is_the_root() {
    let events = vec![
        pod_warning(
            "shop",
            WEB,
            "Unhealthy",
            "Readiness probe failed: connection refused",
        )
        .init_container("proxy")
        .span(0, 5, 5)
        .build(),
        pod_warning(
            "shop",
            WEB,
            "BackOff",
            "Back-off restarting failed container app in pod web",
        )
        .container("app")
        .span(2, 20, 12)
        .build(),
    ];
    let found = run(events, 25);
    let i = only(&found);
    assert_eq!(i.root_cause.rule, "sidecar-not-ready");
    assert!(i.root_cause.evidence[0].contains("container proxy not ready first"));
    // The app failing first is not the sidecar's fault.
    let events = vec![
        pod_warning(
            "shop",
            WEB,
            "Unhealthy",
            "Readiness probe failed: connection refused",
        )
        .init_container("proxy")
        .span(5, 6, 2)
        .build(),
        pod_warning(
            "shop",
            WEB,
            "BackOff",
            "Back-off restarting failed container app in pod web",
        )
        .container("app")
        .span(2, 20, 12)
        .build(),
    ];
    assert_eq!(only(&run(events, 25)).root_cause.rule, "crash-loop");
}

#[test]
fn a_node_oom_kill_explains_crash_loops_on_that_node_only_soon_after() {
    let backoff = |pod: &str, node: &str, m: i64| {
        pod_warning(
            "shop",
            pod,
            "BackOff",
            "Back-off restarting failed container app in pod x",
        )
        .container("app")
        .by_kubelet(node)
        .span(m, m + 5, 4)
        .build()
    };
    let events = vec![
        node_event(
            "node-a",
            "Warning",
            "OOMKilling",
            "Out of memory: Killed process 1234 (java)",
        )
        .at(10)
        .build(),
        backoff(WEB, "node-a", 12),
        backoff(API, "node-a", 13),
        backoff("db-6d8f9b7c5d-qwzxv", "node-b", 12),
        backoff("cache-6d8f9b7c5d-qwzxv", "node-a", 40),
    ];
    let found = run(events, 50);
    assert_eq!(found.len(), 3, "{found:#?}");
    let node = by_subject(&found, "Node/node-a");
    assert_eq!(node.root_cause.rule, "node-oom");
    assert_eq!(node.root_cause.reason, "OOMKilling");
    assert_eq!(node.severity, Severity::Critical);
    assert!(node.objects.contains(&format!("shop/Pod/{WEB}")));
    assert!(node.objects.contains(&format!("shop/Pod/{API}")));
    assert!(node.root_cause.hint.contains("ran out of memory"));
    // Another node, and too late: their own crash loops.
    assert_eq!(
        by_subject(&found, "shop/Deployment/db").root_cause.rule,
        "crash-loop"
    );
    assert_eq!(
        by_subject(&found, "shop/Deployment/cache").root_cause.rule,
        "crash-loop"
    );
}

fn not_ready_then_evicted(ready_at: Option<i64>) -> Vec<Incident> {
    let mut events = vec![
        started(WEB, "node-a", -60),
        node_event(
            "node-a",
            "Normal",
            "NodeNotReady",
            "Node node-a status is now: NodeNotReady",
        )
        .at(0)
        .build(),
        pod_normal(
            "shop",
            WEB,
            "TaintManagerEviction",
            &format!("Marking for deletion Pod shop/{WEB}"),
        )
        .at(6)
        .build(),
    ];
    if let Some(m) = ready_at {
        events.push(
            node_event(
                "node-a",
                "Normal",
                "NodeReady",
                "Node node-a status is now: NodeReady",
            )
            .at(m)
            .build(),
        );
    }
    run(events, 20)
}

#[test]
fn a_node_not_ready_explains_the_eviction_of_its_pods() {
    let found = not_ready_then_evicted(None);
    let i = only(&found);
    assert_eq!(i.subject, "Node/node-a");
    assert_eq!(i.root_cause.rule, "node-condition-evictions");
    assert_eq!(i.root_cause.reason, "NodeNotReady");
    assert!(i.objects.contains(&format!("shop/Pod/{WEB}")));
    assert!(i.root_cause.hint.contains("kubectl describe node node-a"));
}

#[test]
fn a_node_ready_again_before_an_eviction_does_not_explain_it() {
    let found = not_ready_then_evicted(Some(2));
    assert_eq!(found.len(), 2, "{found:#?}");
    let node = by_subject(&found, "Node/node-a");
    assert_eq!(node.root_cause.rule, "node-condition");
    assert_eq!(node.status, Status::Resolved, "the node is ready again");
    assert_eq!(
        by_subject(&not_ready_then_evicted(None), "Node/node-a").status,
        Status::Ongoing
    );
    let web = by_subject(&found, "shop/Deployment/web");
    assert_eq!(web.root_cause.rule, "taint-not-tolerated");
    // Ready in the same second as NotReady (a kubelet restart) counts as ready, and is no
    // incident of its own (the kubelet's start-up blip, `evidence::NODE_BLIP`).
    let blip = not_ready_then_evicted(Some(0));
    assert_eq!(
        only(&blip).root_cause.rule,
        "taint-not-tolerated",
        "{blip:#?}"
    );
}

#[test]
fn insufficient_resources_name_the_resource() {
    let events = vec![
        pod_warning(
            "shop",
            WEB,
            "FailedScheduling",
            "0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.",
        )
        .span(0, 10, 6)
        .build(),
    ];
    let found = run(events, 20);
    let i = only(&found);
    assert_eq!(i.root_cause.rule, "insufficient-resources");
    assert!(i.root_cause.hint.contains("enough free memory"));
    let events = vec![
        pod_warning(
            "shop",
            WEB,
            "FailedScheduling",
            "0/3 nodes are available: 3 node(s) had untolerated taint {node-role.kubernetes.io/master: }.",
        )
        .span(0, 10, 6)
        .build(),
    ];
    assert_eq!(only(&run(events, 20)).root_cause.rule, "unschedulable");
}

#[test]
fn two_unrelated_failures_on_one_node_at_the_same_time_stay_apart() {
    let mut events = failed_mount(WEB, "node-a");
    events.extend(image_pull(API, "node-a"));
    let found = run(events, 40);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert_eq!(
        by_subject(&found, "shop/Deployment/web").root_cause.rule,
        "failed-mount"
    );
    assert_eq!(
        by_subject(&found, "shop/Deployment/api").root_cause.rule,
        "image-pull"
    );
    assert_ne!(found[0].id, found[1].id);
}

#[test]
fn silence_longer_than_the_quiet_period_splits_and_resolves() {
    let crash = |first: i64, last: i64| {
        pod_warning(
            "shop",
            WEB,
            "BackOff",
            "Back-off restarting failed container app in pod web",
        )
        .container("app")
        .span(first, last, 5)
        .build()
    };
    let mut found = run(vec![crash(0, 10), crash(60, 70)], 75);
    assert_eq!(found.len(), 2, "{found:#?}");
    found.sort_by_key(|i| i.start);
    assert_eq!(found[0].status, Status::Resolved);
    assert_eq!(found[1].status, Status::Ongoing);
    assert_eq!((found[0].start, found[0].end), (at(0), at(10)));
    // A gap shorter than the quiet period is one incident.
    assert_eq!(run(vec![crash(0, 10), crash(30, 40)], 75).len(), 1);
}

#[test]
fn ids_do_not_change_from_one_run_to_the_next() {
    let a = run(image_pull(WEB, "node-a"), 40);
    let b = run(image_pull(WEB, "node-a"), 90);
    assert_eq!(a[0].id, b[0].id);
    assert_eq!(b[0].status, Status::Resolved);
}

#[test]
fn info_events_alone_make_no_incident() {
    let events = vec![started(WEB, "node-a", 0)];
    assert!(run(events, 10).is_empty());
}

/// Bug (issue 16): an incident at the end of last year's imported bundle was "ongoing", since
/// the window ends at the bundle's newest event; ongoing means failing within the quiet period
/// before the time of asking.
#[test]
fn an_incident_in_an_old_bundle_is_not_ongoing_when_asked_a_year_later() {
    let window = Window::new(at(-24 * 60), at(40)).unwrap();
    let cfg = IncidentConfig::default();
    let found = incidents(&failed_mount(WEB, "node-a"), window, &cfg).unwrap();
    assert_eq!(
        only(&found).status,
        Status::Ongoing,
        "asked at the window's end"
    );
    let later = IncidentConfig {
        now: Some(at(365 * 24 * 60)),
        ..IncidentConfig::default()
    };
    let found = incidents(&failed_mount(WEB, "node-a"), window, &later).unwrap();
    assert_eq!(only(&found).status, Status::Resolved);
}

/// Issue 13, 2.3: a mount that failed until the container started is not a failure episode
/// (on real dumps: secrets and kube-root-ca.crt not there yet for a few seconds at start).
#[test]
fn a_failed_mount_healed_by_a_started_container_opens_no_incident() {
    let mut events = failed_mount(WEB, "node-a");
    events.push(started(WEB, "node-a", 31));
    assert_eq!(run(events, 40), Vec::<Incident>::new());
}

/// The same mount failure without a start after it stays an incident, and a start before the
/// last failure does not heal it.
/// Bug (issue 13, splits): a DaemonSet's pods waiting a minute for a Secret not created yet
/// (`FailedMount`), then pulling their image, were kept as an incident because the dump had
/// lost their `Started`, and that incident split the CNI-not-ready failure of the same pods.
/// The kubelet pulls images only once the pod's volumes are mounted, so `Pulling`,
/// `Pulled` or `Created` after the last `FailedMount` shows the pod got past it; this test
/// failed before the fix (one incident).
#[test]
fn a_failed_mount_followed_by_the_image_pull_opens_no_incident() {
    let mut events = failed_mount(WEB, "node-a");
    events.push(
        pod_normal(
            "shop",
            WEB,
            "Pulling",
            r#"Pulling image "registry.local/web:v2""#,
        )
        .container("app")
        .by_kubelet("node-a")
        .at(31)
        .build(),
    );
    assert_eq!(run(events, 40), Vec::<Incident>::new());
}

#[test]
fn a_failed_mount_still_failing_after_a_start_stays_an_incident() {
    let mut events = failed_mount(WEB, "node-a");
    events.push(started(WEB, "node-a", 10));
    assert_eq!(run(events, 40).len(), 1);
}

/// Issue 13, 2.2: a workload Pending for lack of a node, scheduled once a node is ready, and
/// crash-looping twenty minutes later after the control plane moved, had two failure
/// episodes with their own root causes, not one incident under the first cause.
#[test]
fn a_different_cause_after_the_first_healed_is_a_new_episode() {
    let events = vec![
        pod_warning(
            "shop",
            WEB,
            "FailedScheduling",
            "no nodes available to schedule pods",
        )
        .span(0, 5, 3)
        .build(),
        pod_normal(
            "shop",
            WEB,
            "Scheduled",
            "Successfully assigned shop/web to node-a",
        )
        .at(6)
        .build(),
        started(WEB, "node-a", 7),
        pod_warning(
            "shop",
            WEB,
            "BackOff",
            "Back-off restarting failed container",
        )
        .container("app")
        .by_kubelet("node-a")
        .span(26, 28, 4)
        .build(),
    ];
    let found = run(events, 40);
    assert_eq!(found.len(), 2, "{found:#?}");
    let mut rules: Vec<&str> = found.iter().map(|i| i.root_cause.rule.as_str()).collect();
    rules.sort();
    assert_eq!(rules, ["crash-loop", "unschedulable"]);
}

/// Bug (issue 13, merges): an API server static pod failed its probes, was restarted, and
/// minutes later its next instance reported that the previous one had not terminated
/// gracefully (OpenShift's kube-apiserver `NonGracefulTermination`). The report was filed
/// under the probe failures (one owner, no quiet gap), so it joined the crash wave those
/// probes belonged to. A failure of no known kind after every earlier cause healed (the
/// container started again after its last failure) is a new episode; this test failed
/// before the fix (one incident).
#[test]
fn a_failure_after_the_container_was_restarted_past_its_probe_failures_is_a_new_episode() {
    let pod = "kube-apiserver-master-a";
    let ns = "openshift-kube-apiserver";
    let probe = |m: i64| {
        pod_warning(
            ns,
            pod,
            "Unhealthy",
            r#"Liveness probe failed: Get "https://192.168.79.56:6443/livez": net/http: request canceled (Client.Timeout exceeded while awaiting headers)"#,
        )
        .container("kube-apiserver")
        .by_kubelet("master-a")
        .span(m, m + 6, 12)
        .build()
    };
    let restarted = pod_normal(ns, pod, "Started", "Started container kube-apiserver")
        .container("kube-apiserver")
        .by_kubelet("master-a")
        .at(9)
        .build();
    let report = pod_warning(
        ns,
        pod,
        "NonGracefulTermination",
        "Previous pod kube-apiserver-master-a started at 2024-05-01 00:06:00 +0000 UTC did not terminate gracefully",
    )
    .at(9)
    .build();
    let found = run(vec![probe(0), restarted.clone(), report.clone()], 40);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(
        found
            .iter()
            .any(|i| i.root_cause.reason == "NonGracefulTermination"),
        "{found:#?}"
    );
    // Without the restart, nothing shows the probe failures ended: one episode.
    let found = run(vec![probe(0), report], 40);
    assert_eq!(found.len(), 1, "{found:#?}");
}

/// The same cause coming back is the same episode within the quiet period, and a different
/// cause while the first still holds joins it.
#[test]
fn a_second_cause_while_the_first_still_holds_stays_in_the_episode() {
    let events = vec![
        pod_warning(
            "shop",
            WEB,
            "FailedScheduling",
            "0/3 nodes are available: 3 Insufficient cpu.",
        )
        .span(0, 20, 10)
        .build(),
        pod_warning(
            "shop",
            WEB,
            "BackOff",
            "Back-off restarting failed container",
        )
        .container("app")
        .by_kubelet("node-a")
        .span(10, 12, 4)
        .build(),
    ];
    assert_eq!(run(events, 40).len(), 1);
}

/// Issue 13, 2.1: pods of many workloads waiting on the not-ready taint of the only node,
/// and that node's own `NodeNotReady` (its static pods', from the node lifecycle controller),
/// are one cluster-wide incident naming the cause and the workloads, not one per workload.
#[test]
fn pods_of_many_workloads_waiting_for_a_ready_node_are_one_cluster_wide_incident() {
    let waiting = |ns: &str, pod: &str, m: i64| {
        pod_warning(
            ns,
            pod,
            "FailedScheduling",
            "0/1 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.",
        )
        .at(m)
        .build()
    };
    let events = vec![
        pod_warning(
            "kube-system",
            "kube-apiserver-control-plane",
            "NodeNotReady",
            "Node is not ready",
        )
        .by_kubelet("control-plane")
        .at(0)
        .build(),
        waiting("kube-system", "coredns-6d4b75cb6d-m84d9", 1),
        waiting("kube-system", "coredns-6d4b75cb6d-n8lbh", 1),
        waiting(
            "local-path-storage",
            "local-path-provisioner-6b84c5c67f-prb6b",
            2,
        ),
    ];
    let found = run(events, 10);
    let i = only(&found);
    assert!(i.cluster_wide);
    assert_eq!(i.subject, "Cluster/no-ready-node");
    assert_eq!(i.root_cause.rule, "no-ready-node");
    assert_eq!(i.root_cause.reason, "NodeNotReady");
    assert!(
        i.title.starts_with("cluster-wide: no ready node"),
        "{}",
        i.title
    );
    let affected: Vec<(&str, usize)> = i
        .affected
        .iter()
        .map(|a| (a.workload.as_str(), a.objects))
        .collect();
    assert_eq!(
        affected,
        [
            ("kube-system/Pod/kube-apiserver-control-plane", 1),
            ("kube-system/Deployment/coredns", 2),
            ("local-path-storage/Deployment/local-path-provisioner", 1),
        ]
    );
}

/// Every node tainted (only control-plane nodes): one incident for the workloads that wait;
/// a single workload rejected by every node is still its own incident.
#[test]
fn every_node_tainted_is_cluster_wide_only_for_many_workloads() {
    let tainted = |pod: &str| {
        pod_warning(
            "shop",
            pod,
            "FailedScheduling",
            "0/3 nodes are available: 3 node(s) had taint {node-role.kubernetes.io/master: }, that the pod didn't tolerate.",
        )
        .span(0, 10, 6)
        .build()
    };
    let found = run(vec![tainted(WEB), tainted(API)], 20);
    let i = only(&found);
    assert_eq!(i.subject, "Cluster/tainted-nodes");
    assert_eq!(i.affected.len(), 2);
    let found = run(vec![tainted(WEB)], 20);
    assert_eq!(only(&found).subject, "shop/Deployment/web");
}

/// Bug (issue 13, splits): the Machine API's cloud actuator failed to create the three worker
/// VMs within half a minute, with the same error, and each Machine was an incident of its own.
/// One controller failing the same way on several of its objects at once is one failure of
/// what is behind it; another error of the same controller stays apart. This test failed
/// before the fix (three incidents).
#[test]
fn one_controller_failing_the_same_way_on_several_objects_at_once_is_one_incident() {
    let machine = |name: &str, note: &str, m: i64| {
        about(
            "Machine",
            "openshift-machine-api",
            name,
            "Warning",
            "FailedCreate",
            note,
        )
        .at(m)
        .build()
    };
    let vm = |name: &str| {
        format!(
            r#"CreateError: failed to reconcile machine "{name}"s: failed to create vm {name}: failed to create or get machine: compute.VirtualMachinesCreateOrUpdateFuture: asynchronous operation has not completed"#
        )
    };
    let names = [
        "c-worker-eastus21-gqtkz",
        "c-worker-eastus22-vthrm",
        "c-worker-eastus23-d49js",
    ];
    let mut events: Vec<AnalysisOccurrences> = names
        .iter()
        .zip([0, 0, 1])
        .map(|(n, m)| machine(n, &vm(n), m))
        .collect();
    let found = run(events.clone(), 10);
    let i = only(&found);
    assert_eq!(i.object_count, 3, "{i:#?}");
    events.push(machine(
        "c-worker-eastus24-xbpqz",
        "InvalidConfiguration: the machine has no providerSpec",
        1,
    ));
    assert_eq!(run(events, 10).len(), 2);
}

/// Bug (issue 13, splits): worker workloads waiting while only tainted control-plane nodes
/// existed were one cluster-wide incident, but once workers joined, the scheduler's message
/// for the same Pending pods changed (one worker not ready yet, one rejected by the pod's
/// anti-affinity) and those later failures were filed per workload, splitting the wait. A pod
/// stays in the wait it began in until it is scheduled; this test failed before the fix
/// (three incidents).
#[test]
fn a_pod_still_pending_as_nodes_join_stays_in_the_cluster_wide_wait() {
    let wait = |pod: &str, note: &str, m: i64| {
        pod_warning("shop", pod, "FailedScheduling", note)
            .at(m)
            .build()
    };
    let tainted = "0/3 nodes are available: 3 node(s) had taint {node-role.kubernetes.io/master: }, that the pod didn't tolerate.";
    let joining = "0/5 nodes are available: 1 node(s) didn't match pod anti-affinity rules, 1 node(s) had taint {node.kubernetes.io/not-ready: }, that the pod didn't tolerate, 3 node(s) had taint {node-role.kubernetes.io/master: }, that the pod didn't tolerate.";
    let events = vec![
        wait(WEB, tainted, 0),
        wait(API, tainted, 0),
        wait(WEB, joining, 4),
        wait(API, joining, 4),
        wait(WEB, joining, 5),
        wait(API, joining, 6),
    ];
    let found = run(events, 10);
    let i = only(&found);
    assert_eq!(i.subject, "Cluster/tainted-nodes");
    assert_eq!(i.event_count, 6);
}

/// The CNI not ready on a node: its DaemonSet pods get no sandbox (kubelet `NetworkNotReady`);
/// one incident for the network, whatever the number of pods.
#[test]
fn network_not_ready_on_the_nodes_is_one_incident() {
    let net = |ns: &str, pod: &str, node: &str| {
        pod_warning(
            ns,
            pod,
            "NetworkNotReady",
            "network is not ready: container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: No CNI configuration file in /etc/kubernetes/cni/net.d/. Has your network provider started?",
        )
        .by_kubelet(node)
        .span(0, 1, 13)
        .build()
    };
    let found = run(
        vec![
            net("openshift-multus", "network-metrics-daemon-x8xwm", "m-1"),
            net(
                "openshift-network-diagnostics",
                "network-check-target-cfwhr",
                "m-1",
            ),
            net("openshift-multus", "network-metrics-daemon-7njg9", "m-2"),
        ],
        10,
    );
    let i = only(&found);
    assert_eq!(i.root_cause.rule, "network-not-ready");
    assert_eq!(i.affected.len(), 2);
    assert_eq!(i.nodes, ["m-1", "m-2"]);
}

/// Operators `op-a`, `op-b`, `op-c` (one namespace each) starting to crash-loop at the
/// given minutes.
fn crashes(minutes: [i64; 3]) -> Vec<AnalysisOccurrences> {
    ["op-a", "op-b", "op-c"]
        .iter()
        .zip(minutes)
        .map(|(ns, m)| {
            pod_warning(
                ns,
                &format!("{ns}-5c9b7d8f6d-4kqzv"),
                "BackOff",
                "Back-off restarting failed container",
            )
            .container("app")
            .by_kubelet("m-1")
            .span(m, m + 1, 3)
            .build()
        })
        .collect()
}

/// The API server's `TerminationStart` (k8s.io/apiserver, recorded on its namespace) at minute 0.
fn api_server_termination_start() -> kubetrail_model::AnalysisOccurrences {
    about(
        "Namespace",
        "",
        "kube-system",
        "Normal",
        "TerminationStart",
        "Received signal to terminate, becoming unready, but keeping serving",
    )
    .at(0)
    .build()
}

/// The API server shuts down and operators in three namespaces crash-loop within seconds of
/// each other: one incident rooted at the shutdown, not one per operator.
#[test]
fn operators_crash_looping_together_after_the_api_server_went_down_are_one_incident() {
    let mut events = vec![api_server_termination_start()];
    events.extend(crashes([1, 1, 2]));
    let found = run(events, 10);
    let i = only(&found);
    assert_eq!(i.subject, "Cluster/control-plane-disruption");
    assert_eq!(i.root_cause.reason, "TerminationStart");
    assert_eq!(i.affected.len(), 3);
    // Without a sign of the control plane failing, crash loops starting together may be
    // unrelated (releases rolled out at once): each stays its own.
    assert_eq!(run(crashes([1, 1, 2]), 10).len(), 3);
    // Crash loops minutes apart are each their own.
    let found = run(crashes([1, 5, 9]), 20);
    assert_eq!(found.len(), 3, "{found:#?}");
}

/// Bug (issue 13, splits): an operator whose readiness probe had been failing before the API
/// server went down, and which then crash-looped with the others, stayed an incident of its
/// own: only episodes that began with the wave joined it. A crash that begins inside the wave
/// is the wave's; this test failed before the fix (two incidents).
#[test]
fn a_workload_already_failing_that_crashes_with_the_wave_joins_it() {
    let mut events = vec![api_server_termination_start()];
    events.extend(crashes([1, 1, 2]));
    let pod = "op-d-5c9b7d8f6d-4kqzv";
    events.push(
        pod_warning(
            "op-d",
            pod,
            "Unhealthy",
            r#"Readiness probe failed: Get "https://10.0.0.9:8443/healthz": dial tcp 10.0.0.9:8443: connect: connection refused"#,
        )
        .container("app")
        .by_kubelet("m-1")
        .span(-12, -4, 30)
        .build(),
    );
    events.push(
        pod_warning(
            "op-d",
            pod,
            "BackOff",
            "Back-off restarting failed container",
        )
        .container("app")
        .by_kubelet("m-1")
        .span(1, 2, 3)
        .build(),
    );
    let found = run(events, 10);
    let i = only(&found);
    assert_eq!(i.subject, "Cluster/control-plane-disruption");
    assert_eq!(i.affected.len(), 4, "{i:#?}");
}

/// Bug (issue 13, merges): a replica of an aggregated API server run by a Deployment
/// (openshift-apiserver) recording `TerminationStart` as its rollout replaced it was taken for
/// the control plane going down, so unrelated crash loops two minutes later were filed under
/// it, together with that API server's own unavailability. One replica of a workload is no
/// control-plane disruption; this test failed before the fix (one incident).
#[test]
fn a_replica_of_an_aggregated_api_server_terminating_is_no_control_plane_disruption() {
    let mut events = vec![
        pod_normal(
            "openshift-apiserver",
            "apiserver-85b76d5494-hc72z",
            "TerminationStart",
            "Received signal to terminate, becoming unready, but keeping serving",
        )
        .at(0)
        .build(),
    ];
    events.extend(crashes([1, 1, 2]));
    let found = run(events, 10);
    assert_eq!(found.len(), 3, "{found:#?}");
    assert!(found.iter().all(|i| !i.cluster_wide), "{found:#?}");
}

/// Bug (issue 13, merges): the failing API server static pod explained a crash wave only
/// when its failures began within two minutes of the first crash; one whose probes had been
/// failing for longer and still failed when the operators crashed was not seen, so the wave
/// took the next event as its cause. A failure going on in that time counts; this test
/// failed before the fix (three incidents).
#[test]
fn an_api_server_still_failing_its_probes_when_operators_crash_roots_the_wave() {
    let mut events = vec![
        pod_warning(
            "openshift-kube-apiserver",
            "kube-apiserver-master-2",
            "ProbeError",
            r#"Readiness probe error: Get "https://10.0.0.5:6443/readyz": net/http: request canceled (Client.Timeout exceeded while awaiting headers)"#,
        )
        .container("kube-apiserver")
        .by_kubelet("master-2")
        .span(-4, 2, 2)
        .build(),
    ];
    events.extend(crashes([3, 3, 4]));
    let found = run(events, 10);
    // The API server's own failing probes are the wave's cause, not an incident of their own.
    let wave = only(&found);
    assert_eq!(wave.subject, "Cluster/control-plane-disruption");
    assert_eq!(wave.root_cause.reason, "ProbeError");
    assert_eq!(
        wave.root_cause.object,
        "openshift-kube-apiserver/Pod/kube-apiserver-master-2"
    );
    for op in ["op-a", "op-b", "op-c"] {
        let workload = format!("{op}/Deployment/{op}");
        assert!(
            wave.affected.iter().any(|a| a.workload == workload),
            "{wave:#?}"
        );
    }
}

/// An operator's `ConfigMapCreateFailed` at minute 0 and `ConfigMapCreated` at minute 1
/// (library-go resourceapply).
fn configmap_created_on_retry() -> Vec<AnalysisOccurrences> {
    let op = |type_: &str, reason: &str, note: &str, m: i64| {
        about_rs("Deployment", "web-operator", type_, reason, note)
            .at(m)
            .build()
    };
    vec![
        op(
            "Warning",
            "ConfigMapCreateFailed",
            r#"Failed to create ConfigMap/web-config -n shop: namespaces "shop" not found"#,
            0,
        ),
        op(
            "Normal",
            "ConfigMapCreated",
            "Created ConfigMap/web-config -n shop because it was missing",
            1,
        ),
    ]
}

fn about_rs(
    kind: &str,
    name: &str,
    type_: &str,
    reason: &str,
    note: &str,
) -> crate::testing::Draft {
    about(kind, "shop", name, type_, reason, note)
}

/// Issue 13, 2.4: controllers retry by themselves. A ReplicaSet that could not create a pod
/// (its ServiceAccount not there yet) and created it a few seconds later, an operator's
/// `ConfigMapCreateFailed` followed by `ConfigMapCreated`, an operator Degraded for a minute
/// during an install: none is a failure episode. The same failures with no success after them
/// (or one an hour later) stay incidents.
#[test]
fn failures_a_controller_got_past_within_minutes_open_no_incident() {
    let rs = "web-7d9f8b6c4";
    let failed_create = || {
        about_rs(
            "ReplicaSet",
            rs,
            "Warning",
            "FailedCreate",
            r#"Error creating: pods "web-7d9f8b6c4-" is forbidden: error looking up service account shop/web: serviceaccount "web" not found"#,
        )
        .span(0, 1, 4)
        .build()
    };
    let created = |m: i64| {
        about_rs(
            "ReplicaSet",
            rs,
            "Normal",
            "SuccessfulCreate",
            "Created pod: web-7d9f8b6c4-x2x9z",
        )
        .at(m)
        .build()
    };
    assert_eq!(
        run(vec![failed_create(), created(2)], 10),
        Vec::<Incident>::new()
    );
    assert_eq!(run(vec![failed_create()], 10).len(), 1);
    assert_eq!(run(vec![failed_create(), created(60)], 70).len(), 1);

    let op = |type_: &str, reason: &str, note: &str, m: i64| {
        about_rs("Deployment", "web-operator", type_, reason, note)
            .at(m)
            .build()
    };
    let mut events = configmap_created_on_retry();
    events.extend([
        op(
            "Normal",
            "OperatorStatusChanged",
            r#"Status for clusteroperator/web changed: Degraded changed from False to True ("WebDegraded: waiting")"#,
            2,
        ),
        op(
            "Normal",
            "OperatorStatusChanged",
            r#"Status for clusteroperator/web changed: Degraded changed from True to False ("All is well")"#,
            3,
        ),
    ]);
    assert_eq!(run(events, 10), Vec::<Incident>::new());
}

/// A pod's sandbox that could not be created until the network plugin ran, then the container
/// started: the kubelet got past it.
#[test]
fn a_sandbox_failure_healed_by_a_start_opens_no_incident() {
    let events = vec![
        pod_warning(
            "shop",
            WEB,
            "FailedCreatePodSandBox",
            "Failed to create pod sandbox: rpc error: code = Unknown desc = failed to create pod network sandbox",
        )
        .by_kubelet("node-a")
        .at(0)
        .build(),
        started(WEB, "node-a", 1),
    ];
    assert_eq!(run(events, 10), Vec::<Incident>::new());
}

/// Readiness probes failing for a minute while a pod starts, with no restart, are not a
/// failure episode; failing for twenty minutes they are.
#[test]
fn a_short_spell_of_failing_readiness_probes_opens_no_incident() {
    let ready = |last: i64| {
        pod_warning(
            "shop",
            WEB,
            "Unhealthy",
            "Readiness probe failed: HTTP probe failed with statuscode: 503",
        )
        .container("app")
        .by_kubelet("node-a")
        .span(0, last, 6)
        .build()
    };
    assert_eq!(run(vec![ready(1)], 30), Vec::<Incident>::new());
    assert_eq!(run(vec![ready(20)], 30).len(), 1);
}

/// An operator that failed to create a ConfigMap, created it a minute later, and then reported
/// its API unavailable for twenty minutes: the root is what still failed, not the retried
/// create.
#[test]
fn a_failure_the_object_got_past_is_not_the_root_of_what_still_fails() {
    let op = |type_: &str, reason: &str, note: &str, first: i64, last: i64| {
        about_rs("Deployment", "web-operator", type_, reason, note)
            .span(first, last, 2)
            .build()
    };
    let mut events = configmap_created_on_retry();
    events.push(op(
        "Warning",
        "OpenShiftAPICheckFailed",
        r#""apps.openshift.io.v1" failed with HTTP status code 503 (the server is currently unable to handle the request)"#,
        2,
        20,
    ));
    let found = run(events, 30);
    assert_eq!(only(&found).root_cause.reason, "OpenShiftAPICheckFailed");
}

/// A readiness probe of pod `pod` in `namespace`, failing on `node` from minute `first` to
/// minute `last` (long enough to be a failure, not a start-up spell).
fn not_ready(namespace: &str, pod: &str, node: &str, first: i64, last: i64) -> AnalysisOccurrences {
    pod_warning(namespace, pod, "Unhealthy", "Readiness probe failed: ")
        .by_kubelet(node)
        .span(first, last, 2 * (last - first) as u64 + 1)
        .build()
}

/// `e` moved `secs` seconds later (earlier when negative).
fn shift(mut e: AnalysisOccurrences, secs: i64) -> AnalysisOccurrences {
    let d = jiff::SignedDuration::from_secs(secs);
    e.event.first_seen += d;
    e.event.last_seen += d;
    for o in &mut e.occurrences {
        o.at += d;
    }
    e
}

/// An operator's report about its own Deployment in `namespace`.
fn operator_report(namespace: &str, name: &str, reason: &str, note: &str) -> crate::testing::Draft {
    about("Deployment", namespace, name, "Warning", reason, note)
}

/// Bug (issue 13, splits): the etcd operator's `UnhealthyEtcdMember` naming a member, the
/// etcd quorum guard's pod on that member's node failing its readiness (the local etcd's
/// health) and the etcd static pod there were three incidents of one unhealthy member. The
/// report joins the failures of the `openshift-etcd` pods on the node it names; pods on other
/// nodes, and other namespaces' pods on that node, stay apart. This test failed before the
/// fix (two incidents).
#[test]
fn an_unhealthy_etcd_member_report_joins_the_etcd_pods_on_its_node() {
    let mut events = vec![
        operator_report(
            "openshift-etcd-operator",
            "etcd-operator",
            "UnhealthyEtcdMember",
            "unhealthy members: master-1",
        )
        .span(10, 12, 4)
        .build(),
        not_ready(
            "openshift-etcd",
            "etcd-quorum-guard-586dd88c9-8bmh8",
            "master-1",
            0,
            11,
        ),
    ];
    let found = run(events.clone(), 20);
    let i = only(&found);
    assert_eq!(i.subject, "openshift-etcd/Deployment/etcd-quorum-guard");
    // The report names the member that failed; the guard's empty probe message does not.
    assert_eq!(i.root_cause.rule, "etcd-member-unhealthy");
    assert_eq!(i.root_cause.reason, "UnhealthyEtcdMember");
    // The etcd pod of another node, and an application on the named node, are no part of it.
    events.push(not_ready(
        "openshift-etcd",
        "etcd-master-2",
        "master-2",
        0,
        11,
    ));
    events.push(not_ready("shop", WEB, "master-1", 0, 11));
    assert_eq!(run(events, 20).len(), 3);
}

/// Bug (issue 13, splits): operators reporting `OpenShiftAPICheckFailed` for the
/// openshift-apiserver's API groups while its pods were not ready were one incident per
/// operator plus one for the pods. A check of a group joins the failures of the pods of the
/// namespace that serves it; a check of a group another server serves (oauth, served by the
/// oauth-apiserver) does not. This test failed before the fix (two incidents).
#[test]
fn an_api_check_failure_joins_the_pods_of_the_server_of_its_group() {
    let unavailable = |group: &str| {
        format!(
            r#""{group}.v1" failed with an attempt failed with statusCode = 503, err = the server is currently unable to handle the request"#
        )
    };
    let mut events = vec![
        operator_report(
            "openshift-apiserver-operator",
            "openshift-apiserver-operator",
            "OpenShiftAPICheckFailed",
            &unavailable("apps.openshift.io"),
        )
        .span(2, 4, 8)
        .build(),
        not_ready(
            "openshift-apiserver",
            "apiserver-65fdcd8694-w9kfk",
            "master-0",
            0,
            10,
        ),
    ];
    let found = run(events.clone(), 20);
    let i = only(&found);
    assert_eq!(i.subject, "openshift-apiserver/Deployment/apiserver");
    events.push(
        operator_report(
            "openshift-authentication-operator",
            "authentication-operator",
            "OpenShiftAPICheckFailed",
            &unavailable("oauth.openshift.io"),
        )
        .span(2, 4, 8)
        .build(),
    );
    // Another operator's check failing at the same time is the same outage (see below).
    assert_eq!(run(events, 20).len(), 1);
}

/// Bug (issue 13, splits): on the OpenShift 4.8 installs the openshift-apiserver operator's
/// and the authentication operator's `OpenShiftAPICheckFailed` began within seconds of each
/// other (aws 2 s, azure 17 s, vSphere 34 s) and were two incidents of one outage. Both come
/// from library-go's APIService controller, whose checks are discovery requests through the
/// kube-apiserver's aggregator: operators' checks beginning within a minute of each other are
/// one outage, rooted in the first. Checks an hour apart stay two outages, and the operators'
/// other reports (their `Degraded`) join nothing. This test failed before the fix (two
/// incidents).
#[test]
fn api_checks_of_several_operators_beginning_together_are_one_outage() {
    let check = |namespace: &str, name: &str, group: &str, first: i64, secs: i64| {
        let e = operator_report(
            namespace,
            name,
            "OpenShiftAPICheckFailed",
            &format!(
                r#""{group}.v1" failed with an attempt failed with statusCode = 503, err = the server is currently unable to handle the request"#
            ),
        )
        .span(first, first + 8, 20)
        .build();
        shift(e, secs)
    };
    let oauth = || {
        check(
            "openshift-authentication-operator",
            "authentication-operator",
            "oauth.openshift.io",
            0,
            0,
        )
    };
    let apps = |first: i64, secs: i64| {
        check(
            "openshift-apiserver-operator",
            "openshift-apiserver-operator",
            "apps.openshift.io",
            first,
            secs,
        )
    };
    let found = run(vec![oauth(), apps(0, 34)], 20);
    let i = only(&found);
    assert_eq!(
        i.subject,
        "openshift-authentication-operator/Deployment/authentication-operator"
    );
    assert_eq!(i.root_cause.reason, "OpenShiftAPICheckFailed");
    assert_eq!(i.root_cause.rule, "aggregated-api-unavailable");
    // An hour later the checks fail again: a new outage.
    assert_eq!(run(vec![oauth(), apps(60, 0)], 80).len(), 2);
    // Two minutes later: not the same onset.
    assert_eq!(run(vec![oauth(), apps(2, 0)], 20).len(), 2);
    // Both operators degraded at once, with no failed check of the second: not joined.
    let degraded = |namespace: &str, name: &str| {
        operator_report(
            namespace,
            name,
            "OperatorStatusChanged",
            &format!(
                r#"Status for clusteroperator/{name} changed: Degraded changed from False to True ("APIServerDeploymentDegraded: 3 of 3 requested instances are unavailable")"#
            ),
        )
        .span(0, 8, 5)
        .build()
    };
    let found = run(
        vec![
            oauth(),
            degraded(
                "openshift-apiserver-operator",
                "openshift-apiserver-operator",
            ),
        ],
        20,
    );
    assert_eq!(found.len(), 2, "{found:#?}");
}

/// Bug (issue 13, splits): a kind cluster's control-plane node boots; the API server's
/// start-up probe fails 8 s before the node lifecycle controller reports the node's pods
/// `NodeNotReady` (the node was never ready yet), and the probe opened an incident of its own
/// beside the cluster-wide "no ready node" wait. A probe failure on a node shortly before it is
/// reported not ready is the node's; one minutes earlier is not. This test failed before the
/// fix (two incidents).
#[test]
fn a_probe_failing_seconds_before_its_node_is_reported_not_ready_is_the_nodes() {
    const NODE: &str = "kind-control-plane";
    let apiserver = "kube-apiserver-kind-control-plane";
    let probes = |before: i64| {
        vec![
            shift(
                pod_warning(
                    "kube-system",
                    apiserver,
                    "Unhealthy",
                    "Startup probe failed: HTTP probe failed with statuscode: 500",
                )
                .by_kubelet(NODE)
                .at(0)
                .build(),
                -before,
            ),
            pod_warning(
                "kube-system",
                apiserver,
                "Unhealthy",
                "Liveness probe failed: HTTP probe failed with statuscode: 500",
            )
            .by_kubelet(NODE)
            .span(2, 14, 2)
            .build(),
        ]
    };
    let mut events: Vec<AnalysisOccurrences> = ["etcd-kind-control-plane", apiserver]
        .iter()
        .map(|pod| {
            about(
                "Pod",
                "kube-system",
                pod,
                "Warning",
                "NodeNotReady",
                "Node is not ready",
            )
            .at(0)
            .build()
        })
        .collect();
    // The kubelet's own event places the etcd static pod on the node.
    events.push(
        pod_normal(
            "kube-system",
            "etcd-kind-control-plane",
            "Started",
            "Started container etcd",
        )
        .by_kubelet(NODE)
        .at(-1)
        .build(),
    );
    for pod in [
        "coredns-6d4b75cb6d-m84d9",
        "local-path-provisioner-6b84c5c67f-prb6b",
    ] {
        events.push(
            pod_warning(
                "kube-system",
                pod,
                "FailedScheduling",
                "0/1 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.",
            )
            .at(0)
            .build(),
        );
    }
    let mut seconds_before = events.clone();
    seconds_before.extend(probes(8));
    let found = run(seconds_before, 20);
    let i = only(&found);
    assert_eq!(i.subject, "Cluster/no-ready-node");
    assert_eq!(i.root_cause.reason, "NodeNotReady");
    events.extend(probes(120));
    assert_eq!(run(events, 20).len(), 2);
}
