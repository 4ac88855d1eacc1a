//! Slack incoming webhooks: a message with blocks a person can read at a glance — what, where,
//! how often, first and last seen, the root cause when known, and a link to the UI.
//!
//! Event messages are written by whoever can create a Pod, so every text taken from them is
//! escaped (`&`, `<`, `>`): a note cannot ping `<!channel>` or smuggle a link.

use std::time::Duration;

use kubetrail_model::{AlertRecord, AlertStatus};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use super::http::post_json;
use super::{DeliveryError, Notification, Secret, alert_link};

/// A Slack incoming webhook.
#[derive(Debug, Clone)]
pub struct Slack {
    /// The name rules and metrics use.
    pub name: String,
    /// The webhook URL is itself the credential.
    pub url: Secret,
    /// The longest one request may take (default 10s).
    pub timeout: Duration,
    /// The UI's base URL for the alert's link ([`alert_link`]); `None`: no link.
    pub ui_url: Option<String>,
}

/// Escapes text for Slack's mrkdwn.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn field(title: &str, text: &str) -> Value {
    json!({"type": "mrkdwn", "text": cut(&format!("*{title}*\n{text}"), 1900)})
}

/// The JSON body: `text` (for notifications and old clients) and `blocks`.
pub fn slack_body(alert: &AlertRecord, alert_id: i64, ui_url: Option<&str>) -> Value {
    let label = |k: &str| alert.labels.get(k).map(String::as_str).unwrap_or("");
    let (icon, state) = match alert.status {
        AlertStatus::Firing => (":rotating_light:", "FIRING"),
        AlertStatus::Resolved => (":white_check_mark:", "RESOLVED"),
    };
    let summary = alert
        .annotations
        .get("summary")
        .cloned()
        .unwrap_or_else(|| alert.rule.clone());
    let title = cut(&format!("{state}: {summary}"), 150);
    let reasons: Vec<&str> = {
        let mut r: Vec<&str> = alert.events.iter().map(|e| e.reason.as_str()).collect();
        r.sort_unstable();
        r.dedup();
        r
    };
    let mut where_ = Vec::new();
    for (k, v) in [
        ("cluster", label("cluster")),
        ("namespace", label("namespace")),
        ("node", label("node")),
    ] {
        if !v.is_empty() {
            where_.push(format!("{k} `{}`", escape(v)));
        }
    }
    where_.push(format!("`{}`", escape(&alert.group_key)));
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": format!("{} {title}", if alert.status == AlertStatus::Firing { "🚨" } else { "✅" })}}),
    ];
    if let Some(d) = alert
        .annotations
        .get("description")
        .filter(|d| !d.is_empty())
    {
        blocks.push(
            json!({"type": "section", "text": {"type": "mrkdwn", "text": cut(&escape(d), 2900)}}),
        );
    }
    let mut fields = vec![
        field(
            "What",
            &format!(
                "{} ({}, {})",
                escape(&reasons.join(", ")),
                escape(&alert.rule),
                alert.severity
            ),
        ),
        field("Where", &where_.join("\n")),
        field("How often", &format!("{} times", alert.event_count)),
        field(
            "First / last seen",
            &format!(
                "{}\n{}",
                alert.first_seen.strftime("%Y-%m-%d %H:%M:%S UTC"),
                alert.last_seen.strftime("%Y-%m-%d %H:%M:%S UTC")
            ),
        ),
    ];
    if let Some(end) = alert.ends_at {
        fields.push(field(
            "Resolved",
            &end.strftime("%Y-%m-%d %H:%M:%S UTC").to_string(),
        ));
    }
    blocks.push(json!({"type": "section", "fields": fields}));
    if let Some(cause) = alert
        .annotations
        .get("root_cause")
        .filter(|c| !c.is_empty())
    {
        let mut text = format!("*Root cause:* {}", escape(cause));
        if let Some(hint) = alert.annotations.get("hint").filter(|h| !h.is_empty()) {
            text.push_str(&format!("\n*Check next:* {}", escape(hint)));
        }
        blocks.push(json!({"type": "context", "elements": [
            {"type": "mrkdwn", "text": cut(&text, 2900)}
        ]}));
    }
    if let Some(url) = ui_url {
        let link = alert_link(url, alert_id);
        blocks.push(json!({"type": "context", "elements": [
            {"type": "mrkdwn", "text": format!("<{}|Open in kubetrail>", escape(&link))}
        ]}));
    }
    json!({
        "text": format!("{icon} {}", escape(&title)),
        "blocks": blocks,
    })
}

impl Slack {
    /// Sends one notification; `Ok` when the receiver accepted it (2xx).
    pub async fn send(
        &self,
        client: &reqwest::Client,
        n: Notification<'_>,
    ) -> Result<(), DeliveryError> {
        let body = serde_json::to_vec(&slack_body(n.alert, n.alert_id, self.ui_url.as_deref()))
            .map_err(|e| DeliveryError::Encode(e.to_string()))?;
        post_json(
            client,
            self.url.expose(),
            HeaderMap::new(),
            body,
            self.timeout,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use kubetrail_model::AlertEvent;
    use kubetrail_model::Severity;

    use super::*;
    use crate::testing::at;

    #[test]
    fn messages_say_what_where_how_often_and_escape_event_text() {
        let alert = AlertRecord {
            rule: "crash-loop".into(),
            group_key: "prod/shop/Deployment/web".into(),
            status: AlertStatus::Firing,
            severity: Severity::Error,
            labels: BTreeMap::from([
                ("cluster".to_string(), "prod".to_string()),
                ("namespace".to_string(), "shop".to_string()),
            ]),
            annotations: BTreeMap::from([
                (
                    "summary".to_string(),
                    "shop/Deployment/web is crash-looping".to_string(),
                ),
                (
                    "description".to_string(),
                    "exit 1 <!channel> & more".to_string(),
                ),
                ("root_cause".to_string(), "OOMKilled on node-1".to_string()),
                ("hint".to_string(), "Raise the memory limit".to_string()),
            ]),
            starts_at: at(0),
            ends_at: None,
            first_seen: at(-5),
            last_seen: at(0),
            event_count: 12,
            silenced_by: None,
            events: vec![AlertEvent {
                cluster: "prod".into(),
                uid: "u".into(),
                object: "shop/Pod/web-1".into(),
                reason: "BackOff".into(),
                note: "x".into(),
                count: 12,
                last_seen: at(0),
            }],
        };
        let body = slack_body(&alert, 42, Some("https://kubetrail.example/"));
        let text = body.to_string();
        assert!(
            text.contains("FIRING: shop/Deployment/web is crash-looping"),
            "{text}"
        );
        assert!(
            text.contains("&lt;!channel&gt; &amp; more"),
            "escaped: {text}"
        );
        assert!(!text.contains("<!channel>"));
        assert!(text.contains("12 times"));
        assert!(text.contains("namespace `shop`"));
        assert!(
            text.contains(
                "*Root cause:* OOMKilled on node-1\\n*Check next:* Raise the memory limit"
            )
        );
        assert!(text.contains("<https://kubetrail.example/#/alert/42|Open in kubetrail>"));
        let kinds: Vec<&str> = body["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["type"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            ["header", "section", "section", "context", "context"]
        );
    }
}
