//! Changes that break things (issue 15): each scenario makes a change through the API, with a
//! field manager, and the failures that follow it, so that change tracking records the change
//! and analysis can root the incident in it.
//!
//! - `bad-rollout`: `store/cart`'s image moves to a build that crashes (BackOff); a rollback to
//!   the previous image heals it.
//! - `config-change`: `billing/invoicer-config` is edited; the running `invoicer` restarts
//!   with it and crashes.
//! - `node-drain`: `worker-4` is cordoned and drained: its pod is evicted (Killing) and its
//!   replacement, pinned to the node, cannot be scheduled (FailedScheduling) while the node
//!   stays cordoned.
//! - `hpa-limit`: `search/query`'s HPA maximum is lowered under load; the autoscaler scales
//!   down and the remaining pods fail their readiness probes, then their liveness probe
//!   (the kubelet restarts the container).

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, Node, Pod};
use serde_json::json;

use super::cluster::{App, Ctx, reference, typed};
use super::recorder::{controller, kubelet};
use crate::error::Result;

pub(crate) const ROLLOUT_NAMESPACE: &str = "store";
pub(crate) const CONFIG_NAMESPACE: &str = "billing";
pub(crate) const DRAIN_NAMESPACE: &str = "tools";
pub(crate) const HPA_NAMESPACE: &str = "search";
/// The node the drain scenario cordons (its own, so other scenarios keep theirs).
pub(crate) const DRAINED_NODE: &str = "worker-4";

/// How many back-offs a broken container goes through.
const CRASHES: usize = 3;

/// Starts `app` with one pod on `node`; returns the Deployment, its ReplicaSet's revision and
/// the running pod.
fn running(ctx: &mut Ctx<'_>, app: &App, node: &str) -> Result<(Deployment, Pod)> {
    ctx.cleanup(app.namespace, app.name)?;
    ctx.ensure_nodes()?;
    let (deployment, rs) = ctx.create_deployment(app)?;
    let pod = ctx.create_pod(&rs)?;
    let pod = ctx.schedule(pod, node)?;
    let pod = ctx.bring_up(pod, app)?;
    Ok((deployment, pod))
}

/// Replaces the pod template's containers as `manager` would (a rollout or a rollback).
fn set_template(
    ctx: &Ctx<'_>,
    mut deployment: Deployment,
    pod_spec: &serde_json::Value,
    manager: &str,
) -> Result<Deployment> {
    if let Some(spec) = deployment.spec.as_mut() {
        spec.template.spec = serde_json::from_value(pod_spec.clone()).ok();
    }
    ctx.sim.replace_as(&deployment, manager)
}

/// The container of `pod` crashes `CRASHES` times (BackOff each time).
async fn crash(ctx: &mut Ctx<'_>, pod: &Pod, container: &str, image: &str) -> Result<()> {
    for _ in 0..CRASHES {
        ctx.start_container(pod, container, image, false, true)?;
        ctx.back_off_restart(pod, container, false)?;
        ctx.pause().await;
    }
    Ok(())
}

fn cart(image: &str) -> App {
    App {
        namespace: ROLLOUT_NAMESPACE,
        name: "cart",
        replicas: 1,
        pod_spec: json!({"containers": [{"name": "cart", "image": image}]}),
    }
}

pub(crate) async fn bad_rollout(ctx: &mut Ctx<'_>) -> Result<()> {
    let good = cart("ghcr.io/acme/cart:1.8.0");
    let (deployment, _) = running(ctx, &good, "worker-1")?;
    ctx.pause().await;
    let bad = cart("ghcr.io/acme/cart:1.9.0");
    let deployment = set_template(ctx, deployment, &bad.pod_spec, "kubectl-client-side-apply")?;
    let rs = ctx.create_replica_set(&deployment, &bad, 2)?;
    let rs = ctx.scale_replica_set(&deployment, rs, 1)?;
    let pod = ctx.create_pod(&rs)?;
    let pod = ctx.schedule(pod, "worker-1")?;
    crash(ctx, &pod, "cart", &bad.image("cart")).await?;
    // The rollback: the old template again, as `kubectl rollout undo` writes it.
    let deployment = set_template(ctx, deployment, &good.pod_spec, "kubectl-rollout")?;
    let rs = ctx.create_replica_set(&deployment, &good, 3)?;
    let rs = ctx.scale_replica_set(&deployment, rs, 1)?;
    let healed = ctx.create_pod(&rs)?;
    let healed = ctx.schedule(healed, "worker-1")?;
    ctx.bring_up(healed, &good)?;
    ctx.kill(&pod, "cart")?;
    Ok(())
}

pub(crate) async fn config_change(ctx: &mut Ctx<'_>) -> Result<()> {
    let name = "invoicer-config";
    if ctx
        .sim
        .get::<ConfigMap>(Some(CONFIG_NAMESPACE), name)?
        .is_some()
    {
        ctx.sim.delete::<ConfigMap>(Some(CONFIG_NAMESPACE), name)?;
    }
    let config: ConfigMap = typed(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": CONFIG_NAMESPACE},
        "data": {"invoicer.yaml": "currency: EUR\nrate_limit: 100\n"}
    }))?;
    let config = ctx.sim.create(&config)?;
    let app = App {
        namespace: CONFIG_NAMESPACE,
        name: "invoicer",
        replicas: 1,
        pod_spec: json!({
            "containers": [{"name": "invoicer", "image": "ghcr.io/acme/invoicer:3.2.0",
                "volumeMounts": [{"name": "config", "mountPath": "/etc/invoicer"}]}],
            "volumes": [{"name": "config", "configMap": {"name": name}}]
        }),
    };
    let (_, pod) = running(ctx, &app, "worker-2")?;
    ctx.pause().await;
    // Someone edits the ConfigMap; the app reads it at its next start and fails.
    let mut edited = config;
    edited.data = Some(
        [(
            "invoicer.yaml".to_string(),
            "currency: EUR\nrate_limit: -1\n".to_string(),
        )]
        .into(),
    );
    ctx.sim.replace_as(&edited, "kubectl-edit")?;
    ctx.pause().await;
    ctx.kill(&pod, "invoicer")?;
    crash(ctx, &pod, "invoicer", &app.image("invoicer")).await
}

pub(crate) async fn node_drain(ctx: &mut Ctx<'_>) -> Result<()> {
    // A previous round left the node cordoned: the operator uncordoned it since.
    let node = set_cordoned(ctx, ctx.ensure_node(DRAINED_NODE)?, false)?;
    let app = App {
        namespace: DRAIN_NAMESPACE,
        name: "build-agent",
        replicas: 1,
        // Pinned to the node (its build cache lives there): nowhere else to go.
        pod_spec: json!({"nodeSelector": {"kubernetes.io/hostname": DRAINED_NODE},
            "containers": [{"name": "agent", "image": "ghcr.io/acme/build-agent:5.1"}]}),
    };
    ctx.cleanup(app.namespace, app.name)?;
    let nodes = ctx.ensure_nodes()?.len() + 1;
    let (_, rs) = ctx.create_deployment(&app)?;
    let pod = ctx.create_pod(&rs)?;
    let pod = ctx.schedule(pod, DRAINED_NODE)?;
    let pod = ctx.bring_up(pod, &app)?;
    ctx.pause().await;
    // `kubectl drain`: cordon (unschedulable and its taint), then evict the node's pods.
    let cordoned = set_cordoned(ctx, node, true)?;
    ctx.emit(
        &controller("node-controller"),
        &reference(&cordoned, None),
        "Normal",
        "NodeNotSchedulable",
        format!("Node {DRAINED_NODE} status is now: NodeNotSchedulable"),
    )?;
    ctx.pause().await;
    ctx.kill(&pod, "agent")?;
    ctx.sim.delete::<Pod>(
        Some(DRAIN_NAMESPACE),
        &pod.metadata.name.clone().unwrap_or_default(),
    )?;
    // The ReplicaSet replaces the evicted pod; the only node it may run on is cordoned, so the
    // scheduler cannot place it (the wording of kube-scheduler's NodeUnschedulable and
    // NodeAffinity plugins) until someone uncordons the node.
    let replacement = ctx.create_pod(&rs)?;
    let message = format!(
        "0/{nodes} nodes are available: 1 node(s) were unschedulable, {} node(s) didn't match Pod's node affinity/selector. preemption: 0/{nodes} nodes are available: {nodes} Preemption is not helpful for scheduling.",
        nodes - 1
    );
    ctx.fail_scheduling(&replacement, &message, CRASHES).await?;
    Ok(())
}

/// Cordons (unschedulable and its `NoSchedule` taint) or uncordons `node`, as `kubectl
/// cordon`/`uncordon` write it; a node already so is left alone.
fn set_cordoned(ctx: &Ctx<'_>, mut node: Node, cordon: bool) -> Result<Node> {
    let spec = node.spec.get_or_insert_with(Default::default);
    if spec.unschedulable.unwrap_or(false) == cordon {
        return Ok(node);
    }
    spec.unschedulable = cordon.then_some(true);
    spec.taints = if cordon {
        Some(vec![typed_taint()?])
    } else {
        None
    };
    ctx.sim.replace_as(&node, "kubectl-cordon")
}

fn typed_taint() -> Result<k8s_openapi::api::core::v1::Taint> {
    serde_json::from_value(json!({
        "key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"
    }))
    .map_err(|source| crate::Error::Decode {
        kind: "Taint",
        source,
    })
}

pub(crate) async fn hpa_limit(ctx: &mut Ctx<'_>) -> Result<()> {
    let app = App {
        namespace: HPA_NAMESPACE,
        name: "query",
        replicas: 6,
        pod_spec: json!({"containers": [{"name": "query", "image": "ghcr.io/acme/query:4.0.1",
            "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}}}]}),
    };
    let (deployment, pod) = running(ctx, &app, "worker-3")?;
    let name = "query";
    if ctx
        .sim
        .get::<HorizontalPodAutoscaler>(Some(HPA_NAMESPACE), name)?
        .is_some()
    {
        ctx.sim
            .delete::<HorizontalPodAutoscaler>(Some(HPA_NAMESPACE), name)?;
    }
    let hpa: HorizontalPodAutoscaler = typed(json!({
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "namespace": HPA_NAMESPACE},
        "spec": {"minReplicas": 2, "maxReplicas": 10,
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "query"},
            "metrics": [{"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 60}}}]}
    }))?;
    let mut hpa = ctx.sim.create(&hpa)?;
    ctx.pause().await;
    // The maximum goes from 10 to 3 while the load needs 6 replicas.
    hpa.spec.max_replicas = 3;
    let hpa = ctx.sim.replace_as(&hpa, "kubectl-edit")?;
    ctx.emit(
        &controller("horizontal-pod-autoscaler"),
        &reference(&hpa, None),
        "Normal",
        "SuccessfulRescale",
        "New size: 3; reason: Current number of replicas above Spec.MaxReplicas",
    )?;
    let mut scaled = deployment;
    if let Some(spec) = scaled.spec.as_mut() {
        spec.replicas = Some(3);
    }
    ctx.sim.replace_as(&scaled, "horizontal-pod-autoscaler")?;
    let node = super::cluster::node_of(&pod);
    for _ in 0..CRASHES {
        ctx.emit(
            &kubelet(&node),
            &reference(&pod, Some("spec.containers{query}".into())),
            "Warning",
            "Unhealthy",
            "Readiness probe failed: HTTP probe failed with statuscode: 503",
        )?;
        ctx.pause().await;
    }
    // Overloaded past its liveness probe too: the kubelet restarts the container (prober.go
    // reports the failure, kuberuntime the kill), so the pods do not just wait to be ready.
    ctx.emit(
        &kubelet(&node),
        &reference(&pod, Some("spec.containers{query}".into())),
        "Warning",
        "Unhealthy",
        "Liveness probe failed: HTTP probe failed with statuscode: 503",
    )?;
    ctx.emit(
        &kubelet(&node),
        &reference(&pod, Some("spec.containers{query}".into())),
        "Normal",
        "Killing",
        "Container query failed liveness probe, will be restarted",
    )?;
    Ok(())
}
