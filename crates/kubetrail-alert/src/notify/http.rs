//! One POST with a timeout, turned into a [`DeliveryError`] on anything but 2xx.

use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, HeaderMap, RETRY_AFTER};

use super::DeliveryError;

/// Longest part of a response body kept in an error.
const BODY_LIMIT: usize = 300;

/// POSTs `body` as JSON with extra `headers`.
pub async fn post_json(
    client: &reqwest::Client,
    url: &str,
    headers: HeaderMap,
    body: Vec<u8>,
    timeout: Duration,
) -> Result<(), DeliveryError> {
    let response = client
        .post(url)
        .header(CONTENT_TYPE, "application/json")
        .headers(headers)
        .body(body)
        .timeout(timeout)
        .send()
        .await
        .map_err(request_error)?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let text = tokio::time::timeout(timeout, response.text())
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    let mut body: String = text.trim().chars().take(BODY_LIMIT).collect();
    if text.trim().chars().count() > BODY_LIMIT {
        body.push('…');
    }
    Err(DeliveryError::Status {
        status: status.as_u16(),
        body,
        retry_after,
    })
}

/// A request error without its URL: a Slack webhook's URL is its secret.
fn request_error(e: reqwest::Error) -> DeliveryError {
    if e.is_timeout() {
        return DeliveryError::Timeout;
    }
    let e = e.without_url();
    let mut message = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    DeliveryError::Transport(message)
}
