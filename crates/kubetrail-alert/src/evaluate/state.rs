//! The state of one group of one rule, and the alert record it makes.

use std::collections::{BTreeMap, VecDeque};

use jiff::{SignedDuration, Timestamp};
use kubetrail_model::{AlertEvent, AlertRecord, AlertStatus};
use kubetrail_model::{Event, Severity};

use super::notes::Notes;
use crate::rules::Rule;
use crate::template::{Context, object};

/// Events kept per alert as a sample of what triggered it.
pub const SAMPLE: usize = 5;

/// One group of one rule.
///
/// The group's life: **quiet** (`open` empty) until its condition holds, then an alert is
/// **open** (raised, notified) and absorbs the group's later events; when the condition has
/// not held for the rule's `resolve_after`, it is **resolved** (notified) and the group is
/// quiet again, but a new alert is not raised before `cooldown` has passed since then.
#[derive(Debug)]
pub struct Group {
    /// Occurrences inside the count window (oldest first) and their sum.
    pub window: VecDeque<(Timestamp, u64)>,
    pub window_sum: u64,
    pub open: Option<Open>,
    pub resolved_at: Option<Timestamp>,
    /// The templates of the events counted into the window or the open alert.
    pub notes: Notes,
}

/// The open alert of a group.
#[derive(Debug, Clone)]
pub struct Open {
    pub starts_at: Timestamp,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub event_count: u64,
    /// The last time the condition held: resolution counts from here.
    pub last_hold: Timestamp,
    pub last_notified: Timestamp,
    pub severity: Severity,
    /// Fixed when raised: receivers (Alertmanager) identify an alert by its labels.
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub events: Vec<AlertEvent>,
}

impl Group {
    pub fn new() -> Self {
        Group {
            window: VecDeque::new(),
            window_sum: 0,
            open: None,
            resolved_at: None,
            notes: Notes::default(),
        }
    }

    /// Adds occurrences to the window and drops those older than `within` before `now`.
    pub fn count(&mut self, at: Timestamp, n: u64, within: SignedDuration, now: Timestamp) {
        let cutoff = now - within;
        if at > cutoff {
            // Kept in time order, so that trimming looks at the front only. Occurrences
            // arrive roughly in order: one out of order goes in near the back. (Trimming
            // used to scan the whole window for out-of-order entries at every occurrence:
            // a fifth of `run`'s CPU with tens of thousands of events in the window.)
            let i = self.window.partition_point(|(t, _)| *t <= at);
            self.window.insert(i, (at, n));
            self.window_sum += n;
        }
        self.trim(cutoff);
    }

    pub fn trim(&mut self, cutoff: Timestamp) {
        if self.open.is_none() {
            self.notes.forget_until(cutoff);
        }
        while let Some(&(at, n)) = self.window.front() {
            if at > cutoff {
                break;
            }
            self.window.pop_front();
            self.window_sum -= n;
        }
    }

    /// The earliest occurrence in the window.
    pub fn window_start(&self) -> Option<Timestamp> {
        self.window.front().map(|(at, _)| *at)
    }

    /// Whether the group can be forgotten: nothing open, nothing counted, cooldown over.
    pub fn is_idle(&self, now: Timestamp, cooldown: SignedDuration) -> bool {
        self.open.is_none()
            && self.window.is_empty()
            && self.resolved_at.is_none_or(|r| now - cooldown >= r)
    }
}

/// A sample entry for an event.
pub fn sample(e: &Event) -> AlertEvent {
    AlertEvent {
        cluster: e.cluster.clone(),
        uid: e.uid.clone(),
        object: object(e),
        reason: e.reason.clone(),
        note: e.note.clone(),
        count: e.count,
        last_seen: e.last_seen,
    }
}

/// Adds `e` to the sample: the newest distinct events, at most [`SAMPLE`].
pub fn add_sample(events: &mut Vec<AlertEvent>, e: &Event) {
    events.retain(|s| !(s.uid == e.uid && s.cluster == e.cluster));
    events.push(sample(e));
    if events.len() > SAMPLE {
        events.remove(0);
    }
}

/// The annotations, rendered with the group's most informative event (`c.event`): the
/// rule's, with a summary when it has none, and its note as the description when the rule
/// gives none.
pub fn annotations(rule: &Rule, c: &Context<'_>) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = rule
        .annotations
        .iter()
        .map(|(k, t)| (k.clone(), t.render(c)))
        .collect();
    if rule.annotations.is_empty() {
        out.insert(
            "summary".to_string(),
            format!("{}: {} on {}", rule.name, c.event.reason, object(c.event)),
        );
    }
    out.entry("description".to_string())
        .or_insert_with(|| c.event.note.trim().to_string());
    out
}

/// The record of an open (or just resolved) alert.
pub fn record(
    rule: &Rule,
    group_key: &str,
    open: &Open,
    ends_at: Option<Timestamp>,
) -> AlertRecord {
    AlertRecord {
        rule: rule.name.clone(),
        group_key: group_key.to_string(),
        status: if ends_at.is_some() {
            AlertStatus::Resolved
        } else {
            AlertStatus::Firing
        },
        severity: open.severity,
        labels: open.labels.clone(),
        annotations: open.annotations.clone(),
        starts_at: open.starts_at,
        ends_at,
        first_seen: open.first_seen,
        last_seen: open.last_seen,
        event_count: open.event_count,
        silenced_by: None,
        events: open.events.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_counts_occurrences_out_of_order_and_drops_each_when_it_expires() {
        let t = |s: i64| Timestamp::from_second(1_000 + s).expect("time");
        let within = SignedDuration::from_secs(10);
        let mut g = Group::new();
        g.count(t(5), 1, within, t(5));
        g.count(t(2), 2, within, t(6)); // late
        g.count(t(8), 4, within, t(8));
        g.count(t(3), 8, within, t(9)); // late
        assert_eq!(g.window_sum, 15);
        assert_eq!(g.window_start(), Some(t(2)));
        // At 13 the cutoff is 3: the occurrences at 2 and 3 go, wherever they came in.
        g.trim(t(13) - within);
        assert_eq!(g.window_sum, 5);
        assert_eq!(g.window_start(), Some(t(5)));
        // One already past the cutoff is not counted.
        g.count(t(1), 16, within, t(14));
        assert_eq!(g.window_sum, 5);
        g.trim(t(18) - within);
        assert_eq!((g.window_sum, g.window.len()), (0, 0));
    }
}
