//! Applies retention in the background, now and then every period.

use std::sync::Arc;
use std::time::Duration;

use kubetrail_model::Timestamp;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::{Retention, RetentionPolicy, RetentionReport};

/// Applies `policy` to `store` at once and then every `every`, until the task is aborted. A
/// failed pass is logged and retried at the next period; the task never panics.
pub fn spawn_retention(
    store: Arc<dyn Retention>,
    policy: RetentionPolicy,
    every: Duration,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every.max(Duration::from_millis(1)));
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match store.apply_retention(&policy, Timestamp::now()).await {
                Ok(report) => log_retention(&report),
                Err(error) => tracing::warn!(
                    error = %kubetrail_model::error_chain(&error),
                    "cannot apply retention, will retry"
                ),
            }
        }
    })
}

/// Logs what retention deleted (or, for a dry run, would delete) at info level: one line per
/// cluster with its events, occurrences and their time range, one for what the size limit
/// took, one for alerts, silences and gaps. A pass that deleted nothing is logged at debug.
pub fn log_retention(report: &RetentionReport) {
    let time = |t: Option<Timestamp>| t.map(|t| t.to_string()).unwrap_or_default();
    let verb = if report.dry_run {
        "retention would delete"
    } else {
        "retention deleted"
    };
    for (cluster, c) in &report.clusters {
        tracing::info!(
            cluster = %cluster,
            events = c.events,
            occurrences = c.occurrences,
            oldest = %time(c.oldest),
            newest = %time(c.newest),
            "{verb} events of a cluster"
        );
    }
    if report.events_deleted_for_size > 0 {
        tracing::info!(
            events = report.events_deleted_for_size,
            bytes_before = report.bytes_before,
            bytes_after = report.bytes_after,
            "retention deleted the oldest events to fit the size limit"
        );
    }
    let records = report.alerts_deleted + report.silences_deleted + report.gaps_deleted;
    if records > 0 {
        tracing::info!(
            alerts = report.alerts_deleted,
            silences = report.silences_deleted,
            gaps = report.gaps_deleted,
            "{verb} old alerts, silences and gaps"
        );
    }
    if report.changes_deleted + report.change_states_deleted > 0 {
        tracing::info!(
            changes = report.changes_deleted,
            states = report.change_states_deleted,
            "{verb} old changes and the states of objects no longer watched"
        );
    }
    if report.clusters.is_empty() && records == 0 {
        tracing::debug!(bytes = report.bytes_after, "retention deleted nothing");
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;

    use super::*;
    use crate::{Error, Result};

    /// Records the retention passes; the first `failures` of them fail.
    #[derive(Default)]
    struct Recorder {
        passes: Mutex<u32>,
        failures: u32,
    }

    #[async_trait]
    impl Retention for Recorder {
        async fn apply_retention(
            &self,
            _: &RetentionPolicy,
            _: Timestamp,
        ) -> Result<RetentionReport> {
            let mut passes = self.passes.lock().unwrap();
            *passes += 1;
            if *passes <= self.failures {
                return Err(Error::WorkerGone);
            }
            Ok(RetentionReport {
                events_deleted: 1,
                ..RetentionReport::default()
            })
        }
        async fn preview_retention(
            &self,
            _: &RetentionPolicy,
            _: Timestamp,
        ) -> Result<RetentionReport> {
            Ok(RetentionReport::default())
        }
    }

    fn passes(r: &Recorder) -> u32 {
        *r.passes.lock().unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn retention_runs_at_once_and_then_every_period() {
        let store = Arc::new(Recorder::default());
        let hour = Duration::from_secs(3600);
        let task = spawn_retention(store.clone(), RetentionPolicy::default(), hour);
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(passes(&store), 1);
        tokio::time::sleep(hour * 3).await;
        assert_eq!(passes(&store), 4);
        task.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_pass_is_retried_at_the_next_period_without_stopping_the_task() {
        let store = Arc::new(Recorder {
            failures: 2,
            ..Recorder::default()
        });
        let minute = Duration::from_secs(60);
        let task = spawn_retention(store.clone(), RetentionPolicy::default(), minute);
        tokio::time::sleep(minute * 2 + Duration::from_secs(1)).await;
        assert_eq!(passes(&store), 3);
        assert!(!task.is_finished());
        task.abort();
    }
}
