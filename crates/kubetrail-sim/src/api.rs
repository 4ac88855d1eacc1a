//! The resource API: `/api/v1/...` and `/apis/<group>/v1/...` for every served resource.
//!
//! Paths are parsed here rather than in the router so that one function states the whole URL
//! grammar (collection, object, namespaced or not) and can be unit-tested. The verbs follow the
//! real server: GET (get, list, watch), POST (create), PUT (update, with optimistic
//! concurrency), PATCH (merge), DELETE.

use std::collections::HashMap;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::convert;
use crate::patch::{PatchType, merge_patch};
use crate::resources::{REVIEWS, Resource, ReviewResource};
use crate::reviews;
use crate::selectors::{FieldSelector, Filter, LabelSelector};
use crate::server::AppState;
use crate::status::{ApiError, success_status};
use crate::store::{ReadAt, WatchStart, meta_str, set_meta};
use crate::watch::{self, WatchRequest};

/// What a request path addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// A collection: one namespace, or all namespaces / cluster scope when `None`.
    Collection {
        resource: Resource,
        namespace: Option<String>,
    },
    /// One object.
    Object {
        resource: Resource,
        namespace: Option<String>,
        name: String,
    },
    /// A review endpoint (create only).
    Review(&'static str),
}

/// Parses an API path; `None` for anything the simulator does not serve (subresources too).
pub(crate) fn parse_path(path: &str) -> Option<Target> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match segments.as_slice() {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return None,
    };
    let (namespace, plural, name) = match rest {
        [plural] => (None, *plural, None),
        ["namespaces", namespace, plural] => (Some(*namespace), *plural, None),
        ["namespaces", namespace, plural, name] => (Some(*namespace), *plural, Some(*name)),
        [plural, name] => (None, *plural, Some(*name)),
        _ => return None,
    };
    if namespace.is_none() && name.is_none() && version == "v1" {
        let review = REVIEWS
            .iter()
            .find(|r: &&ReviewResource| r.group == group && r.plural == plural);
        if let Some(review) = review {
            return Some(Target::Review(review.plural));
        }
    }
    let resource = Resource::lookup(group, version, plural)?;
    let namespace = namespace.map(str::to_string);
    match (resource.namespaced(), &namespace, name) {
        // Cluster-scoped objects have no namespace; namespaced objects need one.
        (false, Some(_), _) | (true, None, Some(_)) => None,
        (_, _, None) => Some(Target::Collection {
            resource,
            namespace,
        }),
        (_, _, Some(name)) => Some(Target::Object {
            resource,
            namespace,
            name: name.to_string(),
        }),
    }
}

/// Every request under `/api/` and `/apis/` that is not discovery.
pub(crate) async fn handle(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(target) = parse_path(uri.path()) else {
        return ApiError::no_route().into_response();
    };
    if let Some(failure) = state.faults.take_failure() {
        tracing::debug!(
            path = uri.path(),
            code = failure.code,
            "answering with an injected failure"
        );
        return failure.into_response();
    }
    let query = Query::<HashMap<String, String>>::try_from_uri(&uri)
        .map(|Query(query)| query)
        .unwrap_or_default();
    let result = match (target, &method) {
        (
            Target::Collection {
                resource,
                namespace,
            },
            &Method::GET,
        ) => collection_get(&state, resource, namespace, &query),
        (
            Target::Collection {
                resource,
                namespace,
            },
            &Method::POST,
        ) => create(&state, resource, namespace, &body),
        (
            Target::Object {
                resource,
                namespace,
                name,
            },
            &Method::GET,
        ) => state
            .store
            .get(resource, namespace.as_deref(), &name)
            .map(|stored| json_response(StatusCode::OK, &convert::encode(resource, &stored))),
        (
            Target::Object {
                resource,
                namespace,
                name,
            },
            &Method::PUT,
        ) => update(&state, resource, namespace, &name, &body),
        (
            Target::Object {
                resource,
                namespace,
                name,
            },
            &Method::PATCH,
        ) => {
            let content_type = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            patch(&state, resource, namespace, &name, content_type, &body)
        }
        (
            Target::Object {
                resource,
                namespace,
                name,
            },
            &Method::DELETE,
        ) => delete(&state, resource, namespace.as_deref(), &name),
        (Target::Review(plural), &Method::POST) => reviews::answer(&state.policy, plural, &body)
            .map(|review| json_response(StatusCode::CREATED, &review)),
        _ => Err(ApiError::method_not_allowed(method.as_str())),
    };
    let response = result.unwrap_or_else(IntoResponse::into_response);
    tracing::debug!(%method, path = uri.path(), status = response.status().as_u16(), "api request");
    response
}

fn json_response(code: StatusCode, body: &Value) -> Response {
    (code, axum::Json(body)).into_response()
}

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

fn collection_get(
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
    let snapshot = match state.store.snapshot(resource, at) {
        Ok(snapshot) => snapshot,
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
    let start = start.unwrap_or_default();
    let selected: Vec<(String, Value)> = snapshot
        .items
        .into_iter()
        .filter(|(key, object)| *key >= start && filter.selects(object))
        .collect();
    let total = selected.len();
    let limit = options.limit.unwrap_or(usize::MAX);
    let page: Vec<(String, Value)> = selected.into_iter().take(limit).collect();
    let mut metadata = serde_json::Map::new();
    metadata.insert(
        "resourceVersion".into(),
        Value::String(snapshot.rv.to_string()),
    );
    if total > page.len() {
        let last_key = page.last().map(|(key, _)| key.as_str()).unwrap_or_default();
        let snapshot_rv = i64::try_from(snapshot.rv).unwrap_or(-1);
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

fn parse_body(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body).or_else(|_| {
        // kubectl sends JSON, but YAML is what people write: accept both.
        serde_yaml::from_slice(body)
            .map_err(|error| ApiError::bad_request(format!("error decoding request body: {error}")))
    })
}

/// Puts the path namespace into the object; a different one in the body is refused.
fn place_in_namespace(
    resource: Resource,
    object: &mut Value,
    namespace: Option<&str>,
) -> Result<(), ApiError> {
    let Some(namespace) = namespace.filter(|_| resource.namespaced()) else {
        return Ok(());
    };
    let in_body = meta_str(object, "namespace");
    if !in_body.is_empty() && in_body != namespace {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    set_meta(object, "namespace", Value::String(namespace.to_string()));
    Ok(())
}

fn create(
    state: &AppState,
    resource: Resource,
    namespace: Option<String>,
    body: &[u8],
) -> Result<Response, ApiError> {
    if resource.namespaced() && namespace.is_none() {
        return Err(ApiError::method_not_allowed("POST"));
    }
    let mut object = parse_body(body)?;
    place_in_namespace(resource, &mut object, namespace.as_deref())?;
    let stored = convert::decode(resource, object)?;
    if resource == Resource::Event {
        validate_new_event(&stored)?;
    }
    let created = state.store.create(resource, stored)?;
    Ok(json_response(
        StatusCode::CREATED,
        &convert::encode(resource, &created),
    ))
}

/// The fields `events.k8s.io/v1` requires of a new Event (`ValidateEventCreate`).
fn validate_new_event(event: &Value) -> Result<(), ApiError> {
    let mut causes = Vec::new();
    for field in [
        "eventTime",
        "reportingController",
        "reportingInstance",
        "action",
        "reason",
    ] {
        let present = event
            .get(field)
            .is_some_and(|v| !v.is_null() && v.as_str() != Some(""));
        if !present {
            causes.push((field.to_string(), "Required value".to_string()));
        }
    }
    match event.get("type").and_then(Value::as_str) {
        Some("Normal" | "Warning") => {}
        other => causes.push((
            "type".to_string(),
            format!(
                "Unsupported value: {:?}: supported values: \"Normal\", \"Warning\"",
                other.unwrap_or_default()
            ),
        )),
    }
    if event
        .get("note")
        .and_then(Value::as_str)
        .is_some_and(|n| n.len() > 1024)
    {
        causes.push((
            "note".to_string(),
            "Too long: may not be more than 1024 bytes".to_string(),
        ));
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "Event",
            "events.k8s.io",
            &meta_str(event, "name"),
            &causes,
        ))
    }
}

fn update(
    state: &AppState,
    resource: Resource,
    namespace: Option<String>,
    name: &str,
    body: &[u8],
) -> Result<Response, ApiError> {
    let mut object = parse_body(body)?;
    let in_body = meta_str(&object, "name");
    if in_body != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({in_body}) does not match the name on the URL ({name})"
        )));
    }
    place_in_namespace(resource, &mut object, namespace.as_deref())?;
    let stored = convert::decode(resource, object)?;
    let (updated, created) = state.store.update(resource, stored)?;
    let code = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(json_response(code, &convert::encode(resource, &updated)))
}

/// How often a patch is retried when the object changed between read and write.
const PATCH_ATTEMPTS: usize = 5;

fn patch(
    state: &AppState,
    resource: Resource,
    namespace: Option<String>,
    name: &str,
    content_type: &str,
    body: &[u8],
) -> Result<Response, ApiError> {
    let patch_type = PatchType::from_content_type(content_type)?;
    let patch = patch_type.parse_body(body)?;
    // A patch that names a resourceVersion is a precondition; otherwise conflicts are retried.
    let preconditioned = patch.pointer("/metadata/resourceVersion").is_some();
    for _ in 0..PATCH_ATTEMPTS {
        let current = match state.store.get(resource, namespace.as_deref(), name) {
            Ok(current) => convert::encode(resource, &current),
            Err(error) if error.code == 404 && patch_type == PatchType::Apply => {
                let mut object = patch.clone();
                set_meta(&mut object, "name", Value::String(name.to_string()));
                place_in_namespace(resource, &mut object, namespace.as_deref())?;
                let created = state
                    .store
                    .create(resource, convert::decode(resource, object)?)?;
                return Ok(json_response(
                    StatusCode::CREATED,
                    &convert::encode(resource, &created),
                ));
            }
            Err(error) => return Err(error),
        };
        let mut merged = current;
        merge_patch(&mut merged, &patch);
        place_in_namespace(resource, &mut merged, namespace.as_deref())?;
        match state
            .store
            .update(resource, convert::decode(resource, merged)?)
        {
            Ok((updated, _)) => {
                return Ok(json_response(
                    StatusCode::OK,
                    &convert::encode(resource, &updated),
                ));
            }
            Err(error) if error.reason == "Conflict" && !preconditioned => {}
            Err(error) => return Err(error),
        }
    }
    Err(ApiError::conflict(resource, name))
}

fn delete(
    state: &AppState,
    resource: Resource,
    namespace: Option<&str>,
    name: &str,
) -> Result<Response, ApiError> {
    let deleted = state.store.delete(resource, namespace, name)?;
    // Pods answer with the object; other resources with a success Status.
    let body = if resource == Resource::Pod {
        convert::encode(resource, &deleted)
    } else {
        let uid = meta_str(&deleted, "uid");
        success_status(resource, name, Some(&uid))
    };
    Ok(json_response(StatusCode::OK, &body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collection(resource: Resource, namespace: Option<&str>) -> Option<Target> {
        Some(Target::Collection {
            resource,
            namespace: namespace.map(str::to_string),
        })
    }

    #[test]
    fn paths_address_collections_and_objects() {
        assert_eq!(
            parse_path("/api/v1/events"),
            collection(Resource::CoreEvent, None)
        );
        assert_eq!(
            parse_path("/apis/events.k8s.io/v1/namespaces/demo/events"),
            collection(Resource::Event, Some("demo"))
        );
        assert_eq!(
            parse_path("/api/v1/namespaces/demo/pods/web-1"),
            Some(Target::Object {
                resource: Resource::Pod,
                namespace: Some("demo".into()),
                name: "web-1".into()
            })
        );
        assert_eq!(
            parse_path("/api/v1/nodes/node-a"),
            Some(Target::Object {
                resource: Resource::Node,
                namespace: None,
                name: "node-a".into()
            })
        );
        assert_eq!(
            parse_path("/apis/authorization.k8s.io/v1/subjectaccessreviews"),
            Some(Target::Review("subjectaccessreviews"))
        );
    }

    #[test]
    fn unserved_paths_are_not_routed() {
        for path in [
            "/api/v1/namespaces/demo/nodes",
            "/api/v1/pods/web-1",
            "/api/v1/namespaces/demo/pods/web-1/log",
            "/apis/apps/v1beta1/deployments",
            "/api/v1/secrets",
            "/apis",
        ] {
            assert_eq!(parse_path(path), None, "{path}");
        }
    }

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
