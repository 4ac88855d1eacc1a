//! Matching incidents to labelled failures. An incident matches a failure when its time span
//! overlaps the failure's window (give or take [`SLACK`]) and it is about one of the failure's
//! objects (its subject or any of its objects). Then:
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

/// How far outside a failure's window an incident may start or end and still overlap it:
/// events are stamped to the second, and a cause is often reported a little before its effects.
pub const SLACK: SignedDuration = SignedDuration::from_secs(60);

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
                    inc.start <= end + SLACK
                        && inc.end >= start - SLACK
                        && (any_glob(affected, &inc.subject)
                            || inc.objects.iter().any(|o| any_glob(affected, o)))
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
            s.details
                .splits
                .push(format!("{} ({scope}): {} incidents", failure.id, by.len()));
        }
        let right = by.iter().any(|inc| {
            failure.root.reasons.contains(&inc.root_cause.reason)
                && any_glob(&failure.root.objects, &inc.root_cause.object)
        });
        if right {
            s.right_root += 1;
        } else {
            let got: BTreeSet<String> = by
                .iter()
                .map(|inc| format!("{} on {}", inc.root_cause.reason, inc.root_cause.object))
                .collect();
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
