//! Which events a rule looks at: pure matching of an [`Event`] against the rule's `match`.

use kubetrail_model::{Category, Event, Severity};
use regex::Regex;

/// Any of `any` (or anything when empty) and none of `not`.
#[derive(Debug, Clone, Default)]
pub struct StringMatch {
    /// Values of which the value must be one; empty: any value.
    pub any: Vec<String>,
    /// Values it must not be.
    pub not: Vec<String>,
    /// Reasons, kinds and types are compared ignoring ASCII case (`backoff` is `BackOff`);
    /// names, namespaces and labels exactly.
    pub ignore_case: bool,
}

impl StringMatch {
    /// Whether `value` is one of `any` (or `any` is empty) and none of `not`.
    pub fn matches(&self, value: &str) -> bool {
        let eq = |v: &String| {
            if self.ignore_case {
                v.eq_ignore_ascii_case(value)
            } else {
                v == value
            }
        };
        (self.any.is_empty() || self.any.iter().any(eq)) && !self.not.iter().any(eq)
    }
}

/// A rule's `match`: every part given must match.
#[derive(Debug, Clone, Default)]
pub struct EventMatch {
    /// The event reason; `None`: any.
    pub reason: Option<StringMatch>,
    /// Categories of which the event's must be one; empty: any.
    pub categories: Vec<Category>,
    /// Categories the event's must not be.
    pub not_categories: Vec<Category>,
    /// The lowest severity that matches; `None`: any.
    pub min_severity: Option<Severity>,
    /// The Event's namespace; `None`: any.
    pub namespace: Option<StringMatch>,
    /// The regarding object's kind; `None`: any.
    pub kind: Option<StringMatch>,
    /// The regarding object's name; `None`: any.
    pub name: Option<StringMatch>,
    /// The cluster's name; `None`: any.
    pub cluster: Option<StringMatch>,
    /// The event type (`Normal`, `Warning`); `None`: any.
    pub type_: Option<StringMatch>,
    /// The correlation ID; `None`: any.
    pub correlation: Option<StringMatch>,
    /// The node (empty when not known); `None`: any.
    pub node: Option<StringMatch>,
    /// The event's extra labels (`Event::labels`), each by name.
    /// A missing label matches only a matcher with no `any` values (a pure negation).
    pub labels: Vec<(String, StringMatch)>,
    /// Expressions of which one must be found in the message; empty: any message.
    pub message_any: Vec<Regex>,
    /// Expressions none of which may be found in the message.
    pub message_not: Vec<Regex>,
}

fn opt(m: Option<&StringMatch>, value: &str) -> bool {
    m.is_none_or(|m| m.matches(value))
}

impl EventMatch {
    /// Whether `e` meets every part given.
    pub fn matches(&self, e: &Event) -> bool {
        opt(self.reason.as_ref(), &e.reason)
            && (self.categories.is_empty() || self.categories.contains(&e.category))
            && !self.not_categories.contains(&e.category)
            && self.min_severity.is_none_or(|min| e.severity >= min)
            && opt(self.namespace.as_ref(), &e.namespace)
            && opt(self.kind.as_ref(), &e.regarding.kind)
            && opt(self.name.as_ref(), &e.regarding.name)
            && opt(self.cluster.as_ref(), &e.cluster)
            && opt(self.type_.as_ref(), &e.type_)
            && opt(self.correlation.as_ref(), &e.correlation_id)
            && opt(self.node.as_ref(), e.node.as_deref().unwrap_or(""))
            && self.labels.iter().all(|(k, m)| match e.labels.get(k) {
                Some(v) => m.matches(v),
                None => m.any.is_empty(),
            })
            && (self.message_any.is_empty() || self.message_any.iter().any(|r| r.is_match(&e.note)))
            && !self.message_not.iter().any(|r| r.is_match(&e.note))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::event;

    fn sm(any: &[&str], not: &[&str]) -> Option<StringMatch> {
        Some(StringMatch {
            any: any.iter().map(|s| s.to_string()).collect(),
            not: not.iter().map(|s| s.to_string()).collect(),
            ignore_case: true,
        })
    }

    #[test]
    fn every_given_part_must_match_and_negations_exclude() {
        let e = event("shop", "web-1", "BackOff", 1);
        let mut m = EventMatch {
            reason: sm(&["backoff", "CrashLoopBackOff"], &[]),
            min_severity: Some(Severity::Warning),
            namespace: sm(&[], &["kube-system"]),
            ..EventMatch::default()
        };
        assert!(m.matches(&e));
        m.categories = vec![Category::Image];
        assert!(!m.matches(&e), "category differs");
        m.categories.clear();
        m.not_categories = vec![Category::Crash];
        assert!(!m.matches(&e), "category excluded");
        m.not_categories.clear();
        m.min_severity = Some(Severity::Critical);
        assert!(!m.matches(&e), "severity below the minimum");
        m.min_severity = None;
        m.message_not = vec![Regex::new("restarting").unwrap()];
        assert!(!m.matches(&e), "message excluded");
        m.message_not.clear();
        m.message_any = vec![Regex::new("Back-off .* failed").unwrap()];
        assert!(m.matches(&e));
        m.namespace = sm(&[], &["shop"]);
        assert!(!m.matches(&e), "namespace excluded");
    }

    #[test]
    fn labels_must_match_and_missing_labels_only_satisfy_negations() {
        let mut e = event("shop", "web-1", "BackOff", 1);
        let m = |any: &[&str], not: &[&str]| EventMatch {
            labels: vec![("team".into(), sm(any, not).unwrap())],
            ..EventMatch::default()
        };
        assert!(!m(&["payments"], &[]).matches(&e));
        assert!(m(&[], &["payments"]).matches(&e));
        e.labels.insert("team".into(), "payments".into());
        assert!(m(&["payments"], &[]).matches(&e));
        assert!(!m(&[], &["payments"]).matches(&e));
    }
}
