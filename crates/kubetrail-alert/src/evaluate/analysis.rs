//! [`Analyzer`] backed by `kubetrail-analyze`: patterns, anomalies and incidents, each finding
//! tied to the latest event it is about (which gives the alert its group and labels).

use jiff::{SignedDuration, Timestamp};
use kubetrail_analyze::{
    AnomalyConfig, IncidentConfig, PatternConfig, Status, Window, anomalies, incidents, patterns,
};
use kubetrail_model::{AggregateRow, Event, EventOccurrences};

use super::{Analyzer, Cause, Finding};
use crate::condition::Condition;

/// Patterns, anomalies and incidents as `kubetrail patterns|anomalies|incidents` find them.
#[derive(Debug, Default, Clone, Copy)]
pub struct Analysis;

fn namespace_of(e: &Event) -> &str {
    if e.regarding.namespace.is_empty() {
        &e.namespace
    } else {
        &e.regarding.namespace
    }
}

/// The latest event (by its last occurrence in the window) satisfying `pick`.
fn latest(events: &[EventOccurrences], pick: impl Fn(&Event) -> bool) -> Option<&EventOccurrences> {
    events
        .iter()
        .filter(|e| pick(&e.event))
        .max_by_key(|e| e.last())
}

impl Analyzer for Analysis {
    fn findings(
        &self,
        condition: &Condition,
        events: &[EventOccurrences],
        history: &[AggregateRow],
        now: Timestamp,
    ) -> Vec<Finding> {
        match condition {
            Condition::Pattern {
                min_count,
                min_per_minute,
                ..
            } => {
                let cfg = PatternConfig {
                    min_count: *min_count,
                    min_per_minute: *min_per_minute,
                    ..PatternConfig::default()
                };
                patterns(events, &cfg)
                    .into_iter()
                    .filter_map(|p| {
                        let k = &p.key;
                        let e = latest(events, |e| {
                            e.cluster == k.cluster
                                && namespace_of(e) == k.namespace
                                && e.regarding.kind == k.kind
                                && e.reason == k.reason
                                && e.template == k.template
                        })?;
                        Some(Finding {
                            event: e.event.clone(),
                            score: p.frequency_per_min,
                            severity: p.severity,
                            count: p.count,
                            first_seen: p.first_seen,
                            last_seen: p.last_seen,
                            summary: format!(
                                "{} × {} on {} object(s) in {} ({:.1}/min): {}",
                                p.count,
                                k.reason,
                                p.object_count,
                                k.namespace,
                                p.frequency_per_min,
                                k.template
                            ),
                            cause: None,
                        })
                    })
                    .collect()
            }
            Condition::Anomaly { min_score, window } => {
                let cfg = AnomalyConfig::default();
                let since = floor(now - *window, cfg.bucket);
                let found = match anomalies(history, since, now, &cfg) {
                    Ok(a) => a,
                    Err(error) => {
                        tracing::warn!(%error, "cannot judge anomalies");
                        return Vec::new();
                    }
                };
                found
                    .into_iter()
                    .filter(|a| a.score >= *min_score)
                    .filter_map(|a| {
                        let k = &a.key;
                        let e = latest(events, |e| {
                            e.cluster == k.cluster
                                && e.namespace == k.namespace
                                && e.reason == k.reason
                        })?;
                        Some(Finding {
                            event: e.event.clone(),
                            score: a.score,
                            severity: a.severity,
                            count: a.count,
                            first_seen: e.first().unwrap_or(a.at),
                            last_seen: e.last().unwrap_or(a.at),
                            summary: a.evidence,
                            cause: None,
                        })
                    })
                    .collect()
            }
            Condition::Incident {
                min_severity,
                window,
            } => {
                let Ok(w) = Window::new(now - *window, now) else {
                    return Vec::new();
                };
                let found = match incidents(events, w, &IncidentConfig::default()) {
                    Ok(i) => i,
                    Err(error) => {
                        tracing::warn!(%error, "cannot find incidents");
                        return Vec::new();
                    }
                };
                found
                    .into_iter()
                    .filter(|i| i.status == Status::Ongoing && i.severity >= *min_severity)
                    .filter_map(|i| {
                        let e = latest(events, |e| {
                            e.cluster == i.cluster && e.correlation_id == i.subject
                        })
                        .or_else(|| {
                            latest(events, |e| {
                                e.cluster == i.cluster
                                    && crate::template::object(e) == i.root_cause.object
                            })
                        })?;
                        Some(Finding {
                            event: e.event.clone(),
                            score: 0.0,
                            severity: i.severity,
                            count: i.event_count,
                            first_seen: i.start,
                            last_seen: i.end,
                            summary: format!(
                                "{}: {} ({})",
                                i.root_cause.reason, i.root_cause.message, i.root_cause.hint
                            ),
                            cause: Some(Cause {
                                reason: i.root_cause.reason.clone(),
                                object: i.root_cause.object.clone(),
                                message: i.root_cause.message.clone(),
                                hint: i.root_cause.hint.clone(),
                            }),
                        })
                    })
                    .collect()
            }
            Condition::Count { .. } | Condition::FirstSeen => Vec::new(),
        }
    }
}

/// `t` rounded down to a multiple of `bucket` since the epoch.
fn floor(t: Timestamp, bucket: SignedDuration) -> Timestamp {
    let width = bucket.as_micros().max(1) as i64;
    let us = t.as_microsecond();
    Timestamp::from_microsecond(us - us.rem_euclid(width)).unwrap_or(t)
}
