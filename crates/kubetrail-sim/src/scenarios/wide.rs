//! Cluster-wide scenarios (issue 13): causes that hit many workloads at once, a harmless
//! kubelet race, and a DaemonSet rollout whose events are read back sorted by name. They
//! change nodes and the control plane, so each runs in a simulator of its own (not in the
//! demo's loop: see [`Scenario::CLUSTER`](super::Scenario::CLUSTER)).
//!
//! Wording as the components write it (kubernetes v1.3x): the kubelet's node status events
//! (`pkg/kubelet/nodestatus`), the node lifecycle controller's `NodeNotReady` and
//! `RegisteredNode`, the scheduler's TaintToleration filter (`0/N nodes are available: N
//! node(s) had untolerated taint {key: value}`), the kubelet's volume manager
//! (`MountVolume.SetUp failed for volume ... : object "<ns>"/"kube-root-ca.crt" not
//! registered`, `pkg/kubelet/util/manager`), the daemon set and job controllers.

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Node, Pod};
use serde_json::{Value, json};

use super::cluster::{App, Ctx, container_path, now, owner, reference, typed};
use super::recorder::{controller, kubelet, scheduler};
use crate::error::Result;
use crate::store::random_suffix;

pub(crate) const NO_READY_NODE_NAMESPACE: &str = "kube-system";
pub(crate) const CONTROL_PLANE_NAMESPACE: &str = "kube-system";
pub(crate) const ROOT_CA_NAMESPACE: &str = "jobs";
pub(crate) const DAEMONSET_NAMESPACE: &str = "logging";

/// The single node of a fresh cluster (kind's name for it).
const FRESH_NODE: &str = "kind-control-plane";
/// The control-plane node of the cluster whose API server restarts.
const CONTROL_PLANE_NODE: &str = "control-plane";

/// Creates `object`, first removing what a previous round left under its name.
fn fresh<K>(ctx: &Ctx<'_>, object: &K) -> Result<K>
where
    K: k8s_openapi::Resource
        + k8s_openapi::Metadata<Ty = k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>
        + serde::Serialize
        + serde::de::DeserializeOwned,
{
    let meta = object.metadata();
    let (namespace, name) = (
        meta.namespace.as_deref(),
        meta.name.as_deref().unwrap_or_default(),
    );
    if ctx.sim.get::<K>(namespace, name)?.is_some() {
        ctx.sim.delete::<K>(namespace, name)?;
    }
    ctx.sim.create(object)
}

/// A node with the given Ready condition and taints.
fn node(name: &str, ready: bool, taints: Value) -> Result<Node> {
    let (status, reason, message) = if ready {
        ("True", "KubeletReady", "kubelet is posting ready status")
    } else {
        (
            "False",
            "KubeletNotReady",
            "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized",
        )
    };
    typed(json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {
            "kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
            "node-role.kubernetes.io/control-plane": ""
        }},
        "spec": {"podCIDR": "10.244.0.0/24", "taints": taints},
        "status": {
            "capacity": {"cpu": "4", "memory": "16Gi", "pods": "110"},
            "allocatable": {"cpu": "4", "memory": "15Gi", "pods": "110"},
            "conditions": [{"type": "Ready", "status": status, "reason": reason, "message": message,
                            "lastHeartbeatTime": now(), "lastTransitionTime": now()}]
        }
    }))
}

/// The kubelet registers its node: what it reports at start (`pkg/kubelet/kubelet_node_status.go`).
fn kubelet_starts(ctx: &mut Ctx<'_>, node: &Node, name: &str) -> Result<()> {
    let kubelet = kubelet(name);
    let node_ref = reference(node, None);
    ctx.emit(
        &kubelet,
        &node_ref,
        "Normal",
        "Starting",
        "Starting kubelet.",
    )?;
    for condition in [
        "NodeHasSufficientMemory",
        "NodeHasNoDiskPressure",
        "NodeHasSufficientPID",
    ] {
        let note = format!("Node {name} status is now: {condition}");
        ctx.emit(&kubelet, &node_ref, "Normal", condition, note)?;
    }
    ctx.emit(
        &kubelet,
        &node_ref,
        "Normal",
        "NodeAllocatableEnforced",
        "Updated Node Allocatable limit across pods",
    )
}

/// A static pod's mirror pod `<component>-<node>`, owned by its Node, running.
fn mirror_pod(ctx: &mut Ctx<'_>, node: &Node, component: &str, image: &str) -> Result<Pod> {
    let node_name = node.metadata.name.clone().unwrap_or_default();
    let pod: Pod = typed(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": format!("{component}-{node_name}"), "namespace": "kube-system",
            "labels": {"component": component, "tier": "control-plane"},
            "annotations": {"kubernetes.io/config.source": "file", "kubernetes.io/config.mirror": random_suffix(10)},
            "ownerReferences": [owner(node)]
        },
        "spec": {"nodeName": node_name, "priorityClassName": "system-node-critical",
                 "containers": [{"name": component, "image": image}]},
        "status": {"phase": "Running", "qosClass": "Burstable", "startTime": now()}
    }))?;
    let pod = fresh(ctx, &pod)?;
    ctx.start_container(&pod, component, image, false, true)?;
    Ok(pod)
}

/// A fresh single-node cluster whose node is not ready yet (its CNI not installed): the node
/// lifecycle controller tells its static pods `NodeNotReady`, and coredns and the
/// local-path provisioner wait on the node's not-ready taint.
pub(crate) async fn no_ready_node(ctx: &mut Ctx<'_>) -> Result<()> {
    let taint = json!([{"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}]);
    let node = fresh(ctx, &node(FRESH_NODE, false, taint)?)?;
    let mirrors = [
        ("etcd", "registry.k8s.io/etcd:3.5.21-0"),
        ("kube-apiserver", "registry.k8s.io/kube-apiserver:v1.33.1"),
        (
            "kube-controller-manager",
            "registry.k8s.io/kube-controller-manager:v1.33.1",
        ),
        ("kube-scheduler", "registry.k8s.io/kube-scheduler:v1.33.1"),
    ]
    .iter()
    .map(|(component, image)| mirror_pod(ctx, &node, component, image))
    .collect::<Result<Vec<_>>>()?;
    kubelet_starts(ctx, &node, FRESH_NODE)?;
    ctx.pause().await;
    let lifecycle = controller("node-controller");
    ctx.emit(
        &lifecycle,
        &reference(&node, None),
        "Normal",
        "RegisteredNode",
        format!("Node {FRESH_NODE} event: Registered Node {FRESH_NODE} in Controller"),
    )?;
    for pod in &mirrors {
        ctx.emit(
            &lifecycle,
            &reference(pod, None),
            "Warning",
            "NodeNotReady",
            "Node is not ready",
        )?;
    }
    let waiting = "0/1 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.";
    let apps = [
        App {
            namespace: NO_READY_NODE_NAMESPACE,
            name: "coredns",
            replicas: 2,
            pod_spec: json!({"containers": [{"name": "coredns", "image": "registry.k8s.io/coredns/coredns:v1.12.0"}]}),
        },
        App {
            namespace: "local-path-storage",
            name: "local-path-provisioner",
            replicas: 1,
            pod_spec: json!({"containers": [{"name": "local-path-provisioner", "image": "docker.io/kindest/local-path-provisioner:v20250214-acbabc1a"}]}),
        },
    ];
    let mut pending = Vec::new();
    for app in &apps {
        ctx.cleanup(app.namespace, app.name)?;
        let (_, rs) = ctx.create_deployment(app)?;
        for _ in 0..app.replicas {
            pending.push(ctx.create_pod(&rs)?);
        }
    }
    // The scheduler retries each pod while the taint stays: a series per pod.
    for _ in 0..3 {
        for pod in &pending {
            ctx.emit(
                &scheduler(),
                &reference(pod, None),
                "Warning",
                "FailedScheduling",
                waiting,
            )?;
        }
        ctx.pause().await;
    }
    Ok(())
}

/// The API server's static pod fails its liveness probe and is restarted; the operators that
/// watch through it (three namespaces) lose their watches and leader leases and crash-loop
/// within seconds of each other.
pub(crate) async fn control_plane_restart(ctx: &mut Ctx<'_>) -> Result<()> {
    ctx.ensure_nodes()?;
    let node = fresh(
        ctx,
        &node(
            CONTROL_PLANE_NODE,
            true,
            json!([{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]),
        )?,
    )?;
    let apiserver = mirror_pod(
        ctx,
        &node,
        "kube-apiserver",
        "registry.k8s.io/kube-apiserver:v1.33.1",
    )?;
    let operators = [
        (
            "cert-manager",
            "cert-manager",
            "controller",
            "quay.io/jetstack/cert-manager-controller:v1.17.2",
            "worker-1",
        ),
        (
            "ingress-nginx",
            "ingress-nginx-controller",
            "controller",
            "registry.k8s.io/ingress-nginx/controller:v1.12.2",
            "worker-2",
        ),
        (
            "monitoring",
            "prometheus-operator",
            "prometheus-operator",
            "quay.io/prometheus-operator/prometheus-operator:v0.82.2",
            "worker-3",
        ),
    ];
    let mut running = Vec::new();
    for (namespace, name, container, image, worker) in operators {
        let app = App {
            namespace,
            name,
            replicas: 1,
            pod_spec: json!({"containers": [{"name": container, "image": image}]}),
        };
        ctx.cleanup(namespace, name)?;
        let (_, rs) = ctx.create_deployment(&app)?;
        let pod = ctx.create_pod(&rs)?;
        let pod = ctx.schedule(pod, worker)?;
        running.push((ctx.bring_up(pod, &app)?, container, image));
    }
    ctx.pause().await;

    let kubelet = kubelet(CONTROL_PLANE_NODE);
    let probe = reference(&apiserver, container_path("kube-apiserver", false));
    ctx.emit(
        &kubelet,
        &probe,
        "Warning",
        "Unhealthy",
        "Liveness probe failed: Get \"https://172.18.0.2:6443/livez\": dial tcp 172.18.0.2:6443: connect: connection refused",
    )?;
    ctx.emit(
        &kubelet,
        &probe,
        "Normal",
        "Killing",
        "Container kube-apiserver failed liveness probe, will be restarted",
    )?;
    ctx.pause().await;
    for (pod, container, image) in &running {
        ctx.start_container(pod, container, image, false, true)?;
        ctx.back_off_restart(pod, container, false)?;
        ctx.set_container(
            pod,
            container,
            image,
            json!({"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 10s restarting failed container"}}),
            1,
            "Running",
        )?;
    }
    ctx.pause().await;
    for (pod, container, _) in &running {
        ctx.back_off_restart(pod, container, false)?;
    }
    Ok(())
}

/// The kubelet's informer race (kubernetes#105204 and its like): a new pod's projected
/// service-account volume cannot be set up until the kubelet has registered the
/// namespace's `kube-root-ca.crt`; it retries and the pod starts, or completes, normally.
pub(crate) async fn root_ca_race(ctx: &mut Ctx<'_>) -> Result<()> {
    ctx.ensure_nodes()?;
    let namespace = ROOT_CA_NAMESPACE;
    let job: Job = typed(json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "db-migrate", "namespace": namespace, "labels": {"app": "db-migrate"}},
        "spec": {"template": {"metadata": {"labels": {"job-name": "db-migrate"}},
                 "spec": {"restartPolicy": "Never",
                          "containers": [{"name": "migrate", "image": "ghcr.io/acme/migrate:2.4.0"}]}}}
    }))?;
    let job = fresh(ctx, &job)?;
    let image = "ghcr.io/acme/migrate:2.4.0";
    let pod: Pod = typed(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": format!("db-migrate-{}", random_suffix(5)), "namespace": namespace,
                     "labels": {"job-name": "db-migrate"}, "ownerReferences": [owner(&job)]},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "migrate", "image": image}]},
        "status": {"phase": "Pending"}
    }))?;
    let pod = ctx.sim.create(&pod)?;
    let pod_name = pod.metadata.name.clone().unwrap_or_default();
    ctx.emit(
        &controller("job-controller"),
        &reference(&job, None),
        "Normal",
        "SuccessfulCreate",
        format!("Created pod: {pod_name}"),
    )?;
    let pod = ctx.schedule(pod, "worker-1")?;
    not_registered(ctx, &pod, namespace)?;
    ctx.pause().await;
    ctx.pull(&pod, "migrate", image, false)?;
    ctx.start_container(&pod, "migrate", image, false, false)?;
    ctx.set_container(
        &pod,
        "migrate",
        image,
        json!({"terminated": {"exitCode": 0, "reason": "Completed", "finishedAt": now()}}),
        0,
        "Succeeded",
    )?;
    ctx.emit(
        &controller("job-controller"),
        &reference(&job, None),
        "Normal",
        "Completed",
        "Job completed",
    )?;
    // A Deployment's pod with the same race, then running.
    let app = App {
        namespace,
        name: "api",
        replicas: 1,
        pod_spec: json!({"containers": [{"name": "api", "image": "ghcr.io/acme/api:1.8.0"}]}),
    };
    ctx.cleanup(namespace, app.name)?;
    let (_, rs) = ctx.create_deployment(&app)?;
    let pod = ctx.create_pod(&rs)?;
    let pod = ctx.schedule(pod, "worker-2")?;
    not_registered(ctx, &pod, namespace)?;
    ctx.pause().await;
    ctx.bring_up(pod, &app)?;
    Ok(())
}

/// The kubelet's `FailedMount` of the projected service-account token volume while the
/// namespace's root CA ConfigMap is not registered with its informer yet.
fn not_registered(ctx: &mut Ctx<'_>, pod: &Pod, namespace: &str) -> Result<()> {
    let node = super::cluster::node_of(pod);
    ctx.emit(
        &kubelet(&node),
        &reference(pod, None),
        "Warning",
        "FailedMount",
        format!(
            "MountVolume.SetUp failed for volume \"kube-api-access-{}\" : object \"{namespace}\"/\"kube-root-ca.crt\" not registered",
            random_suffix(5)
        ),
    )
}

/// A DaemonSet on the three workers rolls out a new image; the new pods crash-loop. Read back
/// sorted by name, the pods' events come before the DaemonSet's `SuccessfulCreate`.
pub(crate) async fn daemonset_rollout(ctx: &mut Ctx<'_>) -> Result<()> {
    let nodes = ctx.ensure_nodes()?;
    let namespace = DAEMONSET_NAMESPACE;
    ctx.cleanup(namespace, "node-agent")?;
    let ds: DaemonSet = typed(json!({
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": "node-agent", "namespace": namespace, "labels": {"app": "node-agent"}},
        "spec": {"selector": {"matchLabels": {"app": "node-agent"}},
                 "template": {"metadata": {"labels": {"app": "node-agent"}},
                              "spec": {"containers": [{"name": "agent", "image": "ghcr.io/acme/node-agent:3.1.0"}]}}}
    }))?;
    let ds = fresh(ctx, &ds)?;
    let old: Vec<(Pod, String)> = nodes
        .iter()
        .map(|n| n.metadata.name.clone().unwrap_or_default())
        .map(|node| {
            Ok((
                daemon_pod(ctx, &ds, &node, "ghcr.io/acme/node-agent:3.1.0")?,
                node,
            ))
        })
        .collect::<Result<_>>()?;
    for (pod, node) in &old {
        let pod = ctx.schedule(pod.clone(), node)?;
        let image = "ghcr.io/acme/node-agent:3.1.0";
        ctx.pull(&pod, "agent", image, false)?;
        ctx.start_container(&pod, "agent", image, false, false)?;
    }
    ctx.pause().await;
    // The rolling update: one node at a time, the old pod deleted, a new one created.
    let image = "ghcr.io/acme/node-agent:3.2.0";
    for (pod, node) in &old {
        let name = pod.metadata.name.clone().unwrap_or_default();
        ctx.kill(pod, "agent")?;
        ctx.sim.delete::<Pod>(Some(namespace), &name)?;
        ctx.emit(
            &controller("daemonset-controller"),
            &reference(&ds, None),
            "Normal",
            "SuccessfulDelete",
            format!("Deleted pod: {name}"),
        )?;
        let new = daemon_pod(ctx, &ds, node, image)?;
        let new = ctx.schedule(new, node)?;
        ctx.pull(&new, "agent", image, false)?;
        ctx.start_container(&new, "agent", image, false, false)?;
        for _ in 0..3 {
            ctx.back_off_restart(&new, "agent", false)?;
        }
        ctx.pause().await;
    }
    Ok(())
}

/// A pod of the DaemonSet for `node` (its node affinity pins it); the daemon set controller
/// reports `SuccessfulCreate`.
fn daemon_pod(ctx: &mut Ctx<'_>, ds: &DaemonSet, node: &str, image: &str) -> Result<Pod> {
    let pod: Pod = typed(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": format!("node-agent-{}", random_suffix(5)), "namespace": DAEMONSET_NAMESPACE,
            "labels": {"app": "node-agent"}, "ownerReferences": [owner(ds)]
        },
        "spec": {
            "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}]}}},
            "containers": [{"name": "agent", "image": image}]
        },
        "status": {"phase": "Pending"}
    }))?;
    let pod = ctx.sim.create(&pod)?;
    ctx.emit(
        &controller("daemonset-controller"),
        &reference(ds, None),
        "Normal",
        "SuccessfulCreate",
        format!(
            "Created pod: {}",
            pod.metadata.name.clone().unwrap_or_default()
        ),
    )?;
    Ok(pod)
}
