//! kubetrail's own metrics, served at `/metrics` (all names here):
//!
//! - `kubetrail_events_total{cluster,namespace,reason,type,severity,category}`: occurrences of
//!   Kubernetes Events stored (see `events` for how its label sets stay bounded);
//! - `kubetrail_build_info{version}` (1);
//! - `kubetrail_events_received_total{cluster,source}`: from the watch (`source="watch"`,
//!   read from its [`WatchStats`]) and from `POST /api/v1/events` (`source="api"`);
//! - `kubetrail_pipeline_events_processed_total{cluster}`,
//!   `kubetrail_pipeline_events_stored_total{cluster,outcome}` (`new`, `updated`),
//!   `kubetrail_pipeline_events_deduplicated_total{cluster}` (seen again with nothing new),
//!   `kubetrail_pipeline_events_dropped_total{cluster,reason}` (`spool_full`),
//!   `kubetrail_pipeline_events_quarantined_total{cluster}` (refused by the store, kept aside),
//!   `kubetrail_store_write_failures_total{cluster}` (the store failed, not an event),
//!   `kubetrail_watch_events_dropped_total{cluster,reason}` (`rejected`, `malformed`),
//!   `kubetrail_store_write_duration_seconds{cluster}`,
//!   `kubetrail_spool_bytes{cluster}`, `kubetrail_spool_limit_bytes{cluster}`;
//! - `kubetrail_watch_restarts_total`, `kubetrail_watch_relists_total`,
//!   `kubetrail_watch_expired_total` (410 Gone), `kubetrail_watch_errors_total`,
//!   `kubetrail_watch_synced` (all `{cluster}`);
//! - `kubetrail_http_requests_total{route,method,status}`,
//!   `kubetrail_http_request_duration_seconds{route,method}`: by matched route, never the raw
//!   path;
//! - `kubetrail_alerts{status}` and the alerting stage's own (`kubetrail_alert_*`), and the
//!   analysis crate's gauges over the last five minutes (`kubetrail_analyze_*`, deprecated for
//!   `rate(kubetrail_events_total[5m])`), added by the `/metrics` handler.
//!
//! Labels come from bounded sets: configured cluster names, route templates, status codes, and
//! capped event label sets. Durations are in seconds. Rendered once in OpenMetrics; `exposition`
//! converts to the classic text format for scrapers that ask for it.

mod events;
mod exposition;
mod http;
mod pipeline;
mod store;
mod watch;

pub use events::MAX_EVENT_SERIES;
pub(crate) use exposition::{Format, negotiate, to_text};
pub(crate) use http::track;
pub use pipeline::ClusterTelemetry;
pub use store::{FAILING_WRITES, StoreWrites};

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use kubetrail_alert::AlertMetrics;
use kubetrail_model::WatchStats;
use kubetrail_store::OccurrenceGroup;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

use events::EventCounters;
use http::HttpMetrics;
use pipeline::PipelineFamilies;
use watch::WatchCollector;

/// The metrics registry and the live counters behind it. Cheap to clone.
#[derive(Clone)]
pub struct Telemetry {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    http: HttpMetrics,
    pipeline: PipelineFamilies,
    events: EventCounters,
    watches: Arc<Mutex<BTreeMap<String, Arc<WatchStats>>>>,
    api_received: Arc<Mutex<BTreeMap<String, u64>>>,
    alerts: Mutex<Option<AlertMetrics>>,
    store_writes: StoreWrites,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telemetry").finish_non_exhaustive()
    }
}

impl Default for Telemetry {
    fn default() -> Self {
        Self::new()
    }
}

impl Telemetry {
    /// Telemetry with the default bound on `kubetrail_events_total`'s label sets.
    pub fn new() -> Telemetry {
        Telemetry::with_max_event_series(MAX_EVENT_SERIES)
    }

    /// Telemetry whose `kubetrail_events_total` keeps at most `max` label sets of its own.
    pub fn with_max_event_series(max: usize) -> Telemetry {
        let mut registry = Registry::default();
        registry.register(
            "kubetrail_build",
            "The running kubetrail's version",
            Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
        );
        let events = EventCounters::new(max);
        events.register(&mut registry);
        let http = HttpMetrics::default();
        http.register(&mut registry);
        let pipeline = PipelineFamilies::default();
        pipeline.register(&mut registry);
        let watches = Arc::new(Mutex::new(BTreeMap::new()));
        let api_received = Arc::new(Mutex::new(BTreeMap::new()));
        registry.register_collector(Box::new(WatchCollector {
            watches: watches.clone(),
            api_received: api_received.clone(),
        }));
        Telemetry {
            inner: Arc::new(Inner {
                registry,
                http,
                pipeline,
                events,
                watches,
                api_received,
                alerts: Mutex::new(None),
                store_writes: StoreWrites::default(),
            }),
        }
    }

    /// The counters of one cluster's pipeline (registered on first use; the same cluster
    /// gets the same watch counters again, e.g. after a leader election).
    pub fn cluster(&self, name: &str) -> ClusterTelemetry {
        ClusterTelemetry::new(name, self.clone())
    }

    /// The watch counters of `cluster`, shown at `/metrics` and used by `/readyz`.
    pub fn watch_stats(&self, cluster: &str) -> Arc<WatchStats> {
        let mut watches = self.inner.watches.lock().unwrap_or_else(|p| p.into_inner());
        watches.entry(cluster.to_string()).or_default().clone()
    }

    /// The alerting stage's metrics, once it runs.
    pub fn set_alert_metrics(&self, metrics: AlertMetrics) {
        *self.inner.alerts.lock().unwrap_or_else(|p| p.into_inner()) = Some(metrics);
    }

    /// Whether the store takes writes: every writer (pipelines, the API, the NATS consumer)
    /// reports here; `/readyz` reads it.
    pub fn store_writes(&self) -> &StoreWrites {
        &self.inner.store_writes
    }

    /// Watchers that have handed over their initial list, and all watchers.
    pub fn watchers_synced(&self) -> (usize, usize) {
        let watches = self.inner.watches.lock().unwrap_or_else(|p| p.into_inner());
        let synced = watches
            .values()
            .filter(|w| w.synced.load(std::sync::atomic::Ordering::Relaxed) > 0)
            .count();
        (synced, watches.len())
    }

    pub(crate) fn http(&self) -> &HttpMetrics {
        &self.inner.http
    }

    /// A request no route matched.
    pub(crate) fn observe_unmatched(&self, method: &axum::http::Method, status: u16) {
        self.inner.http.observe("unmatched", method, status, 0.0);
    }

    pub(crate) fn pipeline(&self) -> &PipelineFamilies {
        &self.inner.pipeline
    }

    /// Counts the new occurrences of a committed write (its `WriteSummary::by_group`) in
    /// `kubetrail_events_total`. Every writer calls it once per batch.
    pub fn stored_events(&self, by_group: &BTreeMap<OccurrenceGroup, u64>) {
        self.inner.events.add(by_group);
    }

    pub(crate) fn add_api_received(&self, cluster: &str, n: u64) {
        let mut m = self
            .inner
            .api_received
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        *m.entry(cluster.to_string()).or_default() += n;
    }

    /// Everything registered here, in the text format, without the closing `# EOF` (the
    /// handler appends more families and closes it).
    pub fn render_own(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        encode(&mut out, &self.inner.registry)?;
        let alerts = self
            .inner
            .alerts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(alerts) = alerts {
            let mut registry = Registry::default();
            alerts.register(&mut registry);
            strip_eof(&mut out);
            encode(&mut out, &registry)?;
        }
        strip_eof(&mut out);
        Ok(out)
    }
}

/// Removes a trailing `# EOF` line so that another exposition can follow.
pub(crate) fn strip_eof(text: &mut String) {
    let trimmed = text.trim_end();
    if let Some(rest) = trimmed.strip_suffix("# EOF") {
        let len = rest.len();
        text.truncate(len);
    }
}
