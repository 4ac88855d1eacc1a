//! The time window of the analysis endpoints: the query layer's one rule
//! (`kubetrail_query::resolve_window`, README "Time ranges"), under the server's limits.

use jiff::{SignedDuration, Timestamp};
use kubetrail_analyze::Window;
use kubetrail_model::EventFilter;
use kubetrail_query::{Range, check_length, resolve_window};

use crate::{ApiError, AppState};

/// Resolves `range` over the events `filter` (already narrowed to the caller) matches, within
/// the configured maximum range. Sets the filter's times to the window.
pub(crate) async fn resolve(
    state: &AppState,
    range: Range,
    filter: &mut EventFilter,
    default_length: SignedDuration,
    now: Timestamp,
) -> Result<Window, ApiError> {
    let window = state
        .timed(
            "finding the window",
            resolve_window(
                state.reader.as_ref(),
                &[filter],
                range,
                default_length,
                Some(state.limits.max_range),
                now,
            ),
        )
        .await?;
    filter.since = Some(window.since);
    filter.until = Some(window.until);
    Ok(window)
}

/// Refuses a range longer than the configured maximum.
pub(crate) fn check_range(
    state: &AppState,
    since: Timestamp,
    until: Timestamp,
) -> Result<(), ApiError> {
    Ok(check_length(since, until, Some(state.limits.max_range))?)
}
