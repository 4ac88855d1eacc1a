//! Pods that fail in the common ways: a crash loop, an image that cannot be pulled, a volume
//! that cannot be mounted, a container killed for memory, a sidecar that is not ready in time.

use k8s_openapi::api::core::v1::Pod;
use serde_json::json;

use super::cluster::{App, Ctx, container_path, node_of, now, reference};
use super::recorder::{kernel_monitor, kubelet, scheduler};
use crate::error::Result;

/// How many times a failing step repeats (counts and series grow with each).
const REPEATS: usize = 4;

/// Creates an app of one replica and schedules its pod on `node`.
fn one_pod(ctx: &mut Ctx<'_>, app: &App, node: &str) -> Result<Pod> {
    ctx.cleanup(app.namespace, app.name)?;
    ctx.ensure_nodes()?;
    let (_, rs) = ctx.create_deployment(app)?;
    let pod = ctx.create_pod(&rs)?;
    ctx.schedule(pod, node)
}

pub(crate) const CRASH_LOOP_NAMESPACE: &str = "payments";

/// `payments-api` exits with an error right after starting, over and over.
pub(crate) async fn crash_loop(ctx: &mut Ctx<'_>) -> Result<()> {
    let app = App {
        namespace: CRASH_LOOP_NAMESPACE,
        name: "payments-api",
        replicas: 1,
        pod_spec: json!({"containers": [{"name": "api", "image": "ghcr.io/acme/payments-api:2.4.1",
            "env": [{"name": "DATABASE_URL", "value": "postgres://payments-db:5432/payments"}]}]}),
    };
    let image = app.image("api");
    let pod = one_pod(ctx, &app, "worker-1")?;
    let pod = ctx.bring_up(pod, &app)?;
    ctx.pause().await;
    let mut pod = pod;
    for restart in 1..=REPEATS {
        let restarts = i32::try_from(restart).unwrap_or(i32::MAX);
        pod = ctx.set_container(
            &pod,
            "api",
            &image,
            json!({"waiting": {"reason": "CrashLoopBackOff",
                "message": format!("back-off {}s restarting failed container=api pod={}_{}({})",
                    10 << (restart - 1), pod.metadata.name.clone().unwrap_or_default(),
                    CRASH_LOOP_NAMESPACE, pod.metadata.uid.clone().unwrap_or_default())}}),
            restarts,
            "Running",
        )?;
        ctx.back_off_restart(&pod, "api", false)?;
        ctx.pause().await;
        ctx.start_container(&pod, "api", &image, false, true)?;
        ctx.pause().await;
    }
    Ok(())
}

pub(crate) const IMAGE_PULL_NAMESPACE: &str = "shop";

/// `checkout` names an image tag that does not exist.
pub(crate) async fn image_pull(ctx: &mut Ctx<'_>) -> Result<()> {
    let image = "registry.example.com/shop/checkout:v2.31";
    let app = App {
        namespace: IMAGE_PULL_NAMESPACE,
        name: "checkout",
        replicas: 1,
        pod_spec: json!({"containers": [{"name": "checkout", "image": image}]}),
    };
    let pod = one_pod(ctx, &app, "worker-2")?;
    let node = node_of(&pod);
    let regarding = reference(&pod, container_path("checkout", false));
    for _ in 0..REPEATS {
        ctx.emit(
            &kubelet(&node),
            &regarding,
            "Normal",
            "Pulling",
            format!("Pulling image \"{image}\""),
        )?;
        ctx.emit(
            &kubelet(&node),
            &regarding,
            "Warning",
            "Failed",
            format!("Failed to pull image \"{image}\": rpc error: code = NotFound desc = failed to pull and unpack image \"{image}\": failed to resolve reference \"{image}\": {image}: not found"),
        )?;
        ctx.emit(
            &kubelet(&node),
            &regarding,
            "Warning",
            "Failed",
            "Error: ErrImagePull",
        )?;
        ctx.set_container(&pod, "checkout", image,
            json!({"waiting": {"reason": "ErrImagePull", "message": format!("failed to pull and unpack image \"{image}\"")}}), 0, "Pending")?;
        ctx.pause().await;
        ctx.emit(
            &kubelet(&node),
            &regarding,
            "Normal",
            "BackOff",
            format!("Back-off pulling image \"{image}\""),
        )?;
        ctx.emit(
            &kubelet(&node),
            &regarding,
            "Warning",
            "Failed",
            "Error: ImagePullBackOff",
        )?;
        ctx.set_container(&pod, "checkout", image,
            json!({"waiting": {"reason": "ImagePullBackOff", "message": format!("Back-off pulling image \"{image}\"")}}), 0, "Pending")?;
        ctx.pause().await;
    }
    Ok(())
}

pub(crate) const FAILED_MOUNT_NAMESPACE: &str = "reports";

/// `report-worker` mounts a ConfigMap that does not exist and stays in ContainerCreating;
/// `report-archiver` claims a PVC that does not exist and cannot be scheduled.
pub(crate) async fn failed_mount(ctx: &mut Ctx<'_>) -> Result<()> {
    let app = App {
        namespace: FAILED_MOUNT_NAMESPACE,
        name: "report-worker",
        replicas: 1,
        pod_spec: json!({
            "containers": [{"name": "worker", "image": "ghcr.io/acme/report-worker:1.8.0",
                "volumeMounts": [{"name": "config", "mountPath": "/etc/report-worker"}]}],
            "volumes": [{"name": "config", "configMap": {"name": "report-worker-config"}}]
        }),
    };
    let pod = one_pod(ctx, &app, "worker-3")?;
    ctx.set_container(
        &pod,
        "worker",
        &app.image("worker"),
        json!({"waiting": {"reason": "ContainerCreating"}}),
        0,
        "Pending",
    )?;
    let node = node_of(&pod);
    let regarding = reference(&pod, None);
    for _ in 0..REPEATS {
        ctx.emit(
            &kubelet(&node),
            &regarding,
            "Warning",
            "FailedMount",
            "MountVolume.SetUp failed for volume \"config\" : configmap \"report-worker-config\" not found",
        )?;
        ctx.pause().await;
    }
    ctx.emit(
        &kubelet(&node),
        &regarding,
        "Warning",
        "FailedMount",
        "Unable to attach or mount volumes: unmounted volumes=[config], unattached volumes=[], failed to process volumes=[]: context deadline exceeded",
    )?;

    let archiver = App {
        namespace: FAILED_MOUNT_NAMESPACE,
        name: "report-archiver",
        replicas: 1,
        pod_spec: json!({
            "containers": [{"name": "archiver", "image": "ghcr.io/acme/report-archiver:1.8.0",
                "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "report-data"}}]
        }),
    };
    ctx.cleanup(archiver.namespace, archiver.name)?;
    let (_, rs) = ctx.create_deployment(&archiver)?;
    let pod = ctx.create_pod(&rs)?;
    let regarding = reference(&pod, None);
    for _ in 0..2 {
        ctx.emit(
            &scheduler(),
            &regarding,
            "Warning",
            "FailedScheduling",
            "0/3 nodes are available: persistentvolumeclaim \"report-data\" not found. not found",
        )?;
        ctx.pause().await;
    }
    Ok(())
}

pub(crate) const OOM_NAMESPACE: &str = "analytics";

/// `etl-runner` outgrows its 256Mi limit; the kernel kills it and the kubelet backs off.
pub(crate) async fn oom_kill(ctx: &mut Ctx<'_>) -> Result<()> {
    let app = App {
        namespace: OOM_NAMESPACE,
        name: "etl-runner",
        replicas: 1,
        pod_spec: json!({"containers": [{"name": "etl-runner", "image": "ghcr.io/acme/etl-runner:0.9.3",
            "resources": {"requests": {"cpu": "250m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}}}]}),
    };
    let image = app.image("etl-runner");
    let pod = one_pod(ctx, &app, "worker-2")?;
    let mut pod = ctx.bring_up(pod, &app)?;
    let node = ctx
        .sim
        .get::<k8s_openapi::api::core::v1::Node>(None, "worker-2")?
        .unwrap_or_default();
    ctx.pause().await;
    for restart in 1..=3_i32 {
        let pid = 48_211 + restart * 97;
        ctx.emit(
            &kernel_monitor("worker-2"),
            &reference(&node, None),
            "Warning",
            "OOMKilling",
            format!("Memory cgroup out of memory: Killed process {pid} (etl-runner) total-vm:1532616kB, anon-rss:262144kB, file-rss:1024kB, shmem-rss:0kB, UID:1000 pgtables:1144kB oom_score_adj:999"),
        )?;
        let restarts = restart;
        pod = ctx.patch_pod_status(
            &pod,
            json!({"containerStatuses": [{
                "name": "etl-runner", "image": image, "imageID": "", "ready": false, "started": false,
                "restartCount": restarts,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled", "finishedAt": now()}}
            }]}),
        )?;
        ctx.back_off_restart(&pod, "etl-runner", false)?;
        ctx.pause().await;
        ctx.start_container(&pod, "etl-runner", &image, false, true)?;
        ctx.pause().await;
    }
    Ok(())
}

pub(crate) const SIDECAR_NAMESPACE: &str = "mesh";

/// `orders` starts before its proxy sidecar is ready, cannot reach the network and crashes.
pub(crate) async fn sidecar_not_ready(ctx: &mut Ctx<'_>) -> Result<()> {
    let app = App {
        namespace: SIDECAR_NAMESPACE,
        name: "orders",
        replicas: 1,
        pod_spec: json!({
            "initContainers": [{"name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.27.1",
                "restartPolicy": "Always",
                "readinessProbe": {"httpGet": {"path": "/healthz/ready", "port": 15021}, "periodSeconds": 2}}],
            "containers": [{"name": "orders", "image": "ghcr.io/acme/orders:3.2.0"}]
        }),
    };
    let pod = one_pod(ctx, &app, "worker-1")?;
    let proxy_image = app.image("istio-proxy");
    let image = app.image("orders");
    ctx.pull(&pod, "istio-proxy", &proxy_image, true)?;
    ctx.start_container(&pod, "istio-proxy", &proxy_image, true, false)?;
    ctx.pull(&pod, "orders", &image, false)?;
    ctx.start_container(&pod, "orders", &image, false, false)?;
    let pod_ip = pod
        .status
        .as_ref()
        .and_then(|s| s.pod_ip.clone())
        .unwrap_or_default();
    let node = node_of(&pod);
    let proxy = reference(&pod, container_path("istio-proxy", true));
    let mut pod = pod;
    for restart in 1..=REPEATS {
        ctx.emit(
            &kubelet(&node),
            &proxy,
            "Warning",
            "Unhealthy",
            format!("Readiness probe failed: Get \"http://{pod_ip}:15021/healthz/ready\": dial tcp {pod_ip}:15021: connect: connection refused"),
        )?;
        let restarts = i32::try_from(restart).unwrap_or(i32::MAX);
        pod = ctx.patch_pod_status(
            &pod,
            json!({"phase": "Running", "containerStatuses": [{
                "name": "orders", "image": image, "imageID": "", "ready": false, "started": false,
                "restartCount": restarts,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": now()}}
            }]}),
        )?;
        ctx.back_off_restart(&pod, "orders", false)?;
        ctx.pause().await;
        ctx.start_container(&pod, "orders", &image, false, true)?;
        ctx.pause().await;
    }
    Ok(())
}
