//! Where processed events are kept: the [`Store`] trait and its embedded SQLite backend.
//!
//! `process → store → analyze`: the store receives batches of processed [`Event`](kubetrail_model::Event)s, keeps each
//! Event object once per `(cluster, uid)` and every increase of its count as occurrences, keeps
//! hourly rollups of occurrence counts so that aggregations over days read few rows, answers
//! queries and aggregations, applies retention, and keeps watch cursors.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> kubetrail_store::Result<()> {
//! use kubetrail_store::{EventSink, SqliteStore, StoreTxn};
//! # let dir = tempfile::tempdir().expect("a temporary directory");
//! # let path = dir.path().join("kubetrail.db");
//! // e.g. "./kubetrail-data/kubetrail.db"
//! let store = SqliteStore::open(&path)?;
//! let mut txn = store.begin().await?;
//! let written = txn.write(Vec::new()).await?;
//! txn.commit().await?;
//! assert_eq!(written.summary.new, 0);
//! # Ok(()) }
//! ```

mod changes;
#[doc(hidden)]
pub mod conformance;
mod error;
mod expiry;
mod identity;
mod incidents;
mod patterns;
mod plan;
mod postgres;
mod quarantine;
mod records;
mod relink;
mod retention_task;
mod roles;
mod rows;
mod sqlite;
mod types;
mod where_clause;
mod written;

// The alert types live with the model (the pure evaluator needs them); re-exported for callers.
pub use changes::{ChangeBatch, ChangeStore, ChangeSummary, ObjectState};
pub use error::{Error, Result};
pub use incidents::{
    DirtyRange, IncidentBodies, IncidentHead, IncidentLine, IncidentStore, IncidentSummary,
    Replaced, StoredIncident,
};
pub use kubetrail_model::{
    AlertEvent, AlertFilter, AlertRecord, AlertStatus, Delivery, DeliveryState, DeliveryUpdate,
    MatchOp, NewDelivery, Silence, SilenceMatcher, StoredAlert,
};
pub use patterns::{
    KeyTotal, PartKey, PartSpan, PartSum, PatternStore, StoredPatternPart, parts_can_answer,
};
pub use postgres::{PostgresOptions, PostgresStore, redact as redact_url};
pub use quarantine::{Isolated, Quarantined, Refused, Rejected};
pub use retention_task::{log_retention, spawn_retention};
pub use roles::{
    AlertRecords, EventReader, EventSink, Fields, Outbox, Retention, Silences, Store, StoreTxn,
};
pub use sqlite::{PageCaches, SqliteStore, idle::set_thread_idle_hook};
pub use types::{
    ClusterRetention, Gap, OccurrenceGroup, Page, RetentionPolicy, RetentionReport, StoreStats,
    StoredEvent, WatchCursor, WriteSummary,
};
pub use written::{Written, WrittenEvent};
