//! GET on a collection: a list (with `limit`/`continue`, `resourceVersion`/`resourceVersionMatch`
//! and selectors), or a watch.
//!
//! Lists read a consistent snapshot: the latest state, or the state at an exact
//! resourceVersion rebuilt from the history. A continue token carries the snapshot version and
//! the next key, so every page reads the same snapshot; once the history behind it is
//! compacted, the token is expired (410) and the error offers an inconsistent continuation, as
//! the real server does.

use std::collections::HashMap;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::convert;
use crate::resources::Resource;
use crate::selectors::{FieldSelector, Filter, LabelSelector};
use crate::state::AppState;
use crate::status::{ApiError, json_response};
use crate::store::{ReadAt, WatchStart};
use crate::watch::{self, WatchRequest};

/// The query parameters of a list or watch (`ListOptions`).
struct ListOptions {
    watch: bool,
    resource_version: Option<String>,
    resource_version_match: Option<String>,
    limit: Option<usize>,
    continue_token: Option<String>,
    labels: LabelSelector,
    fields: FieldSelector,
    timeout: Option<Duration>,
    allow_bookmarks: bool,
    send_initial_events: Option<bool>,
}

impl ListOptions {
    fn parse(resource: Resource, query: &HashMap<String, String>) -> Result<Self, ApiError> {
        let text = |key: &str| query.get(key).filter(|v| !v.is_empty()).cloned();
        let flag = |key: &str| -> Result<Option<bool>, ApiError> {
            match query.get(key).map(String::as_str) {
                None => Ok(None),
                Some("true" | "1") => Ok(Some(true)),
                Some("false" | "0" | "") => Ok(Some(false)),
                Some(other) => Err(ApiError::bad_request(format!(
                    "invalid value for {key}: {other:?}"
                ))),
            }
        };
        let number = |key: &str| -> Result<Option<u64>, ApiError> {
            text(key)
                .map(|v| {
                    v.parse::<u64>().map_err(|_| {
                        ApiError::bad_request(format!("invalid value for {key}: {v:?}"))
                    })
                })
                .transpose()
        };
        let labels = LabelSelector::parse(&text("labelSelector").unwrap_or_default())
            .map_err(ApiError::bad_request)?;
        let fields = FieldSelector::parse(&text("fieldSelector").unwrap_or_default(), resource)
            .map_err(ApiError::bad_request)?;
        let options = Self {
            watch: flag("watch")?.unwrap_or(false),
            resource_version: text("resourceVersion"),
            resource_version_match: text("resourceVersionMatch"),
            limit: number("limit")?
                .filter(|l| *l > 0)
                .map(|l| usize::try_from(l).unwrap_or(usize::MAX)),
            continue_token: text("continue"),
            labels,
            fields,
            timeout: number("timeoutSeconds")?
                .filter(|t| *t > 0)
                .map(Duration::from_secs),
            allow_bookmarks: flag("allowWatchBookmarks")?.unwrap_or(false),
            send_initial_events: flag("sendInitialEvents")?,
        };
        options.validate()?;
        Ok(options)
    }

    /// The checks of `ValidateListOptions` in apimachinery, with its messages.
    fn validate(&self) -> Result<(), ApiError> {
        let mut causes: Vec<(String, String)> = Vec::new();
        let forbid = |causes: &mut Vec<(String, String)>, field: &str, message: &str| {
            causes.push((field.to_string(), format!("Forbidden: {message}")));
        };
        let streaming = self.watch && self.send_initial_events == Some(true);
        if let Some(rv_match) = &self.resource_version_match {
            if !matches!(rv_match.as_str(), "Exact" | "NotOlderThan") {
                causes.push((
                    "resourceVersionMatch".into(),
                    format!("Unsupported value: {rv_match:?}: supported values: \"Exact\", \"NotOlderThan\""),
                ));
            } else if self.resource_version.is_none() && !streaming {
                forbid(
                    &mut causes,
                    "resourceVersionMatch",
                    "resourceVersionMatch is forbidden unless resourceVersion is provided",
                );
            } else if rv_match == "Exact" && self.resource_version.as_deref() == Some("0") {
                forbid(
                    &mut causes,
                    "resourceVersionMatch",
                    "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"",
                );
            } else if self.watch && !streaming {
                forbid(
                    &mut causes,
                    "resourceVersionMatch",
                    "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
                );
            }
            if self.continue_token.is_some() {
                forbid(
                    &mut causes,
                    "resourceVersionMatch",
                    "resourceVersionMatch is forbidden when continue is provided",
                );
            }
        }
        if self.send_initial_events.is_some() {
            if !self.watch {
                forbid(
                    &mut causes,
                    "sendInitialEvents",
                    "sendInitialEvents is forbidden for list",
                );
            } else if self.resource_version_match.as_deref() != Some("NotOlderThan") {
                forbid(
                    &mut causes,
                    "resourceVersionMatch",
                    "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
                );
            } else if streaming && !self.allow_bookmarks {
                forbid(
                    &mut causes,
                    "allowWatchBookmarks",
                    "allowWatchBookmarks must be true when sendInitialEvents is true",
                );
            }
        }
        if causes.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid("ListOptions", "meta.k8s.io", "", &causes))
        }
    }

    fn resource_version_number(&self) -> Result<Option<u64>, ApiError> {
        self.resource_version
            .as_deref()
            .map(|rv| {
                rv.parse::<u64>()
                    .map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv}")))
            })
            .transpose()
    }
}

pub(crate) fn collection_get(
    state: &AppState,
    resource: Resource,
    namespace: Option<String>,
    query: &HashMap<String, String>,
) -> Result<Response, ApiError> {
    let options = ListOptions::parse(resource, query)?;
    let filter = Filter {
        resource,
        namespace,
        labels: options.labels.clone(),
        fields: options.fields.clone(),
    };
    if options.watch {
        return start_watch(state, filter, &options);
    }
    list(state, filter, &options).map(|list| json_response(StatusCode::OK, &list))
}

fn start_watch(
    state: &AppState,
    filter: Filter,
    options: &ListOptions,
) -> Result<Response, ApiError> {
    let rv = options.resource_version_number()?;
    let start = match (options.send_initial_events, rv) {
        (Some(true), _) | (_, None | Some(0)) => WatchStart::Initial,
        (_, Some(rv)) => WatchStart::After(rv),
    };
    let request = WatchRequest {
        filter,
        start,
        allow_bookmarks: options.allow_bookmarks,
        initial_events_end: start == WatchStart::Initial,
        timeout: options.timeout,
    };
    Ok(watch::serve(state.watch_context(), request))
}

/// The position a continue token resumes from.
#[derive(serde::Serialize, serde::Deserialize)]
struct ContinueToken {
    /// Always `meta.k8s.io/v1`, as the real token says.
    v: String,
    /// The snapshot version; -1 continues from the latest state (an inconsistent token).
    rv: i64,
    /// The next key to list, inclusive.
    start: String,
}

fn encode_continue(rv: i64, last_key: &str) -> String {
    let token = ContinueToken {
        v: "meta.k8s.io/v1".into(),
        rv,
        start: format!("{last_key}\u{0}"),
    };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&token).unwrap_or_default())
}

fn decode_continue(token: &str) -> Result<ContinueToken, ApiError> {
    let invalid = |why: &str| ApiError::bad_request(format!("continue key is not valid: {why}"));
    let bytes = URL_SAFE_NO_PAD
        .decode(token.trim_end_matches('='))
        .map_err(|_| invalid("incorrect encoded start resourceVersion (version meta.k8s.io/v1)"))?;
    let token: ContinueToken =
        serde_json::from_slice(&bytes).map_err(|_| invalid("malformed token"))?;
    if token.v != "meta.k8s.io/v1" {
        return Err(invalid("server does not recognize this encoded version"));
    }
    Ok(token)
}

const CONTINUE_EXPIRED: &str = "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.";

fn list(state: &AppState, filter: Filter, options: &ListOptions) -> Result<Value, ApiError> {
    let resource = filter.resource;
    let (at, start) = match &options.continue_token {
        Some(token) => {
            if options.resource_version.is_some() {
                return Err(ApiError::bad_request(
                    "specifying resource version is not allowed when using continue",
                ));
            }
            let token = decode_continue(token)?;
            let at = match u64::try_from(token.rv) {
                Ok(rv) if rv > 0 => ReadAt::Exact(rv),
                _ => ReadAt::Latest,
            };
            (at, Some(token.start))
        }
        None => {
            let rv = options.resource_version_number()?;
            let at = match (rv, options.resource_version_match.as_deref()) {
                (Some(rv), Some("Exact")) => ReadAt::Exact(rv),
                (Some(rv), _) if rv > state.store.resource_version() => {
                    return Err(ApiError::too_large_resource_version(
                        rv,
                        state.store.resource_version(),
                    ));
                }
                _ => ReadAt::Latest,
            };
            (at, None)
        }
    };
    let from = start.clone().unwrap_or_default();
    let limit = options.limit.unwrap_or(usize::MAX);
    let page = match state
        .store
        .page(resource, at, &from, limit, |object| filter.selects(object))
    {
        Ok(page) => page,
        Err(mut error) if error.code == 410 && start.is_some() => {
            error.message = CONTINUE_EXPIRED.to_string();
            let last_key = start
                .as_deref()
                .unwrap_or_default()
                .trim_end_matches('\u{0}');
            error.continue_token = Some(encode_continue(-1, last_key));
            return Err(error);
        }
        Err(error) => return Err(error),
    };
    let total = page.total;
    let rv = page.rv;
    let page = page.items;
    let mut metadata = serde_json::Map::new();
    metadata.insert("resourceVersion".into(), Value::String(rv.to_string()));
    if total > page.len() {
        let last_key = page.last().map(|(key, _)| key.as_str()).unwrap_or_default();
        let snapshot_rv = i64::try_from(rv).unwrap_or(-1);
        metadata.insert(
            "continue".into(),
            Value::String(encode_continue(snapshot_rv, last_key)),
        );
        // Only known exactly when no selector filtered the rest, as on the real server.
        if query_has_no_selectors(options) {
            metadata.insert("remainingItemCount".into(), Value::from(total - page.len()));
        }
    }
    let items: Vec<Value> = page
        .iter()
        .map(|(_, stored)| {
            let mut item = convert::encode(resource, stored);
            // Items of a typed list carry no kind/apiVersion, like the real server's lists.
            if let Some(map) = item.as_object_mut() {
                map.remove("kind");
                map.remove("apiVersion");
            }
            item
        })
        .collect();
    Ok(json!({
        "kind": resource.list_kind(),
        "apiVersion": resource.api_version(),
        "metadata": metadata,
        "items": items,
    }))
}

fn query_has_no_selectors(options: &ListOptions) -> bool {
    options.labels == LabelSelector::default() && options.fields == FieldSelector::default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip() {
        let token = encode_continue(42, "demo/web");
        let decoded = decode_continue(&token).expect("valid");
        assert_eq!((decoded.rv, decoded.start.as_str()), (42, "demo/web\u{0}"));
        assert!(decode_continue("not a token!").is_err());
    }

    fn options(pairs: &[(&str, &str)]) -> Result<ListOptions, ApiError> {
        let query = pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        ListOptions::parse(Resource::Event, &query)
    }

    #[test]
    fn list_options_are_validated_like_the_real_server() {
        assert!(
            options(&[
                ("watch", "1"),
                ("sendInitialEvents", "true"),
                ("resourceVersionMatch", "NotOlderThan"),
                ("allowWatchBookmarks", "true")
            ])
            .is_ok()
        );
        let invalid = [
            vec![("resourceVersionMatch", "Exact")],
            vec![("resourceVersion", "0"), ("resourceVersionMatch", "Exact")],
            vec![("watch", "1"), ("sendInitialEvents", "true")],
            vec![
                ("sendInitialEvents", "true"),
                ("resourceVersionMatch", "NotOlderThan"),
            ],
            vec![("resourceVersion", "5"), ("resourceVersionMatch", "Newest")],
        ];
        for pairs in invalid {
            let error = options(&pairs).err().map(|e| e.code);
            assert_eq!(error, Some(422), "{pairs:?}");
        }
        assert_eq!(
            options(&[("watch", "maybe")]).err().map(|e| e.code),
            Some(400)
        );
        assert_eq!(
            options(&[("fieldSelector", "involvedObject.kind=Pod")])
                .err()
                .map(|e| e.code),
            Some(400)
        );
    }
}
