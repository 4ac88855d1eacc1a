//! Occurrences of dumped Events, for the dry run. Live alerting evaluates the occurrences a
//! store write committed (`kubetrail_store::Written`); dumps know only an Event's first and
//! last time and its count.

use jiff::{SignedDuration, Timestamp};
use kubetrail_model::Event;

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
