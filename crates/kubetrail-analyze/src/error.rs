/// Errors from analysis: configurations and inputs it cannot work with. Analysis does no I/O,
/// so nothing here is retriable.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum Error {
    #[error("the window must end after it starts ({since} is not before {until})")]
    EmptyWindow {
        since: kubetrail_model::Timestamp,
        until: kubetrail_model::Timestamp,
    },
    #[error("invalid setting {name}: {reason}")]
    InvalidSetting { name: &'static str, reason: String },
    #[error("aggregate rows for {what} must be grouped by {needed}")]
    RowShape {
        what: &'static str,
        needed: &'static str,
    },
    #[error("invalid object {0:?} (expected NAMESPACE/KIND/NAME, or KIND/NAME for a Node)")]
    InvalidTarget(String),
    #[error("cannot encode the metrics")]
    Metrics(#[from] std::fmt::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
