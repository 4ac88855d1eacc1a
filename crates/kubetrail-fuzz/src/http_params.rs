//! The HTTP API's query parameters, without a store: the query string of one request read
//! through [`Params`] in the orders the handlers read it (filters, times, durations, numbers,
//! cursors, group-bys, the analysis window's `since`). `http_api` sends whole requests through
//! the router; this target is the fast one.

use axum::http::Uri;
use jiff::Timestamp;
use kubetrail_model::Dimension;
use kubetrail_server::cursor::Cursor;
use kubetrail_server::params::Params;
use kubetrail_store::AlertStatus;

/// The first byte chooses the handler whose reading order is followed; the rest is the query
/// string.
pub fn run(data: &[u8]) {
    let Some((&handler, query)) = data.split_first() else {
        return;
    };
    let Ok(query) = std::str::from_utf8(query) else {
        return;
    };
    let Ok(uri) = format!("/api/v1/x?{query}").parse::<Uri>() else {
        return;
    };
    let Ok(mut p) = Params::from_uri(&uri) else {
        return;
    };
    let _ = read(handler % 5, &mut p).and_then(|()| p.finish());
}

/// A fixed "now", so that a crash replays the same way.
fn now() -> Timestamp {
    Timestamp::from_second(1_714_564_800).expect("a valid time")
}

fn read(handler: u8, p: &mut Params) -> Result<(), kubetrail_server::ApiError> {
    match handler {
        // GET /api/v1/events
        0 => {
            let mut filter = p.filter_lists()?;
            p.range(now())?;
            let _ = p.value::<usize>("limit")?;
            if let Some(cursor) = p.text("cursor")?.map(|c| Cursor::decode(&c)).transpose()? {
                cursor.resume(&mut filter)?;
            }
        }
        // GET /api/v1/aggregate
        1 => {
            let _ = p.filter_lists()?;
            p.range(now())?;
            let _ = Dimension::parse_list(&p.text("group_by")?.unwrap_or("reason".into()));
            let _ = p.value::<usize>("limit")?;
        }
        // The analysis endpoints: filters, their settings, then the window.
        2 => {
            let _ = p.filter_lists()?;
            let _ = p.duration("bucket", "1h")?;
            let _ = p.duration("history", "7d")?;
            let _ = p.value::<f64>("threshold")?;
            let _ = p.value::<u64>("min_count")?;
            let _ = p.value::<usize>("max_events")?;
            window(p)?;
        }
        // GET /api/v1/alerts
        3 => {
            let _ = p.value::<AlertStatus>("status")?;
            let _ = p.list("rule");
            let _ = p.value::<usize>("limit")?;
            let _ = p.value::<bool>("all")?;
        }
        // The timeline: times and clusters only.
        _ => {
            let _ = p.list("cluster");
            window(p)?;
        }
    }
    Ok(())
}

/// The time range of the analysis endpoints, as the query layer reads it
/// (`kubetrail_query::Range`).
fn window(p: &mut Params) -> Result<(), kubetrail_server::ApiError> {
    p.range(now())?;
    Ok(())
}
