//! Analysis: what keeps happening ([`patterns()`]), what is unusual now ([`anomalies()`]), what
//! went wrong and why ([`incidents()`]), and the story of one object ([`explain()`]). Pure
//! functions over stored events; no I/O, no async.
//!
//! `store → analyze → alert/serve`: callers read the events of a window with their occurrences
//! (`Store::occurrences`) or occurrence counts per bucket (`Store::aggregate`) and hand them
//! over; results serialize to the JSON the CLI prints and the HTTP API returns.
//!
//! ```
//! use kubetrail_analyze::{PatternConfig, patterns};
//! let found = patterns(&[], &PatternConfig::default());
//! assert!(found.is_empty());
//! ```

// Shipped code neither unwraps nor prints (stdout is the CLI's output); tests may. Set
// here, not in [workspace.lints], which would cover tests too (CONTRIBUTING.md, Lints).
#![warn(clippy::unwrap_used, clippy::print_stdout, clippy::print_stderr)]

pub mod anomalies;
mod error;
pub mod explain;
pub mod incidents;
mod metrics;
mod objects;
pub mod patterns;
mod window;

#[cfg(test)]
mod testing;

pub use anomalies::{Anomaly, AnomalyConfig, AnomalyKey, AnomalyKind, anomalies};
pub use error::{Error, Result};
pub use explain::{
    Explanation, Related, Relation, StoryEntry, Target, explain, explain_changes, nodes_of,
    parse_kind,
};
pub use incidents::{
    AffectedWorkload, CLUSTER_CAUSE_REASONS, ClusterCause, Incident, IncidentConfig, RootCause,
    Status, TimelineEntry, cluster_cause, incident_order, incident_order_by, incidents,
    incidents_in, link_changes, sort_incidents,
};
pub use metrics::{MetricsConfig, render_metrics};
pub use patterns::{
    Candidate, KEPT_SAMPLES, Pattern, PatternConfig, PatternKey, PatternPart, Sample, Worst,
    merge_parts, pattern_parts, pattern_parts_of, patterns, patterns_of_parts,
};
pub use window::Window;
