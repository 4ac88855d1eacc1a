//! Category and severity: built-in rules, overridable by a YAML rules file.
use kubetrail_model::{Category, Event, Severity};

#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("invalid rules file: {0}")]
    Invalid(String),
}

#[derive(Debug, Clone, Default)]
pub struct RuleMatch;
#[derive(Debug, Clone)]
pub struct Rule;
#[derive(Debug, Clone, Copy)]
pub struct Classification {
    pub category: Category,
    pub severity: Severity,
}
#[derive(Debug, Clone, Default)]
pub struct Rules;
impl Rules {
    pub fn builtin() -> Self {
        Rules
    }
    pub fn classify(&self, _ev: &Event) -> Classification {
        Classification { category: Category::Other, severity: Severity::Info }
    }
}
