use jiff::Timestamp;
use serde::Serialize;

use crate::{Error, Result};

/// The time range analysed: occurrences at or after `since` and before `until`. `until` is also
/// "now" for the analysis: an incident silent for a while before it is resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Window {
    /// The start (included).
    #[schema(value_type = String, format = DateTime)]
    pub since: Timestamp,
    /// The end (excluded).
    #[schema(value_type = String, format = DateTime)]
    pub until: Timestamp,
}

impl Window {
    /// The window `[since, until)`; [`Error::EmptyWindow`] unless `since < until`.
    pub fn new(since: Timestamp, until: Timestamp) -> Result<Window> {
        if since >= until {
            return Err(Error::EmptyWindow { since, until });
        }
        Ok(Window { since, until })
    }

    /// Length in minutes.
    pub fn minutes(&self) -> f64 {
        self.until.duration_since(self.since).as_secs_f64() / 60.0
    }
}
