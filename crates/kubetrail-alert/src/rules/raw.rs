//! Rules as written in YAML: every field optional but the name, unknown fields rejected (serde
//! names the field and the line). `validate` turns them into typed [`Rule`](super::Rule)s.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// A rules file: `rules: [...]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRulesFile {
    /// Alert rules; a rule named like a built-in one replaces it.
    #[serde(default)]
    pub rules: Vec<RawRule>,
}

/// One alert rule.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    /// Unique name; also the `alertname` label of its alerts.
    pub name: String,
    /// Which events the rule looks at (absent: every event).
    #[serde(default, rename = "match")]
    pub matcher: RawMatch,
    /// When to raise an alert: `count >= 5 within 5m` (counted across the whole group),
    /// `first_seen`, `pattern`, `anomaly >= 3`, `incident >= error`,
    /// `change_followed_by_failure >= error`, or the same as a map.
    /// Default: `count >= 1 within 5m`.
    pub condition: Option<RawCondition>,
    /// What one alert covers: dimensions among cluster, namespace, correlation, node, reason,
    /// kind, name, category, template, object (default `[cluster, correlation]`: one alert per
    /// workload).
    pub group_by: Option<Vec<String>>,
    /// After an alert of a group resolves, no new one for that group for this long (default 10m).
    pub cooldown: Option<String>,
    /// While an alert fires, send it again this often (default 4h).
    pub repeat: Option<String>,
    /// Resolve an alert when its condition has not held for this long (default 15m).
    pub resolve_after: Option<String>,
    /// Severity of the alerts (default: the highest severity of the events counted).
    pub severity: Option<String>,
    /// Notifiers to send to, by name (default: all configured notifiers).
    pub notifiers: Option<Vec<String>>,
    /// Extra labels; values may use templates such as `{{ namespace }}`.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Annotations (`summary`, `description`, …); values may use templates.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

/// What a rule matches. Every field given must match.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMatch {
    /// Event reasons, ignoring ASCII case.
    pub reason: Option<Values>,
    /// Category names.
    pub category: Option<Values>,
    /// The lowest severity: `warning` means warning, error or critical.
    pub severity: Option<String>,
    /// Namespaces of the Events.
    pub namespace: Option<Values>,
    /// Kind of the regarding object.
    pub kind: Option<Values>,
    /// Name of the regarding object.
    pub name: Option<Values>,
    /// Cluster names.
    pub cluster: Option<Values>,
    /// Event types (`Normal`, `Warning`), ignoring ASCII case.
    #[serde(rename = "type")]
    pub type_: Option<Values>,
    /// Correlation ID, e.g. `shop/Deployment/web`.
    pub correlation: Option<Values>,
    /// Nodes the objects run on.
    pub node: Option<Values>,
    /// Event labels: each listed label must match.
    #[serde(default)]
    pub labels: BTreeMap<String, Values>,
    /// Regular expressions searched in the message (note).
    pub message: Option<Values>,
}

/// A value, a list of values (any of them), or `{not: value-or-list}` (none of them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Values {
    /// The values given plainly (any of them matches); empty: any value.
    pub any: Vec<String>,
    /// The values under `not:` (none of them may match).
    pub not: Vec<String>,
}

impl<'de> Deserialize<'de> for Values {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValuesVisitor)
    }
}

struct ValuesVisitor;

impl<'de> Visitor<'de> for ValuesVisitor {
    type Value = Values;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, a list of strings, or {not: string or list}")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Values, E> {
        Ok(Values {
            any: vec![v.to_string()],
            not: Vec::new(),
        })
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Values, E> {
        self.visit_str(&v.to_string())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Values, E> {
        self.visit_str(&v.to_string())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Values, E> {
        self.visit_str(&v.to_string())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Values, A::Error> {
        let mut any = Vec::new();
        while let Some(v) = seq.next_element::<String>()? {
            any.push(v);
        }
        Ok(Values {
            any,
            not: Vec::new(),
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Values, A::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Not {
            not: OneOrMany,
        }
        let n = Not::deserialize(de::value::MapAccessDeserializer::new(map))?;
        Ok(Values {
            any: Vec::new(),
            not: n.not.0,
        })
    }
}

/// A string or a list of strings.
#[derive(Debug, Clone, Default)]
pub struct OneOrMany(pub Vec<String>);

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = d.deserialize_any(ValuesVisitor)?;
        Ok(OneOrMany(v.any))
    }
}

/// A condition as written: a sentence (`count >= 5 within 5m`) or a map.
#[derive(Debug, Clone, PartialEq)]
pub enum RawCondition {
    /// The sentence form, parsed by [`Condition::parse`](crate::Condition::parse).
    Text(String),
    /// The map form (boxed: it is much larger than the sentence).
    Map(Box<RawConditionMap>),
}

/// `{count: 5, within: 5m}`, `{first_seen: true}`, `{pattern: {...}}`, `{anomaly: {min_score:
/// 3}}`, `{incident: {min_severity: error}}` or `{change_followed_by_failure: {min_severity:
/// error}}`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConditionMap {
    /// Fewest occurrences of a count condition.
    pub count: Option<u64>,
    /// The count condition's window, a duration such as `5m` (default 5m).
    pub within: Option<String>,
    /// `true`: a reason new to its namespace.
    pub first_seen: Option<bool>,
    /// A recurring pattern.
    pub pattern: Option<RawPattern>,
    /// An unusual rate.
    pub anomaly: Option<RawAnomaly>,
    /// An incident.
    pub incident: Option<RawIncident>,
    /// An incident rooted in a change (same fields as `incident`).
    pub change_followed_by_failure: Option<RawIncident>,
}

/// A recurring pattern (reason, kind, namespace, message template) in the window.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPattern {
    /// Fewest occurrences (default 3).
    pub min_count: Option<u64>,
    /// Occurrences per minute the pattern must exceed (default 0.5).
    pub min_per_minute: Option<f64>,
    /// The window looked at (default 15m).
    pub window: Option<String>,
}

/// An unusual rate (or a reason new to a namespace) with at least this score.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAnomaly {
    /// Standard deviations above the baseline (default 3).
    pub min_score: Option<f64>,
    /// The window looked at (default 1h).
    pub window: Option<String>,
}

/// An incident (correlated events with a likely root cause) of at least this severity.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIncident {
    /// The lowest incident severity that alerts (default error).
    pub min_severity: Option<String>,
    /// The window looked at (default 30m).
    pub window: Option<String>,
}

impl<'de> Deserialize<'de> for RawCondition {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawCondition;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a condition such as \"count >= 5 within 5m\", or a map")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawCondition, E> {
                Ok(RawCondition::Text(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawCondition, A::Error> {
                RawConditionMap::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|m| RawCondition::Map(Box::new(m)))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_a_string_a_list_or_a_negation() {
        let m: RawMatch = yaml_serde::from_str(
            "reason: BackOff\nnamespace: [a, b]\nkind: {not: [Node, Job]}\ncluster: {not: dev}\n",
        )
        .unwrap();
        assert_eq!(m.reason.unwrap().any, ["BackOff"]);
        assert_eq!(m.namespace.unwrap().any, ["a", "b"]);
        assert_eq!(m.kind.unwrap().not, ["Node", "Job"]);
        assert_eq!(m.cluster.unwrap().not, ["dev"]);
        let err = yaml_serde::from_str::<RawMatch>("kind: {nott: Node}\n").unwrap_err();
        assert!(err.to_string().contains("nott"), "{err}");
    }

    #[test]
    fn conditions_are_text_or_a_map_with_known_fields_only() {
        let r: RawRule =
            yaml_serde::from_str("name: a\ncondition: count >= 3 within 5m\n").unwrap();
        assert_eq!(
            r.condition,
            Some(RawCondition::Text("count >= 3 within 5m".into()))
        );
        let r: RawRule =
            yaml_serde::from_str("name: a\ncondition: {anomaly: {min_score: 4}}\n").unwrap();
        assert!(matches!(r.condition, Some(RawCondition::Map(m)) if m.anomaly.is_some()));
        let err = yaml_serde::from_str::<RawRule>("name: a\ncondition:\n  cnt: 3\n").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("cnt") && text.contains("line 3"), "{text}");
    }
}
