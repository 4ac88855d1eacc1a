//! The watch counters ([`WatchStats`], kept by `kubetrail-source`'s watch) read at each scrape, and
//! the events received from the API.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use kubetrail_model::WatchStats;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

#[derive(Debug)]
pub(crate) struct WatchCollector {
    pub watches: Arc<Mutex<BTreeMap<String, Arc<WatchStats>>>>,
    pub api_received: Arc<Mutex<BTreeMap<String, u64>>>,
}

type Read = fn(&WatchStats) -> u64;

const COUNTERS: [(&str, &str, Read); 4] = [
    (
        "kubetrail_watch_restarts",
        "Watch requests started again (after a timeout, a dropped connection or an error)",
        |s| s.watch_restarts.load(Ordering::Relaxed),
    ),
    (
        "kubetrail_watch_relists",
        "Full lists of Events (the first one, and after a 410)",
        |s| s.relists.load(Ordering::Relaxed),
    ),
    (
        "kubetrail_watch_expired",
        "410 Gone answers: the resourceVersion had expired and events may be missing",
        |s| s.expired.load(Ordering::Relaxed),
    ),
    (
        "kubetrail_watch_errors",
        "Failed list or watch attempts (retried with backoff)",
        |s| s.errors.load(Ordering::Relaxed),
    ),
];

impl Collector for WatchCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let watches: Vec<(String, Arc<WatchStats>)> = self
            .watches
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let api: Vec<(String, u64)> = self
            .api_received
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect();

        let mut family = encoder.encode_descriptor(
            "kubetrail_events_received",
            "Events received, by cluster and source (watch, api)",
            None,
            MetricType::Counter,
        )?;
        for (cluster, stats) in &watches {
            let labels = [("cluster", cluster.as_str()), ("source", "watch")];
            ConstCounter::new(stats.received.load(Ordering::Relaxed))
                .encode(family.encode_family(&labels)?)?;
        }
        for (cluster, n) in &api {
            let labels = [("cluster", cluster.as_str()), ("source", "api")];
            ConstCounter::new(*n).encode(family.encode_family(&labels)?)?;
        }

        let mut family = encoder.encode_descriptor(
            "kubetrail_watch_events_dropped",
            "Events the watch could not use, by reason (rejected: no uid or time; malformed: not an Event)",
            None,
            MetricType::Counter,
        )?;
        for (cluster, stats) in &watches {
            for (reason, n) in [
                ("rejected", stats.rejected.load(Ordering::Relaxed)),
                ("malformed", stats.malformed.load(Ordering::Relaxed)),
            ] {
                let labels = [("cluster", cluster.as_str()), ("reason", reason)];
                ConstCounter::new(n).encode(family.encode_family(&labels)?)?;
            }
        }

        for (name, help, read) in COUNTERS {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            for (cluster, stats) in &watches {
                let labels = [("cluster", cluster.as_str())];
                ConstCounter::new(read(stats)).encode(family.encode_family(&labels)?)?;
            }
        }

        let mut family = encoder.encode_descriptor(
            "kubetrail_watch_synced",
            "1 once the watch has handed over its initial list",
            None,
            MetricType::Gauge,
        )?;
        for (cluster, stats) in &watches {
            let labels = [("cluster", cluster.as_str())];
            let synced = i64::from(stats.synced.load(Ordering::Relaxed) > 0);
            ConstGauge::new(synced).encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}
