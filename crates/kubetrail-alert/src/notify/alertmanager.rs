//! Prometheus Alertmanager, API v2: `POST {url}/api/v2/alerts` with a list of alerts.
//!
//! Alertmanager identifies an alert by its labels, which stay fixed for the life of a kubetrail
//! alert. A firing alert is sent with `endsAt` = now + `validity`: kubetrail sends it again at
//! each repeat interval, and if kubetrail itself goes away the alert still ends in Alertmanager
//! instead of firing forever. A resolved alert is sent with `endsAt` = its resolution time.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use kubetrail_model::{AlertRecord, AlertStatus};
use reqwest::header::HeaderMap;
use serde::Serialize;

use super::http::post_json;
use super::{DeliveryError, Notification, alert_link};

/// An Alertmanager.
#[derive(Debug, Clone)]
pub struct Alertmanager {
    /// The name rules and metrics use.
    pub name: String,
    /// Base URL, e.g. `http://alertmanager:9093`.
    pub url: String,
    /// The longest one request may take (default 10s).
    pub timeout: Duration,
    /// How long a firing alert stays active in Alertmanager without being sent again
    /// (default 5h, longer than the default repeat of 4h).
    pub validity: SignedDuration,
    /// The UI's base URL for the alert's link ([`alert_link`]); `None`: no link.
    pub ui_url: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AmAlert<'a> {
    labels: &'a std::collections::BTreeMap<String, String>,
    annotations: std::collections::BTreeMap<String, String>,
    starts_at: Timestamp,
    ends_at: Timestamp,
    #[serde(rename = "generatorURL", skip_serializing_if = "Option::is_none")]
    generator_url: Option<String>,
}

/// The body: a list of one alert.
pub fn alertmanager_body(
    alert: &AlertRecord,
    alert_id: i64,
    now: Timestamp,
    validity: SignedDuration,
    ui_url: Option<&str>,
) -> Result<Vec<u8>, DeliveryError> {
    let ends_at = match (alert.status, alert.ends_at) {
        (AlertStatus::Resolved, Some(t)) => t,
        (AlertStatus::Resolved, None) => now,
        (AlertStatus::Firing, _) => now.checked_add(validity).unwrap_or(Timestamp::MAX),
    };
    let mut annotations = alert.annotations.clone();
    annotations.insert("event_count".into(), alert.event_count.to_string());
    annotations.insert("first_seen".into(), alert.first_seen.to_string());
    annotations.insert("last_seen".into(), alert.last_seen.to_string());
    annotations.insert("group_key".into(), alert.group_key.clone());
    let body = [AmAlert {
        labels: &alert.labels,
        annotations,
        starts_at: alert.starts_at,
        ends_at,
        generator_url: ui_url.map(|u| alert_link(u, alert_id)),
    }];
    serde_json::to_vec(&body).map_err(|e| DeliveryError::Encode(e.to_string()))
}

impl Alertmanager {
    /// Sends one notification; `Ok` when the receiver accepted it (2xx).
    pub async fn send(
        &self,
        client: &reqwest::Client,
        n: Notification<'_>,
    ) -> Result<(), DeliveryError> {
        let body = alertmanager_body(
            n.alert,
            n.alert_id,
            Timestamp::now(),
            self.validity,
            self.ui_url.as_deref(),
        )?;
        let url = format!("{}/api/v2/alerts", self.url.trim_end_matches('/'));
        post_json(client, &url, HeaderMap::new(), body, self.timeout).await
    }
}
