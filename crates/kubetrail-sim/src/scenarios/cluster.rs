//! The scenario toolkit: a context that creates objects the way controllers do and records
//! the Events the real components write at each step (wording from kubelet, scheduler and
//! kube-controller-manager v1.3x).

use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Node, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::recorder::{Occurrence, Recorder, Reporter, controller, kubelet, scheduler};
use crate::error::{Error, Result};
use crate::handle::SimHandle;
use crate::store::random_suffix;

/// The worker nodes every scenario schedules onto (4 CPUs, 16Gi each).
pub(crate) const NODES: [&str; 3] = ["worker-1", "worker-2", "worker-3"];

/// What a scenario runs against, and how fast.
pub(crate) struct Ctx<'a> {
    pub sim: &'a SimHandle,
    pub recorder: Recorder,
    pace: Duration,
}

/// A Deployment to create: its namespace, name, replicas and pod spec (JSON).
pub(crate) struct App {
    pub namespace: &'static str,
    pub name: &'static str,
    pub replicas: i32,
    pub pod_spec: Value,
}

impl App {
    /// The image of the named container (or init container).
    pub(crate) fn image(&self, container: &str) -> String {
        ["containers", "initContainers"]
            .iter()
            .filter_map(|list| self.pod_spec.get(*list).and_then(Value::as_array))
            .flatten()
            .find(|c| c["name"] == container)
            .and_then(|c| c["image"].as_str())
            .unwrap_or_default()
            .to_string()
    }
}

/// Decodes a JSON literal into its `k8s-openapi` type.
pub(crate) fn typed<T: DeserializeOwned + k8s_openapi::Resource>(value: Value) -> Result<T> {
    serde_json::from_value(value).map_err(|source| Error::Decode {
        kind: T::KIND,
        source,
    })
}

/// An ObjectReference to `object`, as recorders put in `regarding`.
pub(crate) fn reference<K>(object: &K, field_path: Option<String>) -> ObjectReference
where
    K: k8s_openapi::Resource + k8s_openapi::Metadata<Ty = ObjectMeta>,
{
    let metadata = object.metadata();
    ObjectReference {
        api_version: Some(K::API_VERSION.to_string()),
        kind: Some(K::KIND.to_string()),
        name: metadata.name.clone(),
        namespace: metadata.namespace.clone(),
        uid: metadata.uid.clone(),
        resource_version: metadata.resource_version.clone(),
        field_path,
    }
}

/// The fieldPath kubelet events name a container by.
pub(crate) fn container_path(container: &str, init: bool) -> Option<String> {
    let list = if init { "initContainers" } else { "containers" };
    Some(format!("spec.{list}{{{container}}}"))
}

fn name_of<K: k8s_openapi::Metadata<Ty = ObjectMeta>>(object: &K) -> String {
    object.metadata().name.clone().unwrap_or_default()
}

fn namespace_of<K: k8s_openapi::Metadata<Ty = ObjectMeta>>(object: &K) -> String {
    object.metadata().namespace.clone().unwrap_or_default()
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(sim: &'a SimHandle, pace: Duration) -> Self {
        Self {
            sim,
            recorder: Recorder::default(),
            pace,
        }
    }

    /// Waits one step (nothing when the pace is zero).
    pub(crate) async fn pause(&self) {
        if !self.pace.is_zero() {
            tokio::time::sleep(self.pace).await;
        }
    }

    /// Records an event on behalf of `reporter`.
    pub(crate) fn emit(
        &mut self,
        reporter: &Reporter,
        regarding: &ObjectReference,
        type_: &str,
        reason: &str,
        note: impl Into<String>,
    ) -> Result<()> {
        let action = match reason {
            "Scheduled" => "Binding",
            "FailedScheduling" => "Scheduling",
            _ => "",
        };
        self.recorder.record(
            self.sim,
            reporter,
            Occurrence {
                regarding,
                type_,
                reason,
                action,
                note: note.into(),
            },
        )?;
        Ok(())
    }

    /// Creates the worker nodes if they are missing (a loop reuses them).
    pub(crate) fn ensure_nodes(&self) -> Result<Vec<Node>> {
        NODES.iter().map(|name| self.ensure_node(name)).collect()
    }

    pub(crate) fn ensure_node(&self, name: &str) -> Result<Node> {
        if let Some(node) = self.sim.get::<Node>(None, name)? {
            return Ok(node);
        }
        let node: Node = typed(json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {
                "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"
            }},
            "spec": {"podCIDR": "10.244.0.0/24"},
            "status": {
                "capacity": {"cpu": "4", "memory": "16Gi", "pods": "110", "ephemeral-storage": "100Gi"},
                "allocatable": {"cpu": "4", "memory": "15Gi", "pods": "110", "ephemeral-storage": "92Gi"},
                "conditions": node_conditions(false, "True"),
                "nodeInfo": {
                    "kubeletVersion": "v1.36.2", "containerRuntimeVersion": "containerd://2.1.4",
                    "osImage": "Debian GNU/Linux 13 (trixie)", "kernelVersion": "6.12.48",
                    "operatingSystem": "linux", "architecture": "amd64",
                    "machineID": "", "systemUUID": "", "bootID": "", "kubeProxyVersion": ""
                }
            }
        }))?;
        match self.sim.create(&node) {
            // Scenarios run side by side: another one may have created it meanwhile.
            Err(crate::Error::Api(e)) if e.code == 409 => self
                .sim
                .get::<Node>(None, name)?
                .ok_or(crate::Error::Api(e)),
            other => other,
        }
    }

    /// Removes what a previous loop left of an app (its Deployment, ReplicaSets and Pods),
    /// as the garbage collector would after a delete.
    pub(crate) fn cleanup(&self, namespace: &str, app: &str) -> Result<()> {
        let labelled = |labels: Option<&std::collections::BTreeMap<String, String>>| {
            labels.and_then(|l| l.get("app")).map(String::as_str) == Some(app)
        };
        for pod in self.sim.list::<Pod>(Some(namespace))? {
            if labelled(pod.metadata.labels.as_ref()) {
                self.sim.delete::<Pod>(Some(namespace), &name_of(&pod))?;
            }
        }
        for rs in self.sim.list::<ReplicaSet>(Some(namespace))? {
            if labelled(rs.metadata.labels.as_ref()) {
                self.sim
                    .delete::<ReplicaSet>(Some(namespace), &name_of(&rs))?;
            }
        }
        if self.sim.get::<Deployment>(Some(namespace), app)?.is_some() {
            self.sim.delete::<Deployment>(Some(namespace), app)?;
        }
        Ok(())
    }

    /// Creates the Deployment and its first ReplicaSet; the deployment controller reports
    /// `ScalingReplicaSet`.
    pub(crate) fn create_deployment(&mut self, app: &App) -> Result<(Deployment, ReplicaSet)> {
        let deployment: Deployment = typed(json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": app.name, "namespace": app.namespace, "labels": {"app": app.name},
                         "annotations": {"deployment.kubernetes.io/revision": "1"}},
            "spec": {
                "replicas": app.replicas,
                "selector": {"matchLabels": {"app": app.name}},
                "template": {"metadata": {"labels": {"app": app.name}}, "spec": app.pod_spec},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}
            }
        }))?;
        let deployment = self.sim.create(&deployment)?;
        let rs = self.create_replica_set(&deployment, app, 1)?;
        self.scale_replica_set(&deployment, rs, app.replicas)
            .map(|rs| (deployment, rs))
    }

    /// Creates a ReplicaSet (0 replicas) for a revision of the Deployment.
    pub(crate) fn create_replica_set(
        &self,
        deployment: &Deployment,
        app: &App,
        revision: u32,
    ) -> Result<ReplicaSet> {
        let template = deployment
            .spec
            .as_ref()
            .map(|s| s.template.clone())
            .unwrap_or_default();
        let pod_spec = serde_json::to_value(&template.spec).unwrap_or(Value::Null);
        let hash = random_suffix(10);
        let rs: ReplicaSet = typed(json!({
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {
                "name": format!("{}-{hash}", app.name), "namespace": app.namespace,
                "labels": {"app": app.name, "pod-template-hash": hash},
                "annotations": {"deployment.kubernetes.io/revision": revision.to_string()},
                "ownerReferences": [owner(deployment)]
            },
            "spec": {
                "replicas": 0,
                "selector": {"matchLabels": {"app": app.name, "pod-template-hash": hash}},
                "template": {"metadata": {"labels": {"app": app.name, "pod-template-hash": hash}}, "spec": pod_spec}
            }
        }))?;
        self.sim.create(&rs)
    }

    /// Scales a ReplicaSet; the deployment controller reports `ScalingReplicaSet`.
    pub(crate) fn scale_replica_set(
        &mut self,
        deployment: &Deployment,
        mut rs: ReplicaSet,
        replicas: i32,
    ) -> Result<ReplicaSet> {
        let from = rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0);
        if let Some(spec) = rs.spec.as_mut() {
            spec.replicas = Some(replicas);
        }
        let rs = self.sim.replace(&rs)?;
        let direction = if replicas >= from { "up" } else { "down" };
        self.emit(
            &controller("deployment-controller"),
            &reference(deployment, None),
            "Normal",
            "ScalingReplicaSet",
            format!(
                "Scaled {direction} replica set {} from {from} to {replicas}",
                name_of(&rs)
            ),
        )?;
        Ok(rs)
    }

    /// Creates a Pod of the ReplicaSet; the replicaset controller reports `SuccessfulCreate`.
    pub(crate) fn create_pod(&mut self, rs: &ReplicaSet) -> Result<Pod> {
        let template = rs
            .spec
            .as_ref()
            .and_then(|s| s.template.clone())
            .unwrap_or_default();
        let labels = template.metadata.and_then(|m| m.labels).unwrap_or_default();
        let pod: Pod = typed(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {
                "name": format!("{}-{}", name_of(rs), random_suffix(5)),
                "namespace": namespace_of(rs),
                "labels": labels,
                "ownerReferences": [owner(rs)]
            },
            "spec": template.spec,
            "status": {"phase": "Pending", "qosClass": "Burstable"}
        }))?;
        let pod = self.sim.create(&pod)?;
        self.emit(
            &controller("replicaset-controller"),
            &reference(rs, None),
            "Normal",
            "SuccessfulCreate",
            format!("Created pod: {}", name_of(&pod)),
        )?;
        Ok(pod)
    }

    /// Binds a Pod to a node; the scheduler reports `Scheduled`.
    pub(crate) fn schedule(&mut self, mut pod: Pod, node: &str) -> Result<Pod> {
        if let Some(spec) = pod.spec.as_mut() {
            spec.node_name = Some(node.to_string());
        }
        let pod = self.sim.replace(&pod)?;
        self.emit(
            &scheduler(),
            &reference(&pod, None),
            "Normal",
            "Scheduled",
            format!(
                "Successfully assigned {}/{} to {node}",
                namespace_of(&pod),
                name_of(&pod)
            ),
        )?;
        let ip = format!(
            "10.244.{}.{}",
            NODES.iter().position(|n| *n == node).unwrap_or(0) + 1,
            2 + u16::from(uuid::Uuid::new_v4().as_bytes()[0] % 250)
        );
        self.patch_pod_status(
            &pod,
            json!({"hostIP": "192.168.49.2", "podIP": ip, "startTime": now(),
                   "conditions": [{"type": "PodScheduled", "status": "True", "lastTransitionTime": now()}]}),
        )
    }

    /// Pulls a container's image for the first time: `Pulling` then `Pulled` (with timing).
    pub(crate) fn pull(
        &mut self,
        pod: &Pod,
        container: &str,
        image: &str,
        init: bool,
    ) -> Result<()> {
        let node = node_of(pod);
        let regarding = reference(pod, container_path(container, init));
        self.emit(
            &kubelet(&node),
            &regarding,
            "Normal",
            "Pulling",
            format!("Pulling image \"{image}\""),
        )?;
        self.emit(
            &kubelet(&node),
            &regarding,
            "Normal",
            "Pulled",
            format!(
                "Successfully pulled image \"{image}\" in 2.481s (2.481s including waiting). Image size: 48213602 bytes."
            ),
        )
    }

    /// Creates and starts a container whose image is present: `Created`, `Started`
    /// (preceded by `Pulled ... already present` on a restart).
    pub(crate) fn start_container(
        &mut self,
        pod: &Pod,
        container: &str,
        image: &str,
        init: bool,
        restart: bool,
    ) -> Result<()> {
        let node = node_of(pod);
        let regarding = reference(pod, container_path(container, init));
        if restart {
            self.emit(
                &kubelet(&node),
                &regarding,
                "Normal",
                "Pulled",
                format!("Container image \"{image}\" already present on machine"),
            )?;
        }
        self.emit(
            &kubelet(&node),
            &regarding,
            "Normal",
            "Created",
            format!("Created container: {container}"),
        )?;
        self.emit(
            &kubelet(&node),
            &regarding,
            "Normal",
            "Started",
            format!("Started container {container}"),
        )
    }

    /// The kubelet's crash-loop back-off for a container.
    pub(crate) fn back_off_restart(
        &mut self,
        pod: &Pod,
        container: &str,
        init: bool,
    ) -> Result<()> {
        let node = node_of(pod);
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        self.emit(
            &kubelet(&node),
            &reference(pod, container_path(container, init)),
            "Warning",
            "BackOff",
            format!(
                "Back-off restarting failed container {container} in pod {}_{}({uid})",
                name_of(pod),
                namespace_of(pod)
            ),
        )
    }

    /// Stops a container: `Killing`.
    pub(crate) fn kill(&mut self, pod: &Pod, container: &str) -> Result<()> {
        let node = node_of(pod);
        self.emit(
            &kubelet(&node),
            &reference(pod, container_path(container, false)),
            "Normal",
            "Killing",
            format!("Stopping container {container}"),
        )
    }

    /// Merges `status` into the Pod's status (as the kubelet's status manager patches it).
    pub(crate) fn patch_pod_status(&self, pod: &Pod, status: Value) -> Result<Pod> {
        let Some(mut current) = self
            .sim
            .get::<Pod>(pod.metadata.namespace.as_deref(), &name_of(pod))?
        else {
            return Ok(pod.clone());
        };
        let mut value = serde_json::to_value(&current.status).unwrap_or(Value::Null);
        crate::patch::merge_patch(&mut value, &status);
        current.status = serde_json::from_value(value).map_err(|source| Error::Decode {
            kind: "PodStatus",
            source,
        })?;
        self.sim.replace(&current)
    }

    /// The scheduler cannot place `pod`: its `PodScheduled` condition says why, and it
    /// reports `FailedScheduling` with `message` `times` times, a step apart.
    pub(crate) async fn fail_scheduling(
        &mut self,
        pod: &Pod,
        message: &str,
        times: usize,
    ) -> Result<()> {
        self.patch_pod_status(
            pod,
            json!({"conditions": [{"type": "PodScheduled", "status": "False",
                "reason": "Unschedulable", "message": message, "lastTransitionTime": now()}]}),
        )?;
        let regarding = reference(pod, None);
        for _ in 0..times {
            self.emit(
                &scheduler(),
                &regarding,
                "Warning",
                "FailedScheduling",
                message,
            )?;
            self.pause().await;
        }
        Ok(())
    }

    /// Reports a container's state in the Pod status.
    pub(crate) fn set_container(
        &self,
        pod: &Pod,
        container: &str,
        image: &str,
        state: Value,
        restarts: i32,
        phase: &str,
    ) -> Result<Pod> {
        let ready = state.get("running").is_some();
        self.patch_pod_status(
            pod,
            json!({
                "phase": phase,
                "containerStatuses": [{
                    "name": container, "image": image, "imageID": "", "ready": ready,
                    "started": ready, "restartCount": restarts, "state": state
                }]
            }),
        )
    }

    /// Starts every container of a freshly scheduled Pod, pulling images, and marks it
    /// Running.
    pub(crate) fn bring_up(&mut self, pod: Pod, app: &App) -> Result<Pod> {
        let containers: Vec<String> = app.pod_spec["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["name"].as_str().map(str::to_string))
            .collect();
        for container in &containers {
            let image = app.image(container);
            self.pull(&pod, container, &image, false)?;
            self.start_container(&pod, container, &image, false, false)?;
        }
        let first = containers.first().cloned().unwrap_or_default();
        self.set_container(
            &pod,
            &first,
            &app.image(&first),
            json!({"running": {"startedAt": now()}}),
            0,
            "Running",
        )
    }
}

/// The node a Pod is bound to.
pub(crate) fn node_of(pod: &Pod) -> String {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.clone())
        .unwrap_or_default()
}

/// A controller ownerReference to `object`.
pub(crate) fn owner<K>(object: &K) -> Value
where
    K: k8s_openapi::Resource + k8s_openapi::Metadata<Ty = ObjectMeta>,
{
    json!({
        "apiVersion": K::API_VERSION, "kind": K::KIND,
        "name": object.metadata().name, "uid": object.metadata().uid,
        "controller": true, "blockOwnerDeletion": true
    })
}

/// Now, as a `Time` string.
pub(crate) fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// Node conditions: Ready with `ready_status`, DiskPressure with `disk_pressure`.
pub(crate) fn node_conditions(disk_pressure: bool, ready_status: &str) -> Value {
    let now = now();
    let (ready_reason, ready_message) = match ready_status {
        "True" => ("KubeletReady", "kubelet is posting ready status"),
        _ => ("NodeStatusUnknown", "Kubelet stopped posting node status."),
    };
    json!([
        {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory",
         "message": "kubelet has sufficient memory available", "lastHeartbeatTime": now, "lastTransitionTime": now},
        if disk_pressure {
            json!({"type": "DiskPressure", "status": "True", "reason": "KubeletHasDiskPressure",
                   "message": "kubelet has disk pressure", "lastHeartbeatTime": now, "lastTransitionTime": now})
        } else {
            json!({"type": "DiskPressure", "status": "False", "reason": "KubeletHasNoDiskPressure",
                   "message": "kubelet has no disk pressure", "lastHeartbeatTime": now, "lastTransitionTime": now})
        },
        {"type": "PIDPressure", "status": "False", "reason": "KubeletHasSufficientPID",
         "message": "kubelet has sufficient PID available", "lastHeartbeatTime": now, "lastTransitionTime": now},
        {"type": "Ready", "status": ready_status, "reason": ready_reason, "message": ready_message,
         "lastHeartbeatTime": now, "lastTransitionTime": now}
    ])
}
