//! What each notifier sends for one alert raised by the real evaluator, as snapshots
//! (`tests`-style review: a change to a payload shows up as a diff of
//! `src/notify/snapshots/*.snap`; accept it with `INSTA_UPDATE=always cargo test` or
//! `cargo insta review`).

use jiff::SignedDuration;

use super::{Notification, alertmanager_body, slack_body, webhook_body};
use crate::evaluate::Evaluator;
use crate::rules::parse_rules;
use crate::testing::{at, event};

const UI: &str = "https://kubetrail.example.com/ui";

/// Three pods of Deployment `web` in back-off within ten minutes: one alert for the group.
fn raised() -> kubetrail_model::AlertRecord {
    let rules = parse_rules(
        "rules:
  - name: crash
    match: {reason: BackOff}
    condition: count >= 3 within 10m
    annotations: {summary: \"{{ correlation }} keeps crashing\"}
",
    )
    .expect("rules");
    let mut evaluator = Evaluator::new(rules);
    let events: Vec<_> = ["web-1", "web-2", "web-3"]
        .into_iter()
        .enumerate()
        .map(|(i, pod)| {
            let mut e = event("shop", pod, "BackOff", 1);
            e.first_seen = at(i as i64);
            e.last_seen = at(i as i64);
            e.node = Some(format!("worker-{i}"));
            e
        })
        .collect();
    let changes = evaluator.observe_occurrences(&crate::testing::new(&events), at(3));
    assert_eq!(changes.len(), 1, "one alert for the group");
    changes.into_iter().next().expect("raised").alert
}

fn pretty(body: &[u8]) -> String {
    let value: serde_json::Value = serde_json::from_slice(body).expect("a JSON body");
    serde_json::to_string_pretty(&value).expect("JSON")
}

#[test]
fn webhook_payload() {
    let alert = raised();
    let body = webhook_body(
        Notification {
            delivery_id: 7,
            alert_id: 42,
            alert: &alert,
        },
        Some(UI),
    )
    .expect("a body");
    insta::assert_snapshot!(pretty(&body));
}

#[test]
fn alertmanager_payload() {
    let alert = raised();
    let body = alertmanager_body(&alert, 42, at(4), SignedDuration::from_mins(5), Some(UI))
        .expect("a body");
    insta::assert_snapshot!(pretty(&body));
}

#[test]
fn slack_payload() {
    let alert = raised();
    let body = slack_body(&alert, 42, Some(UI));
    insta::assert_snapshot!(serde_json::to_string_pretty(&body).expect("JSON"));
}
