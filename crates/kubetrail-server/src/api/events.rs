//! `GET /api/v1/events`: stored events, newest `last_seen` first, one page at a time.

use axum::Json;
use axum::extract::State;
use axum::http::Uri;
use kubetrail_model::{Event, Timestamp};
use kubetrail_query::resolve_bounds;
use kubetrail_store::Page;
use serde::Serialize;

use crate::api::docs::{EventPageDoc, FilterParams, PageParams};
use crate::auth::Caller;
use crate::cursor::Cursor;
use crate::error::ErrorBody;
use crate::params::Params;
use crate::{ApiError, AppState};

/// One page of events and where the next starts.
#[derive(Debug, Serialize)]
pub(crate) struct EventPage {
    pub events: Vec<Event>,
    pub next_cursor: Option<String>,
}

/// Events matching the filters whose first–last seen interval overlaps the range, newest
/// first. Follow `next_cursor` for the next page: pages neither skip nor repeat events.
#[utoipa::path(
    get,
    path = "/api/v1/events",
    operation_id = "listEvents",
    tag = "events",
    params(FilterParams, PageParams),
    responses(
        (status = 200, description = "A page of events", body = EventPageDoc),
        (status = 400, description = "A bad parameter, named in the message", body = ErrorBody),
        (status = 401, description = "No or an unknown token", body = ErrorBody),
        (status = 403, description = "A cluster or namespace outside the caller's", body = ErrorBody),
        (status = 503, description = "The query took too long", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
) -> Result<Json<EventPage>, ApiError> {
    let now = Timestamp::now();
    let mut p = Params::from_uri(&uri)?;
    let filter = p.filter_lists()?;
    let range = p.range(now)?;
    let limit = page_size(&mut p, &state)?;
    let cursor = p.text("cursor")?.map(|c| Cursor::decode(&c)).transpose()?;
    p.finish()?;
    let Some(mut filter) = caller.narrow(&state, filter).await? else {
        return Ok(Json(EventPage {
            events: Vec::new(),
            next_cursor: None,
        }));
    };
    let after = match cursor {
        Some(c) => Some(c.resume(&mut filter)?),
        None => {
            let store = state.reader.as_ref();
            let bounds = resolve_bounds(store, &mut filter, range, now);
            state.timed("finding the range", bounds).await?;
            None
        }
    };
    // One more than asked tells whether there is a next page.
    let page = Page {
        limit: limit + 1,
        after,
    };
    let mut rows = state
        .timed("the events query", state.reader.query(&filter, &page))
        .await?;
    let next_cursor = if rows.len() > limit {
        rows.truncate(limit);
        rows.last()
            .map(|r| Cursor::after(r.event.last_seen, r.id, &filter).encode())
    } else {
        None
    };
    Ok(Json(EventPage {
        events: rows.into_iter().map(|r| r.event).collect(),
        next_cursor,
    }))
}

fn page_size(p: &mut Params, state: &AppState) -> Result<usize, ApiError> {
    let max = state.limits.max_page;
    match p.value::<usize>("limit")? {
        None => Ok(state.limits.default_page.min(max)),
        Some(0) => Err(ApiError::bad_parameter("limit", "must be at least 1")),
        Some(n) if n > max => Err(ApiError::bad_parameter(
            "limit",
            format!("at most {max} events per page; follow next_cursor for more"),
        )),
        Some(n) => Ok(n),
    }
}
