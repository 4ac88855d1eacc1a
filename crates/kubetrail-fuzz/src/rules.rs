//! The rule files: alert rules ([`kubetrail_alert::parse_rules`]: YAML, validation, conditions,
//! matchers, templates) and classification rules ([`kubetrail_process::Rules::from_yaml`]),
//! then each parsed rule applied to an event as evaluation and classification would; every
//! line is also read as a silence matcher ([`kubetrail_alert::parse_matcher`]).

use kubetrail_alert::{Context, parse_matcher, parse_rules};
use kubetrail_model::{Category, Event, ObjectRef, Severity, Timestamp};
use kubetrail_process::Rules;

/// Parses `data` as alert rules, as classification rules and, line by line, as silence matchers,
/// and applies what parses to a sample event.
///
/// # Panics
/// Where parsing, matching or rendering panics.
pub fn run(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let event = sample_event();
    if let Ok(rules) = parse_rules(text) {
        for rule in &rules {
            let _ = rule.matcher.matches(&event);
            let context = Context {
                event: &event,
                rule: &rule.name,
                group_key: "fuzz",
                event_count: 3,
                first_seen: event.first_seen,
                last_seen: event.last_seen,
            };
            for (_, template) in rule.labels.iter().chain(&rule.annotations) {
                let _ = template.render(&context);
            }
        }
    }
    if let Ok(rules) = Rules::from_yaml(text) {
        let _ = rules.classify(&event);
    }
    for line in text.lines() {
        let _ = parse_matcher(line);
    }
}

/// A processed-looking Event (a crash-looping pod), shared with `http_api`.
pub(crate) fn sample_event() -> Event {
    let at = Timestamp::from_second(1_714_564_800).expect("a valid time");
    Event {
        cluster: "prod".into(),
        uid: "u1".into(),
        namespace: "shop".into(),
        name: "web-7d4b9c-x2x.17c".into(),
        regarding: ObjectRef {
            api_version: "v1".into(),
            kind: "Pod".into(),
            namespace: "shop".into(),
            name: "web-7d4b9c-x2x".into(),
            uid: "p1".into(),
            field_path: "spec.containers{web}".into(),
        },
        related: None,
        reason: "BackOff".into(),
        note: "Back-off restarting failed container web in pod web-7d4b9c-x2x".into(),
        type_: "Warning".into(),
        action: String::new(),
        reporting_controller: "kubelet".into(),
        reporting_instance: "node-1".into(),
        first_seen: at,
        last_seen: at,
        count: 5,
        resource_version: "42".into(),
        category: Category::Other,
        severity: Severity::Warning,
        correlation_id: "shop/Deployment/web".into(),
        owner: None,
        node: Some("node-1".into()),
        template: String::new(),
        labels: Default::default(),
    }
}
