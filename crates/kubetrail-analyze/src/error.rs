/// Errors from analysis: configurations and inputs it cannot work with. Analysis does no I/O,
/// so nothing here is retriable.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum Error {
    /// A window whose start is not before its end.
    #[error("the window must end after it starts ({since} is not before {until})")]
    EmptyWindow {
        /// The start asked for (included).
        since: kubetrail_model::Timestamp,
        /// The end asked for (excluded).
        until: kubetrail_model::Timestamp,
    },
    /// A setting out of its range.
    #[error("invalid setting {name}: {reason}")]
    InvalidSetting {
        /// The setting, as named in its config struct, e.g. `alpha`.
        name: &'static str,
        /// The rule it breaks, with the value given.
        reason: String,
    },
    /// Aggregate rows that lack a dimension or the bucket the analysis needs.
    #[error("aggregate rows for {what} must be grouped by {needed}")]
    RowShape {
        /// The analysis, e.g. `anomalies`.
        what: &'static str,
        /// The grouping it needs.
        needed: &'static str,
    },
    /// An object to explain that is not written `NAMESPACE/KIND/NAME` or `Node/NAME`.
    #[error("invalid object {0:?} (expected NAMESPACE/KIND/NAME, or KIND/NAME for a Node)")]
    InvalidTarget(String),
    /// Writing the Prometheus text failed (only a formatter error can cause it).
    #[error("cannot encode the metrics")]
    Metrics(#[from] std::fmt::Error),
}

/// Analysis's result, [`Error`] by default.
pub type Result<T, E = Error> = std::result::Result<T, E>;
