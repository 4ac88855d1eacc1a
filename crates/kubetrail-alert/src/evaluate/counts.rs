//! Occurrences from Events. A watch hands over whole Event objects with lifetime counts; the
//! rules count occurrences in a window, so only the count increase since the last copy counts
//! (as the store does). Dumps know only an Event's first and last time and its count.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use jiff::{SignedDuration, Timestamp};
use kubetrail_model::Event;

/// The last count seen of each recent Event, to turn lifetime counts into increases. Keyed by
/// a hash of (cluster, uid) and forgotten once an Event has not changed for `horizon` (the
/// API server deletes Events an hour after their last change, so they cannot come back):
/// memory stays proportional to the Events of the last hour, not to every Event ever seen.
#[derive(Debug)]
pub struct CountTracker {
    seen: HashMap<u64, (u64, Timestamp)>,
    horizon: SignedDuration,
}

fn key(e: &Event) -> u64 {
    let mut h = DefaultHasher::new();
    e.cluster.hash(&mut h);
    e.uid.hash(&mut h);
    h.finish()
}

impl CountTracker {
    /// An empty tracker that forgets Events unchanged for `horizon`.
    pub fn new(horizon: SignedDuration) -> Self {
        CountTracker {
            seen: HashMap::new(),
            horizon,
        }
    }

    /// The occurrences `e` adds: for an Event not seen before, one at its first time and the
    /// rest at its last (as the store records them); for a known one, the count increase at
    /// its last time; nothing for a repeat (a relist).
    pub fn increase(&mut self, e: &Event) -> Vec<(Timestamp, u64)> {
        let count = e.count.max(1);
        match self.seen.insert(key(e), (count, e.last_seen)) {
            Some((old, _)) if count <= old => {
                // Keep the higher count: a stale copy must not make the next one count twice.
                self.seen.insert(key(e), (old, e.last_seen));
                Vec::new()
            }
            Some((old, _)) => vec![(e.last_seen, count - old)],
            None if count == 1 || e.first_seen >= e.last_seen => vec![(e.last_seen, count)],
            None => vec![(e.first_seen, 1), (e.last_seen, count - 1)],
        }
    }

    /// Remembers `e` as already counted (e.g. replayed from the store at startup).
    pub fn remember(&mut self, e: &Event) {
        let count = e.count.max(1);
        let entry = self.seen.entry(key(e)).or_insert((count, e.last_seen));
        entry.0 = entry.0.max(count);
    }

    /// Forgets Events unchanged for longer than the horizon before `now`.
    pub fn forget_old(&mut self, now: Timestamp) {
        let cutoff = now - self.horizon;
        self.seen.retain(|_, (_, last)| *last >= cutoff);
    }

    /// Events remembered.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// Whether no Event is remembered.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

/// The occurrences of a dumped Event, spread evenly between its first and last time (at most
/// one point a minute, and at most 1,000): a dump says an Event happened `count` times in that
/// interval, and a steady repeat is what a live watch would have seen. Putting them all at the
/// last time would make a crash loop that lasted a day look like one burst.
pub fn spread(e: &Event) -> Vec<(Timestamp, u64)> {
    let count = e.count.max(1);
    let span = e.last_seen.duration_since(e.first_seen);
    if count == 1 || span <= SignedDuration::ZERO {
        return vec![(e.last_seen, count)];
    }
    let minutes = u64::try_from(span.as_mins()).unwrap_or(u64::MAX);
    let points = count.min(minutes.saturating_add(1)).clamp(2, 1_000);
    let step = span / i32::try_from(points - 1).unwrap_or(i32::MAX);
    let (each, extra) = (count / points, count % points);
    (0..points)
        .map(|i| {
            let at = if i == points - 1 {
                e.last_seen
            } else {
                e.first_seen + step * i32::try_from(i).unwrap_or(i32::MAX)
            };
            (at, each + u64::from(i < extra))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{at, event};

    #[test]
    fn only_count_increases_are_new_occurrences() {
        let mut t = CountTracker::new(SignedDuration::from_hours(1));
        let mut e = event("shop", "web-1", "BackOff", 5);
        e.first_seen = at(0);
        e.last_seen = at(4);
        assert_eq!(t.increase(&e), vec![(at(0), 1), (at(4), 4)]);
        assert_eq!(t.increase(&e), vec![], "a relist adds nothing");
        e.count = 8;
        e.last_seen = at(6);
        assert_eq!(t.increase(&e), vec![(at(6), 3)]);
        let mut stale = e.clone();
        stale.count = 7;
        assert_eq!(t.increase(&stale), vec![]);
        e.count = 9;
        assert_eq!(
            t.increase(&e),
            vec![(at(6), 1)],
            "the stale copy did not reset the count"
        );
        t.forget_old(at(6) + SignedDuration::from_hours(2));
        assert!(t.is_empty());
    }

    #[test]
    fn remembered_events_add_only_later_increases() {
        let mut t = CountTracker::new(SignedDuration::from_hours(1));
        let mut e = event("shop", "web-1", "BackOff", 5);
        t.remember(&e);
        assert_eq!(t.increase(&e), vec![]);
        e.count = 6;
        assert_eq!(t.increase(&e), vec![(e.last_seen, 1)]);
    }

    #[test]
    fn dumped_counts_are_spread_over_their_interval() {
        let mut e = event("shop", "web-1", "BackOff", 111);
        e.first_seen = at(0);
        e.last_seen = at(24);
        let points = spread(&e);
        assert_eq!(points.len(), 25, "one a minute");
        assert_eq!(points.iter().map(|p| p.1).sum::<u64>(), 111);
        assert_eq!(points[0].0, at(0));
        assert_eq!(points[24].0, at(24));
        e.count = 3;
        assert_eq!(spread(&e).len(), 3);
        e.count = 1;
        assert_eq!(spread(&e), vec![(at(24), 1)]);
    }
}
