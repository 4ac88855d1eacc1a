//! The query layer that `kubetrail`'s commands and the HTTP API (`kubetrail-server`) share, so
//! that the same question gets the same answer from both by construction: filters read from
//! text ([`FilterText`]), the one time rule ([`Range`], [`resolve_window`],
//! [`resolve_bounds`]), the reads of an object's story ([`story`]), the anomaly baseline
//! ([`anomaly_plan`]) and the changes of a listing or an analysis ([`read_changes`],
//! [`window_changes`]). It sits between the store and its two front ends:
//! store ← query ← server, binary.
//!
//! ```
//! use kubetrail_query::FilterText;
//! let text = FilterText { reasons: vec!["BackOff, Killing".into()], ..FilterText::default() };
//! assert_eq!(text.filter().unwrap().reasons, ["BackOff", "Killing"]);
//! ```

// Shipped code neither unwraps nor prints (stdout is the CLI's output); tests may. Set
// here, not in [workspace.lints], which would cover tests too (CONTRIBUTING.md, Lints).
#![warn(clippy::unwrap_used, clippy::print_stdout, clippy::print_stderr)]

mod anomaly;
mod changes;
mod error;
mod explain;
mod filter;
mod incident_list;
mod incidents;
pub mod json_pretty;
mod labels;
mod part_body;
mod pass_writes;
mod patterns;
mod range;

pub use anomaly::{AnomalyPlan, anomaly_plan};
pub use changes::{ChangeText, read_changes, resolve_change_bounds, window_changes};
pub use error::{Error, Result};
pub use explain::{Story, StoryRequest, find_namespace, parse_target, story};
pub use filter::{FilterText, split_list};
pub use incident_list::{JsonLayout, KeptList, ListItem, kept_list, window_list};
pub use incidents::{
    Detail, Kept, MAX_READ, Maintained, PassReads, SLICE, WindowIncidents, changes_filter,
    changes_from, kept_answer, kept_incidents, kept_read, maintain_incidents,
    maintain_incidents_reading, whole_where_changes, window_incidents,
};
pub use kubetrail_analyze::parse_kind;
pub use labels::LabelSelector;
pub use patterns::{kept_patterns, maintain_patterns};
pub use range::{Range, Since, check_length, newest, read_events, resolve_bounds, resolve_window};
