//! Label selectors as kubectl's `-l` takes them, equality-based: `team=payments`,
//! `tier!=web`, `app` (has the label), `!app` (has not), comma-separated (all must hold).

use std::collections::BTreeMap;

use crate::{Error, Result};

/// One requirement of a selector.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Requirement {
    Equals(String, String),
    Differs(String, String),
    Exists(String),
    Absent(String),
}

/// A parsed label selector; the empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
}

impl LabelSelector {
    /// Parses `text`; set-based forms (`in`, `notin`) are refused by name.
    pub fn parse(text: &str) -> Result<LabelSelector> {
        let bad = |why: &str| Error::param("selector", format!("{text:?}: {why}"));
        let mut requirements = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if part.contains('(') || part.contains(" in ") || part.contains(" notin ") {
                return Err(bad("set-based requirements (in, notin) are not supported"));
            }
            let key_ok = |k: &str| {
                !k.is_empty()
                    && k.chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
            };
            let r = if let Some((k, v)) = part.split_once("!=") {
                Requirement::Differs(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
                Requirement::Equals(k.trim().into(), v.trim().into())
            } else if let Some(k) = part.strip_prefix('!') {
                Requirement::Absent(k.trim().into())
            } else {
                Requirement::Exists(part.into())
            };
            let key = match &r {
                Requirement::Equals(k, _)
                | Requirement::Differs(k, _)
                | Requirement::Exists(k)
                | Requirement::Absent(k) => k,
            };
            if !key_ok(key) {
                return Err(bad(&format!("{key:?} is not a label key")));
            }
            requirements.push(r);
        }
        Ok(LabelSelector { requirements })
    }

    /// Whether `labels` meet every requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|r| match r {
            Requirement::Equals(k, v) => labels.get(k) == Some(v),
            Requirement::Differs(k, v) => labels.get(k) != Some(v),
            Requirement::Exists(k) => labels.contains_key(k),
            Requirement::Absent(k) => !labels.contains_key(k),
        })
    }

    /// Whether the selector has no requirement (and so matches every object).
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equality_based_selectors_match_as_kubectl_does() {
        let labels: BTreeMap<String, String> =
            [("team".to_string(), "payments".to_string())].into();
        let m = |s: &str| LabelSelector::parse(s).unwrap().matches(&labels);
        assert!(m("team=payments") && m("team==payments") && m("team") && m(""));
        assert!(m("tier!=web") && m("!tier") && m("team=payments, !tier"));
        assert!(!m("team=shop") && !m("team!=payments") && !m("tier") && !m("!team"));
    }

    #[test]
    fn set_based_and_malformed_selectors_are_refused() {
        for bad in ["env in (a,b)", "=x", "a b=c"] {
            let err = LabelSelector::parse(bad).unwrap_err().to_string();
            assert!(err.starts_with("selector:"), "{bad}: {err}");
        }
    }
}
