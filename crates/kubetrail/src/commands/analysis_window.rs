//! The time window of the analysis commands (`patterns`, `anomalies`, `incidents`, `explain`).
//!
//! Imported dumps are history (2021–2024 in the real dataset): a window ending now would show
//! nothing. So the window ends at `--until` when given, else just after the newest stored event
//! matching the filters (on a live store, about now). `--since` is RFC 3339, or a duration
//! counted back from that end (`--since 2h`: the last two hours of the data); without it the
//! window is the command's default length.

use anyhow::{Context, Result};
use jiff::{SignedDuration, Timestamp};
use kubetrail_analyze::Window;
use kubetrail_model::{EventFilter, EventOccurrences, parse_duration};
use kubetrail_store::{Page, Store};

use crate::cli::FilterArgs;

/// The filter of the flags with the window's times set, and the window.
pub async fn resolve(
    store: &dyn Store,
    flags: &FilterArgs,
    default_length: SignedDuration,
    now: Timestamp,
) -> Result<(EventFilter, Window)> {
    let mut filter = super::build_filter(flags, now)?;
    let until = match filter.until {
        Some(until) => until,
        None => newest(store, &filter).await?.unwrap_or(now),
    };
    let since = match flags.since.as_deref() {
        None => until - default_length,
        Some(text) => match text.trim().parse::<Timestamp>() {
            Ok(t) => t,
            Err(_) => until - parse_duration(text).context("--since")?,
        },
    };
    let window = Window::new(since, until).context("--since/--until")?;
    filter.since = Some(since);
    filter.until = Some(until);
    Ok((filter, window))
}

/// Just after the newest occurrence of the events matching `filter` (times ignored): the end
/// of the data.
pub async fn newest(store: &dyn Store, filter: &EventFilter) -> Result<Option<Timestamp>> {
    let mut any_time = filter.clone();
    any_time.since = None;
    any_time.until = None;
    let page = Page {
        limit: 1,
        after: None,
    };
    let found = store.query(&any_time, &page).await?;
    Ok(found
        .first()
        .map(|e| e.event.last_seen + SignedDuration::from_micros(1)))
}

/// The events of the window with their occurrences, at most `max` (the latest); warns on
/// stderr when that may have cut some off.
pub async fn events(
    store: &dyn Store,
    filter: &EventFilter,
    max: usize,
) -> Result<Vec<EventOccurrences>> {
    let events = store.occurrences(filter, max).await?;
    if max > 0 && events.len() >= max {
        eprintln!(
            "warning: analysed only the {max} events with the latest occurrences in the window; narrow it (--since, filters) or raise --max-events"
        );
    }
    Ok(events)
}

/// Short local-free rendering of a time for tables: `2023-07-10 05:27:49`.
pub fn short(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M:%S").to_string()
}
