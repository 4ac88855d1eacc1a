//! [`Analyzer`] backed by `kubetrail-analyze`: patterns, anomalies and incidents, each finding
//! tied to the latest event it is about (which gives the alert its group and labels).

use jiff::{SignedDuration, Timestamp};
use kubetrail_analyze::{
    AnomalyConfig, IncidentConfig, PatternConfig, Status, Window, anomalies, incidents,
    link_changes, patterns,
};
use kubetrail_model::{
    AggregateRow, AnalysisOccurrences, Change, Event, EventOccurrences, Severity,
};

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
        changes: &[Change],
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
                patterns(&AnalysisOccurrences::of_all(events), &cfg)
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
            } => incident_findings(events, changes, *min_severity, *window, now, false),
            Condition::ChangeFollowedByFailure {
                min_severity,
                window,
            } => incident_findings(events, changes, *min_severity, *window, now, true),
            Condition::Count { .. } | Condition::FirstSeen => Vec::new(),
        }
    }
}

/// Ongoing incidents of at least `min_severity` in the window ending at `now`, rooted in the
/// changes they followed; `only_changes`: only those whose root cause is a change.
fn incident_findings(
    events: &[EventOccurrences],
    changes: &[Change],
    min_severity: Severity,
    window: SignedDuration,
    now: Timestamp,
    only_changes: bool,
) -> Vec<Finding> {
    let Ok(w) = Window::new(now - window, now) else {
        return Vec::new();
    };
    let cfg = IncidentConfig::default();
    let mut found = match incidents(&AnalysisOccurrences::of_all(events), w, &cfg) {
        Ok(i) => i,
        Err(error) => {
            tracing::warn!(%error, "cannot find incidents");
            return Vec::new();
        }
    };
    link_changes(&mut found, changes, &cfg);
    found
        .into_iter()
        .filter(|i| i.status == Status::Ongoing && i.severity >= min_severity)
        .filter(|i| !only_changes || i.root_cause.change.is_some())
        .filter_map(|i| {
            let e = latest(events, |e| {
                e.cluster == i.cluster && e.correlation_id == i.subject
            })
            .or_else(|| {
                latest(events, |e| {
                    e.cluster == i.cluster && crate::template::object(e) == i.root_cause.object
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

/// `t` rounded down to a multiple of `bucket` since the epoch.
fn floor(t: Timestamp, bucket: SignedDuration) -> Timestamp {
    let width = bucket.as_micros().max(1) as i64;
    let us = t.as_microsecond();
    Timestamp::from_microsecond(us - us.rem_euclid(width)).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use kubetrail_model::{ChangeOp, ChangeSource, FieldChange, ObjectRef, Occurrence};

    use super::*;
    use crate::testing::{at, event};

    /// A crash loop of shop/Deployment/web from t0 − 10m to t0 (now).
    fn crash_loop() -> Vec<EventOccurrences> {
        let mut e = event("shop", "web-7d9f8b6c4-x2x9z", "BackOff", 12);
        e.cluster = "prod".into();
        e.first_seen = at(-10);
        vec![EventOccurrences {
            event: e,
            occurrences: vec![
                Occurrence {
                    at: at(-10),
                    count: 1,
                },
                Occurrence {
                    at: at(0),
                    count: 11,
                },
            ],
        }]
    }

    fn rollout(minutes: i64) -> Change {
        Change {
            cluster: "prod".into(),
            object: ObjectRef {
                api_version: "apps/v1".into(),
                kind: "Deployment".into(),
                namespace: "shop".into(),
                name: "web".into(),
                uid: "uid-web".into(),
                field_path: String::new(),
            },
            at: at(minutes),
            op: ChangeOp::Updated,
            generation: Some(3),
            resource_version: "9".into(),
            manager: Some("kubectl".into()),
            source: ChangeSource::Watch,
            fields: vec![FieldChange {
                path: "containers[app].image".into(),
                before: Some("web:1".into()),
                after: Some("web:2".into()),
            }],
            references: Vec::new(),
        }
    }

    fn condition() -> Condition {
        Condition::parse("change_followed_by_failure >= error").unwrap()
    }

    #[test]
    fn change_followed_by_failure_fires_for_an_incident_rooted_in_a_change_only() {
        let findings = Analysis.findings(&condition(), &crash_loop(), &[], &[rollout(-12)], at(0));
        assert_eq!(findings.len(), 1, "{findings:#?}");
        let cause = findings[0].cause.as_ref().unwrap();
        assert_eq!(cause.object, "shop/Deployment/web");
        assert!(cause.message.contains("web:1 → web:2"), "{cause:?}");
        assert!(
            cause
                .hint
                .contains("kubectl rollout undo deployment/web -n shop")
        );
        // No change, or one too long before the failures: an incident, but not this condition.
        for changes in [vec![], vec![rollout(-40)]] {
            let none = Analysis.findings(&condition(), &crash_loop(), &[], &changes, at(0));
            assert!(none.is_empty(), "{none:#?}");
            let incident = Condition::parse("incident >= error").unwrap();
            assert_eq!(
                Analysis
                    .findings(&incident, &crash_loop(), &[], &changes, at(0))
                    .len(),
                1
            );
        }
    }

    /// Issue 13, §3: a cluster-wide incident (pods of three workloads waiting on the only
    /// node's not-ready taint, the node's static pod told it is not ready) is one finding and
    /// one alert, not one per workload it hit.
    #[test]
    fn a_cluster_wide_incident_raises_one_alert_not_one_per_workload() {
        use kubetrail_process::{Processor, Rules};

        let mut processor = Processor::new(Rules::builtin());
        let mut pod = |ns: &str, name: &str, reason: &str, note: &str, minute: i64| {
            let mut e = event(ns, name, reason, 1);
            e.cluster = "prod".into();
            e.uid = format!("{ns}-{name}-{reason}");
            e.type_ = "Warning".into();
            e.note = note.into();
            e.first_seen = at(minute);
            e.last_seen = at(minute);
            if reason == "FailedScheduling" {
                e.reporting_controller = "default-scheduler".into();
            } else {
                e.reporting_instance = "control-plane".into();
            }
            let e = processor.process(e);
            EventOccurrences {
                occurrences: vec![Occurrence {
                    at: e.first_seen,
                    count: 1,
                }],
                event: e,
            }
        };
        let taint = "0/1 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.";
        let events = vec![
            pod(
                "kube-system",
                "kube-apiserver-control-plane",
                "NodeNotReady",
                "Node is not ready",
                -9,
            ),
            pod(
                "kube-system",
                "coredns-6d4b75cb6d-m84d9",
                "FailedScheduling",
                taint,
                -8,
            ),
            pod(
                "kube-system",
                "coredns-6d4b75cb6d-n8lbh",
                "FailedScheduling",
                taint,
                -8,
            ),
            pod("shop", "web-7d9f8b6c4-x2x9z", "FailedScheduling", taint, -7),
            pod(
                "local-path-storage",
                "local-path-provisioner-6b84c5c67f-prb6b",
                "FailedScheduling",
                taint,
                -6,
            ),
        ];
        let incident = Condition::parse("incident >= warning").unwrap();
        let findings = Analysis.findings(&incident, &events, &[], &[], at(0));
        assert_eq!(findings.len(), 1, "{findings:#?}");
        assert_eq!(findings[0].cause.as_ref().unwrap().reason, "NodeNotReady");
        let mut evaluator = crate::Evaluator::new(
            crate::parse_rules("rules:\n  - name: incidents\n    condition: incident >= warning\n")
                .unwrap(),
        );
        let raised = evaluator.findings(0, &findings, at(0));
        assert_eq!(raised.len(), 1, "{raised:#?}");
        assert_eq!(raised[0].alert.event_count, 5);
    }
}
