//! The Event watch of one cluster (or one namespace of it): list, then watch from the list's
//! resourceVersion, resume from the last stored resourceVersion, relist on `410 Gone`.
//!
//! The output is a stream of [`Batch`]es (the state machine is in `machine.rs`), each carrying the resourceVersion it advances the
//! cursor to; the caller stores a batch and its cursor in one transaction, so a restart resumes
//! exactly where the store stopped. A relist replays every Event the server still holds: the
//! store's identity (cluster, uid) and count deltas make that idempotent.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};
use k8s_openapi::api::{core::v1 as core, events::v1 as events};
use kube::api::Api;
use kube::{Client, Resource};
use kubetrail_model::Event;
use kubetrail_process::{Rejected, from_core, from_events_v1};
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::machine::batches;

/// Which Event API a cluster is watched through. Never both: they serve the same objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventApi {
    /// `events.k8s.io/v1`, preferred.
    EventsV1,
    /// `core/v1`, when the former is not served.
    CoreV1,
}

/// Asks the API server whether `events.k8s.io/v1` is served.
pub async fn detect_api(client: &Client) -> Result<EventApi, kube::Error> {
    match client.list_api_group_resources("events.k8s.io/v1").await {
        Ok(list) if list.resources.iter().any(|r| r.name == "events") => Ok(EventApi::EventsV1),
        Ok(_) => Ok(EventApi::CoreV1),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(EventApi::CoreV1),
        Err(e) => Err(e),
    }
}

/// How to watch.
#[derive(Debug, Clone)]
pub struct WatchConfig {
    /// The cluster name the events are normalized for.
    pub cluster: String,
    /// What the cursor stream is called: `events`, or a change watch's `changes/<resource>`.
    pub stream_name: String,
    /// One namespace, or all when `None`.
    pub namespace: Option<String>,
    /// Sent to the API server (e.g. `type=Warning`).
    pub field_selector: Option<String>,
    /// Sent to the API server with every list and watch; `None` selects every Event.
    pub label_selector: Option<String>,
    /// Items per list page.
    pub page_size: u32,
    /// A batch is handed over when it has this many events…
    pub batch_max: usize,
    /// …or when its first event has waited this long.
    pub batch_wait: Duration,
    /// The first delay before retrying a failed request (doubled with each failure).
    pub backoff_min: Duration,
    /// The longest delay between retries.
    pub backoff_max: Duration,
    /// Client-side limit on list and watch requests.
    pub requests_per_second: f64,
    /// Requests that may be made at once before `requests_per_second` applies.
    pub burst: u32,
    /// Server-side watch timeout, in seconds; the watch is then reopened from the last version.
    pub watch_timeout: u32,
}

impl WatchConfig {
    /// The defaults for watching every namespace of `cluster`: pages of 250, batches of up to 250
    /// events or 100 ms, backoff from 200 ms to 30 s, 5 requests per second (bursts of 10), 290 s
    /// watch timeout. Pages and batches are what a watcher holds in flight (a page's body and
    /// its decoded Events, the pending batch, two queued, the one being stored and its copy for
    /// alerting): at 250 instead of 500 and 1,000, `run` holds ~3 MiB less during a list of
    /// 30,000 Events, for ~10 % more CPU per event (issue 14 §2, docs/BENCHMARKS.md).
    pub fn new(cluster: &str) -> Self {
        WatchConfig {
            cluster: cluster.to_string(),
            stream_name: "events".to_string(),
            namespace: None,
            field_selector: None,
            label_selector: None,
            page_size: 250,
            batch_max: 250,
            batch_wait: Duration::from_millis(100),
            backoff_min: Duration::from_millis(200),
            backoff_max: Duration::from_secs(30),
            requests_per_second: 5.0,
            burst: 10,
            watch_timeout: 290,
        }
    }

    /// A gap notice's cause: `why` the watch lost its place, then what it misses: for the
    /// Event watch `events_missed`, for a change watch the changes of its resource (the relist
    /// sees where each object ended, not the steps between).
    pub fn gap_cause(&self, why: &str, events_missed: &str) -> String {
        match self.stream_name.strip_prefix("changes/") {
            Some(resource) => format!(
                "{why}: changes of {resource} made meanwhile are missing (the relist shows only their result)"
            ),
            None => format!("{why}: {events_missed}"),
        }
    }

    /// The cursor stream this watch saves its resourceVersion under.
    pub fn stream(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{}/{ns}", self.stream_name),
            None => self.stream_name.clone(),
        }
    }
}

/// Items read (normalized Events, or the change watch's observed objects), and the
/// resourceVersion to store with them.
#[derive(Debug)]
pub struct Batch<T = Event> {
    /// The cursor stream (see [`WatchConfig::stream`]).
    pub stream: String,
    /// The items, in the order received.
    pub events: Vec<T>,
    /// The resourceVersion the cursor advances to once this batch is stored.
    pub cursor: Option<String>,
    /// Set on the first batch of a relist that followed an expired resourceVersion: events
    /// created and expired while we were away may be missing.
    pub gap: Option<GapNotice>,
    /// Whether the items come from a list page (a snapshot of what exists) rather than the
    /// watch (what just happened).
    pub listed: bool,
}

impl<T> Default for Batch<T> {
    fn default() -> Self {
        Batch {
            stream: String::new(),
            events: Vec::new(),
            cursor: None,
            gap: None,
            listed: false,
        }
    }
}

/// Why events may have been missed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GapNotice {
    /// The resourceVersion we could not resume from.
    pub expired_version: String,
    /// Why, for people, e.g. `410 Gone`.
    pub cause: String,
}

/// The watch's counters live with the model, so that `/metrics` reads them without the kube
/// crate; re-exported where the watch's callers find them.
pub use kubetrail_model::WatchStats;

/// Watches Events until `cancel` fires or the receiver goes away, sending each batch to `tx`;
/// `resume` is the stored resourceVersion, if any. The task form of [`batches`] for callers
/// that join stages with channels.
pub async fn watch_events(
    client: Client,
    api: EventApi,
    config: WatchConfig,
    resume: Option<String>,
    tx: mpsc::Sender<Batch>,
    stats: Arc<WatchStats>,
    cancel: CancellationToken,
) {
    match api {
        EventApi::EventsV1 => {
            let api: Api<events::Event> = scoped(client, &config);
            forward(batches(api, config, resume, stats, cancel), tx).await
        }
        EventApi::CoreV1 => {
            let api: Api<core::Event> = scoped(client, &config);
            forward(batches(api, config, resume, stats, cancel), tx).await
        }
    }
}

/// Sends every batch of `batches` to `tx` until either ends.
pub(super) async fn forward<T>(batches: impl Stream<Item = Batch<T>>, tx: mpsc::Sender<Batch<T>>) {
    let mut batches = std::pin::pin!(batches);
    while let Some(batch) = batches.next().await {
        if tx.send(batch).await.is_err() {
            return;
        }
    }
}

fn scoped<K>(client: Client, config: &WatchConfig) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    K::DynamicType: Default,
{
    match &config.namespace {
        Some(ns) => Api::namespaced(client, ns),
        None => Api::all(client),
    }
}

/// An Event type of either API.
pub trait EventObject: Resource + DeserializeOwned + Clone + Debug + Send + Sync + 'static {
    /// The Event as kubetrail keeps it, for `cluster` (its strings moved, not copied); an
    /// Event it cannot keep (no uid, no timestamp) is refused with the reason.
    fn normalize(self, cluster: &str) -> Result<Event, Rejected>;
}

/// What the watch machine ([`batches`]) hands over of each object it reads: the Event watch
/// its normalized Events, the change watch its observed objects.
pub trait Watched: Resource + DeserializeOwned + Clone + Debug + Send + Sync + 'static {
    /// What a batch carries.
    type Item: Send + 'static;
    /// The item for an object listed, added or modified; an object that cannot be kept is
    /// refused with the reason (counted and logged).
    fn accept(self, cluster: &str) -> Result<Self::Item, String>;
    /// The item for an object deleted on the watch, if deletions matter (they do not for
    /// Events: an Event expiring is no occurrence).
    fn deleted(&self, cluster: &str) -> Option<Self::Item> {
        let _ = cluster;
        None
    }
    /// The object's uid and `metadata.generation`, for kinds that bump the generation with
    /// every spec change (the apps workloads, CronJobs): an update whose generation the watch
    /// handed over last for the object is then status-only, and is skipped before it is
    /// decoded any further (issue 15: a status storm must not slow the Event path). `None`
    /// (the default): every update is handed over.
    fn spec_generation(&self) -> Option<(&str, i64)> {
        None
    }
}

impl<K: EventObject> Watched for K {
    type Item = Event;
    fn accept(self, cluster: &str) -> Result<Event, String> {
        self.normalize(cluster).map_err(|r| r.to_string())
    }
}

impl EventObject for events::Event {
    fn normalize(self, cluster: &str) -> Result<Event, Rejected> {
        from_events_v1(self, cluster)
    }
}

impl EventObject for core::Event {
    fn normalize(self, cluster: &str) -> Result<Event, Rejected> {
        from_core(self, cluster)
    }
}
