//! Incidents and root causes on the real dumps. Every expectation below was derived by reading
//! the dump (the events, their objects, times and messages), not from the program's output.

mod common;

use common::{load, whole};
use kubetrail_analyze::{Incident, IncidentConfig, Status, incidents};

fn found(file: &str) -> Vec<Incident> {
    let events = load(file);
    incidents(&events, whole(&events), &IncidentConfig::default()).expect("incidents")
}

fn about<'a>(all: &'a [Incident], subject: &str) -> &'a Incident {
    all.iter()
        .find(|i| i.subject == subject)
        .unwrap_or_else(|| {
            let subjects: Vec<&str> = all.iter().map(|i| i.subject.as_str()).collect();
            panic!("no incident about {subject}; found {subjects:?}")
        })
}

const MOUNT_NS: &str = "message-container-creating-failed-mount";

/// Five workloads fail in this namespace on one minikube node, each for its own reason: a
/// hostPath that is not a directory, an init container crash-looping, an unpullable image, a
/// liveness probe that always fails, a GPU nobody has. The kubelet's `FailedKillPod` "No such
/// container" on crashpod is no sixth: the container it wanted to kill was already gone
/// (eval/labels lists it under not_incidents).
#[test]
fn the_failed_mount_dump_has_five_separate_incidents_with_their_own_causes() {
    let all = found("troubleshoot__message-container-creating-failed-mount.events.json");
    assert_eq!(
        all.len(),
        5,
        "{:#?}",
        all.iter().map(|i| &i.title).collect::<Vec<_>>()
    );

    let mount = about(
        &all,
        &format!("{MOUNT_NS}/Workload/troubleshoot-copyfromhost-4m79m"),
    );
    assert_eq!(mount.root_cause.rule, "failed-mount");
    assert_eq!(
        mount.root_cause.message,
        r#"MountVolume.SetUp failed for volume "host" : hostPath type check failed: /var/lib/collectd is not a directory"#
    );
    assert!(mount.root_cause.hint.contains("/var/lib/collectd"));
    assert_eq!(mount.event_count, 178 + 109);
    assert_eq!(mount.start, common::ts("2023-07-09T23:53:09Z"));

    let init = about(&all, &format!("{MOUNT_NS}/Pod/init-demo2"));
    assert_eq!(init.root_cause.rule, "crash-loop");
    assert_eq!(init.root_cause.reason, "BackOff");
    assert_eq!(init.event_count, 1464);

    let image = about(&all, &format!("{MOUNT_NS}/Deployment/no-image-deployment"));
    assert_eq!(image.root_cause.rule, "image-pull");
    assert!(
        image
            .root_cause
            .message
            .starts_with(r#"Failed to pull image "noimage.com/no-such-image""#)
            && image.root_cause.message.contains("x509"),
        "{}",
        image.root_cause.message
    );
    // Three old pods backing off since 03:42 and three new ones from 05:27: one incident.
    assert_eq!(image.object_count, 6);
    assert_eq!(image.start, common::ts("2023-07-10T03:42:53Z"));

    let liveness = about(&all, &format!("{MOUNT_NS}/Pod/failing-liveness-pod"));
    assert_eq!(liveness.root_cause.rule, "liveness-restart");
    assert_eq!(liveness.root_cause.reason, "Unhealthy");
    assert_eq!(liveness.root_cause.at, common::ts("2023-07-10T05:16:39Z"));

    let gpu = about(
        &all,
        &format!("{MOUNT_NS}/Deployment/pending-pod-resources"),
    );
    assert_eq!(gpu.root_cause.rule, "insufficient-resources");
    assert!(gpu.root_cause.hint.contains("nvidia.com/gpu"));
    assert_eq!(gpu.object_count, 2);

    assert!(
        all.iter()
            .all(|i| i.subject != format!("{MOUNT_NS}/Deployment/crashpod"))
    );

    // All on minikube, none merged; no two incidents share an id.
    let mut ids: Vec<&str> = all.iter().map(|i| i.id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 5);
}

#[test]
fn the_image_pull_dump_has_a_pull_failure_a_gpu_shortage_and_a_failed_job() {
    let all = found("troubleshoot__message-image-pull-fail.events.json");
    assert_eq!(
        all.len(),
        3,
        "{:#?}",
        all.iter().map(|i| &i.title).collect::<Vec<_>>()
    );
    let ns = "message-image-pull-fail";
    let image = about(&all, &format!("{ns}/Deployment/no-image-deployment"));
    assert_eq!(image.root_cause.rule, "image-pull");
    assert!(
        image
            .root_cause
            .message
            .contains("x509: certificate is not valid")
    );
    assert_eq!(
        image.objects,
        [format!("{ns}/Pod/no-image-deployment-849c4c4958-rxqmt")]
    );
    assert_eq!(
        image.status,
        Status::Ongoing,
        "its events run to the end of the dump"
    );
    assert_eq!(
        about(&all, &format!("{ns}/Deployment/pending-pod-resources"))
            .root_cause
            .rule,
        "insufficient-resources"
    );
    let job = about(&all, &format!("{ns}/Job/oom-kill-job3"));
    assert_eq!(job.root_cause.reason, "BackoffLimitExceeded");
    assert_eq!(
        job.status,
        Status::Resolved,
        "silent for 50 minutes before the end"
    );
}

#[test]
fn the_init_crashloop_dump_traces_both_crash_loops_to_the_missing_executable() {
    let all = found("troubleshoot__message-pod-init-crashloop-backoff.events.json");
    assert_eq!(
        all.len(),
        3,
        "{:#?}",
        all.iter().map(|i| &i.title).collect::<Vec<_>>()
    );
    let ns = "message-pod-init-crashloop-backoff";
    for (pod, container) in [("init-demo", "nginx"), ("init-demo2", "install")] {
        let i = about(&all, &format!("{ns}/Pod/{pod}"));
        assert_eq!(i.root_cause.rule, "crash-loop", "{pod}");
        assert_eq!(i.root_cause.reason, "Failed", "{pod}");
        assert!(
            i.root_cause
                .message
                .contains(&format!(r#"failed to start container "{container}""#))
                && i.root_cause
                    .message
                    .contains(r#"exec: "wge": executable file not found"#),
            "{pod}: {}",
            i.root_cause.message
        );
        assert!(
            i.root_cause
                .hint
                .contains(&format!("logs {pod} -c {container} --previous"))
        );
    }
    assert_eq!(
        about(
            &all,
            &format!("{ns}/Workload/troubleshoot-copyfromhost-4m79m")
        )
        .root_cause
        .rule,
        "failed-mount"
    );
}

/// kind-worker's kubelet restarts at 00:23:09 (NodeNotReady and NodeReady in the same second:
/// the kubelet's start-up blip, no incident); from 00:24:51 php-apache's pods are refused by
/// the kubelet (TaintToleration) and marked for deletion by the taint manager, over and over.
/// The node was ready again, so its NotReady does not explain the evictions: a taint the pods
/// do not tolerate does.
#[test]
fn in_c7_the_taint_evictions_are_one_incident_and_the_kubelet_restart_none() {
    let all = found("k8s-failure-reproduction__C7__2023-08-21T19-25-26.events.json");
    assert_eq!(
        all.len(),
        1,
        "{:#?}",
        all.iter().map(|i| &i.title).collect::<Vec<_>>()
    );
    assert!(all.iter().all(|i| i.subject != "Node/kind-worker"));
    let php = about(&all, "default/Deployment/php-apache");
    assert_eq!(php.root_cause.rule, "taint-not-tolerated");
    assert_eq!(php.root_cause.reason, "TaintToleration");
    assert_eq!(php.root_cause.at, common::ts("2023-08-22T00:24:51Z"));
    assert!(
        php.root_cause
            .hint
            .contains("kubectl describe node kind-worker")
    );
    assert_eq!(php.nodes, ["kind-worker"]);
    // The two `kube-root-ca.crt ... not registered` FailedMount events (5 + 2) are the
    // kubelet's known harmless mount race: info, so not counted as part of the failure.
    assert_eq!(php.event_count, 178 + 187);
}

/// On an OpenShift install the routers and monitoring stack wait for worker nodes: the only
/// nodes are tainted masters. That is one cluster-wide cause (issue 13, 2.1), reported once
/// with the workloads it holds up, not once per workload; and it is a taint, not a shortage.
#[test]
fn must_gather_tainted_masters_are_one_cluster_wide_incident() {
    let all = found("openshift-must-gather-aws-4.8.events.yaml");
    let tainted: Vec<&Incident> = all
        .iter()
        .filter(|i| i.subject == "Cluster/tainted-nodes")
        .collect();
    assert_eq!(tainted.len(), 1, "{:#?}", tainted);
    let wide = tainted[0];
    assert!(wide.cluster_wide);
    assert_eq!(wide.root_cause.rule, "tainted-nodes");
    assert_eq!(wide.root_cause.reason, "FailedScheduling");
    assert!(
        wide.root_cause
            .message
            .contains("node(s) had taint {node-role.kubernetes.io/master: }")
    );
    let workloads: Vec<&str> = wide.affected.iter().map(|a| a.workload.as_str()).collect();
    for w in [
        "openshift-ingress/Deployment/router-default",
        "openshift-monitoring/Deployment/kube-state-metrics",
        "openshift-image-registry/Deployment/image-registry",
    ] {
        assert!(workloads.contains(&w), "{w} not in {workloads:?}");
    }
    // No workload is reported as its own incident for the same wait.
    assert!(
        all.iter()
            .all(|i| i.subject != "openshift-monitoring/Deployment/kube-state-metrics")
    );
    assert!(
        all.iter()
            .all(|i| i.root_cause.rule != "insufficient-resources")
    );
    // Before any node was ready, the operators waited: one incident for that too.
    let none_ready = about(&all, "Cluster/no-ready-node");
    assert_eq!(none_ready.root_cause.reason, "FailedScheduling");
    assert!(
        none_ready.affected.len() >= 20,
        "{:#?}",
        none_ready.affected
    );
}

/// The descheduler experiment: pods of two background Deployments are refused by the kubelet
/// for lack of CPU (OutOfcpu), and a third waits for CPU at the scheduler.
#[test]
fn in_c5_cpu_shortage_is_insufficient_resources_per_deployment() {
    let all = found("k8s-failure-reproduction__C5__2023-08-29T23-48-45.events.json");
    for d in ["background-1", "background-2", "fifty-cpu-util-app"] {
        let i = about(&all, &format!("default/Deployment/{d}"));
        assert_eq!(i.root_cause.rule, "insufficient-resources", "{d}");
        assert!(
            i.root_cause.hint.contains("enough free cpu"),
            "{d}: {}",
            i.root_cause.hint
        );
    }
    assert_eq!(
        about(&all, "default/Deployment/background-1")
            .root_cause
            .reason,
        "OutOfcpu"
    );
}
