//! The time window of the analysis commands (`patterns`, `anomalies`, `incidents`, `explain`):
//! the query layer's one rule (`kubetrail_query::resolve_window`; README, Time ranges), the
//! same as the API's.

use anyhow::Result;
use jiff::{SignedDuration, Timestamp};
use kubetrail_analyze::Window;
use kubetrail_model::{AnalysisOccurrences, Change, EventFilter};
use kubetrail_store::EventReader;

use super::flag_error;
use crate::args::FilterArgs;

/// The filter of the flags with the window's times set, and the window.
pub async fn resolve(
    store: &dyn EventReader,
    flags: &FilterArgs,
    default_length: SignedDuration,
    now: Timestamp,
) -> Result<(EventFilter, Window)> {
    let mut filter = super::build_filter(flags)?;
    let range = super::build_range(flags, now)?;
    let window =
        kubetrail_query::resolve_window(store, &[&filter], range, default_length, None, now)
            .await
            .map_err(flag_error)?;
    filter.since = Some(window.since);
    filter.until = Some(window.until);
    Ok((filter, window))
}

/// The events of the window with their occurrences as analysis reads them, at most `max` (the
/// latest); warns on stderr when that may have cut some off.
pub async fn events(
    store: &dyn EventReader,
    filter: &EventFilter,
    max: usize,
) -> Result<Vec<AnalysisOccurrences>> {
    let (events, cut) = kubetrail_query::read_events(store, filter, max)
        .await
        .map_err(flag_error)?;
    if cut {
        warn_cut(max);
    }
    Ok(events)
}

/// The changes incidents of the window may be rooted in (`kubetrail_query::window_changes`):
/// those of the filter's clusters and namespaces from `change_window` before its start.
pub async fn changes(
    store: &dyn EventReader,
    filter: &EventFilter,
    change_window: SignedDuration,
) -> Result<Vec<Change>> {
    kubetrail_query::window_changes(store, filter, change_window, MAX_CHANGES)
        .await
        .map_err(flag_error)
}

/// Most changes an analysis reads (the latest).
pub const MAX_CHANGES: usize = 50_000;

/// Says that an analysis read only the latest `max` events.
pub fn warn_cut(max: usize) {
    eprintln!(
        "warning: analysed only the {max} events with the latest occurrences in the window; narrow it (--since, filters) or raise --max-events"
    );
}

/// A time for tables: `2023-07-10 05:27:49` (UTC unless --local-time).
pub fn short(t: Timestamp) -> String {
    crate::output::clock(t)
}
