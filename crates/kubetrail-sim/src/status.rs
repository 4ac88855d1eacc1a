//! Failures as the Kubernetes API reports them: an HTTP status plus a `v1 Status` body.
//!
//! Messages and reasons follow the real API server (k8s.io/apimachinery `errors.New*`), since
//! clients branch on `reason` and `code` (a watcher relists on `Expired`, a writer retries on
//! `Conflict`).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::resources::Resource;

/// A failed API call, rendered as a `Status` object.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{reason} ({code}): {message}")]
pub struct ApiError {
    /// HTTP status code, also `Status.code`.
    pub code: u16,
    /// `Status.reason`, e.g. `NotFound`, `Conflict`, `Expired`.
    pub reason: &'static str,
    /// `Status.message`, worded as the real server words it.
    pub message: String,
    /// `Status.details`, when the real server fills it.
    pub details: Option<Value>,
    /// Sent as `Retry-After` and `details.retryAfterSeconds` (429 and injected 500s).
    pub retry_after_seconds: Option<u32>,
    /// `Status.metadata.continue`: an inconsistent continuation offered with an expired token.
    pub continue_token: Option<String>,
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
            details: None,
            retry_after_seconds: None,
            continue_token: None,
        }
    }

    fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    /// 404 for an object that does not exist.
    pub fn not_found(resource: Resource, name: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", resource.qualified()),
        )
        .with_details(object_details(resource, name))
    }

    /// 404 for a path the simulator does not serve.
    pub fn no_route() -> Self {
        Self::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
        .with_details(json!({}))
    }

    /// 409 for a create whose name is taken.
    pub fn already_exists(resource: Resource, name: &str) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", resource.qualified()),
        )
        .with_details(object_details(resource, name))
    }

    /// 409 for a write based on a stale `metadata.resourceVersion`.
    pub fn conflict(resource: Resource, name: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; \
                 please apply your changes to the latest version and try again",
                resource.qualified()
            ),
        )
        .with_details(object_details(resource, name))
    }

    /// 400 for a malformed request.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// 422 for an object or option that fails validation; `causes` are `(field, message)`.
    pub fn invalid(kind: &str, group: &str, name: &str, causes: &[(String, String)]) -> Self {
        let summary: Vec<String> = causes.iter().map(|(f, m)| format!("{f}: {m}")).collect();
        let quoted = if name.is_empty() {
            String::new()
        } else {
            format!(" \"{name}\"")
        };
        let message = format!("{kind}{quoted} is invalid: {}", summary.join(", "));
        let causes: Vec<Value> = causes
            .iter()
            .map(|(field, message)| json!({"reason": "FieldValueInvalid", "message": message, "field": field}))
            .collect();
        Self::new(422, "Invalid", message)
            .with_details(json!({"name": name, "group": group, "kind": kind, "causes": causes}))
    }

    /// 410 for a list at, or a continue token of, a compacted resourceVersion.
    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    /// 504 for a list that asks for a resourceVersion the store has not reached yet.
    pub fn too_large_resource_version(requested: u64, current: u64) -> Self {
        Self::new(
            504,
            "Timeout",
            format!("Too large resource version: {requested}, current: {current}"),
        )
        .with_details(json!({
            "causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
            "retryAfterSeconds": 1
        }))
    }

    /// 405 for a verb the resource does not support.
    pub fn method_not_allowed(method: &str) -> Self {
        Self::new(
            405,
            "MethodNotAllowed",
            format!("the server does not allow this method on the requested resource ({method})"),
        )
        .with_details(json!({}))
    }

    /// 415 for a patch type the simulator does not implement.
    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {content_type})"
            ),
        )
    }

    /// 429, as the API Priority and Fairness filter answers when a queue is full.
    pub fn too_many_requests(retry_after_seconds: u32) -> Self {
        let mut error = Self::new(
            429,
            "TooManyRequests",
            "Too many requests, please try again later.",
        )
        .with_details(json!({"retryAfterSeconds": retry_after_seconds}));
        error.retry_after_seconds = Some(retry_after_seconds);
        error
    }

    /// 503 with a retry hint, as an injected unavailability.
    pub fn service_unavailable(retry_after_seconds: u32) -> Self {
        let mut error = Self::new(
            503,
            "ServiceUnavailable",
            "the server is currently unable to handle the request: injected fault",
        )
        .with_details(json!({"retryAfterSeconds": retry_after_seconds}));
        error.retry_after_seconds = Some(retry_after_seconds);
        error
    }

    /// 500 with a retry hint, as an injected server fault.
    pub fn internal(retry_after_seconds: u32) -> Self {
        let mut error = Self::new(
            500,
            "InternalError",
            "Internal error occurred: injected fault",
        )
        .with_details(json!({
            "causes": [{"message": "injected fault"}],
            "retryAfterSeconds": retry_after_seconds
        }));
        error.retry_after_seconds = Some(retry_after_seconds);
        error
    }

    /// The `Status` object, as sent in a response body or an in-stream watch `ERROR`.
    pub fn to_status(&self) -> Value {
        let mut metadata = serde_json::Map::new();
        if let Some(token) = &self.continue_token {
            metadata.insert("continue".into(), Value::String(token.clone()));
        }
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": metadata,
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let (Some(details), Some(map)) = (&self.details, status.as_object_mut()) {
            map.insert("details".into(), details.clone());
        }
        status
    }
}

fn object_details(resource: Resource, name: &str) -> Value {
    let mut details = json!({"name": name, "kind": resource.plural()});
    if !resource.group().is_empty()
        && let Some(map) = details.as_object_mut()
    {
        map.insert("group".into(), Value::String(resource.group().into()));
    }
    details
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (code, axum::Json(self.to_status())).into_response();
        if let Some(seconds) = self.retry_after_seconds {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// A `Status` of success, as DELETE answers for most resources.
pub(crate) fn success_status(resource: Resource, name: &str, uid: Option<&str>) -> Value {
    let mut details = object_details(resource, name);
    if let (Some(uid), Some(map)) = (uid, details.as_object_mut()) {
        map.insert("uid".into(), Value::String(uid.into()));
    }
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": details,
    })
}

/// A JSON body with its status code.
pub(crate) fn json_response(code: StatusCode, body: &Value) -> Response {
    (code, axum::Json(body)).into_response()
}
