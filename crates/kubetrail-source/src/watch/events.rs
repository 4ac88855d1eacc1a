//! The Event watch of one cluster (or one namespace of it): list, then watch from the list's
//! resourceVersion, resume from the last stored resourceVersion, relist on `410 Gone`.
//!
//! The output is a stream of [`Batch`]es, each carrying the resourceVersion it advances the
//! cursor to; the caller stores a batch and its cursor in one transaction, so a restart resumes
//! exactly where the store stopped. A relist replays every Event the server still holds: the
//! store's identity (cluster, uid) and count deltas make that idempotent.

use std::fmt::Debug;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::{core::v1 as core, events::v1 as events};
use kube::api::{Api, ListParams, WatchEvent, WatchParams};
use kube::{Client, Resource};
use kubetrail_model::Event;
use kubetrail_process::{Rejected, from_core, from_events_v1};
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::backoff::{Backoff, RateLimit};

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
    pub cluster: String,
    /// One namespace, or all when `None`.
    pub namespace: Option<String>,
    /// Sent to the API server (e.g. `type=Warning`).
    pub field_selector: Option<String>,
    pub label_selector: Option<String>,
    /// Items per list page.
    pub page_size: u32,
    /// A batch is handed over when it has this many events…
    pub batch_max: usize,
    /// …or when its first event has waited this long.
    pub batch_wait: Duration,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// Client-side limit on list and watch requests.
    pub requests_per_second: f64,
    pub burst: u32,
    /// Server-side watch timeout; the watch is then reopened from the last version.
    pub watch_timeout: u32,
}

impl WatchConfig {
    pub fn new(cluster: &str) -> Self {
        WatchConfig {
            cluster: cluster.to_string(),
            namespace: None,
            field_selector: None,
            label_selector: None,
            page_size: 500,
            batch_max: 1_000,
            batch_wait: Duration::from_millis(100),
            backoff_min: Duration::from_millis(200),
            backoff_max: Duration::from_secs(30),
            requests_per_second: 5.0,
            burst: 10,
            watch_timeout: 290,
        }
    }

    /// The cursor stream this watch saves its resourceVersion under.
    pub fn stream(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("events/{ns}"),
            None => "events".to_string(),
        }
    }
}

/// Events read, and the resourceVersion to store with them.
#[derive(Debug, Default)]
pub struct Batch {
    pub stream: String,
    pub events: Vec<Event>,
    /// The resourceVersion the cursor advances to once this batch is stored.
    pub cursor: Option<String>,
    /// Set on the first batch of a relist that followed an expired resourceVersion: events
    /// created and expired while we were away may be missing.
    pub gap: Option<GapNotice>,
}

/// Why events may have been missed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GapNotice {
    /// The resourceVersion we could not resume from.
    pub expired_version: String,
    pub cause: String,
}

/// Counters of one watch, read by metrics and tests.
#[derive(Debug, Default)]
pub struct WatchStats {
    pub received: AtomicU64,
    pub rejected: AtomicU64,
    pub malformed: AtomicU64,
    pub watch_restarts: AtomicU64,
    pub relists: AtomicU64,
    pub expired: AtomicU64,
    pub errors: AtomicU64,
    /// Set once the initial list (or resume) has been handed over.
    pub synced: AtomicU64,
}

/// What the watch is doing (kube's watcher state machine, made explicit).
enum State {
    /// No usable resourceVersion: list everything (paged), then watch from the list's version.
    /// `gap` says why we are relisting when it is not the first start.
    Empty { gap: Option<GapNotice> },
    /// Watching from this resourceVersion.
    Watching { version: String },
}

/// Watches Events until `cancel` fires or the receiver goes away; `resume` is the stored
/// resourceVersion, if any.
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
            Watch {
                api,
                config,
                tx,
                stats,
                cancel,
            }
            .run(resume)
            .await
        }
        EventApi::CoreV1 => {
            let api: Api<core::Event> = scoped(client, &config);
            Watch {
                api,
                config,
                tx,
                stats,
                cancel,
            }
            .run(resume)
            .await
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
    fn normalize(&self, cluster: &str) -> Result<Event, Rejected>;
}

impl EventObject for events::Event {
    fn normalize(&self, cluster: &str) -> Result<Event, Rejected> {
        from_events_v1(self, cluster)
    }
}

impl EventObject for core::Event {
    fn normalize(&self, cluster: &str) -> Result<Event, Rejected> {
        from_core(self, cluster)
    }
}

struct Watch<K> {
    api: Api<K>,
    config: WatchConfig,
    tx: mpsc::Sender<Batch>,
    stats: Arc<WatchStats>,
    cancel: CancellationToken,
}

/// How a watch or list attempt ended.
enum Outcome {
    /// Go on from this state.
    Next(State),
    /// Retry the same state after a backoff.
    Retry(State),
    /// Cancelled or the receiver is gone.
    Stop,
}

impl<K: EventObject> Watch<K>
where
    K::DynamicType: Default,
{
    async fn run(self, resume: Option<String>) {
        let mut backoff = Backoff::new(self.config.backoff_min, self.config.backoff_max);
        let mut limit = RateLimit::new(self.config.requests_per_second, self.config.burst);
        let mut state = match resume {
            Some(version) => State::Watching { version },
            None => State::Empty { gap: None },
        };
        loop {
            tokio::select! {
                _ = self.cancel.cancelled() => return,
                _ = limit.acquire() => {}
            }
            let outcome = match state {
                State::Empty { gap } => self.list(gap).await,
                State::Watching { version } => self.watch(version).await,
            };
            state = match outcome {
                Outcome::Next(s) => {
                    backoff.reset();
                    s
                }
                Outcome::Retry(s) => {
                    self.stats.errors.fetch_add(1, Ordering::Relaxed);
                    let delay = backoff.next_delay();
                    tokio::select! {
                        _ = self.cancel.cancelled() => return,
                        _ = tokio::time::sleep(delay) => s,
                    }
                }
                Outcome::Stop => return,
            };
        }
    }

    /// Lists every Event page by page, hands them over, and returns the version to watch from.
    async fn list(&self, gap: Option<GapNotice>) -> Outcome {
        if gap.is_some() {
            self.stats.relists.fetch_add(1, Ordering::Relaxed);
        }
        let mut params = ListParams::default().limit(self.config.page_size);
        if let Some(f) = &self.config.field_selector {
            params = params.fields(f);
        }
        if let Some(l) = &self.config.label_selector {
            params = params.labels(l);
        }
        let mut continue_token: Option<String> = None;
        let mut gap = gap;
        // The snapshot version of the pages handed over so far.
        let mut listed: Option<String> = None;
        loop {
            let mut p = params.clone();
            if let Some(c) = &continue_token {
                p = p.continue_token(c);
            }
            let page = tokio::select! {
                _ = self.cancel.cancelled() => return Outcome::Stop,
                page = self.api.list(&p) => page,
            };
            let page = match page {
                Ok(page) => page,
                Err(e) => {
                    // An expired continue token: start the list over.
                    warn!(cluster = %self.config.cluster, error = %e, "event list failed");
                    // Pages already handed over show a snapshot the new list will not
                    // continue: what changed and went between the two is missed.
                    if let (Some(version), None) = (&listed, &gap) {
                        gap = Some(GapNotice {
                            expired_version: version.clone(),
                            cause: "list failed half-way and started over: events changed and deleted meanwhile are missing".to_string(),
                        });
                    }
                    return Outcome::Retry(State::Empty { gap });
                }
            };
            let version = page.metadata.resource_version.clone().unwrap_or_default();
            listed = Some(version.clone());
            let next = page.metadata.continue_.clone().filter(|c| !c.is_empty());
            let mut events = Vec::with_capacity(page.items.len());
            for obj in &page.items {
                self.accept(obj, &mut events);
            }
            // The cursor may only advance when the last page is stored.
            let cursor = next.is_none().then(|| version.clone());
            let batch = Batch {
                stream: self.config.stream(),
                events,
                cursor,
                gap: gap.take(),
            };
            if self.tx.send(batch).await.is_err() {
                return Outcome::Stop;
            }
            match next {
                Some(c) => continue_token = Some(c),
                None => {
                    self.stats.synced.store(1, Ordering::Relaxed);
                    info!(cluster = %self.config.cluster, %version, "events listed");
                    return Outcome::Next(State::Watching { version });
                }
            }
        }
    }

    /// Watches from `version`, handing over batches, until the server ends the watch.
    async fn watch(&self, version: String) -> Outcome {
        self.stats.watch_restarts.fetch_add(1, Ordering::Relaxed);
        let mut params = WatchParams::default().timeout(self.config.watch_timeout);
        if let Some(f) = &self.config.field_selector {
            params = params.fields(f);
        }
        if let Some(l) = &self.config.label_selector {
            params = params.labels(l);
        }
        let opened = tokio::select! {
            _ = self.cancel.cancelled() => return Outcome::Stop,
            s = self.api.watch(&params, &version) => s,
        };
        let stream = match opened {
            Ok(s) => s,
            Err(kube::Error::Api(s)) if s.code == 410 => return self.expired(version),
            Err(e) => {
                warn!(cluster = %self.config.cluster, error = %e, "cannot open the event watch");
                return Outcome::Retry(State::Watching { version });
            }
        };
        self.stats.synced.store(1, Ordering::Relaxed);
        let mut stream = stream.boxed();
        let mut current = version;
        let mut events: Vec<Event> = Vec::new();
        let mut deadline: Option<tokio::time::Instant> = None;
        loop {
            let next = tokio::select! {
                _ = self.cancel.cancelled() => {
                    // Hand over what was read; the caller flushes it before stopping.
                    let _ = self.flush(&mut events, &current).await;
                    return Outcome::Stop;
                }
                _ = sleep_until(deadline) => {
                    deadline = None;
                    if !self.flush(&mut events, &current).await {
                        return Outcome::Stop;
                    }
                    continue;
                }
                next = stream.try_next() => next,
            };
            match next {
                Ok(Some(WatchEvent::Added(obj) | WatchEvent::Modified(obj))) => {
                    if let Some(v) = obj.meta().resource_version.clone() {
                        current = v;
                    }
                    self.accept(&obj, &mut events);
                }
                Ok(Some(WatchEvent::Deleted(obj))) => {
                    // The Event expired on the server: no new occurrence.
                    if let Some(v) = obj.meta().resource_version.clone() {
                        current = v;
                    }
                }
                Ok(Some(WatchEvent::Bookmark(b))) => {
                    current = b.metadata.resource_version;
                    if events.is_empty() {
                        // Save the bookmark's version so a restart resumes after it.
                        let batch = Batch {
                            stream: self.config.stream(),
                            cursor: Some(current.clone()),
                            ..Batch::default()
                        };
                        if self.tx.send(batch).await.is_err() {
                            return Outcome::Stop;
                        }
                    }
                }
                Ok(Some(WatchEvent::Error(status))) if status.code == 410 => {
                    if !self.flush(&mut events, &current).await {
                        return Outcome::Stop;
                    }
                    return self.expired(current);
                }
                Ok(Some(WatchEvent::Error(status))) => {
                    warn!(cluster = %self.config.cluster, code = status.code, message = %status.message, "watch error");
                    if !self.flush(&mut events, &current).await {
                        return Outcome::Stop;
                    }
                    return Outcome::Retry(State::Watching { version: current });
                }
                Ok(None) => {
                    // The server closed the watch (timeout): reopen from where we are.
                    if !self.flush(&mut events, &current).await {
                        return Outcome::Stop;
                    }
                    debug!(cluster = %self.config.cluster, "watch ended; reopening");
                    return Outcome::Next(State::Watching { version: current });
                }
                Err(kube::Error::SerdeError(e)) => {
                    // A malformed line: count it and read on.
                    self.stats.malformed.fetch_add(1, Ordering::Relaxed);
                    warn!(cluster = %self.config.cluster, error = %e, "malformed watch event skipped");
                }
                Err(e) => {
                    warn!(cluster = %self.config.cluster, error = %e, "event watch broke");
                    if !self.flush(&mut events, &current).await {
                        return Outcome::Stop;
                    }
                    return Outcome::Retry(State::Watching { version: current });
                }
            }
            if events.len() >= self.config.batch_max {
                deadline = None;
                if !self.flush(&mut events, &current).await {
                    return Outcome::Stop;
                }
            } else if !events.is_empty() && deadline.is_none() {
                deadline = Some(tokio::time::Instant::now() + self.config.batch_wait);
            }
        }
    }

    fn expired(&self, version: String) -> Outcome {
        self.stats.expired.fetch_add(1, Ordering::Relaxed);
        warn!(cluster = %self.config.cluster, %version, "resource version expired; relisting");
        Outcome::Next(State::Empty {
            gap: Some(GapNotice {
                expired_version: version,
                cause: "resourceVersion expired (410 Gone): events created and expired meanwhile are missing".to_string(),
            }),
        })
    }

    fn accept(&self, obj: &K, out: &mut Vec<Event>) {
        self.stats.received.fetch_add(1, Ordering::Relaxed);
        match obj.normalize(&self.config.cluster) {
            Ok(e) => out.push(e),
            Err(reason) => {
                self.stats.rejected.fetch_add(1, Ordering::Relaxed);
                warn!(cluster = %self.config.cluster, name = ?obj.meta().name, %reason, "event rejected");
            }
        }
    }

    /// Hands over the pending events with the cursor; false when the receiver is gone.
    async fn flush(&self, events: &mut Vec<Event>, version: &str) -> bool {
        if events.is_empty() {
            return true;
        }
        let batch = Batch {
            stream: self.config.stream(),
            events: std::mem::take(events),
            cursor: Some(version.to_string()),
            gap: None,
        };
        self.tx.send(batch).await.is_ok()
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
