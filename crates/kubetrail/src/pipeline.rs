//! The live pipeline of one cluster: watch → process → store, with owner reflectors feeding
//! the processor. Stages are tasks joined by bounded channels; a failing cluster retries on its
//! own and never stops the others.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use kube::Client;
use kubetrail_model::{Event, Timestamp};
use kubetrail_process::{Processor, Rules};
use kubetrail_source::watch::{
    Backoff, Batch, Observation, WatchConfig, WatchStats, detect_api, watch_events, watch_owners,
};
use kubetrail_store::{Gap, Store, WatchCursor};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::config::RawCluster;

/// What one cluster's pipeline needs.
pub struct ClusterPipeline {
    pub name: String,
    pub client: Client,
    pub settings: RawCluster,
    pub rules: Rules,
    pub store: Arc<dyn Store>,
    /// Every stored event is also sent here (for live output), if set.
    pub live: Option<mpsc::Sender<Event>>,
    pub stats: Arc<WatchStats>,
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
        let (tx, mut rx) = mpsc::channel::<Batch>(16);
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

        let mut processor = Processor::new(self.rules.clone());
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
                    Some(batch) => self.store_batch(&mut processor, batch, &cancel).await?,
                    // Every watcher has stopped (cancelled) and handed over what it read.
                    None => return Ok(()),
                },
            }
        }
    }

    /// Processes and stores one batch with its cursor (and gap marker), retrying while the
    /// store is unavailable: the watchers wait meanwhile (bounded channel), and resume from the
    /// stored cursor if their watch breaks.
    async fn store_batch(
        &self,
        processor: &mut Processor,
        batch: Batch,
        cancel: &CancellationToken,
    ) -> Result<()> {
        let now = Timestamp::now();
        let events: Vec<Event> = batch
            .events
            .into_iter()
            .map(|e| processor.process(e))
            .collect();
        let gap = match &batch.gap {
            Some(notice) => {
                let previous = self.store.cursor(&self.name, &batch.stream).await?;
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
        let cursor = batch.cursor.map(|rv| WatchCursor {
            cluster: self.name.clone(),
            stream: batch.stream.clone(),
            resource_version: rv,
            updated_at: now,
        });
        let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(30));
        loop {
            match self
                .write(events.clone(), cursor.clone(), gap.clone())
                .await
            {
                Ok(()) => break,
                // After cancellation one last attempt was made: give up, the cursor was not
                // advanced, so the next start re-reads these events.
                Err(e) if cancel.is_cancelled() => {
                    return Err(e).context("cannot store the last batch before stopping");
                }
                Err(e) => {
                    warn!(cluster = %self.name, error = %format!("{e:#}"), "cannot store a batch; retrying");
                    tokio::select! {
                        _ = cancel.cancelled() => {}
                        _ = tokio::time::sleep(backoff.next_delay()) => {}
                    }
                }
            }
        }
        if let Some(live) = &self.live {
            for e in events {
                if live.send(e).await.is_err() {
                    break;
                }
            }
        }
        Ok(())
    }

    async fn write(
        &self,
        events: Vec<Event>,
        cursor: Option<WatchCursor>,
        gap: Option<Gap>,
    ) -> Result<()> {
        let mut txn = self.store.begin().await?;
        txn.write(events).await?;
        if let Some(c) = cursor {
            txn.save_cursor(c).await?;
        }
        if let Some(g) = gap {
            warn!(cluster = %self.name, from = %g.from, to = %g.to, cause = %g.cause, "events may be missing: gap recorded");
            txn.save_gap(g).await?;
        }
        txn.commit().await?;
        Ok(())
    }
}
