//! Counters of the live pipeline (`crates/kubetrail/src/pipeline.rs`) and of custom events,
//! updated once per batch.

use std::sync::Arc;
use std::time::Duration;

use kubetrail_model::WatchStats;
use kubetrail_store::WriteSummary;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use super::Telemetry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ClusterLabel {
    pub cluster: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct OutcomeLabels {
    pub cluster: String,
    pub outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct DropLabels {
    pub cluster: String,
    pub reason: &'static str,
}

fn write_histogram() -> Histogram {
    Histogram::new([
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
    ])
}

/// Seconds from an event occurring to its batch being committed: from well under a second on a
/// healthy watch to minutes while the store or the API server lags.
fn lag_histogram() -> Histogram {
    Histogram::new([
        0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0,
    ])
}

pub(crate) struct PipelineFamilies {
    processed: Family<ClusterLabel, Counter>,
    stored: Family<OutcomeLabels, Counter>,
    deduplicated: Family<ClusterLabel, Counter>,
    dropped: Family<DropLabels, Counter>,
    quarantined: Family<ClusterLabel, Counter>,
    write_failures: Family<ClusterLabel, Counter>,
    write_latency: Family<ClusterLabel, Histogram, fn() -> Histogram>,
    spool_bytes: Family<ClusterLabel, Gauge>,
    spool_limit: Family<ClusterLabel, Gauge>,
    watch_lag: Family<ClusterLabel, Histogram, fn() -> Histogram>,
}

impl Default for PipelineFamilies {
    fn default() -> Self {
        PipelineFamilies {
            processed: Family::default(),
            stored: Family::default(),
            deduplicated: Family::default(),
            dropped: Family::default(),
            quarantined: Family::default(),
            write_failures: Family::default(),
            write_latency: Family::new_with_constructor(write_histogram),
            spool_bytes: Family::default(),
            spool_limit: Family::default(),
            watch_lag: Family::new_with_constructor(lag_histogram),
        }
    }
}

impl PipelineFamilies {
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "kubetrail_pipeline_events_processed",
            "Events classified and correlated",
            self.processed.clone(),
        );
        registry.register(
            "kubetrail_pipeline_events_stored",
            "Events written to the store: new ones, and stored ones whose count grew",
            self.stored.clone(),
        );
        registry.register(
            "kubetrail_pipeline_events_deduplicated",
            "Events seen again with no new occurrence (a relist, a repeated import)",
            self.deduplicated.clone(),
        );
        registry.register(
            "kubetrail_pipeline_events_dropped",
            "Events dropped, by reason",
            self.dropped.clone(),
        );
        registry.register(
            "kubetrail_pipeline_events_quarantined",
            "Events the store refused (a data error, e.g. a value it cannot hold), kept aside in its quarantine table while their batch was written",
            self.quarantined.clone(),
        );
        registry.register(
            "kubetrail_store_write_failures",
            "Batch writes that failed for the store's sake (unreachable, full, read-only): the batch was spooled or handed back",
            self.write_failures.clone(),
        );
        registry.register(
            "kubetrail_store_write_duration_seconds",
            "Time to write and commit one batch",
            self.write_latency.clone(),
        );
        registry.register(
            "kubetrail_spool_bytes",
            "Bytes waiting in the on-disk spool while the store is unavailable",
            self.spool_bytes.clone(),
        );
        registry.register(
            "kubetrail_spool_limit_bytes",
            "Most bytes the spool holds (spool_max_size); beyond it, events are dropped",
            self.spool_limit.clone(),
        );
        registry.register(
            "kubetrail_watch_lag_seconds",
            "Time from the newest event of a watched batch occurring (its last_seen) to the batch being committed: how far behind the cluster the store is",
            self.watch_lag.clone(),
        );
    }
}

/// The metrics of one cluster, for its pipeline. Cheap to clone.
#[derive(Clone)]
pub struct ClusterTelemetry {
    label: ClusterLabel,
    telemetry: Telemetry,
}

impl std::fmt::Debug for ClusterTelemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterTelemetry")
            .field("cluster", &self.label.cluster)
            .finish()
    }
}

impl ClusterTelemetry {
    pub(crate) fn new(cluster: &str, telemetry: Telemetry) -> Self {
        ClusterTelemetry {
            label: ClusterLabel {
                cluster: cluster.to_string(),
            },
            telemetry,
        }
    }

    /// The watch counters of this cluster (shared with `/metrics` and `/readyz`).
    pub fn watch_stats(&self) -> Arc<WatchStats> {
        self.telemetry.watch_stats(&self.label.cluster)
    }

    /// `n` custom events received through `POST /api/v1/events` (`kubetrail_events_received_total`,
    /// source `api`).
    pub fn received_from_api(&self, n: u64) {
        self.telemetry.add_api_received(&self.label.cluster, n);
    }

    /// `n` events through processing (`kubetrail_pipeline_events_processed_total`).
    pub fn processed(&self, n: u64) {
        self.families()
            .processed
            .get_or_create(&self.label)
            .inc_by(n);
    }

    /// A committed live batch whose newest event occurred `lag` before the commit.
    pub fn watch_lag(&self, lag: Duration) {
        self.families()
            .watch_lag
            .get_or_create(&self.label)
            .observe(lag.as_secs_f64());
    }

    /// A committed batch: what it did and how long writing it took. The store takes writes.
    pub fn stored(&self, s: &WriteSummary, took: Duration) {
        self.telemetry.store_writes().succeeded();
        self.telemetry.stored_events(&s.by_group);
        let f = self.families();
        f.quarantined
            .get_or_create(&self.label)
            .inc_by(s.quarantined);
        for (outcome, n) in [
            ("new", s.new),
            ("updated", s.updated),
            ("conflict", s.conflicts),
        ] {
            f.stored
                .get_or_create(&OutcomeLabels {
                    cluster: self.label.cluster.clone(),
                    outcome,
                })
                .inc_by(n);
        }
        f.deduplicated
            .get_or_create(&self.label)
            .inc_by(s.unchanged);
        f.write_latency
            .get_or_create(&self.label)
            .observe(took.as_secs_f64());
    }

    /// Events the store refused and kept aside, counted where no summary is (the NATS
    /// consumer's batches span clusters).
    pub fn quarantined(&self, n: u64) {
        self.families()
            .quarantined
            .get_or_create(&self.label)
            .inc_by(n);
    }

    /// A batch the store could not take for its own sake (not a refused event: those are
    /// quarantined); enough of these in a row make `/readyz` report the store.
    pub fn write_failed(&self, error: &str) {
        self.telemetry.store_writes().failed(error);
        self.families()
            .write_failures
            .get_or_create(&self.label)
            .inc();
    }

    /// `n` events dropped before the store, with a reason from a fixed set (`far_future`,
    /// `spool_full`; `kubetrail_pipeline_events_dropped_total`).
    pub fn dropped(&self, reason: &'static str, n: u64) {
        self.families()
            .dropped
            .get_or_create(&DropLabels {
                cluster: self.label.cluster.clone(),
                reason,
            })
            .inc_by(n);
    }

    /// The spool's current size in bytes (`kubetrail_spool_bytes`).
    pub fn spool_bytes(&self, bytes: u64) {
        self.families()
            .spool_bytes
            .get_or_create(&self.label)
            .set(i64::try_from(bytes).unwrap_or(i64::MAX));
    }

    /// The spool's bound (`spool_max_size`): with `spool_bytes`, how full it is.
    pub fn spool_limit_bytes(&self, bytes: u64) {
        self.families()
            .spool_limit
            .get_or_create(&self.label)
            .set(i64::try_from(bytes).unwrap_or(i64::MAX));
    }

    fn families(&self) -> &PipelineFamilies {
        self.telemetry.pipeline()
    }
}
