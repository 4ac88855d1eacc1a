//! The live alerting stage: an evaluation task fed with what each write committed, and the
//! delivery worker. `kubetrail run` and `kubetrail demo` start it with [`start`].
//!
//! ```text
//!  pipeline ──Written──► [evaluate: Evaluator → Recorder → store (outbox)]
//!                                              │ wake
//!                                              ▼
//!                                [deliver: due deliveries → notifiers → store]
//! ```

use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use kubetrail_model::{AggregateQuery, Dimension, EventFilter, EventOccurrences};
use kubetrail_store::{AlertFilter, AlertRecords, EventReader, Fields, Written};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::config::AlertingConfig;
use crate::metrics::AlertMetrics;
use crate::notify::http_client;
use crate::outbox::DeliveryWorker;
use crate::record::Recorder;
use crate::{AlertChange, Analyzer, Evaluator, Replayed, Result, error_chain};

/// Batches waiting for evaluation; the pipeline waits when it is full (nothing is dropped).
/// Small: each batch holds up to a list page or a watch batch of events, and evaluating one
/// takes less than storing it, so a longer queue only holds memory.
const QUEUE: usize = 4;
/// How far back a restart replays the stored occurrences, to fill the counting windows again
/// (longer than the API server keeps an Event after its last change, an hour).
const REPLAY: SignedDuration = SignedDuration::from_mins(90);
/// Windowed conditions (pattern, anomaly, incident) are evaluated this often.
const WINDOWED_EVERY: Duration = Duration::from_secs(60);
/// Most events read for windowed conditions or the startup replay.
const READ_LIMIT: usize = 100_000;
/// The startup replay reads its events in pages of this many, and holds one page at a time
/// (1,000 of the events the maintainer reads at ~1.3 KB each). `bench live --memory` over
/// 100,000 events put the restart's peak 3–5 MiB under that of one read of them all; the
/// incidents pass sets that peak (issue 14 §2, docs/BENCHMARKS.md).
const REPLAY_PAGE: usize = 1_000;

/// Where a writer hands what each of its writes committed. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AlertFeed {
    tx: mpsc::Sender<Vec<EventOccurrences>>,
}

impl AlertFeed {
    /// Hands over what a write committed, once its transaction has: the occurrences it added
    /// are evaluated, nothing else (a replayed or refused copy added none). Waits while the
    /// evaluator is behind.
    pub async fn committed(&self, written: Written) {
        if written.events.is_empty() {
            return;
        }
        let added = written.events.into_iter().map(|w| w.added).collect();
        if self.tx.send(added).await.is_err() {
            debug!("alerting has stopped; batch not evaluated");
        }
    }
}

/// The running alerting stage.
pub struct Alerting {
    /// Where the pipelines hand committed events; clone one per pipeline.
    pub feed: AlertFeed,
    /// Ends when every [`AlertFeed`] clone is dropped (the pipelines stopped) and the last
    /// batches are recorded.
    pub evaluation: JoinHandle<()>,
    /// Ends on cancellation.
    pub delivery: JoinHandle<()>,
    /// The stage's counters, shared with `/metrics`.
    pub metrics: AlertMetrics,
}

/// Starts evaluation and delivery: events read through `reader` (windowed rules, the catch-up
/// after a restart), alerts and silences recorded in `records` (the outbox the delivery worker
/// sends from). Returns once alerting has caught up with what was recorded before (see
/// `catch_up`): start it before anything writes, so that no write is both replayed by the
/// catch-up and handed over by its writer (counted twice).
pub async fn start(
    config: AlertingConfig,
    reader: Arc<dyn EventReader>,
    records: Arc<dyn AlertRecords>,
    analyzer: Arc<dyn Analyzer>,
    metrics: AlertMetrics,
    cancel: CancellationToken,
) -> Result<Alerting> {
    let wake = Arc::new(Notify::new());
    let client = http_client()?;
    let names: Vec<String> = config
        .notifiers
        .iter()
        .map(|n| n.notifier.name().to_string())
        .collect();
    let worker = DeliveryWorker::new(
        records.clone(),
        config
            .notifiers
            .iter()
            .map(|n| (n.notifier.clone(), n.bucket()))
            .collect(),
        client,
        config.policy.clone(),
        metrics.clone(),
        wake.clone(),
    );
    let delivery = tokio::spawn(worker.run(cancel.clone()));
    let (tx, rx) = mpsc::channel(QUEUE);
    let mut task = EvaluationTask {
        evaluator: Evaluator::new(config.rules.clone()),
        recorder: Recorder::new(records.clone(), names, metrics.clone(), wake),
        reader,
        records,
        analyzer,
        every: config.evaluate_every,
        rx,
    };
    if let Err(e) = task.catch_up(now()).await {
        warn!(error = %error_chain(&e), "cannot read the alerts and events recorded before this start; alerting starts afresh");
    }
    let evaluation = tokio::spawn(task.run(cancel));
    info!(
        rules = config.rules.len(),
        notifiers = config.notifiers.len(),
        "alerting started"
    );
    Ok(Alerting {
        feed: AlertFeed { tx },
        evaluation,
        delivery,
        metrics,
    })
}

/// Now, to the microsecond: the store keeps that precision, so an alert read back equals the
/// one recorded (and the one in its notifications).
fn now() -> Timestamp {
    let t = Timestamp::now();
    Timestamp::from_microsecond(t.as_microsecond()).unwrap_or(t)
}

struct EvaluationTask {
    evaluator: Evaluator,
    recorder: Recorder,
    /// Events for the windowed rules and the catch-up.
    reader: Arc<dyn EventReader>,
    /// The alerts recorded before this start.
    records: Arc<dyn AlertRecords>,
    analyzer: Arc<dyn Analyzer>,
    every: Duration,
    rx: mpsc::Receiver<Vec<EventOccurrences>>,
}

impl EvaluationTask {
    async fn run(mut self, cancel: CancellationToken) {
        let mut ticks = tokio::time::interval(self.every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut windowed = tokio::time::interval(WINDOWED_EVERY);
        windowed.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut ticking = true;
        loop {
            tokio::select! {
                batch = self.rx.recv() => match batch {
                    Some(added) => {
                        let now = now();
                        let changes = self.evaluator.observe_occurrences(&added, now);
                        self.save(changes, &cancel).await;
                    }
                    None => break,
                },
                _ = ticks.tick(), if ticking => {
                    let now = now();
                    let changes = self.evaluator.tick(now);
                    self.save(changes, &cancel).await;
                }
                _ = windowed.tick(), if ticking => {
                    let changes = self.windowed(now()).await;
                    self.save(changes, &cancel).await;
                }
                _ = cancel.cancelled(), if ticking => {
                    // Keep evaluating what the pipelines flush until they hang up.
                    ticking = false;
                }
            }
        }
        info!("alert evaluation stopped");
    }

    /// Records changes, retrying while the store is unavailable (the changes are already
    /// part of the evaluator's state: dropping them would lose alerts).
    async fn save(&mut self, mut changes: Vec<AlertChange>, cancel: &CancellationToken) {
        let mut failures = 0u32;
        loop {
            match self.recorder.record(changes, now()).await {
                Ok(_) => return,
                Err((e, left)) => {
                    failures += 1;
                    warn!(error = %error_chain(&e), pending = left.len(), "cannot record alerts; retrying");
                    changes = left;
                    let delay = Duration::from_millis(200 * u64::from(failures.min(50)));
                    if cancel.is_cancelled() && failures > 20 {
                        tracing::error!(
                            lost = changes.len(),
                            "giving up recording alerts while stopping"
                        );
                        return;
                    }
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    /// After a restart: take over open and cooling-down alerts, learn the reasons each
    /// namespace has had (for `first_seen`), and replay the last stored occurrences so that
    /// counting windows are full (an open alert does not count again those it had counted).
    /// What a write commits later adds only what the store did not have, so nothing replayed
    /// here is counted twice.
    async fn catch_up(&mut self, now: Timestamp) -> Result<()> {
        let cooldown = self
            .evaluator
            .rules()
            .iter()
            .map(|r| r.cooldown)
            .max()
            .unwrap_or(SignedDuration::ZERO);
        let alerts = self
            .records
            .alerts(&AlertFilter {
                since: Some(now - cooldown),
                ..AlertFilter::default()
            })
            .await?;
        let records: Vec<_> = alerts.into_iter().map(|a| a.alert).collect();
        for r in &records {
            self.recorder.restore(r);
        }
        let orphans = self.evaluator.restore(&records, now);
        let cancel = CancellationToken::new();
        self.save(orphans, &cancel).await;

        let reasons = self
            .reader
            .aggregate(&AggregateQuery {
                group_by: vec![Dimension::Cluster, Dimension::Namespace, Dimension::Reason],
                ..AggregateQuery::default()
            })
            .await?;
        for row in &reasons {
            let v = |i: usize| {
                row.key
                    .get(i)
                    .and_then(|(_, v)| v.clone())
                    .unwrap_or_default()
            };
            self.evaluator.learn(&v(0), &v(1), &v(2));
        }

        let mut replayed = Replayed::default();
        let evaluator = &mut self.evaluator;
        let read = self
            .reader
            .occurrences_in_pages(
                &EventFilter {
                    since: Some(now - REPLAY),
                    ..EventFilter::default()
                },
                READ_LIMIT,
                REPLAY_PAGE,
                Fields::Whole,
                &mut |page| {
                    for e in &page {
                        let e = &e.event;
                        evaluator.learn(&e.cluster, &e.namespace, &e.reason);
                    }
                    evaluator.replay_page(&page, now, &mut replayed);
                },
            )
            .await?;
        let changes = self.evaluator.replayed(replayed);
        self.save(changes, &cancel).await;
        info!(
            open_or_cooling = records.len(),
            replayed = read,
            "alerting caught up with what was recorded before"
        );
        Ok(())
    }

    /// Evaluates the windowed conditions over the events of their windows.
    async fn windowed(&mut self, now: Timestamp) -> Vec<AlertChange> {
        let windowed: Vec<(usize, SignedDuration)> = self
            .evaluator
            .rules()
            .iter()
            .enumerate()
            .filter(|(_, r)| r.condition.finding_kind().is_some())
            .filter_map(|(i, r)| Some((i, r.condition.window()?)))
            .collect();
        let Some(longest) = windowed.iter().map(|w| w.1).max() else {
            return Vec::new();
        };
        let events = match self
            .reader
            .occurrences(
                &EventFilter {
                    since: Some(now - longest),
                    until: Some(now + SignedDuration::from_secs(1)),
                    ..EventFilter::default()
                },
                READ_LIMIT,
            )
            .await
        {
            Ok(e) => e,
            Err(e) => {
                warn!(error = %error_chain(&e), "cannot read events for windowed alert conditions; will retry");
                return Vec::new();
            }
        };
        let history = if self
            .evaluator
            .rules()
            .iter()
            .any(|r| r.condition.finding_kind() == Some(crate::FindingKind::Anomaly))
        {
            let q = AggregateQuery {
                filter: EventFilter {
                    since: Some(now - SignedDuration::from_hours(24 * 7)),
                    ..EventFilter::default()
                },
                group_by: vec![
                    Dimension::Cluster,
                    Dimension::Namespace,
                    Dimension::Reason,
                    Dimension::Severity,
                ],
                interval: Some(SignedDuration::from_hours(1)),
                limit: None,
            };
            match self.reader.aggregate(&q).await {
                Ok(rows) => rows,
                Err(e) => {
                    warn!(error = %error_chain(&e), "cannot read the history of anomaly conditions; will retry");
                    return Vec::new();
                }
            }
        } else {
            Vec::new()
        };
        let stored_changes = if self
            .evaluator
            .rules()
            .iter()
            .any(|r| r.condition.finding_kind() == Some(crate::FindingKind::Incident))
        {
            let filter = EventFilter {
                since: Some(now - longest),
                until: Some(now + SignedDuration::from_secs(1)),
                ..EventFilter::default()
            };
            let window = kubetrail_analyze::IncidentConfig::default().change_window;
            match kubetrail_query::window_changes(self.reader.as_ref(), &filter, window, READ_LIMIT)
                .await
            {
                Ok(c) => c,
                Err(e) => {
                    warn!(error = %error_chain(&e), "cannot read the changes of incident conditions; will retry");
                    return Vec::new();
                }
            }
        } else {
            Vec::new()
        };
        let mut changes = Vec::new();
        for (i, window) in windowed {
            let rule = &self.evaluator.rules()[i];
            let since = now - window;
            let matching: Vec<_> = events
                .iter()
                .filter(|e| rule.matcher.matches(&e.event))
                .filter_map(|e| {
                    let occurrences: Vec<_> = e
                        .occurrences
                        .iter()
                        .filter(|o| o.at >= since)
                        .copied()
                        .collect();
                    (!occurrences.is_empty()).then(|| kubetrail_model::EventOccurrences {
                        event: e.event.clone(),
                        occurrences,
                    })
                })
                .collect();
            let findings =
                self.analyzer
                    .findings(&rule.condition, &matching, &history, &stored_changes, now);
            changes.extend(self.evaluator.findings(i, &findings, now));
        }
        changes
    }
}
