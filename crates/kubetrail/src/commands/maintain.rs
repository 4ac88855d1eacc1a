//! Incidents and patterns kept at ingest (issue 14 §1): the maintainer `run` starts next to its
//! writers and the pass `import` makes after its last file (`kubetrail_query::maintain_incidents`,
//! which maintains the pattern parts too). Reads never wait for it: what it has not caught up
//! with is recomputed when read.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kubetrail_analyze::IncidentConfig;
use kubetrail_query::PassReads;
use kubetrail_store::Store;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

/// How often `run`'s maintainer recomputes what was written since its last pass. A pass reads
/// the dirty spans widened by the horizon (75 minutes each side): on a live cluster, the last
/// hours' events, up to 50,000. Every 10 s that cost `run` 23 CPU-seconds and 10× the time of
/// a relist of 30,000 Events, and an initial list ran at a tenth of its rate (`bench live
/// --memory`); reads recompute what is still dirty in memory meanwhile.
pub const EVERY: Duration = Duration::from_secs(300);

/// One pass over everything written so far, reading as `reads` says; logs what it did and
/// returns it (`None`: the store keeps no incidents).
pub async fn maintain(
    store: &dyn Store,
    reads: PassReads,
) -> kubetrail_query::Result<Option<kubetrail_query::Maintained>> {
    let started = Instant::now();
    let done =
        kubetrail_query::maintain_incidents_reading(store, &IncidentConfig::default(), reads)
            .await?;
    if let Some(d) = done.filter(|d| d.ranges > 0) {
        tracing::debug!(
            ranges = d.ranges,
            spans = d.spans,
            events_read = d.events_read,
            stored = d.stored,
            unchanged = d.unchanged,
            pattern_hours = d.pattern_hours,
            ms = started.elapsed().as_millis() as u64,
            "incidents and patterns kept up to date"
        );
    }
    Ok(done)
}

/// Maintains `store`'s incidents at once and then every `every`, until aborted; a failed pass
/// is logged and retried at the next period.
pub fn spawn_maintainer(store: Arc<dyn Store>, every: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every.max(Duration::from_millis(1)));
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            // Memory first: a watcher's pass reads nothing ahead.
            if let Err(error) = maintain(store.as_ref(), PassReads::LEAN).await {
                tracing::warn!(
                    error = %kubetrail_model::error_chain(&error),
                    "cannot keep incidents up to date, will retry"
                );
            }
        }
    })
}
