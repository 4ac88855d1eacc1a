//! Node trouble and capacity: a node under disk pressure that then stops reporting, and a pod
//! too big for any node.

use k8s_openapi::api::core::v1::{Node, Pod};
use serde_json::json;

use super::cluster::{App, Ctx, node_conditions, now, reference};
use super::recorder::{controller, kubelet};
use crate::error::{Error, Result};

pub(crate) const PRESSURE_NAMESPACE: &str = "batch";
const PRESSURE_NODE: &str = "worker-3";

/// `worker-3` fills its disk: the kubelet evicts a pod, then the node goes NotReady and the
/// taint eviction controller removes what is left.
pub(crate) async fn node_pressure(ctx: &mut Ctx<'_>) -> Result<()> {
    let app = App {
        namespace: PRESSURE_NAMESPACE,
        name: "log-shipper",
        replicas: 2,
        pod_spec: json!({"containers": [{"name": "shipper", "image": "docker.io/fluent/fluent-bit:4.0.3"}]}),
    };
    ctx.cleanup(app.namespace, app.name)?;
    ctx.ensure_nodes()?;
    let node = reset_node(ctx, PRESSURE_NODE)?;
    let (_, rs) = ctx.create_deployment(&app)?;
    let mut pods = Vec::new();
    for _ in 0..2 {
        let pod = ctx.create_pod(&rs)?;
        let pod = ctx.schedule(pod, PRESSURE_NODE)?;
        pods.push(ctx.bring_up(pod, &app)?);
    }
    ctx.pause().await;

    let node = set_node(
        ctx,
        node,
        true,
        "True",
        &[("node.kubernetes.io/disk-pressure", "NoSchedule")],
    )?;
    let kubelet = kubelet(PRESSURE_NODE);
    let node_ref = reference(&node, None);
    ctx.emit(
        &kubelet,
        &node_ref,
        "Normal",
        "NodeHasDiskPressure",
        format!("Node {PRESSURE_NODE} status is now: NodeHasDiskPressure"),
    )?;
    ctx.emit(
        &kubelet,
        &node_ref,
        "Warning",
        "EvictionThresholdMet",
        "Attempting to reclaim ephemeral-storage",
    )?;
    ctx.pause().await;
    let evicted = &pods[0];
    ctx.emit(&kubelet, &reference(evicted, None), "Warning", "Evicted",
        "The node was low on resource: ephemeral-storage. Threshold quantity: 10Gi, available: 8540Mi. Container shipper was using 3Gi, request is 0, has larger consumption of ephemeral-storage.")?;
    ctx.kill(evicted, "shipper")?;
    ctx.patch_pod_status(evicted, json!({
        "phase": "Failed", "reason": "Evicted",
        "message": "The node was low on resource: ephemeral-storage. Threshold quantity: 10Gi, available: 8540Mi. ",
        "containerStatuses": [{"name": "shipper", "image": app.image("shipper"), "imageID": "", "ready": false,
            "restartCount": 0, "state": {"terminated": {"exitCode": 137, "reason": "ContainerStatusUnknown", "finishedAt": now()}}}]
    }))?;
    ctx.pause().await;

    // The kubelet stops posting status; the node lifecycle controller marks the node.
    let node = set_node(
        ctx,
        node,
        true,
        "Unknown",
        &[
            ("node.kubernetes.io/disk-pressure", "NoSchedule"),
            ("node.kubernetes.io/unreachable", "NoSchedule"),
            ("node.kubernetes.io/unreachable", "NoExecute"),
        ],
    )?;
    let node_controller = controller("node-controller");
    ctx.emit(
        &node_controller,
        &reference(&node, None),
        "Normal",
        "NodeNotReady",
        format!("Node {PRESSURE_NODE} status is now: NodeNotReady"),
    )?;
    let remaining = &pods[1];
    ctx.emit(
        &node_controller,
        &reference(remaining, None),
        "Warning",
        "NodeNotReady",
        "Node is not ready",
    )?;
    ctx.pause().await;
    let name = remaining.metadata.name.clone().unwrap_or_default();
    ctx.emit(
        &controller("taint-eviction-controller"),
        &reference(remaining, None),
        "Normal",
        "TaintManagerEviction",
        format!("Marking for deletion Pod {PRESSURE_NAMESPACE}/{name}"),
    )?;
    ctx.sim.delete::<Pod>(Some(PRESSURE_NAMESPACE), &name)?;
    ctx.pause().await;
    Ok(())
}

/// Puts the node back to Ready without taints (a loop starts from a healthy node).
fn reset_node(ctx: &Ctx<'_>, name: &str) -> Result<Node> {
    let node = ctx.sim.get::<Node>(None, name)?.unwrap_or_default();
    set_node(ctx, node, false, "True", &[])
}

fn set_node(
    ctx: &Ctx<'_>,
    mut node: Node,
    disk_pressure: bool,
    ready: &str,
    taints: &[(&str, &str)],
) -> Result<Node> {
    let conditions = node_conditions(disk_pressure, ready);
    if let Some(status) = node.status.as_mut() {
        status.conditions = serde_json::from_value(conditions).map_err(|source| Error::Decode {
            kind: "NodeCondition",
            source,
        })?;
    }
    let taints: Vec<_> = taints
        .iter()
        .map(|(key, effect)| k8s_openapi::api::core::v1::Taint {
            key: (*key).to_string(),
            effect: (*effect).to_string(),
            ..Default::default()
        })
        .collect();
    if let Some(spec) = node.spec.as_mut() {
        spec.taints = (!taints.is_empty()).then_some(taints);
    }
    ctx.sim.replace(&node)
}

pub(crate) const SCHEDULING_NAMESPACE: &str = "ml";

/// `trainer` asks for 16 CPUs; every node has 4.
pub(crate) async fn failed_scheduling(ctx: &mut Ctx<'_>) -> Result<()> {
    let app = App {
        namespace: SCHEDULING_NAMESPACE,
        name: "trainer",
        replicas: 1,
        pod_spec: json!({"containers": [{"name": "trainer", "image": "ghcr.io/acme/trainer:5.0.0",
            "resources": {"requests": {"cpu": "16", "memory": "8Gi"}}}]}),
    };
    ctx.cleanup(app.namespace, app.name)?;
    ctx.ensure_nodes()?;
    let (_, rs) = ctx.create_deployment(&app)?;
    let pod = ctx.create_pod(&rs)?;
    let message = "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.";
    ctx.fail_scheduling(&pod, message, 4).await?;
    Ok(())
}
