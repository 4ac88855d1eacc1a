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

/// An error and its sources joined with ": ", outermost first, for a log line or a response
/// (`cannot read the store: database is locked`). The one walker every crate uses.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot store the batch")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn an_error_chain_names_every_source_outermost_first() {
        let e = Outer(std::io::Error::other("disk full"));
        assert_eq!(error_chain(&e), "cannot store the batch: disk full");
        assert_eq!(
            error_chain(&std::io::Error::other("disk full")),
            "disk full"
        );
    }
}
