//! The event an alert is about: the one whose note becomes the description (and whose fields
//! fill the annotations' templates and the `reason`, `node`, `kind` and `name` labels).
//!
//! The last event of a group is often not the telling one: a crash loop's last event may be a
//! passing probe failure of another replica. The **most informative** event of a group is, in
//! order:
//! 1. of the highest severity (an `error` says more than a `warning`);
//! 2. of the message template seen most often in the group (its typical failure, not a
//!    one-off);
//! 3. the latest of those (its note is the freshest wording of that failure).
//!
//! Kept per message template, at most [`MAX_TEMPLATES`] per group.

use jiff::Timestamp;
use kubetrail_model::{Event, Severity};

/// Templates tracked per group; beyond it, the least informative is dropped.
pub const MAX_TEMPLATES: usize = 16;

#[derive(Debug, Clone)]
struct Entry {
    /// The message template (the note itself when the event has none).
    key: String,
    severity: Severity,
    /// Occurrences of this template counted into the group.
    count: u64,
    /// The latest occurrence and its event.
    last_at: Timestamp,
    event: Event,
}

impl Entry {
    /// Orders entries from the least to the most informative.
    fn rank(&self) -> (Severity, u64, Timestamp) {
        (self.severity, self.count, self.last_at)
    }
}

/// The templates of a group's events, to find its most informative event.
#[derive(Debug, Clone, Default)]
pub struct Notes {
    entries: Vec<Entry>,
}

impl Notes {
    /// Counts `count` occurrences of `e` at `at`.
    pub fn add(&mut self, e: &Event, at: Timestamp, count: u64) {
        let key = if e.template.is_empty() {
            e.note.trim()
        } else {
            e.template.as_str()
        };
        if let Some(entry) = self.entries.iter_mut().find(|n| n.key == key) {
            entry.count += count;
            entry.severity = entry.severity.max(e.severity);
            if at >= entry.last_at {
                entry.last_at = at;
                entry.event = e.clone();
            }
            return;
        }
        if self.entries.len() >= MAX_TEMPLATES {
            let least = self
                .entries
                .iter()
                .enumerate()
                .min_by_key(|(_, n)| n.rank())
                .map(|(i, _)| i);
            if let Some(i) = least {
                self.entries.swap_remove(i);
            }
        }
        self.entries.push(Entry {
            key: key.to_string(),
            severity: e.severity,
            count,
            last_at: at,
            event: e.clone(),
        });
    }

    /// The most informative event (see the module's documentation).
    pub fn best(&self) -> Option<&Event> {
        self.entries
            .iter()
            .max_by_key(|n| n.rank())
            .map(|n| &n.event)
    }

    /// Forgets templates last seen at or before `cutoff` (out of a quiet group's window).
    pub fn forget_until(&mut self, cutoff: Timestamp) {
        self.entries.retain(|n| n.last_at > cutoff);
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{at, event};

    fn probe(pod: &str) -> Event {
        let mut e = event("shop", pod, "Unhealthy", 1);
        e.note = format!("Readiness probe failed for {pod}");
        e.template = "Readiness probe failed for <*>".into();
        e.severity = Severity::Warning;
        e
    }

    #[test]
    fn the_most_severe_then_most_frequent_template_wins_over_the_last_note() {
        let mut notes = Notes::default();
        notes.add(&event("shop", "web-1", "BackOff", 1), at(0), 3);
        notes.add(&event("shop", "web-2", "BackOff", 1), at(1), 1);
        notes.add(&probe("web-3"), at(2), 9);
        let best = notes.best().unwrap();
        assert_eq!(
            best.reason, "BackOff",
            "error beats a more frequent warning"
        );
        assert_eq!(best.regarding.name, "web-2", "the latest of the template");

        let mut notes = Notes::default();
        let mut oom = event("shop", "web-1", "OOMKilling", 1);
        oom.note = "Memory cgroup out of memory".into();
        oom.template = oom.note.clone();
        notes.add(&oom, at(0), 1);
        notes.add(&event("shop", "web-1", "BackOff", 1), at(1), 5);
        assert_eq!(notes.best().unwrap().reason, "BackOff", "more frequent");
    }

    #[test]
    fn templates_are_bounded_and_old_ones_forgotten() {
        let mut notes = Notes::default();
        notes.add(&event("shop", "web-1", "BackOff", 1), at(0), 5);
        for i in 0..MAX_TEMPLATES as i64 + 5 {
            let mut e = probe("web-2");
            e.template = format!("probe {i}");
            notes.add(&e, at(1 + i), 1);
        }
        assert_eq!(notes.entries.len(), MAX_TEMPLATES);
        assert_eq!(notes.best().unwrap().reason, "BackOff", "kept: the best");
        notes.forget_until(at(0));
        assert_eq!(notes.best().unwrap().reason, "Unhealthy");
        notes.clear();
        assert!(notes.best().is_none());
    }
}
