//! The generic webhook: the alert as JSON, signed with HMAC-SHA256.
//!
//! ```json
//! {"version": "1", "delivery_id": 7, "alert_id": 3, "status": "firing", "rule": "crash-loop",
//!  "group_key": "prod/shop/Deployment/web", "severity": "error", "labels": {...},
//!  "annotations": {...}, "starts_at": "...", "ends_at": null, "first_seen": "...",
//!  "last_seen": "...", "event_count": 12, "events": [...], "url": "https://…"}
//! ```
//! Headers: `X-Kubetrail-Signature: sha256=<hex HMAC of the body>` (when a secret is set) and
//! `X-Kubetrail-Delivery: <delivery id>`, the same on every retry of a delivery, so that a
//! receiver can drop duplicates (delivery is at least once).

use std::time::Duration;

use kubetrail_model::AlertRecord;
use reqwest::header::{HeaderMap, HeaderValue};
use serde::Serialize;

use super::http::post_json;
use super::signature::{SIGNATURE_HEADER, sign};
use super::{DeliveryError, Notification, Secret, alert_link};

/// A generic webhook.
#[derive(Debug, Clone)]
pub struct Webhook {
    /// The name rules and metrics use.
    pub name: String,
    /// May hold a token: treated as a secret.
    pub url: Secret,
    /// The HMAC-SHA256 key of the signature header; `None`: unsigned.
    pub secret: Option<Secret>,
    /// The longest one request may take (default 10s).
    pub timeout: Duration,
    /// Link to the alert's page in the UI ([`alert_link`]), when configured.
    pub ui_url: Option<String>,
}

#[derive(Serialize)]
struct Body<'a> {
    version: &'static str,
    delivery_id: i64,
    alert_id: i64,
    #[serde(flatten)]
    alert: &'a AlertRecord,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
}

/// The JSON body of a webhook notification.
pub fn webhook_body(n: Notification<'_>, ui_url: Option<&str>) -> Result<Vec<u8>, DeliveryError> {
    serde_json::to_vec(&Body {
        version: "1",
        delivery_id: n.delivery_id,
        alert_id: n.alert_id,
        alert: n.alert,
        url: ui_url.map(|u| alert_link(u, n.alert_id)),
    })
    .map_err(|e| DeliveryError::Encode(e.to_string()))
}

impl Webhook {
    /// Sends one notification; `Ok` when the receiver accepted it (2xx).
    pub async fn send(
        &self,
        client: &reqwest::Client,
        n: Notification<'_>,
    ) -> Result<(), DeliveryError> {
        let body = webhook_body(n, self.ui_url.as_deref())?;
        let mut headers = HeaderMap::new();
        if let Some(secret) = &self.secret {
            let sig = sign(secret.expose().as_bytes(), &body);
            headers.insert(
                SIGNATURE_HEADER,
                HeaderValue::from_str(&sig).map_err(|e| DeliveryError::Encode(e.to_string()))?,
            );
        }
        headers.insert("X-Kubetrail-Delivery", HeaderValue::from(n.delivery_id));
        post_json(client, self.url.expose(), headers, body, self.timeout).await
    }
}
