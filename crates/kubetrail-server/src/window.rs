//! The time window of the analysis endpoints, resolved as the CLI does (README, Analysis): it
//! ends at `until`, or else just after the newest event matching the filters (imported dumps
//! are history), and starts at `since` (RFC 3339, or a duration counted back from the end),
//! else the endpoint's default length before the end.

use jiff::{SignedDuration, Timestamp};
use kubetrail_analyze::Window;
use kubetrail_model::{EventFilter, parse_duration, parse_time_bound};
use kubetrail_store::Page;

use crate::params::Params;
use crate::{ApiError, AppState};

/// Reads `since`/`until` from `params` and resolves the window over the events `filter`
/// (already narrowed to the caller) matches. Sets the filter's times to the window.
pub(crate) async fn resolve(
    state: &AppState,
    params: &mut Params,
    filter: &mut EventFilter,
    default_length: SignedDuration,
    now: Timestamp,
) -> Result<Window, ApiError> {
    let since_text = params.text("since")?;
    let until = match params.text("until")? {
        Some(t) => parse_time_bound(&t, now).map_err(|e| ApiError::bad_parameter("until", e))?,
        None => newest(state, filter).await?.unwrap_or(now),
    };
    let since = since_before(since_text.as_deref(), until, default_length)?;
    let window = Window::new(since, until).map_err(|e| ApiError::bad_parameter("since", e))?;
    check_range(state, since, until)?;
    filter.since = Some(since);
    filter.until = Some(until);
    Ok(window)
}

/// The start of a window ending at `until`: RFC 3339, a duration counted back from `until`, or
/// `default_length` before it.
pub fn since_before(
    text: Option<&str>,
    until: Timestamp,
    default_length: SignedDuration,
) -> Result<Timestamp, ApiError> {
    let Some(text) = text else {
        return until.checked_sub(default_length).map_err(|_| {
            ApiError::bad_parameter("until", "leaves no room for the window before it")
        });
    };
    if let Ok(t) = text.trim().parse::<Timestamp>() {
        return Ok(t);
    }
    let length = parse_duration(text).map_err(|_| {
        ApiError::bad_parameter(
            "since",
            format!("{text:?} is neither RFC 3339 nor a duration such as 2h"),
        )
    })?;
    until.checked_sub(length).map_err(|_| {
        ApiError::bad_parameter("since", format!("{text:?} reaches before the year -9999"))
    })
}

/// Refuses a range longer than the configured maximum.
pub(crate) fn check_range(
    state: &AppState,
    since: Timestamp,
    until: Timestamp,
) -> Result<(), ApiError> {
    let max = state.limits.max_range;
    if until.duration_since(since) > max {
        return Err(ApiError::bad_parameter(
            "since",
            format!(
                "the time range is longer than the limit of {} hours",
                max.as_hours()
            ),
        ));
    }
    Ok(())
}

/// Just after the newest event matching `filter` (its times ignored).
pub(crate) async fn newest(
    state: &AppState,
    filter: &EventFilter,
) -> Result<Option<Timestamp>, ApiError> {
    let mut any_time = filter.clone();
    any_time.since = None;
    any_time.until = None;
    let page = Page {
        limit: 1,
        after: None,
    };
    let found = state
        .timed(
            "finding the newest event",
            state.store.query(&any_time, &page),
        )
        .await?;
    Ok(found
        .first()
        .map(|e| e.event.last_seen + SignedDuration::from_micros(1)))
}
