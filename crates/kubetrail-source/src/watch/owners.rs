//! Owner links and pod placement from the cluster: what correlation needs, without a GET per
//! event and without caching objects. Pods are watched (their `spec.nodeName` is not metadata),
//! ReplicaSets and Jobs metadata-only; each change becomes an [`Observation`] for the processor,
//! and nothing is kept here, so memory stays flat as the cluster grows.

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::core::PartialObjectMeta;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};
use kubetrail_process::{ObjectLink, OwnerRef};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::warn;

/// What a reflector learned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observation {
    /// An object's controller owner (or none, for a top-level object).
    Link(ObjectLink),
    /// Which node a Pod runs on.
    Placement {
        /// The Pod's namespace.
        namespace: String,
        /// The Pod's name.
        pod: String,
        /// The node's name.
        node: String,
    },
}

/// Runs the Pod, ReplicaSet and Job reflectors until cancelled or the receiver goes away.
pub async fn watch_owners(
    client: Client,
    tx: mpsc::Sender<Observation>,
    cancel: CancellationToken,
) {
    let pods = pods(Api::<Pod>::all(client.clone()), tx.clone());
    let rs = metadata(
        Api::<PartialObjectMeta<ReplicaSet>>::all(client.clone()),
        "ReplicaSet",
        tx.clone(),
    );
    let jobs = metadata(Api::<PartialObjectMeta<Job>>::all(client), "Job", tx);
    tokio::select! {
        _ = cancel.cancelled() => {}
        _ = async { tokio::join!(pods, rs, jobs) } => {}
    }
}

fn link(kind: &str, meta: &ObjectMeta) -> Option<ObjectLink> {
    let owner = meta.owner_references.as_ref().and_then(|refs| {
        refs.iter()
            .find(|r| r.controller == Some(true))
            .or_else(|| refs.first())
            .map(|r| OwnerRef {
                kind: r.kind.clone(),
                name: r.name.clone(),
                uid: r.uid.clone(),
            })
    })?;
    Some(ObjectLink {
        kind: kind.to_string(),
        namespace: meta.namespace.clone().unwrap_or_default(),
        name: meta.name.clone()?,
        uid: meta.uid.clone().unwrap_or_default(),
        owner: Some(owner),
    })
}

async fn pods(api: Api<Pod>, tx: mpsc::Sender<Observation>) {
    let mut stream = watcher(api, watcher::Config::default())
        .default_backoff()
        .applied_objects()
        .boxed();
    loop {
        match stream.try_next().await {
            Ok(Some(pod)) => {
                if let Some(l) = link("Pod", &pod.metadata)
                    && tx.send(Observation::Link(l)).await.is_err()
                {
                    return;
                }
                let node = pod.spec.as_ref().and_then(|s| s.node_name.clone());
                if let (Some(node), Some(name)) = (node, pod.metadata.name.clone()) {
                    let placement = Observation::Placement {
                        namespace: pod.metadata.namespace.clone().unwrap_or_default(),
                        pod: name,
                        node,
                    };
                    if tx.send(placement).await.is_err() {
                        return;
                    }
                }
            }
            Ok(None) => return,
            Err(e) => warn!(error = %e, "pod reflector error"),
        }
    }
}

async fn metadata<K>(
    api: Api<PartialObjectMeta<K>>,
    kind: &'static str,
    tx: mpsc::Sender<Observation>,
) where
    K: kube::Resource + Clone + std::fmt::Debug + Send + Sync + 'static,
    K::DynamicType: Default + Clone + Eq + std::hash::Hash,
{
    let mut stream = watcher(api, watcher::Config::default())
        .default_backoff()
        .applied_objects()
        .boxed();
    loop {
        match stream.try_next().await {
            Ok(Some(obj)) => {
                if let Some(l) = link(kind, &obj.metadata)
                    && tx.send(Observation::Link(l)).await.is_err()
                {
                    return;
                }
            }
            Ok(None) => return,
            Err(e) => warn!(error = %e, kind, "metadata reflector error"),
        }
    }
}
