//! Matching incidents to labelled failures. An incident matches a failure when it holds an
//! event about one of the failure's objects whose span overlaps the failure's window (give or
//! take [`EDGE`]), or when its root event is about one of them a little before the window (up
//! to [`SLACK`]: a cause is often reported before its effects). Then:
//! - a failure is *found with the right root cause* when a matching incident names a root
//!   event with one of the labelled reasons, about one of the labelled root objects;
//! - an incident that matches no failure is *noise*;
//! - an incident that matches failures of two different groups is a *merge* of unrelated
//!   failures (a failure without a group is its own group);
//! - a failure matched by more than one incident is *split* (separate episodes are labelled as
//!   separate failures, so any split is one too many).

use std::collections::BTreeSet;

use jiff::{SignedDuration, Timestamp};
use kubetrail_analyze::Incident;
use serde::Serialize;

use super::labels::{Labels, any_glob};

/// How far before a failure's window its root event may be: a cause is often reported a little
/// before its effects.
pub const SLACK: SignedDuration = SignedDuration::from_secs(60);

/// How far outside a failure's window an event may be and still overlap it: events are stamped
/// to the second, and reported a moment after what they report.
pub const EDGE: SignedDuration = SignedDuration::from_secs(5);

/// The score of one dump.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Score {
    pub dump: String,
    pub failures: usize,
    /// Failures matched by at least one incident.
    pub detected: usize,
    /// Failures matched by an incident that names the labelled root cause.
    pub right_root: usize,
    pub incidents: usize,
    /// Incidents that match no failure.
    pub noise: usize,
    /// Of the noise, incidents whose root event a `not_incidents` entry names.
    pub known_noise: usize,
    /// Incidents that match failures of different groups.
    pub merges: usize,
    /// Failures matched by more than one incident.
    pub splits: usize,
    pub details: Details,
}

/// What went wrong, for whoever improves the engine.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Details {
    /// Failures no incident matches.
    pub missed: Vec<String>,
    /// Failures matched only by incidents with another root cause: `id: reason on object`.
    pub wrong_root: Vec<String>,
    /// Noise incidents: `subject: reason on object`.
    pub noise: Vec<String>,
    /// Merging incidents: `subject: failure ids`.
    pub merges: Vec<String>,
    /// Split failures: `id: number of incidents`.
    pub splits: Vec<String>,
}

/// An incident's root in the details: `Reason on namespace/Kind/name`.
fn root_of(inc: &Incident) -> String {
    format!("{} on {}", inc.root_cause.reason, inc.root_cause.object)
}

/// Scores `incidents` (with all their objects) against `labels`.
pub fn score(labels: &Labels, incidents: &[Incident]) -> anyhow::Result<Score> {
    let windows: Vec<(Timestamp, Timestamp)> = labels
        .failures
        .iter()
        .map(|f| f.window())
        .collect::<anyhow::Result<_>>()?;
    let mut s = Score {
        dump: labels.dump.clone(),
        failures: labels.failures.len(),
        incidents: incidents.len(),
        ..Score::default()
    };
    // matches[i]: the failures incident i matches.
    let matches: Vec<Vec<usize>> = incidents
        .iter()
        .map(|inc| {
            (0..labels.failures.len())
                .filter(|&f| {
                    let (start, end) = windows[f];
                    let affected = &labels.failures[f].affected;
                    let root = &inc.root_cause;
                    inc.timeline.iter().any(|t| {
                        any_glob(affected, &t.object)
                            && t.first_seen <= end + EDGE
                            && t.last_seen >= start - EDGE
                    }) || (any_glob(affected, &root.object)
                        && root.at >= start - SLACK
                        && root.at <= end + EDGE)
                })
                .collect()
        })
        .collect();
    for (f, failure) in labels.failures.iter().enumerate() {
        let by: Vec<&Incident> = incidents
            .iter()
            .zip(&matches)
            .filter(|(_, m)| m.contains(&f))
            .map(|(inc, _)| inc)
            .collect();
        if by.is_empty() {
            s.details
                .missed
                .push(format!("{} ({})", failure.id, failure.note));
            continue;
        }
        s.detected += 1;
        if by.len() > 1 {
            s.splits += 1;
            let scope = failure.scope.as_deref().unwrap_or("workload");
            let roots: Vec<String> = by.iter().map(|inc| root_of(inc)).collect();
            s.details.splits.push(format!(
                "{} ({scope}): {} incidents: {}",
                failure.id,
                by.len(),
                roots.join("; ")
            ));
        }
        let right = by.iter().any(|inc| failure.root.is(&inc.root_cause));
        if right {
            s.right_root += 1;
        } else {
            let got: BTreeSet<String> = by.iter().map(|inc| root_of(inc)).collect();
            s.details.wrong_root.push(format!(
                "{}: {}",
                failure.id,
                got.into_iter().collect::<Vec<_>>().join("; ")
            ));
        }
    }
    for (inc, m) in incidents.iter().zip(&matches) {
        let root = format!(
            "{}: {} on {}",
            inc.subject, inc.root_cause.reason, inc.root_cause.object
        );
        if m.is_empty() {
            s.noise += 1;
            let known = labels.not_incidents.iter().find(|n| {
                (n.reasons.is_empty() || n.reasons.contains(&inc.root_cause.reason))
                    && (n.objects.is_empty() || any_glob(&n.objects, &inc.root_cause.object))
            });
            match known {
                Some(n) => {
                    s.known_noise += 1;
                    s.details.noise.push(format!("{root} [known: {}]", n.note));
                }
                None => s.details.noise.push(root),
            }
            continue;
        }
        let groups: BTreeSet<String> = m
            .iter()
            .map(|&f| {
                let failure = &labels.failures[f];
                failure.group.clone().unwrap_or_else(|| failure.id.clone())
            })
            .collect();
        if groups.len() > 1 {
            s.merges += 1;
            let ids: Vec<&str> = m.iter().map(|&f| labels.failures[f].id.as_str()).collect();
            s.details
                .merges
                .push(format!("{}: {}", inc.subject, ids.join(", ")));
        }
    }
    Ok(s)
}

/// The sum of `scores` (details concatenated, each prefixed with its dump).
pub fn total(scores: &[Score]) -> Score {
    let mut t = Score {
        dump: "total".to_string(),
        ..Score::default()
    };
    for s in scores {
        t.failures += s.failures;
        t.detected += s.detected;
        t.right_root += s.right_root;
        t.incidents += s.incidents;
        t.noise += s.noise;
        t.known_noise += s.known_noise;
        t.merges += s.merges;
        t.splits += s.splits;
        let tag = |v: &Vec<String>| -> Vec<String> {
            v.iter().map(|x| format!("{}: {x}", s.dump)).collect()
        };
        t.details.missed.extend(tag(&s.details.missed));
        t.details.wrong_root.extend(tag(&s.details.wrong_root));
        t.details.noise.extend(tag(&s.details.noise));
        t.details.merges.extend(tag(&s.details.merges));
        t.details.splits.extend(tag(&s.details.splits));
    }
    t
}

impl Score {
    /// Share of the failures found with the right root cause, in percent.
    pub fn recall(&self) -> f64 {
        percent(self.right_root, self.failures)
    }

    /// Share of the incidents that are noise, in percent.
    pub fn noise_share(&self) -> f64 {
        percent(self.noise, self.incidents)
    }
}

fn percent(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        return 0.0;
    }
    100.0 * part as f64 / whole as f64
}

#[cfg(test)]
mod tests {
    use kubetrail_analyze::{RootCause, Status, TimelineEntry};
    use kubetrail_model::Severity;

    use super::*;

    const LABELS: &str = r#"
dump: d.json
failures:
  - id: pending
    note: no node
    root: {reasons: [FailedScheduling], objects: [ns/Pod/web-*]}
    affected: [ns/Pod/web-*, ns/Deployment/web]
    window: {start: 2024-01-01T00:00:00Z, end: 2024-01-01T00:05:00Z}
  - id: crash
    note: crash loop later
    root: {reasons: [BackOff], objects: [ns/Pod/web-*]}
    affected: [ns/Pod/web-*]
    window: {start: 2024-01-01T00:30:00Z, end: 2024-01-01T00:40:00Z}
not_incidents:
  - note: resync notice
    reasons: [FastControllerResync]
"#;

    fn incident(subject: &str, start: &str, end: &str, reason: &str, object: &str) -> Incident {
        Incident {
            id: format!("inc-{subject}-{start}"),
            cluster: "eval".into(),
            subject: subject.into(),
            cluster_wide: false,
            affected: Vec::new(),
            title: String::new(),
            severity: Severity::Warning,
            status: Status::Resolved,
            start: start.parse().unwrap(),
            end: end.parse().unwrap(),
            root_cause: RootCause {
                reason: reason.into(),
                rule: String::new(),
                evidence: Vec::new(),
                object: object.into(),
                message: String::new(),
                at: start.parse().unwrap(),
                hint: String::new(),
                change: None,
            },
            objects: vec![object.into()],
            object_count: 1,
            nodes: Vec::new(),
            event_count: 1,
            timeline: vec![TimelineEntry {
                first_seen: start.parse().unwrap(),
                last_seen: end.parse().unwrap(),
                count: 1,
                object: object.into(),
                reason: reason.into(),
                severity: Severity::Warning,
                message: String::new(),
            }],
            timeline_omitted: 0,
        }
    }

    /// Bug: incidents were matched by their span give or take 60 s, so a pod's scheduling
    /// wait that ended 50 s before its crash loop began counted as a merge with the crash
    /// loop. Only a root cause may come before the window; other events must overlap it.
    #[test]
    fn an_incident_ending_just_before_a_failure_of_the_same_pod_does_not_match_it() {
        let labels = Labels::parse(LABELS).unwrap();
        let earlier = incident(
            "ns/Deployment/web",
            "2024-01-01T00:28:00Z",
            "2024-01-01T00:29:10Z",
            "FailedScheduling",
            "ns/Pod/web-1",
        );
        let s = score(&labels, &[earlier]).unwrap();
        assert_eq!((s.detected, s.noise), (0, 1), "{:?}", s.details);
        // A root event about the failure's pod a little before the window is its cause.
        let wait = incident(
            "ns/Deployment/web",
            "2024-01-01T00:29:30Z",
            "2024-01-01T00:29:40Z",
            "FailedScheduling",
            "ns/Pod/web-1",
        );
        let s = score(&labels, &[wait]).unwrap();
        assert_eq!(s.detected, 1, "{:?}", s.details);
    }

    /// Issue 15 §3: a failure labelled as caused by a change is found with the right root
    /// cause only by an incident rooted in a change of the labelled object, not by one rooted
    /// in the failing events, nor in a change of something else.
    #[test]
    fn a_failure_rooted_in_a_change_needs_an_incident_rooted_in_that_change() {
        let labels = Labels::parse(&LABELS.replace(
            "root: {reasons: [BackOff], objects: [ns/Pod/web-*]}",
            "root: {change: [ns/Deployment/web]}",
        ))
        .unwrap();
        let crash = |rule: &str, reason: &str, object: &str| {
            let mut i = incident(
                "ns/Deployment/web",
                "2024-01-01T00:30:00Z",
                "2024-01-01T00:40:00Z",
                "BackOff",
                "ns/Pod/web-1",
            );
            i.root_cause.rule = rule.into();
            i.root_cause.reason = reason.into();
            i.root_cause.object = object.into();
            i
        };
        let by_events = score(&labels, &[crash("crash-loop", "BackOff", "ns/Pod/web-1")]).unwrap();
        assert_eq!((by_events.detected, by_events.right_root), (1, 0));
        let other = crash("change", "Updated", "ns/ConfigMap/web-config");
        assert_eq!(score(&labels, &[other]).unwrap().right_root, 0);
        let rollout = crash("change", "Updated", "ns/Deployment/web");
        assert_eq!(score(&labels, &[rollout]).unwrap().right_root, 1);
    }

    #[test]
    fn one_incident_over_two_episodes_is_a_merge_and_credits_only_its_root() {
        let labels = Labels::parse(LABELS).unwrap();
        let merged = incident(
            "ns/Deployment/web",
            "2024-01-01T00:00:00Z",
            "2024-01-01T00:40:00Z",
            "FailedScheduling",
            "ns/Pod/web-1",
        );
        let s = score(&labels, &[merged]).unwrap();
        assert_eq!((s.detected, s.right_root, s.merges, s.splits), (2, 1, 1, 0));
        assert_eq!(s.details.wrong_root.len(), 1, "{:?}", s.details);
    }

    #[test]
    fn two_incidents_over_one_failure_are_a_split_and_unmatched_ones_noise() {
        let labels = Labels::parse(LABELS).unwrap();
        let found = [
            incident(
                "ns/Deployment/web",
                "2024-01-01T00:00:00Z",
                "2024-01-01T00:02:00Z",
                "FailedScheduling",
                "ns/Pod/web-1",
            ),
            incident(
                "ns/Pod/web-2",
                "2024-01-01T00:03:00Z",
                "2024-01-01T00:04:00Z",
                "FailedScheduling",
                "ns/Pod/web-2",
            ),
            incident(
                "ns/Deployment/op",
                "2024-01-01T00:03:00Z",
                "2024-01-01T00:04:00Z",
                "FastControllerResync",
                "ns/Deployment/op",
            ),
        ];
        let s = score(&labels, &found).unwrap();
        assert_eq!(
            (s.right_root, s.splits, s.noise, s.known_noise),
            (1, 1, 1, 1)
        );
        assert_eq!(s.details.missed.len(), 1, "the crash loop: {:?}", s.details);
        assert!((s.recall() - 50.0).abs() < 1e-9);
    }
}
