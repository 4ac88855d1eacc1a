//! Request bodies: JSON only, bounded in size; errors name what was wrong.

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;

use crate::ApiError;

/// Reads at most `limit` bytes of JSON and decodes it.
pub(crate) async fn json<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<T, ApiError> {
    let bytes = bytes(headers, body, limit).await?;
    decode(&bytes)
}

/// Reads at most `limit` bytes of a JSON body.
pub(crate) async fn bytes(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<axum::body::Bytes, ApiError> {
    if let Some(ct) = headers.get(header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or_default().to_ascii_lowercase();
        if !ct.starts_with("application/json") {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                format!("the body must be application/json, not {ct:?}"),
            ));
        }
    }
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        && len > limit
    {
        return Err(too_large(limit));
    }
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| too_large(limit))
}

pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request(
            "bad_body",
            format!(
                "invalid JSON body at line {} column {}: {e}",
                e.line(),
                e.column()
            ),
        )
    })
}

fn too_large(limit: usize) -> ApiError {
    ApiError::too_large(format!(
        "the body is larger than the limit of {limit} bytes"
    ))
}
