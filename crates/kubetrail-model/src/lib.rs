//! The normalized event record that every stage of kubetrail passes along.
//!
//! Sources (watch, import, API) produce [`Event`]s with the fields Kubernetes gave; processing
//! fills in [`Category`], [`Severity`], the correlation ID, owner, node and message template; the
//! store keeps them; analysis and alerting read them. Both Kubernetes Event APIs
//! (`events.k8s.io/v1` and `core/v1`) map to this one record. No I/O, no async.
//!
//! ```
//! use kubetrail_model::{Severity, Category};
//! assert!(Severity::Critical > Severity::Warning);
//! assert_eq!("crash".parse::<Category>().unwrap(), Category::Crash);
//! ```

// Shipped code neither unwraps nor prints (stdout is the CLI's output); tests may. Set
// here, not in [workspace.lints], which would cover tests too (CONTRIBUTING.md, Lints).
#![warn(clippy::unwrap_used, clippy::print_stdout, clippy::print_stderr)]

mod alert;
mod analysis_event;
mod change;
mod error;
mod event;
mod occurrence;
mod query;
pub mod redact;
mod relink;
pub mod text;
mod time;
mod vocab;
mod watch_stats;

pub use alert::{
    AlertEvent, AlertFilter, AlertRecord, AlertStatus, Delivery, DeliveryState, DeliveryUpdate,
    MatchOp, NewDelivery, Silence, SilenceMatcher, StoredAlert,
};
pub use analysis_event::{AnalysisEvent, AnalysisOccurrences, AnalysisRef, SharedStrings};
pub use change::{Change, ChangeOp, ChangeSource, FieldChange};
pub use error::{Error, Result, error_chain};
pub use event::{Event, ObjectRef, Owner};
pub use occurrence::{EventOccurrences, Occurrence, new_occurrences, stored_count};
pub use query::{AggregateQuery, AggregateRow, ChangeFilter, Dimension, EventFilter, SeveritySet};
pub use relink::Relink;
pub use time::{parse_duration, parse_time_bound};
pub use vocab::{Category, Severity};
pub use watch_stats::WatchStats;

/// Re-exported so that the stores and analysis agree on one shared string type.
pub use arcstr::ArcStr;
/// Re-exported so that every crate agrees on one timestamp type.
pub use jiff::Timestamp;
