//! The live pipeline of one cluster: watch → process → store, with owner reflectors feeding
//! the processor. Stages are tasks joined by bounded channels; a failing cluster retries on its
//! own and never stops the others. An event the store refuses (a data error) is quarantined and
//! its batch goes on; only a store that fails (unreachable, full) makes batches wait in the
//! spool.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use kube::Client;
use kubetrail_model::{Event, Timestamp};
use kubetrail_process::{FutureLimit, Processor, Rules};
use kubetrail_source::watch::{
    Backoff, Batch, Observation, Observed, TrackedResource, WatchConfig, WatchStats, detect_api,
    watch_changes, watch_events, watch_owners,
};
use kubetrail_store::{ChangeStore, EventSink, Gap, WatchCursor, Written};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::change_tracker::{self, ChangeTracker};
use crate::config::RawCluster;
use crate::spool::{Pushed, Spool, SpooledBatch};

/// Objects per list page of a change watch.
const CHANGE_PAGE_SIZE: u32 = 100;

/// What one cluster's pipeline needs.
pub struct ClusterPipeline {
    pub name: String,
    pub client: Client,
    pub settings: RawCluster,
    pub rules: Rules,
    /// Events dated further past their batch's arrival are refused (counted and logged).
    pub max_future: FutureLimit,
    pub store: Arc<dyn EventSink>,
    /// Every stored event is also sent here (for live output), if set.
    pub live: Option<mpsc::Sender<Event>>,
    pub stats: Arc<WatchStats>,
    /// Where batches wait while the store is unavailable.
    pub spool_dir: std::path::PathBuf,
    pub spool_max_bytes: u64,
    /// Since when, and how many, events were dropped because the spool was full.
    pub overflow: std::sync::Mutex<Option<(Timestamp, u64)>>,
    /// Alerting: every committed batch is evaluated here, if set.
    pub alerts: Option<kubetrail_alert::AlertFeed>,
    /// Counters for `/metrics` (kubetrail-server), updated once per batch.
    pub telemetry: kubetrail_server::ClusterTelemetry,
    /// Change tracking: where changes go and which resources are watched, if on.
    pub changes: Option<(Arc<dyn ChangeStore>, Vec<TrackedResource>)>,
}

impl ClusterPipeline {
    /// Runs until `cancel`; then flushes what the watchers had read and returns.
    pub async fn run(self, cancel: CancellationToken) -> Result<()> {
        let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
        let api = loop {
            match detect_api(&self.client).await {
                Ok(api) => break api,
                Err(e) => {
                    warn!(cluster = %self.name, error = %e, "cannot reach the API server; retrying");
                    tokio::select! {
                        _ = cancel.cancelled() => return Ok(()),
                        _ = tokio::time::sleep(backoff.next_delay()) => {}
                    }
                }
            }
        };
        info!(cluster = %self.name, ?api, "watching events");
        // Two batches read ahead of the store: enough to overlap reading and writing; more
        // only holds list pages in memory while the store catches up.
        let (tx, mut rx) = mpsc::channel::<Batch>(2);
        let namespaces: Vec<Option<String>> = if self.settings.namespaces.is_empty() {
            vec![None]
        } else {
            self.settings.namespaces.iter().cloned().map(Some).collect()
        };
        for namespace in namespaces {
            let mut config = WatchConfig::new(&self.name);
            config.namespace = namespace;
            config.field_selector = self.settings.field_selector.clone();
            config.label_selector = self.settings.label_selector.clone();
            if let Some(rps) = self.settings.requests_per_second {
                config.requests_per_second = rps;
            }
            let resume = self
                .store
                .cursor(&self.name, &config.stream())
                .await?
                .map(|c| c.resource_version);
            tokio::spawn(watch_events(
                self.client.clone(),
                api,
                config,
                resume,
                tx.clone(),
                self.stats.clone(),
                cancel.clone(),
            ));
        }
        drop(tx);
        let (obs_tx, mut obs_rx) = mpsc::channel::<Observation>(1024);
        tokio::spawn(watch_owners(self.client.clone(), obs_tx, cancel.clone()));
        let tracker = self.start_change_tracking(&cancel);

        let mut processor = Processor::live(self.rules.clone());
        let mut spool = Spool::open(&self.spool_dir, self.spool_max_bytes)?;
        // --- metrics: the spool's bound, and what a previous run left in it ---
        self.telemetry.spool_limit_bytes(self.spool_max_bytes);
        self.telemetry.spool_bytes(spool.bytes());
        self.drain(&mut spool).await?;
        let mut retry = tokio::time::interval(Duration::from_secs(1));
        retry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                // Owner links first, so that a batch is processed with what is known.
                biased;
                Some(obs) = obs_rx.recv() => match obs {
                    Observation::Link(link) => processor.observe(link),
                    Observation::Placement { namespace, pod, node } => {
                        processor.observe_placement(&namespace, &pod, &node)
                    }
                },
                batch = rx.recv() => match batch {
                    Some(batch) => self.store_batch(&mut processor, batch, &mut spool).await?,
                    // Every watcher has stopped (cancelled) and handed over what it read;
                    // what the store could not take stays in the spool for the next start.
                    None => {
                        self.drain(&mut spool).await?;
                        if let Some(t) = tracker {
                            t.await??;
                        }
                        return Ok(());
                    }
                },
                _ = retry.tick() => self.drain(&mut spool).await?,
            }
        }
    }

    /// Starts one change watch per tracked resource and the tracker that stores what they
    /// see (its own task and channel: see `change_tracker`), if change tracking is on.
    fn start_change_tracking(
        &self,
        cancel: &CancellationToken,
    ) -> Option<tokio::task::JoinHandle<Result<()>>> {
        let (changes, resources) = self.changes.clone()?;
        if resources.is_empty() {
            return None;
        }
        info!(cluster = %self.name, resources = ?resources.iter().map(|r| r.as_str()).collect::<Vec<_>>(), "tracking changes");
        let (tx, rx) = mpsc::channel::<Batch<Observed>>(4);
        let stats = Arc::new(WatchStats::default());
        let tracker = ChangeTracker::new(&self.name, self.store.clone(), changes);
        let store = self.store.clone();
        let (client, name, cancel) = (self.client.clone(), self.name.clone(), cancel.clone());
        let rps = self.settings.requests_per_second;
        Some(tokio::spawn(async move {
            for resource in resources {
                let mut config = WatchConfig::new(&name);
                // Whole objects are larger than Events: smaller pages keep a listing's
                // memory small (see docs/BENCHMARKS.md, change tracking).
                config.page_size = CHANGE_PAGE_SIZE;
                if let Some(rps) = rps {
                    config.requests_per_second = rps;
                }
                let resume = store
                    .cursor(&name, &resource.stream())
                    .await?
                    .map(|c| c.resource_version);
                tokio::spawn(watch_changes(
                    client.clone(),
                    resource,
                    config,
                    resume,
                    tx.clone(),
                    stats.clone(),
                    cancel.clone(),
                ));
            }
            drop(tx);
            change_tracker::run(tracker, rx, cancel).await
        }))
    }

    /// Processes one batch and stores it with its cursor (and gap marker). When the store
    /// fails, the batch goes to the on-disk spool, and so do the batches after it until the
    /// spool has been written back, oldest first: order is kept, nothing is lost while the
    /// spool has room, and what does not fit is counted, logged and recorded as a gap.
    async fn store_batch(
        &self,
        processor: &mut Processor,
        batch: Batch,
        spool: &mut Spool,
    ) -> Result<()> {
        let now = Timestamp::now();
        let mut received = batch.events;
        let refused = self.max_future.retain(&mut received, now);
        if refused > 0 {
            self.telemetry.dropped("far_future", refused); // --- metrics
            warn!(cluster = %self.name, refused, max_ahead = %format!("{:#}", self.max_future.max_ahead()), "refused events dated too far in the future");
        }
        let events: Vec<Event> = received.into_iter().map(|e| processor.process(e)).collect();
        let relinks = processor.take_relinks();
        self.telemetry.processed(events.len() as u64); // --- metrics
        let gap = match &batch.gap {
            Some(notice) => {
                let previous = self
                    .store
                    .cursor(&self.name, &batch.stream)
                    .await
                    .ok()
                    .flatten();
                Some(Gap {
                    cluster: self.name.clone(),
                    stream: batch.stream.clone(),
                    from: previous.map(|c| c.updated_at).unwrap_or(now),
                    to: now,
                    cause: format!(
                        "{} (resourceVersion {})",
                        notice.cause, notice.expired_version
                    ),
                })
            }
            None => None,
        };
        let cursor = batch.cursor.map(|resource_version| WatchCursor {
            cluster: self.name.clone(),
            stream: batch.stream.clone(),
            resource_version,
            updated_at: now,
        });
        let batch = SpooledBatch {
            events,
            cursor,
            gap,
            relinks,
        };
        self.drain(spool).await?;
        if !spool.is_empty()? {
            // Older batches wait in the spool: this one goes behind them, in order.
            return self.spool(spool, &batch);
        }
        match self.write(&batch).await {
            Ok((written, refused)) => {
                // --- metrics: how far behind the cluster the store is ---
                if let Some(newest) = batch.events.iter().map(|e| e.last_seen).max() {
                    let lag = Timestamp::now().duration_since(newest);
                    if let Ok(lag) = std::time::Duration::try_from(lag) {
                        self.telemetry.watch_lag(lag);
                    }
                }
                self.committed(written, batch.events, &refused, true).await
            }
            Err(e) => {
                let error = format!("{e:#}");
                warn!(cluster = %self.name, %error, "cannot store a batch; spooling");
                self.telemetry.write_failed(&error);
                self.spool(spool, &batch)?;
            }
        }
        Ok(())
    }

    /// Hands what a commit stored to alerting (what the write committed: the occurrences it
    /// added) and, for live batches, the batch to the live output, without the events the store
    /// refused (their positions in `refused`).
    async fn committed(
        &self,
        written: Written,
        events: Vec<Event>,
        refused: &[usize],
        is_live: bool,
    ) {
        // --- alerting: evaluate what is now committed (spooled batches too, when written back) ---
        if let Some(alerts) = &self.alerts {
            alerts.committed(written).await;
        }
        if let Some(live) = self.live.as_ref().filter(|_| is_live) {
            for e in without(events, refused) {
                if live.send(e).await.is_err() {
                    break;
                }
            }
        }
    }

    fn spool(&self, spool: &mut Spool, batch: &SpooledBatch) -> Result<()> {
        let pushed = spool.push(batch)?;
        // --- metrics: spool depth, and what it could not hold ---
        self.telemetry.spool_bytes(spool.bytes());
        if pushed == Pushed::Dropped {
            self.telemetry
                .dropped("spool_full", batch.events.len() as u64);
            error!(
                cluster = %self.name,
                events = batch.events.len(),
                dropped_total = spool.dropped_events,
                "spool full: events dropped (a gap is recorded when storage returns)"
            );
            let mut overflow = self.overflow.lock().unwrap_or_else(|p| p.into_inner());
            overflow.get_or_insert((Timestamp::now(), 0)).1 += batch.events.len() as u64;
        }
        Ok(())
    }

    /// Writes spooled batches back, oldest first, until the spool is empty or the store fails.
    pub async fn drain(&self, spool: &mut Spool) -> Result<()> {
        while let Some((path, batch)) = spool.peek()? {
            let (written, refused) = match self.write(&batch).await {
                Ok(done) => done,
                Err(e) => {
                    let error = format!("{e:#}");
                    warn!(cluster = %self.name, %error, spooled_bytes = spool.bytes(), "store still unavailable");
                    self.telemetry.write_failed(&error);
                    return Ok(());
                }
            };
            spool.remove(&path)?;
            self.committed(written, batch.events, &refused, false).await;
            self.telemetry.spool_bytes(spool.bytes()); // --- metrics
            if spool.is_empty()? {
                info!(cluster = %self.name, "spool written back to the store");
            }
        }
        Ok(())
    }

    /// Writes a batch with its cursor and gaps in one transaction; events the store refuses are
    /// quarantined in it (their positions in the batch are returned) and the rest written;
    /// returns what it committed too. An error is the store's: nothing was written, and the
    /// batch is still the caller's to spool. The one deep copy of a batch between the watch and
    /// the store is made here (it comes back in the [`Written`]).
    async fn write(&self, batch: &SpooledBatch) -> Result<(Written, Vec<usize>)> {
        let started = std::time::Instant::now(); // --- metrics: store write latency
        let mut txn = self.store.begin().await?;
        let done = txn
            .write_or_quarantine(batch.events.clone(), "watch")
            .await?;
        txn.relink(batch.relinks.clone()).await?;
        let refused: Vec<usize> = done.rejected.iter().map(|r| r.index).collect();
        if let Some(first) = done.rejected.first() {
            warn!(
                cluster = %self.name,
                events = refused.len(),
                uid = %first.event.uid,
                reason = %first.event.reason,
                error = %first.error,
                "the store refused events: quarantined, the rest of the batch stored (see kubetrail status)"
            );
        }
        if let Some(c) = &batch.cursor {
            txn.save_cursor(c.clone()).await?;
        }
        if let Some(g) = &batch.gap {
            warn!(cluster = %self.name, from = %g.from, to = %g.to, cause = %g.cause, "events may be missing: gap recorded");
            txn.save_gap(g.clone()).await?;
        }
        let overflow = *self.overflow.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((from, dropped)) = overflow {
            txn.save_gap(Gap {
                cluster: self.name.clone(),
                stream: "spool".to_string(),
                from,
                to: Timestamp::now(),
                cause: format!(
                    "spool full while storage was unavailable: {dropped} events dropped"
                ),
            })
            .await?;
        }
        txn.commit().await?;
        self.telemetry
            .stored(&done.written.summary, started.elapsed()); // --- metrics
        if overflow.is_some() {
            *self.overflow.lock().unwrap_or_else(|p| p.into_inner()) = None;
        }
        Ok((done.written, refused))
    }
}

/// `events` but those at the `refused` positions (ascending).
fn without(events: Vec<Event>, refused: &[usize]) -> Vec<Event> {
    if refused.is_empty() {
        return events;
    }
    events
        .into_iter()
        .enumerate()
        .filter(|(i, _)| refused.binary_search(i).is_err())
        .map(|(_, e)| e)
        .collect()
}
