//! Errors: [`Error`] for configuration and startup, [`ApiError`] for what a request gets back.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Errors from configuring or starting the server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid setting {field}: {reason}")]
    InvalidSetting { field: String, reason: String },
    #[error("cannot read the token file {path} of tenant {tenant:?}")]
    TokenFile {
        tenant: String,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot listen on {addr}")]
    Listen {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the HTTP server stopped")]
    Serve(#[source] std::io::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What a failed request gets: a status and `{"error": {"code": ..., "message": ...}}`.
/// `code` is a stable, machine-readable word; `message` says what was wrong and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

/// The message of a 5xx answer, left in the response's extensions for the logging middleware.
#[derive(Debug, Clone)]
pub(crate) struct ServerFault(pub String);

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ErrorDetail {
    /// A stable word: `bad_parameter`, `unauthorized`, `forbidden`, `not_found`, …
    pub code: String,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    /// A query parameter or body field that cannot be used; the message names it.
    pub fn bad_parameter(name: &str, reason: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "bad_parameter",
            format!("{name}: {reason}"),
        )
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", message)
    }

    pub fn timeout(what: &str) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "query_timeout",
            format!(
                "{what} took longer than the query time limit; narrow the time range or the filters"
            ),
        )
    }

    /// An unexpected failure: the details go to the log, not to the caller.
    pub fn internal(what: &str, error: &dyn std::error::Error) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("{what}: {}", kubetrail_alert::error_chain(error)),
        )
    }
}

impl From<kubetrail_store::Error> for ApiError {
    fn from(e: kubetrail_store::Error) -> Self {
        match &e {
            kubetrail_store::Error::InvalidQuery(m) => {
                ApiError::bad_request("invalid_query", m.clone())
            }
            kubetrail_store::Error::NotFound { .. } => ApiError::not_found(e.to_string()),
            // Data the store cannot hold is the request's fault, never a 500.
            _ if e.is_data_error() => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "rejected_event",
                kubetrail_alert::error_chain(&e),
            ),
            _ if e.is_retriable() => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "store_busy",
                "the store is busy; try again",
            ),
            _ => ApiError::internal("the store failed", &e),
        }
    }
}

impl From<kubetrail_query::Error> for ApiError {
    fn from(e: kubetrail_query::Error) -> Self {
        match e {
            kubetrail_query::Error::Param { name, message } => {
                ApiError::bad_parameter(name, message)
            }
            kubetrail_query::Error::Store(e) => e.into(),
            kubetrail_query::Error::Analyze(e) => e.into(),
        }
    }
}

impl From<kubetrail_analyze::Error> for ApiError {
    fn from(e: kubetrail_analyze::Error) -> Self {
        ApiError::bad_request("bad_analysis", e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let server_fault = self.status.is_server_error();
        // Internal details are logged by the middleware, never sent.
        let message = if self.status == StatusCode::INTERNAL_SERVER_ERROR {
            "internal error; the server log has the details".to_string()
        } else {
            self.message.clone()
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"kubetrail\""),
            );
        }
        if server_fault {
            response
                .extensions_mut()
                .insert(ServerFault(format!("{}: {}", self.code, self.message)));
        }
        response
    }
}
