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

#![warn(missing_docs)]

mod alert;
mod change;
mod error;
mod event;
mod occurrence;
mod query;
pub mod redact;
pub mod text;
mod time;
// vocab.rs is documented separately (issue 12 §4); until then its items are exempt.
#[allow(missing_docs)]
mod vocab;

pub use alert::{
    AlertEvent, AlertFilter, AlertRecord, AlertStatus, Delivery, DeliveryState, DeliveryUpdate,
    MatchOp, NewDelivery, Silence, SilenceMatcher, StoredAlert,
};
pub use change::{Change, ChangeOp, ChangeSource, FieldChange};
pub use error::{Error, Result};
pub use event::{Event, ObjectRef, Owner};
pub use occurrence::{EventOccurrences, Occurrence, new_occurrences, stored_count};
pub use query::{AggregateQuery, AggregateRow, Dimension, EventFilter, SeveritySet};
pub use time::{parse_duration, parse_time_bound};
pub use vocab::{Category, Severity};

/// Re-exported so that every crate agrees on one timestamp type.
pub use jiff::Timestamp;
