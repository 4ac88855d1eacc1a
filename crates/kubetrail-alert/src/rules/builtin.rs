//! The built-in default rules: what a new user is alerted on without writing a rule.

use super::{Locator, RawRulesFile, Rule, validate_rule};

const BUILTIN: &str = include_str!("builtin.yaml");

/// The names of the built-in rules, in order.
pub const BUILTIN_NAMES: [&str; 6] = [
    "crash-loop",
    "oom-killed",
    "failed-mount",
    "node-not-ready",
    "image-pull-failure",
    "failed-scheduling",
];

/// The built-in rules (crash loops, OOM kills, failed mounts, node NotReady, image pull
/// failures, failed scheduling).
pub fn builtin_rules() -> Vec<Rule> {
    let file: RawRulesFile =
        yaml_serde::from_str(BUILTIN).expect("the built-in rules are valid YAML (tested)");
    let locator = Locator::new(BUILTIN);
    file.rules
        .into_iter()
        .enumerate()
        .map(|(i, raw)| {
            validate_rule(raw, &locator, i, true).expect("the built-in rules are valid (tested)")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_rules_are_valid_and_named_as_documented() {
        let rules = builtin_rules();
        let names: Vec<&str> = rules.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, BUILTIN_NAMES);
        assert!(rules.iter().all(|r| r.builtin));
    }
}
