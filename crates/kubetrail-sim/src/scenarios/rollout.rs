//! A Deployment rollout: three pods come up, then an image update replaces them one by one.

use serde_json::json;

use super::cluster::{App, Ctx, NODES};
use crate::error::Result;

pub(crate) const NAMESPACE: &str = "shop";
const APP: &str = "web";

fn app(image: &str) -> App {
    App {
        namespace: NAMESPACE,
        name: APP,
        replicas: 3,
        pod_spec: json!({"containers": [{
            "name": "nginx", "image": image,
            "ports": [{"containerPort": 80, "protocol": "TCP"}],
            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}
        }]}),
    }
}

pub(crate) async fn run(ctx: &mut Ctx<'_>) -> Result<()> {
    ctx.cleanup(NAMESPACE, APP)?;
    ctx.ensure_nodes()?;
    let first = app("nginx:1.27.2");
    let (deployment, old_rs) = ctx.create_deployment(&first)?;
    let mut old_pods = Vec::new();
    for node in NODES {
        let pod = ctx.create_pod(&old_rs)?;
        let pod = ctx.schedule(pod, node)?;
        old_pods.push(ctx.bring_up(pod, &first)?);
        ctx.pause().await;
    }

    // The image changes: a new ReplicaSet takes over one pod at a time.
    let next = app("nginx:1.27.3");
    let mut deployment = deployment;
    if let Some(spec) = deployment.spec.as_mut() {
        spec.template.spec = serde_json::from_value(next.pod_spec.clone()).ok();
    }
    let deployment = ctx.sim.replace(&deployment)?;
    let mut new_rs = ctx.create_replica_set(&deployment, &next, 2)?;
    let mut old_rs = old_rs;
    for (step, (old_pod, node)) in old_pods.into_iter().zip(NODES).enumerate() {
        let replicas = i32::try_from(step).unwrap_or(0) + 1;
        new_rs = ctx.scale_replica_set(&deployment, new_rs, replicas)?;
        let pod = ctx.create_pod(&new_rs)?;
        let pod = ctx.schedule(pod, node)?;
        ctx.bring_up(pod, &next)?;
        ctx.pause().await;
        old_rs = ctx.scale_replica_set(&deployment, old_rs, 3 - replicas)?;
        let old_name = old_pod.metadata.name.clone().unwrap_or_default();
        ctx.emit(
            &super::recorder::controller("replicaset-controller"),
            &super::cluster::reference(&old_rs, None),
            "Normal",
            "SuccessfulDelete",
            format!("Deleted pod: {old_name}"),
        )?;
        ctx.kill(&old_pod, "nginx")?;
        ctx.sim
            .delete::<k8s_openapi::api::core::v1::Pod>(Some(NAMESPACE), &old_name)?;
        ctx.pause().await;
    }
    Ok(())
}
