//! Alerting metrics, registered on the `/metrics` registry by the server:
//! `kubetrail_alert_raised_total{rule}`, `kubetrail_alert_resolved_total{rule}`,
//! `kubetrail_alert_silenced_total{rule}`, `kubetrail_alert_delivered_total{notifier}`,
//! `kubetrail_alert_failed_total{notifier}`, `kubetrail_alert_retried_total{notifier}`,
//! `kubetrail_alert_expired_total{notifier}` and the histogram
//! `kubetrail_alert_delivery_latency_seconds{notifier}` (from queueing to acceptance).
//! Labels are rule and notifier names from the configuration: bounded.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// The `rule` label: a rule's name.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RuleLabel {
    /// The rule's name from the configuration.
    pub rule: String,
}

/// The `notifier` label: a notifier's name.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NotifierLabel {
    /// The notifier's name from the configuration.
    pub notifier: String,
}

fn latency_histogram() -> Histogram {
    Histogram::new([
        0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0,
    ])
}

/// The counters of the alerting stage. Cheap to clone (shared atomics).
#[derive(Debug, Clone)]
pub struct AlertMetrics {
    /// Alerts raised (`kubetrail_alert_raised_total`).
    pub raised: Family<RuleLabel, Counter>,
    /// Alerts resolved (`kubetrail_alert_resolved_total`).
    pub resolved: Family<RuleLabel, Counter>,
    /// Alerts recorded but not sent because of a silence (`kubetrail_alert_silenced_total`).
    pub silenced: Family<RuleLabel, Counter>,
    /// Notifications accepted by their notifier (`kubetrail_alert_delivered_total`).
    pub delivered: Family<NotifierLabel, Counter>,
    /// Notifications that failed for good (`kubetrail_alert_failed_total`).
    pub failed: Family<NotifierLabel, Counter>,
    /// Attempts that failed and will be retried (`kubetrail_alert_retried_total`).
    pub retried: Family<NotifierLabel, Counter>,
    /// Notifications that became too old to send (`kubetrail_alert_expired_total`).
    pub expired: Family<NotifierLabel, Counter>,
    /// Seconds from queueing a notification to its acceptance
    /// (`kubetrail_alert_delivery_latency_seconds`).
    pub latency: Family<NotifierLabel, Histogram, fn() -> Histogram>,
}

impl Default for AlertMetrics {
    fn default() -> Self {
        AlertMetrics {
            raised: Family::default(),
            resolved: Family::default(),
            silenced: Family::default(),
            delivered: Family::default(),
            failed: Family::default(),
            retried: Family::default(),
            expired: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
        }
    }
}

pub(crate) fn rule(name: &str) -> RuleLabel {
    RuleLabel {
        rule: name.to_string(),
    }
}

pub(crate) fn notifier(name: &str) -> NotifierLabel {
    NotifierLabel {
        notifier: name.to_string(),
    }
}

impl AlertMetrics {
    /// Registers every metric under the `kubetrail_alert_` prefix.
    pub fn register(&self, registry: &mut Registry) {
        let sub = registry.sub_registry_with_prefix("kubetrail_alert");
        sub.register("raised", "Alerts raised", self.raised.clone());
        sub.register("resolved", "Alerts resolved", self.resolved.clone());
        sub.register(
            "silenced",
            "Alerts recorded but not sent because of a silence",
            self.silenced.clone(),
        );
        sub.register(
            "delivered",
            "Notifications accepted by their notifier",
            self.delivered.clone(),
        );
        sub.register(
            "failed",
            "Notifications that failed for good",
            self.failed.clone(),
        );
        sub.register(
            "retried",
            "Notification attempts that failed and will be retried",
            self.retried.clone(),
        );
        sub.register(
            "expired",
            "Notifications that became too old to send",
            self.expired.clone(),
        );
        sub.register(
            "delivery_latency_seconds",
            "Time from queueing a notification to its acceptance",
            self.latency.clone(),
        );
    }

    /// The metrics in Prometheus text format (what `/metrics` will serve).
    pub fn render(&self) -> crate::Result<String> {
        let mut registry = Registry::default();
        self.register(&mut registry);
        let mut out = String::new();
        encode(&mut out, &registry)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_render_with_their_names_and_labels() {
        let m = AlertMetrics::default();
        m.raised.get_or_create(&rule("crash-loop")).inc();
        m.delivered.get_or_create(&notifier("slack")).inc_by(2);
        m.latency.get_or_create(&notifier("slack")).observe(0.2);
        let text = m.render().unwrap();
        assert!(
            text.contains("kubetrail_alert_raised_total{rule=\"crash-loop\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("kubetrail_alert_delivered_total{notifier=\"slack\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("kubetrail_alert_delivery_latency_seconds_count{notifier=\"slack\"} 1"),
            "{text}"
        );
    }
}
