//! The one time rule of every question (`query`, `aggregate`, `patterns`, `incidents`,
//! `explain`, `anomalies`; the API's `since`/`until` the same):
//!
//! - `until` is RFC 3339, or a duration before now; without it the range ends just after the
//!   newest event matching the filters (on a live store about now; on an imported dump, the
//!   dump's end: imported dumps are history).
//! - `since` is RFC 3339, a duration counted back from that end (`2h`: the last two hours of
//!   the data), or `all` (from the oldest stored event). Without it, the analyses look at their
//!   default length before the end, and the listings (`query`, `aggregate`) are unbounded.
//! - `since` must be before `until`.

use jiff::{SignedDuration, Timestamp};
use kubetrail_analyze::Window;
use kubetrail_model::{AnalysisOccurrences, EventFilter, parse_duration, parse_time_bound};
use kubetrail_store::{EventReader, Page};

use crate::{Error, Result};

/// `since` as typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    /// Not given: the command's default.
    Default,
    /// `all`: from the oldest stored event.
    All,
    /// An instant (RFC 3339).
    At(Timestamp),
    /// A duration counted back from the end of the range.
    Back(SignedDuration),
}

/// `since` and `until` as given, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// Where the range starts.
    pub since: Since,
    /// Where it ends (excluded); `None`: at the newest matching event (see [`resolve_bounds`]
    /// and [`resolve_window`]).
    pub until: Option<Timestamp>,
}

impl Range {
    /// Parses the two bounds; `until` durations count back from `now`.
    pub fn parse(since: Option<&str>, until: Option<&str>, now: Timestamp) -> Result<Range> {
        let until = until
            .filter(|u| !u.trim().is_empty())
            .map(|u| parse_time_bound(u, now).map_err(|e| Error::param("until", e)))
            .transpose()?;
        let since = match since.map(str::trim).filter(|s| !s.is_empty()) {
            None => Since::Default,
            Some(s) if s.eq_ignore_ascii_case("all") => Since::All,
            Some(s) => match s.parse::<Timestamp>() {
                Ok(t) => Since::At(t),
                Err(_) => Since::Back(parse_duration(s).map_err(|_| {
                    Error::param(
                        "since",
                        format!("{s:?} is neither RFC 3339, a duration such as 2h, nor all"),
                    )
                })?),
            },
        };
        if let (Since::At(s), Some(u)) = (since, until)
            && s >= u
        {
            return Err(before_until());
        }
        Ok(Range { since, until })
    }
}

fn before_until() -> Error {
    Error::param("since", "must be before until")
}

fn back(end: Timestamp, d: SignedDuration) -> Result<Timestamp> {
    end.checked_sub(d)
        .map_err(|_| Error::param("since", "reaches before the year -9999"))
}

/// The bounds of a listing (`query`, `aggregate`, `GET /events`, `GET /aggregate`), set on
/// `filter`: unbounded unless given; a duration counts back from the end of the matching data,
/// which then bounds the listing too.
pub async fn resolve_bounds(
    store: &dyn EventReader,
    filter: &mut EventFilter,
    range: Range,
    now: Timestamp,
) -> Result<()> {
    let end = if range.needs_end() {
        newest(store, filter).await?
    } else {
        None
    };
    (filter.since, filter.until) = range.listing_bounds(end.unwrap_or(now))?;
    Ok(())
}

impl Range {
    /// Whether a listing's bounds count back from the end of the matching data.
    pub(crate) fn needs_end(&self) -> bool {
        matches!(self.since, Since::Back(_)) && self.until.is_none()
    }

    /// A listing's `(since, until)`: unbounded unless given; a duration counts back from
    /// `until`, else from `end` (the end of the matching data, else now), which then bounds
    /// the listing too.
    pub(crate) fn listing_bounds(
        &self,
        end: Timestamp,
    ) -> Result<(Option<Timestamp>, Option<Timestamp>)> {
        let mut until = self.until;
        let since = match self.since {
            Since::Default | Since::All => None,
            Since::At(t) => Some(t),
            Since::Back(d) => {
                let end = until.unwrap_or(end);
                until = Some(end);
                Some(back(end, d)?)
            }
        };
        if let (Some(s), Some(u)) = (since, until)
            && s >= u
        {
            return Err(before_until());
        }
        Ok((since, until))
    }
}

/// The window of an analysis: it ends at `until`, else just after the newest event matching
/// any of `ends` (else now); it starts as `since` says, else `default_length` before the end.
/// A window longer than `max_length` (the server's limit) is refused, except for `all`, which
/// starts at the oldest stored event or `max_length` before the end, whichever is later.
pub async fn resolve_window(
    store: &dyn EventReader,
    ends: &[&EventFilter],
    range: Range,
    default_length: SignedDuration,
    max_length: Option<SignedDuration>,
    now: Timestamp,
) -> Result<Window> {
    let until = match range.until {
        Some(u) => u,
        None => {
            let mut end = None;
            for f in ends {
                end = end.max(newest(store, f).await?);
            }
            end.unwrap_or(now)
        }
    };
    let since = match range.since {
        Since::At(t) => t,
        Since::Back(d) => back(until, d)?,
        Since::Default => back(until, default_length)
            .map_err(|_| Error::param("until", "leaves no room for the window before it"))?,
        // All of the data, as far back as the limit allows (a store holding last year's
        // bundle and this week's events would otherwise answer "too long" to `all`).
        Since::All => match store.stats().await?.oldest.filter(|o| *o < until) {
            Some(oldest) => match max_length.map(|max| back(until, max)).transpose()? {
                Some(limit) => oldest.max(limit),
                None => oldest,
            },
            None => back(until, default_length)?,
        },
    };
    let window = Window::new(since, until).map_err(|_| before_until())?;
    check_length(window.since, window.until, max_length)?;
    Ok(window)
}

/// Refuses a range longer than `max_length`.
pub fn check_length(
    since: Timestamp,
    until: Timestamp,
    max_length: Option<SignedDuration>,
) -> Result<()> {
    match max_length {
        Some(max) if until.duration_since(since) > max => Err(Error::param(
            "since",
            format!(
                "the time range is longer than the limit of {} hours",
                max.as_hours()
            ),
        )),
        _ => Ok(()),
    }
}

/// Just after the newest occurrence of the events matching `filter` (times ignored): the end
/// of the data.
pub async fn newest(store: &dyn EventReader, filter: &EventFilter) -> Result<Option<Timestamp>> {
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

/// The events of `filter` (with its window) and their occurrences, as analysis reads them: at
/// most `max` (0: no limit), the latest; `true` when that may have cut some off.
pub async fn read_events(
    store: &dyn EventReader,
    filter: &EventFilter,
    max: usize,
) -> Result<(Vec<AnalysisOccurrences>, bool)> {
    let events = store.latest_analysis_occurrences(filter, max).await?;
    let cut = max > 0 && events.len() >= max;
    Ok((events, cut))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn since_reads_instants_durations_and_all() {
        let now = t("2024-01-01T00:00:00Z");
        let r = Range::parse(Some("2h"), None, now).unwrap();
        assert_eq!(r.since, Since::Back(SignedDuration::from_hours(2)));
        let r = Range::parse(Some(" ALL "), Some("1h"), now).unwrap();
        assert_eq!(r.since, Since::All);
        assert_eq!(r.until, Some(t("2023-12-31T23:00:00Z")));
        let r = Range::parse(Some("2023-01-01T00:00:00Z"), None, now).unwrap();
        assert_eq!(r.since, Since::At(t("2023-01-01T00:00:00Z")));
        assert_eq!(Range::parse(None, None, now).unwrap().since, Since::Default);
    }

    #[test]
    fn a_since_not_before_until_is_refused_and_bad_bounds_are_named() {
        let now = t("2024-01-01T00:00:00Z");
        let err = Range::parse(
            Some("2024-01-02T00:00:00Z"),
            Some("2024-01-01T00:00:00Z"),
            now,
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "since: must be before until");
        let err = Range::parse(Some("yesterday"), None, now).unwrap_err();
        assert!(err.to_string().starts_with("since:"), "{err}");
        let err = Range::parse(None, Some("soon"), now).unwrap_err();
        assert!(err.to_string().starts_with("until:"), "{err}");
    }

    #[tokio::test]
    async fn durations_count_back_from_the_end_of_the_data_and_all_reaches_the_oldest() {
        use kubetrail_store::EventSink;
        use kubetrail_store::conformance::event;
        let dir = tempfile::tempdir().unwrap();
        let store = kubetrail_store::SqliteStore::open(dir.path().join("k.db")).unwrap();
        let mut txn = store.begin().await.unwrap();
        let old = event("a", t("2023-01-01T00:00:00Z"), 1);
        let new = event("b", t("2023-01-02T00:00:00Z"), 1);
        txn.write(vec![old, new]).await.unwrap();
        txn.commit().await.unwrap();
        let now = t("2024-06-01T00:00:00Z");
        let end = t("2023-01-02T00:00:00.000001Z");

        let mut f = EventFilter::default();
        let range = Range::parse(Some("1h"), None, now).unwrap();
        resolve_bounds(&store, &mut f, range, now).await.unwrap();
        assert_eq!(f.since, Some(end - SignedDuration::from_hours(1)));
        assert_eq!(f.until, Some(end));

        let w = resolve_window(
            &store,
            &[&f],
            range,
            SignedDuration::from_hours(24),
            None,
            now,
        )
        .await
        .unwrap();
        assert_eq!(
            (w.since, w.until),
            (end - SignedDuration::from_hours(1), end)
        );
        let all = Range::parse(Some("all"), None, now).unwrap();
        let w = resolve_window(
            &store,
            &[&f],
            all,
            SignedDuration::from_hours(24),
            None,
            now,
        )
        .await
        .unwrap();
        assert_eq!((w.since, w.until), (t("2023-01-01T00:00:00Z"), end));
        // Bug: `all` over data longer than the server's limit answered "longer than the limit";
        // it reaches as far back as the limit allows.
        let w = resolve_window(
            &store,
            &[&f],
            all,
            SignedDuration::from_hours(24),
            Some(SignedDuration::from_hours(6)),
            now,
        )
        .await
        .expect("all within the limit");
        assert_eq!(
            (w.since, w.until),
            (end - SignedDuration::from_hours(6), end)
        );
        let mut f = EventFilter::default();
        resolve_bounds(&store, &mut f, all, now).await.unwrap();
        assert_eq!((f.since, f.until), (None, None));
    }
}
