use std::fmt;
use std::str::FromStr;

use jiff::{SignedDuration, Timestamp};
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use crate::{Category, Error, Result, Severity};

/// Which events a query, an aggregation or an export looks at. Empty lists mean "any"; a list
/// means "any of these". Times select events whose `[first_seen, last_seen]` overlaps
/// `[since, until)` for queries, and occurrences inside `[since, until)` for aggregations.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventFilter {
    /// Start of the time window (included); `None` means from the beginning.
    pub since: Option<Timestamp>,
    /// End of the time window (excluded); `None` means no upper bound.
    pub until: Option<Timestamp>,
    /// The cluster names.
    pub clusters: Vec<String>,
    /// The namespaces of the Event objects.
    pub namespaces: Vec<String>,
    /// The kinds of the objects the events are about (`regarding`), e.g. `Pod`.
    pub kinds: Vec<String>,
    /// The names of the objects the events are about.
    pub names: Vec<String>,
    /// The events' reasons, e.g. `BackOff`.
    pub reasons: Vec<String>,
    /// The categories processing gave.
    pub categories: Vec<Category>,
    /// The severities processing gave.
    pub severities: SeveritySet,
    /// The events' types, e.g. `Warning`.
    pub types: Vec<String>,
    /// The correlation IDs (see [`Event::correlation_id`](crate::Event::correlation_id)).
    pub correlations: Vec<String>,
    /// The nodes the objects run on.
    pub nodes: Vec<String>,
    /// Full-text search over notes (FTS5 query syntax on SQLite).
    pub search: Option<String>,
}

/// Which changes (see [`Change`](crate::Change)) a listing looks at. Empty lists mean "any"; a
/// list means "any of these". Times select changes made inside `[since, until)`. The cluster and
/// namespace lists are what tenant scoping narrows, as for [`EventFilter`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChangeFilter {
    /// Start of the time window (included); `None` means from the beginning.
    pub since: Option<Timestamp>,
    /// End of the time window (excluded); `None` means no upper bound.
    pub until: Option<Timestamp>,
    /// The cluster names.
    pub clusters: Vec<String>,
    /// The namespaces of the changed objects (a Node's is empty).
    pub namespaces: Vec<String>,
    /// The kinds of the changed objects, e.g. `Deployment`.
    pub kinds: Vec<String>,
    /// The names of the changed objects.
    pub names: Vec<String>,
    /// At most this many changes, the newest; 0 means no limit.
    pub limit: usize,
}

/// A set of severities, written `error` (exactly), `warning,error` (any of) or `error+` (at least).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeveritySet(pub Vec<Severity>);

impl SeveritySet {
    /// Whether the set is empty, which [`SeveritySet::contains`] takes as "any severity".
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `s` is in the set; an empty set contains every severity.
    pub fn contains(&self, s: Severity) -> bool {
        self.0.is_empty() || self.0.contains(&s)
    }
}

impl FromStr for SeveritySet {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let mut out = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if let Some(base) = part.strip_suffix('+') {
                let min: Severity = base.parse()?;
                out.extend(Severity::ALL.into_iter().filter(|x| *x >= min));
            } else {
                out.push(part.parse()?);
            }
        }
        out.sort();
        out.dedup();
        Ok(SeveritySet(out))
    }
}

/// A dimension events can be grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dimension {
    /// The cluster name.
    Cluster,
    /// The namespace of the Event object.
    Namespace,
    /// The kind of the object the event is about.
    Kind,
    /// The name of the object the event is about.
    Name,
    /// The event's reason.
    Reason,
    /// The event's category.
    Category,
    /// The event's severity.
    Severity,
    /// The event's type (`Normal`, `Warning`).
    Type,
    /// The correlation ID.
    Correlation,
    /// The message template.
    Template,
    /// The node the object runs on.
    Node,
}

impl Dimension {
    /// Every dimension, in the order of [`Dimension::NAMES`].
    pub const ALL: [Dimension; 11] = [
        Dimension::Cluster,
        Dimension::Namespace,
        Dimension::Kind,
        Dimension::Name,
        Dimension::Reason,
        Dimension::Category,
        Dimension::Severity,
        Dimension::Type,
        Dimension::Correlation,
        Dimension::Template,
        Dimension::Node,
    ];
    /// The name of each dimension, as written in `--group-by` and the API; `correlation_id` is also
    /// accepted when parsing.
    pub const NAMES: [&'static str; 11] = [
        "cluster",
        "namespace",
        "kind",
        "name",
        "reason",
        "category",
        "severity",
        "type",
        "correlation",
        "template",
        "node",
    ];

    /// The dimension's name, as in [`Dimension::NAMES`].
    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    /// Parses a comma list such as `namespace,reason`; duplicates are an error-free no-op.
    pub fn parse_list(text: &str) -> Result<Vec<Dimension>> {
        let mut out: Vec<Dimension> = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let d: Dimension = part.parse()?;
            if !out.contains(&d) {
                out.push(d);
            }
        }
        Ok(out)
    }
}

impl fmt::Display for Dimension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Dimension {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let lower = s.trim().to_ascii_lowercase();
        let lower = match lower.as_str() {
            "correlation_id" => "correlation",
            other => other,
        };
        Self::NAMES
            .iter()
            .position(|n| *n == lower)
            .map(|i| Self::ALL[i])
            .ok_or_else(|| Error::UnknownDimension(s.to_string()))
    }
}

/// Count occurrences in a time range, grouped by dimensions and optionally by time bucket.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AggregateQuery {
    /// Which events' occurrences are counted; `since` and `until` bound the occurrences.
    pub filter: EventFilter,
    /// The dimensions to group by, in the order the key lists them; empty gives one total
    /// (per bucket).
    pub group_by: Vec<Dimension>,
    /// Bucket width; buckets start at multiples of it since the Unix epoch.
    pub interval: Option<SignedDuration>,
    /// At most this many groups, the largest first; `None` or 0 means every group.
    pub limit: Option<usize>,
}

/// One group of an aggregation: its key (in `group_by` order), its bucket start, its count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggregateRow {
    /// The group's value of each dimension, in `group_by` order; `None` where an event has no value
    /// (e.g. no node).
    pub key: Vec<(Dimension, Option<String>)>,
    /// The start of the group's time bucket; `None` without an `interval`.
    pub bucket: Option<Timestamp>,
    /// Occurrences counted in the group.
    pub count: u64,
}

struct Key<'a>(&'a [(Dimension, Option<String>)]);

impl Serialize for Key<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (d, v) in self.0 {
            map.serialize_entry(d.as_str(), v)?;
        }
        map.end()
    }
}

impl Serialize for AggregateRow {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(3))?;
        map.serialize_entry("key", &Key(&self.key))?;
        map.serialize_entry("bucket", &self.bucket)?;
        map.serialize_entry("count", &self.count)?;
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_sets_accept_lists_and_at_least() {
        let s: SeveritySet = "error+".parse().unwrap();
        assert_eq!(s.0, vec![Severity::Error, Severity::Critical]);
        let s: SeveritySet = "info, warning".parse().unwrap();
        assert_eq!(s.0, vec![Severity::Info, Severity::Warning]);
        assert!("loud".parse::<SeveritySet>().is_err());
    }

    #[test]
    fn dimension_lists_parse_in_order_and_name_the_bad_one() {
        assert_eq!(
            Dimension::parse_list("reason,namespace,reason").unwrap(),
            vec![Dimension::Reason, Dimension::Namespace]
        );
        assert_eq!(
            Dimension::parse_list("reason,colour"),
            Err(Error::UnknownDimension("colour".into()))
        );
    }

    #[test]
    fn aggregate_rows_serialize_to_the_json_contract() {
        let row = AggregateRow {
            key: vec![
                (Dimension::Reason, Some("BackOff".into())),
                (Dimension::Node, None),
            ],
            bucket: None,
            count: 7,
        };
        assert_eq!(
            serde_json::to_string(&row).unwrap(),
            r#"{"key":{"reason":"BackOff","node":null},"bucket":null,"count":7}"#
        );
    }
}
