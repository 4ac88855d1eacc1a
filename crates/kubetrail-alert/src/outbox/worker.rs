//! The delivery worker: takes due deliveries from the store, sends them, records the outcome.
//!
//! Notifiers never wait on each other: sends run as tasks that outlive a pass, each notifier
//! holds at most [`IN_FLIGHT`] of them, and the worker records each outcome as it comes. A
//! receiver that hangs until its timeout holds only its own deliveries; the others keep to
//! their retry schedules (the store also hands each notifier its own share of a batch).

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use kubetrail_model::{Delivery, DeliveryState, DeliveryUpdate};
use kubetrail_store::Outbox;
use tokio::sync::Notify;
use tokio::task::{Id, JoinError, JoinSet};
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use super::{RetryPolicy, TokenBucket};
use crate::Result;
use crate::metrics::{AlertMetrics, notifier as notifier_label};
use crate::notify::{DeliveryError, Notification, Notifier};

/// Due deliveries taken from the store at a time, per notifier.
const BATCH: usize = 64;

/// Sends in flight at once per notifier.
pub const IN_FLIGHT: usize = 8;

/// How long a stopping worker waits for its sends in flight before it abandons them (they are
/// sent again after their lease, by the next worker).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A finished send.
struct Sent {
    delivery: Delivery,
    taken: DeliveryUpdate,
    outcome: std::result::Result<(), DeliveryError>,
}

/// Sends what the outbox holds. One per store.
pub struct DeliveryWorker {
    store: Arc<dyn Outbox>,
    notifiers: HashMap<String, (Notifier, Option<TokenBucket>)>,
    client: reqwest::Client,
    policy: RetryPolicy,
    metrics: AlertMetrics,
    wake: Arc<Notify>,
    /// How often due retries are looked for when nothing wakes the worker.
    pub poll: Duration,
    /// The first pass after a start also takes deliveries another worker was sending: with
    /// one worker per store, such a worker died with the previous process.
    first_pass: bool,
    /// Sends in flight, across passes.
    sending: JoinSet<Sent>,
    /// The notifier of each send in flight (a panicked send still frees its notifier's slot).
    sending_to: HashMap<Id, String>,
    /// Sends in flight per notifier.
    in_flight: HashMap<String, usize>,
}

impl DeliveryWorker {
    /// A worker that delivers the store's due notifications through `notifiers` (each with
    /// its rate limit), retrying by `policy`; `wake` is notified when new ones are queued.
    pub fn new(
        store: Arc<dyn Outbox>,
        notifiers: Vec<(Notifier, Option<TokenBucket>)>,
        client: reqwest::Client,
        policy: RetryPolicy,
        metrics: AlertMetrics,
        wake: Arc<Notify>,
    ) -> Self {
        DeliveryWorker {
            store,
            notifiers: notifiers
                .into_iter()
                .map(|(n, limit)| (n.name().to_string(), (n, limit)))
                .collect(),
            client,
            policy,
            metrics,
            wake,
            poll: Duration::from_secs(1),
            first_pass: true,
            sending: JoinSet::new(),
            sending_to: HashMap::new(),
            in_flight: HashMap::new(),
        }
    }

    /// Delivers until `cancel`; woken early by `wake` when alerts are recorded and by each
    /// send that ends. Sends in flight at cancellation get `SHUTDOWN_GRACE` (5 s) to end and be
    /// recorded.
    pub async fn run(mut self, cancel: CancellationToken) {
        let mut store_errors = 0u32;
        loop {
            let pause = match self.deliver_due().await {
                Ok(Pass { full: true, .. }) => {
                    store_errors = 0;
                    continue;
                }
                Ok(Pass { wait, .. }) => {
                    store_errors = 0;
                    // A retry is never late by more than the first backoff.
                    let poll = self
                        .poll
                        .min(self.policy.initial.max(Duration::from_millis(10)));
                    wait.map_or(poll, |w| w.min(poll))
                }
                Err(e) => {
                    store_errors = store_errors.saturating_add(1);
                    warn!(error = %crate::error_chain(&e), "cannot read or update the alert outbox; retrying");
                    self.policy
                        .delay(store_errors, 0.5)
                        .min(Duration::from_secs(30))
                }
            };
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(pause) => {}
                Some(done) = self.sending.join_next_with_id() => self.finish(done).await,
            }
        }
        let grace = tokio::time::sleep(SHUTDOWN_GRACE);
        tokio::pin!(grace);
        loop {
            tokio::select! {
                done = self.sending.join_next_with_id() => match done {
                    Some(done) => self.finish(done).await,
                    None => break,
                },
                _ = &mut grace => {
                    warn!(in_flight = self.sending.len(), "alert notifications still sending at shutdown; they are sent again after their lease");
                    self.sending.abort_all();
                    break;
                }
            }
        }
        info!("alert delivery stopped");
    }

    /// Starts a send for every delivery due now (up to a batch per notifier) whose notifier
    /// has a free slot and a token; does not wait for the sends.
    pub async fn deliver_due(&mut self) -> Result<Pass> {
        let now = Timestamp::now();
        let until = if self.first_pass {
            now.checked_add(
                SignedDuration::try_from(self.policy.lease).unwrap_or(SignedDuration::ZERO),
            )
            .unwrap_or(now)
        } else {
            now
        };
        let due = self.store.due_deliveries(until, BATCH).await?;
        self.first_pass = false;
        let mut per_notifier: HashMap<&str, usize> = HashMap::new();
        for d in &due {
            *per_notifier.entry(d.notifier.as_str()).or_default() += 1;
        }
        // A notifier with a full batch may have more due; worth another pass at once unless
        // it cannot take more now.
        let mut more: Vec<String> = per_notifier
            .into_iter()
            .filter(|(_, n)| *n >= BATCH)
            .map(|(name, _)| name.to_string())
            .collect();
        let mut wait: Option<Duration> = None;
        for d in due {
            if self.policy.is_expired(&d, now) {
                self.store
                    .update_delivery(&self.policy.expire(&d, now))
                    .await?;
                self.metrics
                    .expired
                    .get_or_create(&notifier_label(&d.notifier))
                    .inc();
                warn!(notifier = %d.notifier, rule = %d.payload.rule, group = %d.payload.group_key, attempts = d.attempts, "alert notification expired before it could be delivered");
                continue;
            }
            let Some((notifier, limit)) = self.notifiers.get_mut(&d.notifier) else {
                let failed = DeliveryUpdate {
                    id: d.id,
                    state: DeliveryState::Failed,
                    attempts: d.attempts,
                    next_attempt_at: now,
                    last_error: Some(format!("no notifier named {:?} is configured", d.notifier)),
                    at: now,
                };
                self.store.update_delivery(&failed).await?;
                self.metrics
                    .failed
                    .get_or_create(&notifier_label(&d.notifier))
                    .inc();
                error!(notifier = %d.notifier, "alert notification for a notifier that is no longer configured: failed");
                continue;
            };
            let busy = self.in_flight.get(&d.notifier).copied().unwrap_or(0);
            if busy >= IN_FLIGHT {
                // Its slots free up as its sends end, and each end wakes the worker.
                more.retain(|n| *n != d.notifier);
                debug!(notifier = %d.notifier, in_flight = busy, "notifier busy; the notification waits");
                continue;
            }
            if let Some(bucket) = limit
                && !bucket.try_take()
            {
                let w = bucket.wait();
                wait = Some(wait.map_or(w, |x| x.min(w)));
                more.retain(|n| *n != d.notifier);
                debug!(notifier = %d.notifier, "rate limited; the notification waits");
                continue;
            }
            let taken = self.policy.take(&d, now);
            self.store.update_delivery(&taken).await?;
            let (notifier, client) = (notifier.clone(), self.client.clone());
            let name = d.notifier.clone();
            let task = self.sending.spawn(async move {
                let n = Notification {
                    delivery_id: d.id,
                    alert_id: d.alert_id,
                    alert: &d.payload,
                };
                let outcome = notifier.send(&client, n).await;
                Sent {
                    delivery: d,
                    taken,
                    outcome,
                }
            });
            *self.in_flight.entry(name.clone()).or_default() += 1;
            self.sending_to.insert(task.id(), name);
        }
        Ok(Pass {
            full: !more.is_empty(),
            wait,
        })
    }

    /// Records a finished send and frees its notifier's slot. A store error is logged: the
    /// delivery stays taken and is sent again when its lease runs out.
    async fn finish(&mut self, done: std::result::Result<(Id, Sent), JoinError>) {
        let id = match &done {
            Ok((id, _)) => *id,
            Err(e) => e.id(),
        };
        if let Some(name) = self.sending_to.remove(&id)
            && let Some(n) = self.in_flight.get_mut(&name)
        {
            *n = n.saturating_sub(1);
        }
        match done {
            Ok((_, sent)) => {
                if let Err(e) = self.record(&sent.delivery, &sent.taken, sent.outcome).await {
                    warn!(error = %crate::error_chain(&e), notifier = %sent.delivery.notifier, "cannot record the outcome of an alert notification; it is sent again after its lease");
                }
            }
            Err(e) => {
                error!(error = %e, "an alert notification task panicked; it will be retried after its lease")
            }
        }
    }

    async fn record(
        &self,
        d: &Delivery,
        taken: &DeliveryUpdate,
        outcome: std::result::Result<(), DeliveryError>,
    ) -> Result<()> {
        let now = Timestamp::now();
        let label = notifier_label(&d.notifier);
        let update = match &outcome {
            Ok(()) => {
                self.metrics.delivered.get_or_create(&label).inc();
                let latency = now.duration_since(d.created_at).as_secs_f64().max(0.0);
                self.metrics.latency.get_or_create(&label).observe(latency);
                debug!(notifier = %d.notifier, rule = %d.payload.rule, group = %d.payload.group_key, status = %d.payload.status, attempts = taken.attempts, "alert notification delivered");
                self.policy.delivered(taken, now)
            }
            Err(e) => {
                let unit = (std::collections::hash_map::RandomState::new()
                    .hash_one((d.id, taken.attempts))
                    % 1_000_000) as f64
                    / 1_000_000.0;
                let u = self.policy.failed(d, taken, e, unit, now);
                match u.state {
                    DeliveryState::Pending => {
                        self.metrics.retried.get_or_create(&label).inc();
                        warn!(notifier = %d.notifier, rule = %d.payload.rule, group = %d.payload.group_key, attempts = u.attempts, error = %e, retry_at = %u.next_attempt_at, "alert notification failed; will retry");
                    }
                    DeliveryState::Expired => {
                        self.metrics.expired.get_or_create(&label).inc();
                        warn!(notifier = %d.notifier, rule = %d.payload.rule, group = %d.payload.group_key, attempts = u.attempts, error = %e, "alert notification failed and expired");
                    }
                    _ => {
                        self.metrics.failed.get_or_create(&label).inc();
                        error!(notifier = %d.notifier, rule = %d.payload.rule, group = %d.payload.group_key, attempts = u.attempts, error = %e, "alert notification failed for good");
                    }
                }
                u
            }
        };
        self.store.update_delivery(&update).await?;
        Ok(())
    }
}

/// What one pass did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    /// A full batch was due: there may be more.
    pub full: bool,
    /// Rate-limited deliveries can go in this long.
    pub wait: Option<Duration>,
}
