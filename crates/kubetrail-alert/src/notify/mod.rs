//! Notifiers: where alerts are sent. A generic webhook (JSON, HMAC-signed), a Slack incoming
//! webhook (blocks) and Prometheus Alertmanager (API v2). Each is a plain request builder over
//! one shared HTTP client; the retry decision lives next to the error ([`DeliveryError`]).

mod alertmanager;
mod http;
mod secret;
mod signature;
mod slack;
#[cfg(test)]
mod snapshots;
mod webhook;

use std::time::Duration;

use kubetrail_model::AlertRecord;

pub use alertmanager::{Alertmanager, alertmanager_body};
pub use secret::Secret;
pub use signature::{SIGNATURE_HEADER, sign, verify};
pub use slack::{Slack, slack_body};
pub use webhook::{Webhook, webhook_body};

/// Why a delivery failed. The message never holds a secret: request errors are reported
/// without their URL (Slack's carries its token).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// The receiver answered with a status other than 2xx.
    #[error("HTTP {status}{}", if body.is_empty() { String::new() } else { format!(": {body}") })]
    Status {
        /// The HTTP status code.
        status: u16,
        /// The start of the response body.
        body: String,
        /// The receiver's `Retry-After`; `None` when it sent none or an unreadable one.
        retry_after: Option<Duration>,
    },
    /// A redirect the client does not follow: to another origin (the body and its signature
    /// would go to another host), or one too many within the receiver's.
    #[error(
        "HTTP {status}: redirect to {to} not followed (only up to {} redirects within the receiver's own origin are)",
        http::REDIRECT_LIMIT
    )]
    Redirect {
        /// The redirect's HTTP status code (3xx).
        status: u16,
        /// The origin the redirect pointed to (without path or query, which may hold a token).
        to: String,
    },
    /// No answer within the notifier's timeout.
    #[error("timed out")]
    Timeout,
    /// The request could not be made or its answer read (connection refused, TLS, reset),
    /// described without the URL.
    #[error("request failed: {0}")]
    Transport(String),
    /// The notification could not be encoded as the receiver's JSON.
    #[error("cannot encode the notification: {0}")]
    Encode(String),
}

impl DeliveryError {
    /// Whether trying again later may succeed: timeouts, connection errors, 408, 429 and 5xx.
    /// Other 4xx mean the receiver refuses this request and would refuse it again; a redirect
    /// not followed would be answered again.
    pub fn is_retriable(&self) -> bool {
        match self {
            DeliveryError::Status { status, .. } => {
                matches!(status, 408 | 425 | 429) || *status >= 500
            }
            DeliveryError::Timeout | DeliveryError::Transport(_) => true,
            DeliveryError::Encode(_) | DeliveryError::Redirect { .. } => false,
        }
    }

    /// How long the receiver asked to wait (`Retry-After` of a status answer), if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            DeliveryError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// The page of alert `alert_id` in the UI served at `ui_url`: every notifier's link. The UI
/// routes with `#/`, so this is `{ui_url}/#/alert/{id}` (the server also redirects the older
/// form `{ui_url}/alerts/{id}` there, for links already sent).
pub fn alert_link(ui_url: &str, alert_id: i64) -> String {
    format!("{}/#/alert/{alert_id}", ui_url.trim_end_matches('/'))
}

/// One notification: an alert as queued, with its outbox ids.
#[derive(Debug, Clone, Copy)]
pub struct Notification<'a> {
    /// The outbox row of this delivery (one per alert change and notifier).
    pub delivery_id: i64,
    /// The alert's id in the store, as its UI link uses.
    pub alert_id: i64,
    /// The alert as it was when the change was queued.
    pub alert: &'a AlertRecord,
}

/// A configured notifier.
#[derive(Debug, Clone)]
pub enum Notifier {
    /// `type: webhook`: the alert as JSON, signed with HMAC-SHA256 when a secret is set.
    Webhook(Webhook),
    /// `type: slack`: a Slack incoming webhook message.
    Slack(Slack),
    /// `type: alertmanager`: Alertmanager's v2 API.
    Alertmanager(Alertmanager),
}

impl Notifier {
    /// The name rules and metrics use.
    pub fn name(&self) -> &str {
        match self {
            Notifier::Webhook(n) => &n.name,
            Notifier::Slack(n) => &n.name,
            Notifier::Alertmanager(n) => &n.name,
        }
    }

    /// The `type` as written in the configuration.
    pub fn kind(&self) -> &'static str {
        match self {
            Notifier::Webhook(_) => "webhook",
            Notifier::Slack(_) => "slack",
            Notifier::Alertmanager(_) => "alertmanager",
        }
    }

    /// Sends one notification; `Ok` when the receiver accepted it.
    pub async fn send(
        &self,
        client: &reqwest::Client,
        n: Notification<'_>,
    ) -> Result<(), DeliveryError> {
        match self {
            Notifier::Webhook(w) => w.send(client, n).await,
            Notifier::Slack(s) => s.send(client, n).await,
            Notifier::Alertmanager(a) => a.send(client, n).await,
        }
    }
}

/// The HTTP client notifiers share: rustls, no proxy lookups, a connect timeout, redirects
/// only within a receiver's origin. Request timeouts are per notifier.
pub fn http_client() -> crate::Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .redirect(http::redirect_policy())
        .user_agent(concat!("kubetrail/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(crate::Error::Http)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_errors_timeouts_and_throttling_are_retried_refusals_are_not() {
        let status = |s| DeliveryError::Status {
            status: s,
            body: String::new(),
            retry_after: None,
        };
        for s in [408, 429, 500, 502, 503] {
            assert!(status(s).is_retriable(), "{s}");
        }
        for s in [400, 401, 403, 404, 410, 413] {
            assert!(!status(s).is_retriable(), "{s}");
        }
        assert!(DeliveryError::Timeout.is_retriable());
        assert!(DeliveryError::Transport("refused".into()).is_retriable());
        assert!(!DeliveryError::Encode("x".into()).is_retriable());
        assert_eq!(status(503).to_string(), "HTTP 503");
    }
}
