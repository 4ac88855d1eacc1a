//! The dry run behind `kubetrail alerts test`: which alerts a set of events would raise.
//!
//! Events are replayed in time order with time standing at each occurrence; a dumped Event's
//! count is spread over its first–last interval ([`spread`]). Windowed conditions (pattern,
//! anomaly, incident) are judged once, over their window ending at the last occurrence, with
//! the changes the dumps hold (incidents rooted in a change).
//! Alerts still open at the end stay firing: a dump does not say what happened next.

use std::collections::BTreeMap;

use jiff::Timestamp;
use kubetrail_model::{
    AggregateRow, Change, Dimension, Event, EventOccurrences, Occurrence, Severity,
};
use kubetrail_model::{AlertEvent, AlertStatus};
use serde::Serialize;

use super::{Analyzer, ChangeKind, Evaluator, Hit, spread};
use crate::rules::Rule;

/// One alert the events would raise: the JSON of `kubetrail alerts test -o json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DryRunAlert {
    /// The rule's name.
    pub rule: String,
    /// The group's values joined by `/` (see [`group_key`](crate::group_key)).
    pub group_key: String,
    /// The rule's severity.
    pub severity: Severity,
    /// `alertname`, `severity`, the event's object and reason, the group's dimensions and
    /// the rule's own labels.
    pub labels: BTreeMap<String, String>,
    /// The rule's annotation templates (summary, description, …) rendered for the alert.
    pub annotations: BTreeMap<String, String>,
    /// The first occurrence the alert covers.
    pub first_seen: Timestamp,
    /// The last occurrence it covers.
    pub last_seen: Timestamp,
    /// Occurrences it covers.
    pub event_count: u64,
    /// Whether it would have resolved within the events' time.
    #[serde(skip)]
    pub status: AlertStatus,
    /// The events that triggered it (a sample, newest last).
    #[serde(skip)]
    pub events: Vec<AlertEvent>,
}

/// Replays `events` through `rules`; alerts in the order they were raised.
pub fn dry_run(
    rules: Vec<Rule>,
    events: &[Event],
    changes: &[Change],
    analyzer: &dyn Analyzer,
) -> Vec<DryRunAlert> {
    let per_event: Vec<Vec<(Timestamp, u64)>> = events.iter().map(spread).collect();
    let mut points: Vec<(Timestamp, usize, u64)> = Vec::new();
    for (i, p) in per_event.iter().enumerate() {
        points.extend(p.iter().map(|&(at, n)| (at, i, n)));
    }
    points.sort_by_key(|p| (p.0, p.1));
    let mut evaluator = Evaluator::new(rules);
    let mut out: Vec<DryRunAlert> = Vec::new();
    // Index in `out` of each group's current alert.
    let mut current: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut apply = |changes: Vec<super::AlertChange>, out: &mut Vec<DryRunAlert>| {
        for c in changes {
            let a = c.alert;
            let key = (a.rule.clone(), a.group_key.clone());
            let entry = DryRunAlert {
                rule: a.rule,
                group_key: a.group_key,
                severity: a.severity,
                labels: a.labels,
                annotations: a.annotations,
                first_seen: a.first_seen,
                last_seen: a.last_seen,
                event_count: a.event_count,
                status: a.status,
                events: a.events,
            };
            match (c.kind, current.get(&key)) {
                (ChangeKind::Raised, _) | (_, None) => {
                    current.insert(key, out.len());
                    out.push(entry);
                }
                (_, Some(&i)) => out[i] = entry,
            }
        }
    };
    let mut start = 0;
    while start < points.len() {
        let now = points[start].0;
        let end = start + points[start..].iter().take_while(|p| p.0 == now).count();
        apply(evaluator.tick(now), &mut out);
        let hits: Vec<Hit<'_>> = points[start..end]
            .iter()
            .map(|&(at, i, count)| Hit {
                event: &events[i],
                at,
                count,
            })
            .collect();
        apply(evaluator.observe(&hits, now), &mut out);
        start = end;
    }
    if let Some(&(last, _, _)) = points.last() {
        let history = hourly(events, &per_event);
        for (r, rule) in evaluator.rules().to_vec().iter().enumerate() {
            let Some(window) = rule.condition.finding_kind().and(rule.condition.window()) else {
                continue;
            };
            let since = last - window;
            let mut matching: Vec<EventOccurrences> = Vec::new();
            for (i, e) in events.iter().enumerate() {
                if !rule.matcher.matches(e) {
                    continue;
                }
                let occurrences: Vec<Occurrence> = per_event[i]
                    .iter()
                    .filter(|p| p.0 >= since)
                    .map(|&(at, count)| Occurrence { at, count })
                    .collect();
                if !occurrences.is_empty() {
                    matching.push(EventOccurrences {
                        event: e.clone(),
                        occurrences,
                    });
                }
            }
            let findings = analyzer.findings(&rule.condition, &matching, &history, changes, last);
            apply(evaluator.findings(r, &findings, last), &mut out);
        }
    }
    out
}

/// Occurrence counts per hour by cluster, namespace, reason and severity: the anomalies'
/// baseline, from the events themselves.
fn hourly(events: &[Event], per_event: &[Vec<(Timestamp, u64)>]) -> Vec<AggregateRow> {
    const HOUR: i64 = 3_600_000_000;
    let mut rows: BTreeMap<(String, String, String, Severity, i64), u64> = BTreeMap::new();
    for (e, points) in events.iter().zip(per_event) {
        for &(at, n) in points {
            let us = at.as_microsecond();
            let bucket = us - us.rem_euclid(HOUR);
            *rows
                .entry((
                    e.cluster.clone(),
                    e.namespace.clone(),
                    e.reason.clone(),
                    e.severity,
                    bucket,
                ))
                .or_insert(0) += n;
        }
    }
    rows.into_iter()
        .map(
            |((cluster, namespace, reason, severity, bucket), count)| AggregateRow {
                key: vec![
                    (Dimension::Cluster, Some(cluster)),
                    (Dimension::Namespace, Some(namespace)),
                    (Dimension::Reason, Some(reason)),
                    (Dimension::Severity, Some(severity.as_str().to_string())),
                ],
                bucket: Timestamp::from_microsecond(bucket).ok(),
                count,
            },
        )
        .collect()
}
