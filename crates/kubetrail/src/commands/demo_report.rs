//! What `kubetrail demo` tells as it runs: a line when an incident opens or an alert fires,
//! and a summary at the end (incidents, alerts, the UI's address).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use kubetrail_analyze::{Incident, IncidentConfig, Window, incidents, link_changes};
use kubetrail_model::EventFilter;
use kubetrail_store::{AlertFilter, Store};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::output::{truncate, visible};

/// How often the store is looked at.
const EVERY: Duration = Duration::from_secs(2);

/// What the demo has found so far.
pub struct Report {
    started: Timestamp,
    /// Incident id → title and root-cause rule.
    incidents: BTreeMap<String, String>,
    /// Alert id → rule and group.
    alerts: BTreeMap<i64, String>,
}

/// Looks at the store every 2 s until `cancel`, printing what is new; the report at the end.
pub fn spawn(store: Arc<dyn Store>, cancel: CancellationToken) -> JoinHandle<Report> {
    tokio::spawn(async move {
        let mut report = Report {
            started: Timestamp::now(),
            incidents: BTreeMap::new(),
            alerts: BTreeMap::new(),
        };
        let mut ticks = tokio::time::interval(EVERY);
        loop {
            tokio::select! {
                _ = ticks.tick() => report.look(store.as_ref()).await,
                _ = cancel.cancelled() => break,
            }
        }
        // A last look: what the final seconds brought.
        report.look(store.as_ref()).await;
        report
    })
}

impl Report {
    async fn look(&mut self, store: &dyn Store) {
        let now = Timestamp::now();
        for i in self.incidents_now(store, now).await {
            if self.incidents.contains_key(&i.id) {
                continue;
            }
            let line = format!(
                "{} (root cause: {}: {})",
                i.title,
                i.root_cause.rule,
                truncate(&i.root_cause.message, 80)
            );
            crate::output::say(format_args!("incident opened: {}", visible(&line)));
            self.incidents.insert(i.id.clone(), line);
        }
        let filter = AlertFilter {
            since: Some(self.started),
            ..AlertFilter::default()
        };
        for a in store.alerts(&filter).await.unwrap_or_default() {
            if self.alerts.contains_key(&a.id) {
                continue;
            }
            let line = format!(
                "{} on {} ({})",
                a.alert.rule, a.alert.group_key, a.alert.severity
            );
            crate::output::say(format_args!("alert fired: {}", visible(&line)));
            self.alerts.insert(a.id, line);
        }
    }

    /// The incidents among the events stored since the demo started.
    async fn incidents_now(&self, store: &dyn Store, now: Timestamp) -> Vec<Incident> {
        let until = now + SignedDuration::from_secs(1);
        let Ok(window) = Window::new(self.started, until) else {
            return Vec::new();
        };
        let filter = EventFilter {
            since: Some(window.since),
            until: Some(window.until),
            ..EventFilter::default()
        };
        let Ok((events, _)) = kubetrail_query::read_events(store, &filter, 50_000).await else {
            return Vec::new();
        };
        let cfg = IncidentConfig {
            now: Some(now),
            ..IncidentConfig::default()
        };
        let mut found = incidents(&events, window, &cfg).unwrap_or_default();
        let changes =
            kubetrail_query::window_changes(store, &filter, cfg.change_window, 50_000).await;
        link_changes(&mut found, &changes.unwrap_or_default(), &cfg);
        found
    }

    /// The closing summary.
    pub fn summary(&self, ui: &str) {
        crate::output::say(format_args!(
            "\nsummary: {} incidents, {} alerts fired",
            self.incidents.len(),
            self.alerts.len()
        ));
        for line in self.incidents.values() {
            crate::output::say(format_args!("  incident: {}", visible(line)));
        }
        for line in self.alerts.values() {
            crate::output::say(format_args!("  alert:    {}", visible(line)));
        }
        crate::output::say(format_args!(
            "web UI: {ui} (served while the demo runs; `kubetrail serve` serves the store after)"
        ));
    }
}
