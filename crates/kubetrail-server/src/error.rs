//! Errors: [`Error`] for configuration and startup, [`ApiError`] for what a request gets back.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Errors from configuring or starting the server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration value that cannot be used.
    #[error("invalid setting {field}: {reason}")]
    InvalidSetting {
        /// The setting's path in the config file, e.g. `serve.listen`.
        field: String,
        /// What is wrong with its value.
        reason: String,
    },
    /// A tenant's `token_file` cannot be read.
    #[error("cannot read the token file {path} of tenant {tenant:?}")]
    TokenFile {
        /// The tenant's name.
        tenant: String,
        /// The file, as resolved against the config file's directory.
        path: String,
        /// Why it cannot be read.
        #[source]
        source: std::io::Error,
    },
    /// The listening socket cannot be bound.
    #[error("cannot listen on {addr}")]
    Listen {
        /// The address, `host:port`.
        addr: String,
        /// Why binding failed (in use, not permitted, …).
        #[source]
        source: std::io::Error,
    },
    /// The server stopped with an I/O error while serving.
    #[error("the HTTP server stopped")]
    Serve(#[source] std::io::Error),
}

/// The server's result, [`Error`] by default.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What a failed request gets: a status and `{"error": {"code": ..., "message": ...}}`.
/// `code` is a stable, machine-readable word; `message` says what was wrong and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status of the answer.
    pub status: StatusCode,
    /// The stable word, e.g. `bad_parameter`.
    pub code: &'static str,
    /// What was wrong and where, for a person.
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
    /// An error with any status and code.
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

    /// 400 with a code of its own (e.g. `bad_body`, `invalid_query`).
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 401 `unauthorized`: no valid credentials.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 403 `forbidden`: the caller is known but may not do or see this.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 413 `too_large`: a body or batch over its limit.
    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", message)
    }

    /// 503 `query_timeout`: `what` ran past the query time limit.
    pub fn timeout(what: &str) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "query_timeout",
            format!(
                "{what} took longer than the query time limit; narrow the time range or the filters"
            ),
        )
    }

    /// 500 `internal`: an unexpected failure, `what` with the error chain (the logging
    /// middleware logs it).
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
            e @ (kubetrail_query::Error::Changed
            | kubetrail_query::Error::Write(_)
            | kubetrail_query::Error::NotWritten) => ApiError::internal("the answer failed", &e),
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
