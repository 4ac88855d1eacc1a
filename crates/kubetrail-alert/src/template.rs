//! Templates in labels and annotations: `{{ field }}` replaced by a field of the event that
//! raised the alert (or of the alert). Unknown fields are rejected when the rule is loaded, so a
//! typo never turns into an empty label at 3 a.m.

use jiff::{SignedDuration, Timestamp};
use kubetrail_model::Event;

/// A field a template can use.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Field {
    Cluster,
    Namespace,
    Kind,
    Name,
    Object,
    Reason,
    Message,
    Type,
    Category,
    Severity,
    Correlation,
    Node,
    Template,
    Count,
    Owner,
    Controller,
    Label(String),
    Rule,
    GroupKey,
    EventCount,
    FirstSeen,
    LastSeen,
}

/// The names a template may use, for error messages.
pub const FIELDS: &str = "cluster, namespace, kind, name, object, reason, message (note), type, \
     category, severity, correlation, node, template, count, owner, controller, labels.NAME, \
     rule, group_key, event_count, first_seen, last_seen";

impl Field {
    fn parse(name: &str) -> Option<Field> {
        Some(match name {
            "cluster" => Field::Cluster,
            "namespace" => Field::Namespace,
            "kind" => Field::Kind,
            "name" => Field::Name,
            "object" => Field::Object,
            "reason" => Field::Reason,
            "message" | "note" => Field::Message,
            "type" => Field::Type,
            "category" => Field::Category,
            "severity" => Field::Severity,
            "correlation" | "correlation_id" => Field::Correlation,
            "node" => Field::Node,
            "template" => Field::Template,
            "count" => Field::Count,
            "owner" => Field::Owner,
            "controller" => Field::Controller,
            "rule" => Field::Rule,
            "group_key" => Field::GroupKey,
            "event_count" => Field::EventCount,
            "first_seen" => Field::FirstSeen,
            "last_seen" => Field::LastSeen,
            other => Field::Label(other.strip_prefix("labels.")?.to_string()),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Field(Field),
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

/// What a template is rendered with.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The alert's latest event: its fields fill `{{ namespace }}`, `{{ reason }}`, ….
    pub event: &'a Event,
    /// The rule's name.
    pub rule: &'a str,
    /// The alert's group key.
    pub group_key: &'a str,
    /// Occurrences the alert covers so far.
    pub event_count: u64,
    /// The first occurrence it covers.
    pub first_seen: Timestamp,
    /// The last occurrence it covers.
    pub last_seen: Timestamp,
}

/// `namespace/Kind/name` of the event's regarding object (`Kind/name` when cluster-scoped).
pub fn object(e: &Event) -> String {
    let r = &e.regarding;
    if r.namespace.is_empty() {
        format!("{}/{}", r.kind, r.name)
    } else {
        format!("{}/{}/{}", r.namespace, r.kind, r.name)
    }
}

/// A short duration: `90s`, `5m`, `1h30m`, `2d`.
pub fn duration(d: SignedDuration) -> String {
    let mut secs = d.as_secs().max(0);
    let mut out = String::new();
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if secs >= size {
            out.push_str(&format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    if out.is_empty() {
        out.push_str("0s");
    }
    out
}

impl Template {
    /// Parses `text`; the error names the unknown field or the unclosed `{{`.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_string()));
            }
            let after = &rest[open + 2..];
            let close = after
                .find("}}")
                .ok_or_else(|| format!("unclosed {{{{ in template {text:?}"))?;
            let name = after[..close].trim();
            let field = Field::parse(name).ok_or_else(|| {
                format!("unknown template field {name:?} in {text:?} (known: {FIELDS})")
            })?;
            parts.push(Part::Field(field));
            rest = &after[close + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(Template { parts })
    }

    /// The text with each field replaced by its value in `c` (empty when the event has none).
    pub fn render(&self, c: &Context<'_>) -> String {
        let e = c.event;
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Field(f) => match f {
                    Field::Cluster => out.push_str(&e.cluster),
                    Field::Namespace => out.push_str(&e.namespace),
                    Field::Kind => out.push_str(&e.regarding.kind),
                    Field::Name => out.push_str(&e.regarding.name),
                    Field::Object => out.push_str(&object(e)),
                    Field::Reason => out.push_str(&e.reason),
                    Field::Message => out.push_str(e.note.trim()),
                    Field::Type => out.push_str(&e.type_),
                    Field::Category => out.push_str(e.category.as_str()),
                    Field::Severity => out.push_str(e.severity.as_str()),
                    Field::Correlation => out.push_str(&e.correlation_id),
                    Field::Node => out.push_str(e.node.as_deref().unwrap_or("")),
                    Field::Template => out.push_str(&e.template),
                    Field::Count => out.push_str(&e.count.to_string()),
                    Field::Owner => {
                        if let Some(o) = &e.owner {
                            out.push_str(&format!("{}/{}", o.kind, o.name));
                        }
                    }
                    Field::Controller => out.push_str(&e.reporting_controller),
                    Field::Label(k) => out.push_str(e.labels.get(k).map_or("", String::as_str)),
                    Field::Rule => out.push_str(c.rule),
                    Field::GroupKey => out.push_str(c.group_key),
                    Field::EventCount => out.push_str(&c.event_count.to_string()),
                    Field::FirstSeen => out.push_str(&c.first_seen.to_string()),
                    Field::LastSeen => out.push_str(&c.last_seen.to_string()),
                },
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::event;

    #[test]
    fn fields_of_the_event_and_the_alert_are_filled_in() {
        let mut e = event("shop", "web-1", "BackOff", 7);
        e.labels.insert("team".into(), "payments".into());
        let t = Template::parse(
            "{{reason}} ×{{ event_count }} on {{ object }} ({{correlation}}, team {{labels.team}}{{ node }})",
        )
        .unwrap();
        let c = Context {
            event: &e,
            rule: "crash-loop",
            group_key: "prod/shop/Deployment/web",
            event_count: 12,
            first_seen: e.first_seen,
            last_seen: e.last_seen,
        };
        assert_eq!(
            t.render(&c),
            "BackOff ×12 on shop/Pod/web-1 (shop/Deployment/web, team payments)"
        );
        assert_eq!(Template::parse("plain").unwrap().render(&c), "plain");
    }

    #[test]
    fn unknown_fields_and_unclosed_braces_are_errors() {
        let err = Template::parse("{{ reasn }}").unwrap_err();
        assert!(err.contains("reasn") && err.contains("known:"), "{err}");
        assert!(
            Template::parse("{{ reason")
                .unwrap_err()
                .contains("unclosed")
        );
    }

    #[test]
    fn durations_read_short() {
        assert_eq!(duration(SignedDuration::from_secs(5400)), "1h30m");
        assert_eq!(duration(SignedDuration::from_mins(10)), "10m");
        assert_eq!(duration(SignedDuration::ZERO), "0s");
    }
}
