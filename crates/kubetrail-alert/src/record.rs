//! Recording alert changes: silences are applied, notifications chosen, and everything is
//! saved in the store *before* the delivery worker is woken — the outbox.

use std::collections::HashMap;
use std::sync::Arc;

use jiff::Timestamp;
use kubetrail_model::NewDelivery;
use kubetrail_store::AlertRecords;
use tokio::sync::Notify;

use crate::metrics::{AlertMetrics, rule as rule_label};
use crate::silence::Silences;
use crate::{AlertChange, ChangeKind, Result};

/// What is known of an open alert between changes.
#[derive(Debug, Clone, Copy, Default)]
struct OpenState {
    silenced_by: Option<i64>,
    /// A firing notification was queued, so its resolution must be too.
    notified: bool,
}

/// Saves alert changes with their notifications.
pub struct Recorder {
    store: Arc<dyn AlertRecords>,
    /// Every configured notifier, for rules that do not name theirs.
    notifiers: Vec<String>,
    metrics: AlertMetrics,
    wake: Arc<Notify>,
    open: HashMap<(String, String), OpenState>,
}

impl Recorder {
    /// A recorder that writes alert changes to `store`, queues deliveries to their rule's
    /// notifiers (`notifiers`: all configured, for rules that name none) and wakes the delivery
    /// worker through `wake`.
    pub fn new(
        store: Arc<dyn AlertRecords>,
        notifiers: Vec<String>,
        metrics: AlertMetrics,
        wake: Arc<Notify>,
    ) -> Self {
        Recorder {
            store,
            notifiers,
            metrics,
            wake,
            open: HashMap::new(),
        }
    }

    /// Takes over an alert recorded before a restart.
    pub fn restore(&mut self, alert: &kubetrail_model::AlertRecord) {
        if alert.status == kubetrail_model::AlertStatus::Firing {
            self.open.insert(
                (alert.rule.clone(), alert.group_key.clone()),
                OpenState {
                    silenced_by: alert.silenced_by,
                    notified: alert.silenced_by.is_none(),
                },
            );
        }
    }

    /// Saves `changes`; returns how many notifications were queued. On a store error the
    /// changes from the failed one on are returned to be tried again.
    pub async fn record(
        &mut self,
        changes: Vec<AlertChange>,
        now: Timestamp,
    ) -> std::result::Result<usize, (crate::Error, Vec<AlertChange>)> {
        if changes.is_empty() {
            return Ok(0);
        }
        let needs_silences = changes
            .iter()
            .any(|c| matches!(c.kind, ChangeKind::Raised | ChangeKind::Repeated));
        let silences = if needs_silences {
            match self.store.silences(Some(now)).await {
                Ok(s) => Silences::new(s),
                Err(e) => return Err((e.into(), changes)),
            }
        } else {
            Silences::new(Vec::new())
        };
        let mut queued = 0;
        let mut rest = changes.into_iter();
        while let Some(change) = rest.next() {
            match self.record_one(&change, &silences, now).await {
                Ok(n) => queued += n,
                Err(e) => {
                    let mut left = vec![change];
                    left.extend(rest);
                    if queued > 0 {
                        self.wake.notify_one();
                    }
                    return Err((e, left));
                }
            }
        }
        if queued > 0 {
            self.wake.notify_one();
        }
        Ok(queued)
    }

    async fn record_one(
        &mut self,
        c: &AlertChange,
        silences: &Silences,
        now: Timestamp,
    ) -> Result<usize> {
        let key = (c.alert.rule.clone(), c.alert.group_key.clone());
        let mut alert = c.alert.clone();
        let mut state = self.open.get(&key).copied().unwrap_or_default();
        let notify = match c.kind {
            ChangeKind::Raised | ChangeKind::Repeated => {
                state.silenced_by = silences.silencing(&alert.labels, now);
                state.silenced_by.is_none()
            }
            ChangeKind::Updated => false,
            ChangeKind::Resolved => state.notified,
        };
        alert.silenced_by = state.silenced_by;
        let targets: Vec<String> = match &c.notifiers {
            Some(list) => list.clone(),
            None => self.notifiers.clone(),
        };
        let deliveries: Vec<NewDelivery> = if notify {
            targets
                .into_iter()
                .map(|notifier| NewDelivery {
                    notifier,
                    due_at: now,
                })
                .collect()
        } else {
            Vec::new()
        };
        self.store.save_alert(&alert, &deliveries, now).await?;
        let label = rule_label(&alert.rule);
        match c.kind {
            ChangeKind::Raised => {
                self.metrics.raised.get_or_create(&label).inc();
                if state.silenced_by.is_some() {
                    self.metrics.silenced.get_or_create(&label).inc();
                }
                tracing::info!(rule = %alert.rule, group = %alert.group_key, severity = %alert.severity, silenced = state.silenced_by.is_some(), notifications = deliveries.len(), "alert raised");
            }
            ChangeKind::Resolved => {
                self.metrics.resolved.get_or_create(&label).inc();
                tracing::info!(rule = %alert.rule, group = %alert.group_key, notifications = deliveries.len(), "alert resolved");
            }
            ChangeKind::Repeated | ChangeKind::Updated => {}
        }
        if c.kind == ChangeKind::Resolved {
            self.open.remove(&key);
        } else {
            state.notified |= !deliveries.is_empty();
            self.open.insert(key, state);
        }
        Ok(deliveries.len())
    }
}
