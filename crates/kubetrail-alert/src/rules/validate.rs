//! Raw rules → typed rules. Every error names the rule, the field and, when it can be found,
//! the line.

use kubetrail_model::{Category, Severity, parse_duration};
use regex::Regex;

use super::raw::{RawCondition, RawConditionMap, RawMatch, RawRule, Values};
use super::{Locator, Rule};
use crate::condition::Condition;
use crate::group::GroupDim;
use crate::matcher::{EventMatch, StringMatch};
use crate::template::Template;
use crate::{Error, Result};

/// Turns a yaml_serde error into one that also names the rule: serde says `rules[3].match:
/// unknown field ... at line 7 column 5`; the name of rule 3 is looked up in the text.
pub fn yaml_error(text: &str, err: &yaml_serde::Error, list: &[&str]) -> Error {
    let message = err.to_string();
    let Some(key) = list.last() else {
        return Error::Yaml(message);
    };
    let marker = format!("{key}[");
    let index = message.find(&marker).and_then(|at| {
        let rest = &message[at + marker.len()..];
        rest[..rest.find(']')?].parse::<usize>().ok()
    });
    let name = index.and_then(|i| {
        let mut v: yaml_serde::Value = yaml_serde::from_str(text).ok()?;
        for k in list {
            v = v.get(*k)?.clone();
        }
        v.get(i)?.get("name")?.as_str().map(str::to_string)
    });
    match name {
        Some(name) => Error::Yaml(format!("rule {name:?}: {message}")),
        None => Error::Yaml(message),
    }
}

struct Ctx<'a, 'b> {
    item: String,
    name: &'b str,
    locator: &'b Locator<'a>,
}

impl Ctx<'_, '_> {
    fn err(&self, field: &str, message: impl Into<String>) -> Error {
        let path: Vec<&str> = field.split('.').collect();
        let line = if self.name.is_empty() {
            None
        } else {
            self.locator.field(self.name, &path)
        };
        Error::invalid(self.item.clone(), field, line, message)
    }

    fn duration(
        &self,
        field: &str,
        v: Option<&String>,
        default: jiff::SignedDuration,
    ) -> Result<jiff::SignedDuration> {
        match v {
            Some(text) => parse_duration(text).map_err(|e| self.err(field, e.to_string())),
            None => Ok(default),
        }
    }
}

/// Validates rule number `index` of a list.
pub fn validate_rule(
    raw: RawRule,
    locator: &Locator<'_>,
    index: usize,
    builtin: bool,
) -> Result<Rule> {
    let name = raw.name.trim().to_string();
    let ctx = Ctx {
        item: if name.is_empty() {
            format!("rules[{index}]")
        } else {
            format!("rule {name:?}")
        },
        name: &name,
        locator,
    };
    if name.is_empty() {
        return Err(ctx.err("name", "every rule needs a name"));
    }
    let matcher = matcher(&raw.matcher, &ctx)?;
    let condition = match &raw.condition {
        None => Condition::default(),
        Some(RawCondition::Text(t)) => Condition::parse(t).map_err(|m| ctx.err("condition", m))?,
        Some(RawCondition::Map(m)) => condition_map(m).map_err(|m| ctx.err("condition", m))?,
    };
    let group_by = match &raw.group_by {
        None => Rule::DEFAULT_GROUP_BY.to_vec(),
        Some(dims) => dims
            .iter()
            .map(|d| {
                GroupDim::parse(d).ok_or_else(|| {
                    ctx.err(
                        "group_by",
                        format!(
                            "unknown dimension {d:?} (expected some of: {})",
                            GroupDim::NAMES
                        ),
                    )
                })
            })
            .collect::<Result<Vec<_>>>()?,
    };
    let severity = raw
        .severity
        .as_deref()
        .map(|s| {
            s.parse::<Severity>()
                .map_err(|e| ctx.err("severity", e.to_string()))
        })
        .transpose()?;
    let templates = |field: &str, map: &std::collections::BTreeMap<String, String>| {
        map.iter()
            .map(|(k, v)| {
                Template::parse(v)
                    .map(|t| (k.clone(), t))
                    .map_err(|m| ctx.err(&format!("{field}.{k}"), m))
            })
            .collect::<Result<Vec<_>>>()
    };
    let labels = templates("labels", &raw.labels)?;
    for (k, _) in &labels {
        if !valid_label_name(k) {
            return Err(ctx.err(
                &format!("labels.{k}"),
                "a label name is letters, digits and underscores, not starting with a digit",
            ));
        }
        if k == "alertname" {
            return Err(ctx.err("labels.alertname", "alertname is always the rule's name"));
        }
    }
    let annotations = templates("annotations", &raw.annotations)?;
    Ok(Rule {
        cooldown: ctx.duration("cooldown", raw.cooldown.as_ref(), Rule::DEFAULT_COOLDOWN)?,
        repeat: ctx.duration("repeat", raw.repeat.as_ref(), Rule::DEFAULT_REPEAT)?,
        resolve_after: ctx.duration(
            "resolve_after",
            raw.resolve_after.as_ref(),
            Rule::DEFAULT_RESOLVE_AFTER,
        )?,
        name,
        matcher,
        condition,
        group_by,
        severity,
        notifiers: raw.notifiers.clone(),
        labels,
        annotations,
        builtin,
    })
}

/// Prometheus' label names: `[a-zA-Z_][a-zA-Z0-9_]*` (Alertmanager rejects others).
pub(crate) fn valid_label_name(k: &str) -> bool {
    let mut chars = k.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn strings(v: Option<&Values>, ignore_case: bool) -> Option<StringMatch> {
    v.map(|v| StringMatch {
        any: v.any.clone(),
        not: v.not.clone(),
        ignore_case,
    })
}

fn matcher(m: &RawMatch, ctx: &Ctx<'_, '_>) -> Result<EventMatch> {
    let categories = |list: &[String]| {
        list.iter()
            .map(|c| {
                c.parse::<Category>()
                    .map_err(|e| ctx.err("match.category", e.to_string()))
            })
            .collect::<Result<Vec<_>>>()
    };
    let regexes = |list: &[String]| {
        list.iter()
            .map(|r| {
                Regex::new(r).map_err(|e| {
                    ctx.err(
                        "match.message",
                        format!("invalid regular expression {r:?}: {e}"),
                    )
                })
            })
            .collect::<Result<Vec<_>>>()
    };
    let (categories, not_categories) = match &m.category {
        Some(v) => (categories(&v.any)?, categories(&v.not)?),
        None => (Vec::new(), Vec::new()),
    };
    let (message_any, message_not) = match &m.message {
        Some(v) => (regexes(&v.any)?, regexes(&v.not)?),
        None => (Vec::new(), Vec::new()),
    };
    let min_severity = m
        .severity
        .as_deref()
        .map(|s| {
            s.trim_end_matches('+')
                .parse::<Severity>()
                .map_err(|e| ctx.err("match.severity", e.to_string()))
        })
        .transpose()?;
    Ok(EventMatch {
        reason: strings(m.reason.as_ref(), true),
        categories,
        not_categories,
        min_severity,
        namespace: strings(m.namespace.as_ref(), false),
        kind: strings(m.kind.as_ref(), true),
        name: strings(m.name.as_ref(), false),
        cluster: strings(m.cluster.as_ref(), false),
        type_: strings(m.type_.as_ref(), true),
        correlation: strings(m.correlation.as_ref(), false),
        node: strings(m.node.as_ref(), false),
        labels: m
            .labels
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    StringMatch {
                        any: v.any.clone(),
                        not: v.not.clone(),
                        ignore_case: false,
                    },
                )
            })
            .collect(),
        message_any,
        message_not,
    })
}

fn condition_map(m: &RawConditionMap) -> std::result::Result<Condition, String> {
    let kinds = [
        m.count.is_some() || m.within.is_some(),
        m.first_seen.is_some(),
        m.pattern.is_some(),
        m.anomaly.is_some(),
        m.incident.is_some(),
        m.change_followed_by_failure.is_some(),
    ];
    if kinds.iter().filter(|k| **k).count() != 1 {
        return Err(
            "give exactly one of count (with within), first_seen, pattern, anomaly, incident, change_followed_by_failure"
                .into(),
        );
    }
    if let Some(min) = m.count {
        let within = m.within.as_deref().ok_or("count needs within (e.g. 5m)")?;
        return Condition::count(min, within);
    }
    if m.within.is_some() {
        return Err("within needs count".into());
    }
    if let Some(f) = m.first_seen {
        return if f {
            Ok(Condition::FirstSeen)
        } else {
            Err("first_seen: false is not a condition".into())
        };
    }
    if let Some(p) = &m.pattern {
        return Condition::pattern(p.min_count, p.min_per_minute, p.window.as_deref());
    }
    if let Some(a) = &m.anomaly {
        return Condition::anomaly(a.min_score, a.window.as_deref());
    }
    if let Some(i) = &m.incident {
        return Condition::incident(i.min_severity.as_deref(), i.window.as_deref());
    }
    if let Some(i) = &m.change_followed_by_failure {
        return Condition::change_followed_by_failure(
            i.min_severity.as_deref(),
            i.window.as_deref(),
        );
    }
    Err("no condition given".into())
}
