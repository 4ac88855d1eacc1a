//! Alert rules: written in YAML (in the config's `alerting.rules` and in rules files), checked
//! with errors naming the rule, the field and the line, and the built-in default rules.
//!
//! ```yaml
//! rules:
//!   - name: payments-crash-loop
//!     match: { reason: [BackOff], category: crash, namespace: payments }
//!     condition: count >= 5 within 5m      # across every replica of the group
//!     group_by: [cluster, correlation]     # one alert per workload
//!     cooldown: 10m
//!     notifiers: [slack]
//!     labels: { team: payments }
//!     annotations: { summary: "{{ correlation }} is crash-looping" }
//! ```

mod builtin;
mod locate;
pub mod raw;
mod validate;

use jiff::SignedDuration;
use kubetrail_model::Severity;

use crate::condition::Condition;
use crate::group::GroupDim;
use crate::matcher::EventMatch;
use crate::template::Template;
use crate::{Error, Result};

pub use builtin::{BUILTIN_NAMES, builtin_rules};
pub use locate::Locator;
pub use raw::{RawRule, RawRulesFile};
pub use validate::{validate_rule, yaml_error};

/// A validated rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Unique among the rules; the `alertname` label.
    pub name: String,
    /// Which events the rule looks at.
    pub matcher: EventMatch,
    /// When it raises an alert.
    pub condition: Condition,
    /// What one alert covers (default [`Rule::DEFAULT_GROUP_BY`]).
    pub group_by: Vec<GroupDim>,
    /// After a group's alert resolves, no new one for that group for this long.
    pub cooldown: SignedDuration,
    /// While an alert fires, it is sent again this often.
    pub repeat: SignedDuration,
    /// An alert resolves when its condition has not held for this long.
    pub resolve_after: SignedDuration,
    /// Fixed severity; `None`: the highest severity of the events counted.
    pub severity: Option<Severity>,
    /// `None`: every configured notifier.
    pub notifiers: Option<Vec<String>>,
    /// Extra labels, rendered per alert.
    pub labels: Vec<(String, Template)>,
    /// Annotations (`summary`, `description`, …), rendered per alert.
    pub annotations: Vec<(String, Template)>,
    /// One of the built-in default rules.
    pub builtin: bool,
}

impl Rule {
    /// `cooldown` when a rule sets none.
    pub const DEFAULT_COOLDOWN: SignedDuration = SignedDuration::from_mins(10);
    /// `repeat` when a rule sets none.
    pub const DEFAULT_REPEAT: SignedDuration = SignedDuration::from_hours(4);
    /// `resolve_after` when a rule sets none.
    pub const DEFAULT_RESOLVE_AFTER: SignedDuration = SignedDuration::from_mins(15);
    /// `group_by` when a rule sets none: one alert per cluster and workload.
    pub const DEFAULT_GROUP_BY: [GroupDim; 2] = [GroupDim::Cluster, GroupDim::Correlation];
}

/// Parses a rules file (`rules: [...]`). Errors name the rule, the field and the line.
pub fn parse_rules(text: &str) -> Result<Vec<Rule>> {
    let file: RawRulesFile =
        yaml_serde::from_str(text).map_err(|e| yaml_error(text, &e, &["rules"]))?;
    let locator = Locator::new(text);
    let rules = file
        .rules
        .into_iter()
        .enumerate()
        .map(|(i, raw)| validate_rule(raw, &locator, i, false))
        .collect::<Result<Vec<_>>>()?;
    check_unique(&rules, &locator)?;
    Ok(rules)
}

/// Rule names must be unique: they name alerts and silences match them.
pub fn check_unique(rules: &[Rule], locator: &Locator<'_>) -> Result<()> {
    for (i, r) in rules.iter().enumerate() {
        if rules[..i].iter().any(|o| o.name == r.name) {
            let line = locator.item(&r.name);
            return Err(Error::invalid(
                format!("rule {:?}", r.name),
                "name",
                line,
                "another rule has the same name",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rules_file_parses_into_rules_with_defaults() {
        let rules = parse_rules(
            "rules:\n  - name: a\n    match: {reason: BackOff}\n    condition: count >= 5 within 5m\n  - name: b\n",
        )
        .unwrap();
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[1].condition, Condition::default());
        assert_eq!(rules[1].group_by, Rule::DEFAULT_GROUP_BY);
        assert_eq!(rules[1].cooldown, Rule::DEFAULT_COOLDOWN);
    }

    #[test]
    fn change_followed_by_failure_is_a_sentence_or_a_map() {
        let rules = parse_rules(
            "rules:\n  - name: a\n    condition: change_followed_by_failure >= warning\n  - name: b\n    condition: {change_followed_by_failure: {window: 1h}}\n",
        )
        .unwrap();
        assert_eq!(
            rules[0].condition,
            Condition::ChangeFollowedByFailure {
                min_severity: Severity::Warning,
                window: Condition::INCIDENT_WINDOW,
            }
        );
        assert_eq!(
            rules[1].condition,
            Condition::ChangeFollowedByFailure {
                min_severity: Severity::Error,
                window: SignedDuration::from_hours(1),
            }
        );
    }

    #[test]
    fn errors_name_the_rule_the_field_and_the_line() {
        let cases = [
            // (text, expected parts)
            (
                "rules:\n  - name: a\n  - name: crash\n    match:\n      reasn: BackOff\n",
                vec!["rule \"crash\"", "reasn", "line 5"],
            ),
            (
                "rules:\n  - name: crash\n    condition: count >= 3 whenever\n",
                vec!["rule \"crash\"", "field condition", "line 3", "whenever"],
            ),
            (
                "rules:\n  - name: crash\n    match:\n      message: \"([\"\n",
                vec![
                    "rule \"crash\"",
                    "field match.message",
                    "line 4",
                    "regular expression",
                ],
            ),
            (
                "rules:\n  - name: crash\n    cooldown: 5x\n",
                vec!["rule \"crash\"", "field cooldown", "line 3"],
            ),
            (
                "rules:\n  - name: crash\n    match: {category: crashes}\n",
                vec![
                    "rule \"crash\"",
                    "field match.category",
                    "line 3",
                    "crashes",
                ],
            ),
            (
                "rules:\n  - name: crash\n    group_by: [colour]\n",
                vec!["rule \"crash\"", "field group_by", "line 3", "colour"],
            ),
            (
                "rules:\n  - name: crash\n    annotations: {summary: \"{{ reasn }}\"}\n",
                vec![
                    "rule \"crash\"",
                    "field annotations.summary",
                    "line 3",
                    "reasn",
                ],
            ),
            (
                "rules:\n  - name: x\n  - name: x\n",
                vec!["rule \"x\"", "field name", "same name"],
            ),
            ("rules:\n  - match: {reason: A}\n", vec!["rules[0]", "name"]),
            (
                "rules:\n  - name: changed\n    condition: {change_followed_by_failure: {min_severity: loud}}\n",
                vec!["rule \"changed\"", "field condition", "line 3", "loud"],
            ),
            (
                "rules:\n  - name: changed\n    condition: {change_followed_by_failure: {window: 0s}}\n",
                vec![
                    "rule \"changed\"",
                    "field condition",
                    "line 3",
                    "longer than 0",
                ],
            ),
            (
                "rules:\n  - name: changed\n    condition: {incident: {}, change_followed_by_failure: {}}\n",
                vec![
                    "rule \"changed\"",
                    "exactly one of",
                    "change_followed_by_failure",
                ],
            ),
        ];
        for (text, parts) in cases {
            let err = parse_rules(text).unwrap_err().to_string();
            for p in parts {
                assert!(err.contains(p), "{err:?} should contain {p:?}");
            }
        }
    }
}
