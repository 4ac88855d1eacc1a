//! What a write committed: its counts ([`WriteSummary`]) and each event that added occurrences,
//! with exactly those occurrences ([`Written`]). Both backends answer per event with an
//! [`Outcome`] (computed by the one count-delta rule, [`kubetrail_model::new_occurrences`]);
//! [`Written::new`] turns the outcomes into the answer, so the counts are kept in one place.

use kubetrail_model::{Event, EventOccurrences, Occurrence};

use crate::WriteSummary;

/// What a write stored, once its transaction commits: what alerting evaluates (so it counts
/// exactly the occurrences the store counted, never a replayed or refused copy) and what the
/// metrics count.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Written {
    /// Its counts.
    pub summary: WriteSummary,
    /// The events that added occurrences, in batch order: each event stored for the first
    /// time and each stored one whose count grew, as written, with the occurrences this write
    /// added. Copies that added nothing (unchanged, identity conflicts, refused) are not here.
    pub events: Vec<WrittenEvent>,
}

/// One event of a [`Written`].
#[derive(Debug, Clone, PartialEq)]
pub struct WrittenEvent {
    /// Whether the write stored the event for the first time (else it was stored and its count
    /// grew).
    pub new: bool,
    /// The event as written (its texts bounded as stored), with the occurrences this write
    /// added, oldest first: for a new event, its whole count; for an update, the increase.
    pub added: EventOccurrences,
}

/// What one copy of an event did to the store: a backend's answer for each event of a batch.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Outcome {
    /// Not stored before: stored now, with these occurrences.
    New(Vec<Occurrence>),
    /// Stored, and its count grew: this occurrence added.
    Updated(Occurrence),
    /// Stored, and its count did not grow: nothing added (a relist, a replay, a stale copy).
    Unchanged,
    /// The `(cluster, uid)` of a stored event about another object: kept out.
    Conflict,
}

impl Written {
    /// The answer of a write of `events` whose outcomes are `outcomes` (one per event, in the
    /// same order).
    pub(crate) fn new(events: Vec<Event>, outcomes: Vec<Outcome>) -> Written {
        debug_assert_eq!(events.len(), outcomes.len(), "one outcome per event");
        let n = events.len();
        let mut w = Written {
            summary: WriteSummary::default(),
            events: Vec::with_capacity(n),
        };
        for (event, outcome) in events.into_iter().zip(outcomes) {
            let (new, occurrences) = match outcome {
                Outcome::New(o) => {
                    w.summary.new += 1;
                    (true, o)
                }
                Outcome::Updated(o) => {
                    w.summary.updated += 1;
                    (false, vec![o])
                }
                Outcome::Unchanged => {
                    w.summary.unchanged += 1;
                    continue;
                }
                Outcome::Conflict => {
                    w.summary.conflicts += 1;
                    continue;
                }
            };
            w.summary
                .add_occurrences(&event, occurrences.iter().map(|o| o.count).sum());
            w.events.push(WrittenEvent {
                new,
                added: EventOccurrences { event, occurrences },
            });
        }
        tracing::debug!(
            events = n,
            new = w.summary.new,
            updated = w.summary.updated,
            unchanged = w.summary.unchanged,
            occurrences = w.summary.occurrences,
            "wrote a batch"
        );
        w
    }

    /// The occurrences added, event by event, in batch order.
    pub fn added(&self) -> impl Iterator<Item = &EventOccurrences> {
        self.events.iter().map(|w| &w.added)
    }
}

impl std::ops::AddAssign for Written {
    fn add_assign(&mut self, o: Self) {
        self.summary += o.summary;
        if self.events.is_empty() {
            // The whole batch's list moves (a batch written at once: no second list, no copy).
            self.events = o.events;
        } else {
            self.events.extend(o.events);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kubetrail_model::Timestamp;

    fn occurrence(count: u64) -> Occurrence {
        Occurrence {
            at: Timestamp::UNIX_EPOCH,
            count,
        }
    }

    #[test]
    fn the_counts_come_from_the_outcomes_and_only_added_occurrences_are_listed() {
        let e = |uid: &str| crate::conformance::event(uid, crate::conformance::t0(), 1);
        let w = Written::new(
            vec![e("a"), e("b"), e("c"), e("d")],
            vec![
                Outcome::New(vec![occurrence(1), occurrence(4)]),
                Outcome::Updated(occurrence(2)),
                Outcome::Unchanged,
                Outcome::Conflict,
            ],
        );
        assert_eq!(
            (
                w.summary.new,
                w.summary.updated,
                w.summary.unchanged,
                w.summary.conflicts,
                w.summary.occurrences
            ),
            (1, 1, 1, 1, 7)
        );
        assert_eq!(w.summary.by_group.values().sum::<u64>(), 7);
        let listed: Vec<_> = w
            .events
            .iter()
            .map(|x| (x.added.event.uid.as_str(), x.new, x.added.count()))
            .collect();
        assert_eq!(listed, [("a", true, 5), ("b", false, 2)]);
    }
}
