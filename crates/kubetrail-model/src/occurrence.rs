use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::Event;

/// Some occurrences of an Event at one time: an increase of its count by `count` seen at `at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Occurrence {
    /// When they happened: the Event's `first_seen` for its first occurrence, otherwise the
    /// `last_seen` of the write that raised its count.
    pub at: Timestamp,
    /// How many occurred at that time (at least 1).
    pub count: u64,
}

/// An Event with its occurrences inside a time window (oldest first): what analysis reads, so
/// that counts over the window are exact rather than the Event's lifetime `count`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventOccurrences {
    /// The Event, as last stored.
    pub event: Event,
    /// Its occurrences inside the window, oldest first.
    pub occurrences: Vec<Occurrence>,
}

impl EventOccurrences {
    /// Occurrences inside the window.
    pub fn count(&self) -> u64 {
        count_of(&self.occurrences)
    }

    /// The first occurrence inside the window (`None` when there is none).
    pub fn first(&self) -> Option<Timestamp> {
        self.occurrences.iter().map(|o| o.at).min()
    }

    /// The last occurrence inside the window (`None` when there is none).
    pub fn last(&self) -> Option<Timestamp> {
        self.occurrences.iter().map(|o| o.at).max()
    }
}

/// How many occurred in `occurrences`.
pub(crate) fn count_of(occurrences: &[Occurrence]) -> u64 {
    occurrences.iter().map(|o| o.count).sum()
}

/// The count an Event is stored with: an Event exists because something happened at least once.
pub fn stored_count(e: &Event) -> u64 {
    e.count.max(1)
}

/// The one count-delta rule: the occurrences that a copy of `e` adds when its Event is stored
/// with count `stored` (`None`: not stored yet). A new Event's count is one occurrence at its
/// `first_seen` and the rest at its `last_seen`, or all at its `last_seen` when it has no
/// interval (`first_seen` not before `last_seen`: no occurrence is ever later than the Event's
/// last, which is its latest by definition); a stored one's copy adds only the increase of its
/// count, at its `last_seen`; a copy whose count did not grow (a relist, a stale copy) adds
/// nothing. So a store never counts the same occurrence twice, whatever copies it is handed.
/// Both SQL backends apply it, and their writes hand what it gave to alerting.
pub fn new_occurrences(stored: Option<u64>, e: &Event) -> Vec<Occurrence> {
    let count = stored_count(e);
    let at = |at, count| Occurrence { at, count };
    match stored {
        None if count == 1 || e.first_seen >= e.last_seen => vec![at(e.last_seen, count)],
        None => vec![at(e.first_seen, 1), at(e.last_seen, count - 1)],
        Some(old) if count > old => vec![at(e.last_seen, count - old)],
        Some(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Category, ObjectRef, Severity};
    use proptest::prelude::*;

    fn event(count: u64, first: i64, last: i64) -> Event {
        Event {
            cluster: "c".into(),
            uid: "u".into(),
            namespace: "shop".into(),
            name: "web.1".into(),
            regarding: ObjectRef {
                api_version: "v1".into(),
                kind: "Pod".into(),
                namespace: "shop".into(),
                name: "web".into(),
                uid: String::new(),
                field_path: String::new(),
            },
            related: None,
            reason: "BackOff".into(),
            note: String::new(),
            type_: "Warning".into(),
            action: String::new(),
            reporting_controller: String::new(),
            reporting_instance: String::new(),
            first_seen: Timestamp::from_second(first).expect("a time"),
            last_seen: Timestamp::from_second(last).expect("a time"),
            count,
            resource_version: String::new(),
            category: Category::Crash,
            severity: Severity::Warning,
            correlation_id: String::new(),
            owner: None,
            node: None,
            template: String::new(),
            labels: Default::default(),
        }
    }

    #[test]
    fn a_new_event_counts_once_at_first_seen_and_the_rest_at_last_seen() {
        let e = event(5, 0, 60);
        let at = |s| Timestamp::from_second(s).expect("a time");
        assert_eq!(
            new_occurrences(None, &e),
            vec![
                Occurrence {
                    at: at(0),
                    count: 1
                },
                Occurrence {
                    at: at(60),
                    count: 4
                }
            ]
        );
        assert_eq!(
            new_occurrences(None, &event(0, 0, 60)),
            vec![Occurrence {
                at: at(60),
                count: 1
            }],
            "a count of 0 is one occurrence"
        );
        assert_eq!(
            new_occurrences(Some(3), &e),
            vec![Occurrence {
                at: at(60),
                count: 2
            }]
        );
        assert!(new_occurrences(Some(5), &e).is_empty(), "a relist");
        assert!(new_occurrences(Some(9), &e).is_empty(), "a stale copy");
    }

    /// An Event without an interval (first_seen == last_seen, or a first_seen after last_seen,
    /// which only an Event that bypassed normalization has) put its first occurrence at
    /// first_seen: two rows at one instant, or one later than the Event's last. All of its
    /// count is at last_seen, as alerting's count tracker and the dry run's spread said.
    #[test]
    fn a_new_event_without_an_interval_counts_all_at_last_seen() {
        let at = |s| Timestamp::from_second(s).expect("a time");
        for (first, last) in [(60, 60), (90, 60)] {
            assert_eq!(
                new_occurrences(None, &event(5, first, last)),
                vec![Occurrence {
                    at: at(60),
                    count: 5
                }],
                "first_seen {first}, last_seen {last}"
            );
        }
    }

    /// Issue 14 §2/§3: an analysis holds one `EventOccurrences` per event it reads (up to
    /// 50,000 in a pass), most of them with nothing in the fields only whole reads fill. With
    /// the related object inline, 768 bytes each; boxed, 632.
    #[test]
    fn an_event_held_for_analysis_stays_within_its_size() {
        assert!(
            std::mem::size_of::<EventOccurrences>() <= 632,
            "{} bytes",
            std::mem::size_of::<EventOccurrences>()
        );
    }

    proptest! {
        /// Whatever copies of an Event arrive, in whatever order, the occurrences added sum to
        /// its highest count: nothing is counted twice or lost, and every occurrence counts.
        #[test]
        fn copies_in_any_order_add_up_to_the_highest_count(
            counts in proptest::collection::vec(0u64..1_000, 1..20),
        ) {
            let mut stored: Option<u64> = None;
            let mut total = 0;
            for (i, count) in counts.iter().enumerate() {
                let e = event(*count, 0, 60 + i as i64);
                let added = new_occurrences(stored, &e);
                prop_assert!(added.iter().all(|o| o.count >= 1));
                prop_assert!(added.iter().all(|o| o.at == e.first_seen || o.at == e.last_seen));
                total += added.iter().map(|o| o.count).sum::<u64>();
                stored = Some(stored.map_or(stored_count(&e), |s| s.max(stored_count(&e))));
            }
            let highest = counts.iter().map(|c| (*c).max(1)).max().unwrap_or(1);
            prop_assert_eq!(total, highest);
        }
    }
}
