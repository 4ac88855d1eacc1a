//! The JSON API under `/api/v1/`: one module per resource. Every handler authenticates its
//! [`Caller`](crate::auth::Caller), reads its parameters by name ([`Params`](crate::params)),
//! narrows its filters to the caller's scope, and answers with the CLI's JSON shapes.

pub(crate) mod aggregate;
pub(crate) mod alerts;
pub(crate) mod analysis;
pub(crate) mod body;
pub(crate) mod changes;
pub(crate) mod docs;
pub(crate) mod events;
pub(crate) mod fleet;
pub(crate) mod gaps;
pub(crate) mod incidents;
pub(crate) mod ingest;
pub(crate) mod me;
pub(crate) mod silences;
pub(crate) mod timeline;

use jiff::SignedDuration;
use kubetrail_model::{AnalysisOccurrences, Change, EventFilter};

use crate::params::Params;
use crate::{ApiError, AppState};

/// The events of an analysis window with their occurrences, as analysis reads them: at most
/// `max`, the latest.
pub(crate) async fn window_events(
    state: &AppState,
    filter: &EventFilter,
    max: usize,
) -> Result<Vec<AnalysisOccurrences>, ApiError> {
    state
        .timed(
            "reading the window's events",
            state.reader.latest_analysis_occurrences(filter, max),
        )
        .await
}

/// The changes incidents of an analysis window may be rooted in: those of the (narrowed)
/// filter's clusters and namespaces from `change_window` before its start
/// (`kubetrail_query::window_changes`), at most `max` (the latest).
pub(crate) async fn window_changes(
    state: &AppState,
    filter: &EventFilter,
    change_window: SignedDuration,
    max: usize,
) -> Result<Vec<Change>, ApiError> {
    state
        .timed(
            "reading the window's changes",
            kubetrail_query::window_changes(state.reader.as_ref(), filter, change_window, max),
        )
        .await
}

/// `max_events`: how many events an analysis reads, at most the configured limit.
pub(crate) fn max_events(p: &mut Params, state: &AppState) -> Result<usize, ApiError> {
    let limit = state.limits.max_analysis_events;
    match p.value::<usize>("max_events")? {
        None => Ok(limit),
        Some(0) => Err(ApiError::bad_parameter("max_events", "must be at least 1")),
        Some(n) if n > limit => Err(ApiError::bad_parameter(
            "max_events",
            format!("at most {limit}"),
        )),
        Some(n) => Ok(n),
    }
}
