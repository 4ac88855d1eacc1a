//! The resource API: `/api/v1/...` and `/apis/<group>/v1/...` for every served resource.
//!
//! Paths are parsed here rather than in the router so that one function states the whole URL
//! grammar (collection, object, namespaced or not) and can be unit-tested. The verbs follow the
//! real server: GET (get, list, watch), POST (create), PUT (update, with optimistic
//! concurrency), PATCH (merge), DELETE.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::convert;
use crate::list;
use crate::patch::{PatchType, merge_patch};
use crate::resources::{REVIEWS, Resource, ReviewResource};
use crate::reviews;
use crate::state::AppState;
use crate::status::{ApiError, json_response, success_status};
use crate::store::{meta_str, set_meta};

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
        ) => list::collection_get(&state, resource, namespace, &query),
        (
            Target::Collection {
                resource,
                namespace,
            },
            &Method::POST,
        ) => create(
            &state,
            resource,
            namespace,
            &body,
            &field_manager(&query, &headers),
        ),
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
        ) => update(
            &state,
            resource,
            namespace,
            &name,
            &body,
            &field_manager(&query, &headers),
        ),
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
            let manager = field_manager(&query, &headers);
            patch(
                &state,
                resource,
                namespace,
                &name,
                content_type,
                &body,
                &manager,
            )
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

fn parse_body(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body).or_else(|_| {
        // kubectl sends JSON, but YAML is what people write: accept both.
        yaml_serde::from_slice(body)
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

/// Who writes: the request's `fieldManager`, else its User-Agent up to the first `/` (as the
/// real server defaults it), else the simulator's default.
fn field_manager(query: &HashMap<String, String>, headers: &HeaderMap) -> String {
    if let Some(m) = query.get("fieldManager").filter(|m| !m.is_empty()) {
        return m.clone();
    }
    headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .and_then(|ua| ua.split('/').next())
        .filter(|m| !m.is_empty())
        .unwrap_or(crate::store::DEFAULT_MANAGER)
        .to_string()
}

fn create(
    state: &AppState,
    resource: Resource,
    namespace: Option<String>,
    body: &[u8],
    manager: &str,
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
    let created = state.store.create_by(resource, stored, manager)?;
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
    manager: &str,
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
    let (updated, created) = state.store.update_by(resource, stored, manager)?;
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
    manager: &str,
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
                let created =
                    state
                        .store
                        .create_by(resource, convert::decode(resource, object)?, manager)?;
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
            .update_by(resource, convert::decode(resource, merged)?, manager)
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
            "/api/v1/services",
            "/apis/autoscaling/v1/horizontalpodautoscalers",
            "/apis",
        ] {
            assert_eq!(parse_path(path), None, "{path}");
        }
    }
}
