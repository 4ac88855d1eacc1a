/// Errors from parsing the model's vocabulary (categories, severities, times, dimensions).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    #[error("unknown category {0:?} (expected one of: {list})", list = crate::Category::NAMES.join(", "))]
    UnknownCategory(String),
    #[error(
        "unknown severity {0:?} (expected critical, error, warning or info, optionally with a trailing + for \"at least\")"
    )]
    UnknownSeverity(String),
    #[error("unknown dimension {0:?} (expected one of: {list})", list = crate::Dimension::NAMES.join(", "))]
    UnknownDimension(String),
    #[error("invalid duration {0:?} (expected a number and a unit: 90s, 15m, 2h, 7d, 1w)")]
    InvalidDuration(String),
    #[error(
        "invalid time {0:?} (expected RFC 3339 such as 2024-05-01T12:00:00Z, or a duration before now such as 2h)"
    )]
    InvalidTime(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
