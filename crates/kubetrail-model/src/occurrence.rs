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
        self.occurrences.iter().map(|o| o.count).sum()
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
