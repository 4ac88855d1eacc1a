/// Errors from parsing the model's vocabulary (categories, severities, times, dimensions).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// A category name that is not one of [`Category::NAMES`](crate::Category::NAMES).
    #[error("unknown category {0:?} (expected one of: {list})", list = crate::Category::NAMES.join(", "))]
    UnknownCategory(String),
    #[error(
        "unknown severity {0:?} (expected critical, error, warning or info, optionally with a trailing + for \"at least\")"
    )]
    /// A severity that is not `critical`, `error`, `warning` or `info` (with an optional `+`).
    UnknownSeverity(String),
    /// A dimension name that is not one of [`Dimension::NAMES`](crate::Dimension::NAMES).
    #[error("unknown dimension {0:?} (expected one of: {list})", list = crate::Dimension::NAMES.join(", "))]
    UnknownDimension(String),
    /// A duration without a number and a unit (`s`, `m`, `h`, `d`, `w`).
    #[error("invalid duration {0:?} (expected a number and a unit: 90s, 15m, 2h, 7d, 1w)")]
    InvalidDuration(String),
    #[error(
        "invalid time {0:?} (expected RFC 3339 such as 2024-05-01T12:00:00Z, or a duration before now such as 2h)"
    )]
    /// A time that is neither RFC 3339 nor a duration before now.
    InvalidTime(String),
}

/// A result whose error is the model's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
