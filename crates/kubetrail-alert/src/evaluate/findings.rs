//! Conditions judged over a window by analysis (patterns, anomalies, incidents). The alerting
//! stage does not analyse itself: it asks an [`Analyzer`], which the binary backs with
//! `kubetrail-analyze`, and treats each finding as a holding condition for the group of the
//! finding's representative event.

use jiff::Timestamp;
use kubetrail_model::{AggregateRow, Change, Event, EventOccurrences, Severity};

use crate::condition::Condition;

/// Something analysis found in a window: a recurring pattern, an anomaly or an incident.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// The latest event of the finding: its fields give the group key, the labels and the
    /// templates, as an event does for a count condition.
    pub event: Event,
    /// Anomaly score (standard deviations), or 0 when it does not apply.
    pub score: f64,
    /// The finding's severity (a pattern's or anomaly's highest event severity, an incident's).
    pub severity: Severity,
    /// Occurrences the finding covers.
    pub count: u64,
    /// Its first occurrence in the window (an incident's start).
    pub first_seen: Timestamp,
    /// Its last occurrence in the window (an incident's end).
    pub last_seen: Timestamp,
    /// One sentence, e.g. the root cause of an incident.
    pub summary: String,
    /// The root cause, when the finding is an incident.
    pub cause: Option<Cause>,
}

/// An incident's likely root cause, as analysis found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    /// The root event's reason.
    pub reason: String,
    /// `namespace/Kind/name` of the root event's object.
    pub object: String,
    /// The root event's message.
    pub message: String,
    /// What to check next.
    pub hint: String,
}

impl std::fmt::Display for Cause {
    /// `FailedMount on shop/Pod/web-1: MountVolume.SetUp failed …`
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} on {}: {}",
            self.reason,
            self.object,
            self.message.trim()
        )
    }
}

/// Judges windowed conditions. `events` are the rule's matching events, each with its
/// occurrences inside the condition's window ending at `now`; `history` are occurrence counts
/// per hour grouped by cluster, namespace, reason and severity over the last days (the
/// baseline of anomalies); `changes` are the changes stored from the condition's window minus
/// the change window up to `now` (incidents rooted in them). The result are the findings that
/// satisfy the condition's thresholds.
pub trait Analyzer: Send + Sync {
    /// The findings of `condition` (a windowed one; others find nothing) in `events`.
    fn findings(
        &self,
        condition: &Condition,
        events: &[EventOccurrences],
        history: &[AggregateRow],
        changes: &[Change],
        now: Timestamp,
    ) -> Vec<Finding>;
}

/// An analyzer that finds nothing: windowed rules never fire (for tests of the other conditions).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoAnalysis;

impl Analyzer for NoAnalysis {
    fn findings(
        &self,
        _: &Condition,
        _: &[EventOccurrences],
        _: &[AggregateRow],
        _: &[Change],
        _: Timestamp,
    ) -> Vec<Finding> {
        Vec::new()
    }
}
