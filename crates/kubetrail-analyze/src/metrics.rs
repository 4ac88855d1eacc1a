//! Occurrence rates as Prometheus metrics, labelled by cluster, namespace, reason, category and
//! severity: the per-reason event rates that kube-state-metrics declined to export (object names
//! would make the label sets unbounded). Object names, messages and nodes are never labels, and
//! the number of series is capped: the largest are kept and the rest summed into one series
//! labelled `_other`.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;

use jiff::SignedDuration;
use kubetrail_model::{AggregateRow, Dimension};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::{Error, Result};

/// Settings of [`render_metrics`].
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsConfig {
    /// The window the rows count occurrences over (rates are per minute of it).
    pub window: SignedDuration,
    /// Most label sets exported; the rest are summed into one `_other` series (default 500).
    pub max_series: usize,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            window: SignedDuration::from_mins(5),
            max_series: 500,
        }
    }
}

/// The labels of every series: bounded sets only.
#[derive(Debug, Clone, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
struct Labels {
    cluster: String,
    namespace: String,
    reason: String,
    category: String,
    severity: String,
}

const OTHER: &str = "_other";

/// Renders `rows` (occurrence counts over `cfg.window`, grouped by cluster, namespace, reason,
/// category and severity, no buckets) as Prometheus text exposition: the gauges
/// `kubetrail_analyze_event_occurrences` (count in the window) and
/// `kubetrail_analyze_event_rate_per_minute`.
pub fn render_metrics(rows: &[AggregateRow], cfg: &MetricsConfig) -> Result<String> {
    let minutes = cfg.window.as_secs_f64() / 60.0;
    if minutes <= 0.0 {
        return Err(Error::InvalidSetting {
            name: "window",
            reason: format!("must be positive, not {:?}", cfg.window),
        });
    }
    let mut counts: BTreeMap<Labels, u64> = BTreeMap::new();
    for row in rows {
        *counts.entry(labels(row)?).or_insert(0) += row.count;
    }
    let mut ranked: Vec<(Labels, u64)> = counts.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    if ranked.len() > cfg.max_series {
        let keep = cfg.max_series.saturating_sub(1);
        let rest: u64 = ranked[keep..].iter().map(|(_, c)| c).sum();
        ranked.truncate(keep);
        let other = || OTHER.to_string();
        ranked.push((
            Labels {
                cluster: other(),
                namespace: other(),
                reason: other(),
                category: other(),
                severity: other(),
            },
            rest,
        ));
    }
    let occurrences = Family::<Labels, Gauge<f64, AtomicU64>>::default();
    let rates = Family::<Labels, Gauge<f64, AtomicU64>>::default();
    let mut registry = Registry::default();
    registry.register(
        "kubetrail_analyze_event_occurrences",
        "Deprecated, use increase(kubetrail_events_total[5m]) instead: occurrences of Kubernetes Events in the analysis window",
        occurrences.clone(),
    );
    registry.register(
        "kubetrail_analyze_event_rate_per_minute",
        "Deprecated, use rate(kubetrail_events_total[5m]) (per second) instead: occurrences of Kubernetes Events per minute over the analysis window",
        rates.clone(),
    );
    for (l, count) in &ranked {
        occurrences.get_or_create(l).set(*count as f64);
        rates.get_or_create(l).set(*count as f64 / minutes);
    }
    let mut out = String::new();
    encode(&mut out, &registry)?;
    Ok(out)
}

fn labels(row: &AggregateRow) -> Result<Labels> {
    let get = |d: Dimension| {
        row.key
            .iter()
            .find(|(k, _)| *k == d)
            .map(|(_, v)| v.clone().unwrap_or_default())
            .ok_or(Error::RowShape {
                what: "metrics",
                needed: "cluster, namespace, reason, category and severity",
            })
    };
    Ok(Labels {
        cluster: get(Dimension::Cluster)?,
        namespace: get(Dimension::Namespace)?,
        reason: get(Dimension::Reason)?,
        category: get(Dimension::Category)?,
        severity: get(Dimension::Severity)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(ns: &str, reason: &str, count: u64) -> AggregateRow {
        AggregateRow {
            key: vec![
                (Dimension::Cluster, Some("prod".into())),
                (Dimension::Namespace, Some(ns.into())),
                (Dimension::Reason, Some(reason.into())),
                (Dimension::Category, Some("crash".into())),
                (Dimension::Severity, Some("error".into())),
            ],
            bucket: None,
            count,
        }
    }

    #[test]
    fn rates_are_exported_per_label_set_without_object_names() {
        let text = render_metrics(
            &[row("shop", "BackOff", 30), row("db", "BackOff", 3)],
            &MetricsConfig {
                window: SignedDuration::from_mins(10),
                max_series: 10,
            },
        )
        .unwrap();
        assert!(
            text.contains("# TYPE kubetrail_analyze_event_rate_per_minute gauge"),
            "{text}"
        );
        assert!(
            text.contains(r#"kubetrail_analyze_event_rate_per_minute{cluster="prod",namespace="shop",reason="BackOff",category="crash",severity="error"} 3.0"#),
            "{text}"
        );
        assert!(
            text.contains(r#"kubetrail_analyze_event_occurrences{cluster="prod",namespace="db",reason="BackOff",category="crash",severity="error"} 3.0"#),
            "{text}"
        );
        assert!(text.trim_end().ends_with("# EOF"));
    }

    #[test]
    fn series_beyond_the_cap_are_summed_into_other() {
        let rows: Vec<AggregateRow> = (0..10)
            .map(|i| row(&format!("ns{i}"), "BackOff", 10 + i))
            .collect();
        let text = render_metrics(
            &rows,
            &MetricsConfig {
                window: SignedDuration::from_mins(1),
                max_series: 3,
            },
        )
        .unwrap();
        let series = text
            .lines()
            .filter(|l| l.starts_with("kubetrail_analyze_event_occurrences{"))
            .count();
        assert_eq!(series, 3);
        // ns9 (19) and ns8 (18) kept; the other eight (10..=17) summed: 108.
        assert!(text.contains(r#"namespace="ns9""#));
        assert!(
            text.contains(r#"kubetrail_analyze_event_occurrences{cluster="_other",namespace="_other",reason="_other",category="_other",severity="_other"} 108.0"#),
            "{text}"
        );
    }

    #[test]
    fn rows_missing_a_label_dimension_are_refused() {
        let mut r = row("shop", "BackOff", 1);
        r.key.pop();
        assert!(matches!(
            render_metrics(&[r], &MetricsConfig::default()),
            Err(Error::RowShape { .. })
        ));
    }
}
