//! Silences: an alert whose labels match every matcher of a silence in force is recorded but
//! not sent. Matchers are Alertmanager's: `name=value`, `name!=value`, `name=~regex`,
//! `name!~regex`, regexes anchored at both ends.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use kubetrail_model::{AlertRecord, MatchOp, Silence, SilenceMatcher};
use regex::Regex;

use crate::{Error, GROUP_KEY_LABEL, Result};

/// Parses `name=value`, `name!=value`, `name=~regex` or `name!~regex`.
pub fn parse_matcher(text: &str) -> Result<SilenceMatcher> {
    let bad = || Error::InvalidMatcher(text.to_string());
    let at = text.find(['=', '!']).ok_or_else(bad)?;
    let (name, rest) = text.split_at(at);
    let (op, value) = if let Some(v) = rest.strip_prefix("=~") {
        (MatchOp::Regex, v)
    } else if let Some(v) = rest.strip_prefix("!~") {
        (MatchOp::NotRegex, v)
    } else if let Some(v) = rest.strip_prefix("!=") {
        (MatchOp::NotEqual, v)
    } else if let Some(v) = rest.strip_prefix('=') {
        (MatchOp::Equal, v)
    } else {
        return Err(bad());
    };
    let name = name.trim();
    if name.is_empty() {
        return Err(bad());
    }
    let value = value.trim().trim_matches('"');
    let m = SilenceMatcher {
        name: name.to_string(),
        op,
        value: value.to_string(),
    };
    compile(&m)?;
    Ok(m)
}

/// A silence for `duration` from `starts_at`. It needs at least one matcher, and at least one
/// that is not satisfied by an empty label (a silence of everything is a mistake).
pub fn new_silence(
    matchers: Vec<SilenceMatcher>,
    starts_at: Timestamp,
    duration: SignedDuration,
    created_by: &str,
    comment: &str,
) -> Result<Silence> {
    if duration <= SignedDuration::ZERO {
        return Err(Error::InvalidSilence(
            "the duration must be positive".into(),
        ));
    }
    let compiled = matchers.iter().map(compile).collect::<Result<Vec<_>>>()?;
    if compiled.iter().all(|m| m.matches("")) {
        return Err(Error::InvalidSilence(
            "give at least one matcher that needs a label, e.g. alertname=crash-loop".into(),
        ));
    }
    Ok(Silence {
        id: 0,
        matchers,
        starts_at,
        ends_at: starts_at + duration,
        created_by: created_by.to_string(),
        comment: comment.to_string(),
    })
}

/// The matchers of a silence of one alert's group (the alert page's one-click silence):
/// `alertname` and the `group_key` label, which together name the group whatever pod or
/// reason raises its next alert, plus `cluster` and `namespace` when the alert has them (a
/// tenant's silence must name its namespace). An alert recorded before it carried `group_key`
/// is matched on all its labels instead, as Alertmanager's own "silence" button does.
pub fn silence_matchers(alert: &AlertRecord) -> Vec<SilenceMatcher> {
    let equal = |name: &str, value: &str| SilenceMatcher {
        name: name.to_string(),
        op: MatchOp::Equal,
        value: value.to_string(),
    };
    let mut out = vec![equal("alertname", &alert.rule)];
    let names: &[&str] = if alert.labels.contains_key(GROUP_KEY_LABEL) {
        &[GROUP_KEY_LABEL, "cluster", "namespace"]
    } else {
        &[]
    };
    for (name, value) in &alert.labels {
        let wanted = if names.is_empty() {
            name != "alertname"
        } else {
            names.contains(&name.as_str())
        };
        if wanted && !value.is_empty() {
            out.push(equal(name, value));
        }
    }
    out.sort_by_key(|m| {
        ["alertname", GROUP_KEY_LABEL, "cluster", "namespace"]
            .iter()
            .position(|n| *n == m.name)
            .unwrap_or(usize::MAX)
    });
    out
}

struct Compiled {
    name: String,
    op: MatchOp,
    value: String,
    regex: Option<Regex>,
}

impl Compiled {
    fn matches(&self, v: &str) -> bool {
        match (self.op, &self.regex) {
            (MatchOp::Equal, _) => v == self.value,
            (MatchOp::NotEqual, _) => v != self.value,
            (MatchOp::Regex, Some(r)) => r.is_match(v),
            (MatchOp::NotRegex, Some(r)) => !r.is_match(v),
            (MatchOp::Regex | MatchOp::NotRegex, None) => false,
        }
    }
}

fn compile(m: &SilenceMatcher) -> Result<Compiled> {
    let regex = match m.op {
        MatchOp::Regex | MatchOp::NotRegex => Some(
            Regex::new(&format!("^(?:{})$", m.value))
                .map_err(|_| Error::InvalidMatcher(m.to_string()))?,
        ),
        _ => None,
    };
    Ok(Compiled {
        name: m.name.clone(),
        op: m.op,
        value: m.value.clone(),
        regex,
    })
}

/// The silences in force, compiled, to check alerts against.
pub struct Silences {
    silences: Vec<(Silence, Vec<Compiled>)>,
}

impl Silences {
    /// Compiles `silences`; a stored silence whose regex no longer compiles is skipped.
    pub fn new(silences: Vec<Silence>) -> Self {
        let silences = silences
            .into_iter()
            .filter_map(|s| {
                let compiled = s.matchers.iter().map(compile).collect::<Result<Vec<_>>>();
                match compiled {
                    Ok(c) => Some((s, c)),
                    Err(error) => {
                        tracing::warn!(silence = s.id, %error, "ignoring a silence that cannot be compiled");
                        None
                    }
                }
            })
            .collect();
        Silences { silences }
    }

    /// The id of a silence in force at `now` matching `labels`.
    pub fn silencing(&self, labels: &BTreeMap<String, String>, now: Timestamp) -> Option<i64> {
        self.silences
            .iter()
            .find(|(s, matchers)| {
                s.is_active(now)
                    && matchers
                        .iter()
                        .all(|m| m.matches(labels.get(&m.name).map_or("", String::as_str)))
            })
            .map(|(s, _)| s.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::at;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn matchers_parse_in_the_four_forms_and_bad_ones_are_named() {
        let m = parse_matcher("alertname=crash-loop").unwrap();
        assert_eq!(
            (m.name.as_str(), m.op, m.value.as_str()),
            ("alertname", MatchOp::Equal, "crash-loop")
        );
        assert_eq!(
            parse_matcher("namespace!=kube-system").unwrap().op,
            MatchOp::NotEqual
        );
        assert_eq!(
            parse_matcher("namespace=~shop|cart").unwrap().op,
            MatchOp::Regex
        );
        assert_eq!(
            parse_matcher("severity!~info|warning").unwrap().op,
            MatchOp::NotRegex
        );
        for bad in ["alertname", "=x", "a=~(", "a<b"] {
            let err = parse_matcher(bad).unwrap_err().to_string();
            assert!(err.contains(bad), "{err}");
        }
    }

    #[test]
    fn a_silence_applies_to_alerts_matching_every_matcher_while_in_force() {
        let matchers = vec![
            parse_matcher("alertname=crash-loop").unwrap(),
            parse_matcher("namespace=~shop|cart").unwrap(),
        ];
        let mut s = new_silence(
            matchers,
            at(0),
            SignedDuration::from_mins(60),
            "ops",
            "deploy",
        )
        .unwrap();
        s.id = 7;
        let silences = Silences::new(vec![s]);
        let hit = labels(&[("alertname", "crash-loop"), ("namespace", "shop")]);
        assert_eq!(silences.silencing(&hit, at(10)), Some(7));
        assert_eq!(silences.silencing(&hit, at(60)), None, "ended");
        assert_eq!(silences.silencing(&hit, at(-1)), None, "not started");
        let other_ns = labels(&[("alertname", "crash-loop"), ("namespace", "shopping")]);
        assert_eq!(
            silences.silencing(&other_ns, at(10)),
            None,
            "regexes are anchored"
        );
        let other_rule = labels(&[("alertname", "oom-killed"), ("namespace", "shop")]);
        assert_eq!(silences.silencing(&other_rule, at(10)), None);
    }

    #[test]
    fn silences_of_everything_or_of_no_time_are_refused() {
        let all = vec![parse_matcher("namespace!=nothing").unwrap()];
        assert!(new_silence(all, at(0), SignedDuration::from_mins(5), "", "").is_err());
        assert!(new_silence(Vec::new(), at(0), SignedDuration::from_mins(5), "", "").is_err());
        let one = vec![parse_matcher("alertname=x").unwrap()];
        assert!(new_silence(one, at(0), SignedDuration::ZERO, "", "").is_err());
    }
}
