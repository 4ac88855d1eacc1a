//! Errors of the simulator as a library (starting it, writing a kubeconfig, typed object calls).
//!
//! Errors that the HTTP API answers with are [`ApiError`]s: they carry the Kubernetes `Status`
//! a real API server would send, so a typed call fails the same way an HTTP client would.

use std::path::PathBuf;

use crate::status::ApiError;

/// Why a simulator call failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The listener could not be bound.
    #[error("failed to bind the simulator listener")]
    Bind(#[source] std::io::Error),
    /// The kubeconfig file could not be written.
    #[error("failed to write kubeconfig {path}")]
    WriteKubeconfig {
        /// Where the kubeconfig was to be written.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The kubeconfig document could not be encoded.
    #[error("failed to encode the kubeconfig")]
    EncodeKubeconfig(#[source] yaml_serde::Error),
    /// The API refused the call (not found, conflict, invalid, expired...).
    #[error(transparent)]
    Api(#[from] ApiError),
    /// A typed object names a resource the simulator does not serve.
    #[error("{api_version} {kind} is not served by the simulator")]
    NotServed {
        /// `apiVersion` of the type.
        api_version: &'static str,
        /// `kind` of the type.
        kind: &'static str,
    },
    /// A stored object did not decode as the requested type.
    #[error("stored object does not decode as {kind}")]
    Decode {
        /// `kind` of the requested type.
        kind: &'static str,
        /// The decoding error.
        #[source]
        source: serde_json::Error,
    },
}

/// Result of simulator calls.
pub type Result<T, E = Error> = std::result::Result<T, E>;
