//! The change watch (issue 15): list + watch of the objects whose changes cause failures,
//! through the same machine as the Event watch ([`batches`]: pages, cursor, 410 → relist with
//! a gap), each object handed over as its compact [`Snapshot`] (never the whole object, never a
//! ConfigMap's or Secret's values).
//!
//! The diff against the last-known state, kept in the store, is the caller's (the binary's
//! change tracker): memory here is one list page or one batch.

use std::sync::Arc;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::CronJob;
use k8s_openapi::api::core::v1::{ConfigMap, Node, Secret};
use kube::{Api, Client};
use kubetrail_process::change::{Snapshot, snapshot};
use serde::Serialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::events::{Batch, WatchConfig, WatchStats, Watched, forward};
use super::machine::batches;

/// An object the change watch saw: its snapshot, and whether it was deleted.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    /// What matters of the object.
    pub snapshot: Snapshot,
    /// Deleted on the watch.
    pub deleted: bool,
}

fn observe<K: Serialize>(obj: &K, deleted: bool) -> Result<Observed, String> {
    let value = serde_json::to_value(obj).map_err(|e| format!("cannot read the object: {e}"))?;
    let snapshot = snapshot(&value).map_err(|e| e.to_string())?;
    Ok(Observed { snapshot, deleted })
}

macro_rules! tracked {
    ($($t:ty),* $(,)?) => {
        $(
            impl Watched for $t {
                type Item = Observed;
                fn accept(self, _cluster: &str) -> Result<Observed, String> {
                    observe(&self, false)
                }
                fn deleted(&self, _cluster: &str) -> Option<Observed> {
                    observe(self, true).ok()
                }
            }
        )*
    };
    // Kinds whose every spec change bumps `metadata.generation`: the watch skips their
    // status-only updates (`Watched::spec_generation`).
    (generation: $($t:ty),* $(,)?) => {
        $(
            impl Watched for $t {
                type Item = Observed;
                fn accept(self, _cluster: &str) -> Result<Observed, String> {
                    observe(&self, false)
                }
                fn deleted(&self, _cluster: &str) -> Option<Observed> {
                    observe(self, true).ok()
                }
                fn spec_generation(&self) -> Option<(&str, i64)> {
                    Some((self.metadata.uid.as_deref()?, self.metadata.generation?))
                }
            }
        )*
    };
}

tracked!(generation: Deployment, StatefulSet, DaemonSet, CronJob);
tracked!(HorizontalPodAutoscaler, Node, ConfigMap, Secret);

/// A resource the change watch can follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TrackedResource {
    /// `apps/v1` Deployments.
    Deployments,
    /// `apps/v1` StatefulSets.
    StatefulSets,
    /// `apps/v1` DaemonSets.
    DaemonSets,
    /// `batch/v1` CronJobs.
    CronJobs,
    /// `autoscaling/v2` HorizontalPodAutoscalers.
    HorizontalPodAutoscalers,
    /// Nodes.
    Nodes,
    /// ConfigMaps (keys and content hashes).
    ConfigMaps,
    /// Secrets (names, keys and content hashes; opt-in only).
    Secrets,
}

impl TrackedResource {
    /// Every resource, in the order of [`TrackedResource::NAMES`].
    pub const ALL: [TrackedResource; 8] = [
        TrackedResource::Deployments,
        TrackedResource::StatefulSets,
        TrackedResource::DaemonSets,
        TrackedResource::CronJobs,
        TrackedResource::HorizontalPodAutoscalers,
        TrackedResource::Nodes,
        TrackedResource::ConfigMaps,
        TrackedResource::Secrets,
    ];
    /// The plural lower-case names, as the API and the config write them.
    pub const NAMES: [&'static str; 8] = [
        "deployments",
        "statefulsets",
        "daemonsets",
        "cronjobs",
        "horizontalpodautoscalers",
        "nodes",
        "configmaps",
        "secrets",
    ];

    /// The resource's plural name, as in [`TrackedResource::NAMES`].
    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    /// The resource named `name` (plural, lower case), if it is one.
    pub fn parse(name: &str) -> Option<TrackedResource> {
        let i = Self::NAMES.iter().position(|n| *n == name)?;
        Some(Self::ALL[i])
    }

    /// The kind its objects have (what states are kept under).
    pub fn kind(self) -> &'static str {
        match self {
            TrackedResource::Deployments => "Deployment",
            TrackedResource::StatefulSets => "StatefulSet",
            TrackedResource::DaemonSets => "DaemonSet",
            TrackedResource::CronJobs => "CronJob",
            TrackedResource::HorizontalPodAutoscalers => "HorizontalPodAutoscaler",
            TrackedResource::Nodes => "Node",
            TrackedResource::ConfigMaps => "ConfigMap",
            TrackedResource::Secrets => "Secret",
        }
    }

    /// The cursor stream of its watch: `changes/<resource>`.
    pub fn stream(self) -> String {
        format!("changes/{}", self.as_str())
    }
}

/// Watches one resource in every namespace until `cancel` fires or the receiver goes away,
/// sending each batch of observed objects to `tx`; `resume` is the stored resourceVersion, if
/// any. `config.stream_name` is set to the resource's stream.
pub async fn watch_changes(
    client: Client,
    resource: TrackedResource,
    mut config: WatchConfig,
    resume: Option<String>,
    tx: mpsc::Sender<Batch<Observed>>,
    stats: Arc<WatchStats>,
    cancel: CancellationToken,
) {
    config.stream_name = resource.stream();
    config.namespace = None;
    macro_rules! run {
        ($t:ty) => {{
            let api: Api<$t> = Api::all(client);
            forward(batches(api, config, resume, stats, cancel), tx).await
        }};
    }
    match resource {
        TrackedResource::Deployments => run!(Deployment),
        TrackedResource::StatefulSets => run!(StatefulSet),
        TrackedResource::DaemonSets => run!(DaemonSet),
        TrackedResource::CronJobs => run!(CronJob),
        TrackedResource::HorizontalPodAutoscalers => run!(HorizontalPodAutoscaler),
        TrackedResource::Nodes => run!(Node),
        TrackedResource::ConfigMaps => run!(ConfigMap),
        TrackedResource::Secrets => run!(Secret),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_parse_from_their_names_and_name_their_streams() {
        for r in TrackedResource::ALL {
            assert_eq!(TrackedResource::parse(r.as_str()), Some(r));
        }
        assert_eq!(TrackedResource::Deployments.stream(), "changes/deployments");
        assert_eq!(TrackedResource::parse("pods"), None);
    }

    /// Lists one page, then opens one watch that sends `events` and stays open.
    struct OneWatch {
        page: std::sync::Mutex<Option<kube::api::ObjectList<Deployment>>>,
        events: std::sync::Mutex<Option<Vec<kube::api::WatchEvent<Deployment>>>>,
    }

    impl super::super::EventClient<Deployment> for OneWatch {
        fn list<'a>(
            &'a self,
            _: &'a kube::api::ListParams,
        ) -> futures::future::BoxFuture<'a, kube::Result<kube::api::ObjectList<Deployment>>>
        {
            let page = self.page.lock().unwrap().take();
            Box::pin(async move {
                match page {
                    Some(page) => Ok(page),
                    None => std::future::pending().await,
                }
            })
        }

        fn watch<'a>(
            &'a self,
            _: &'a kube::api::WatchParams,
            _: &'a str,
        ) -> futures::future::BoxFuture<'a, kube::Result<super::super::WatchStream<Deployment>>>
        {
            use futures::StreamExt;
            let events = self.events.lock().unwrap().take().unwrap_or_default();
            Box::pin(async move {
                Ok(futures::stream::iter(events.into_iter().map(Ok))
                    .chain(futures::stream::pending())
                    .boxed())
            })
        }
    }

    fn deployment(generation: i64, version: &str, ready: i32) -> Deployment {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop", "uid": "d1",
                "resourceVersion": version, "generation": generation},
            "spec": {"replicas": 3 + generation as i32, "selector": {"matchLabels": {"app": "web"}},
                "template": {"spec": {"containers": [{"name": "web", "image": "web:1"}]}}},
            "status": {"observedGeneration": generation, "readyReplicas": ready}
        }))
        .expect("a Deployment")
    }

    /// Regression (issue 15, a storm of status updates slowed the Event path): every
    /// status-only update of a Deployment was decoded into a snapshot and handed to the change
    /// tracker, which read its stored state to find it unchanged. The watch now skips an
    /// update whose generation it handed over last, and hands over the cursor alone.
    #[tokio::test(start_paused = true)]
    async fn status_only_updates_are_skipped_and_only_move_the_cursor() {
        use futures::StreamExt;
        use kube::api::WatchEvent::Modified;
        let client = OneWatch {
            page: std::sync::Mutex::new(Some(kube::api::ObjectList {
                types: Default::default(),
                metadata: kube::core::ListMeta {
                    resource_version: Some("10".into()),
                    ..Default::default()
                },
                items: vec![deployment(1, "10", 0)],
            })),
            events: std::sync::Mutex::new(Some(vec![
                Modified(deployment(1, "11", 1)),
                Modified(deployment(1, "12", 2)),
                Modified(deployment(2, "13", 2)),
                Modified(deployment(2, "14", 3)),
            ])),
        };
        let mut config = WatchConfig::new("prod");
        config.stream_name = TrackedResource::Deployments.stream();
        config.requests_per_second = 1_000.0;
        let stats = Arc::new(WatchStats::default());
        let batches =
            super::super::batches(client, config, None, stats.clone(), Default::default());
        let mut batches = std::pin::pin!(batches);
        let listed = batches.next().await.expect("the listing");
        assert_eq!((listed.events.len(), listed.listed), (1, true));
        let watched = batches.next().await.expect("the watch's batch");
        let versions: Vec<&str> = watched
            .events
            .iter()
            .map(|o| o.snapshot.resource_version.as_str())
            .collect();
        assert_eq!(versions, ["13"], "only the spec change is handed over");
        assert_eq!(watched.cursor.as_deref(), Some("14"));
        assert_eq!(stats.received.load(std::sync::atomic::Ordering::Relaxed), 5);
    }

    #[test]
    fn a_typed_secret_is_observed_without_its_values() {
        let mut secret = Secret::default();
        secret.metadata.name = Some("db".into());
        secret.metadata.uid = Some("s1".into());
        secret.metadata.namespace = Some("shop".into());
        secret.data = Some(
            [(
                "password".to_string(),
                k8s_openapi::ByteString(b"hunter2".to_vec()),
            )]
            .into(),
        );
        let seen = secret.accept("prod").expect("observed");
        let text = format!("{seen:?}");
        assert!(
            !text.contains("hunter2") && !text.contains("aHVudGVyMg"),
            "{text}"
        );
        assert!(seen.snapshot.state.entries()["data.password"].starts_with("sha256:"));
        assert_eq!(seen.snapshot.object.kind, "Secret");
    }
}
