use std::fmt;
use std::path::PathBuf;

/// Where a problem in a rule or a notifier definition is: the rule (or notifier) by name, the
/// field, and the line of the YAML text when it can be found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// `rule "crash-loop"`, `notifier "slack"`, or `rules[3]` when the name is unknown.
    pub item: String,
    /// The field, e.g. `condition` or `match.reason`.
    pub field: String,
    pub line: Option<usize>,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}, field {}", self.item, self.field)?;
        if let Some(line) = self.line {
            write!(f, " (line {line})")?;
        }
        Ok(())
    }
}

/// Errors of the alerting stage.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A rule or notifier definition that cannot be used.
    #[error("{place}: {message}")]
    Invalid { place: Place, message: String },
    /// YAML that does not parse or has unknown fields; the message names the field and line.
    #[error("{0}")]
    Yaml(String),
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("in {path}")]
    InFile {
        path: PathBuf,
        #[source]
        source: Box<Error>,
    },
    #[error(
        "invalid silence matcher {0:?} (expected name=value, name!=value, name=~regex or name!~regex)"
    )]
    InvalidMatcher(String),
    #[error("invalid silence: {0}")]
    InvalidSilence(String),
    #[error("the store failed")]
    Store(#[from] kubetrail_store::Error),
    #[error("cannot build the HTTP client")]
    Http(#[source] reqwest::Error),
    #[error("cannot encode the metrics")]
    Metrics(#[from] std::fmt::Error),
}

impl Error {
    pub(crate) fn invalid(
        item: impl Into<String>,
        field: &str,
        line: Option<usize>,
        message: impl Into<String>,
    ) -> Error {
        Error::Invalid {
            place: Place {
                item: item.into(),
                field: field.to_string(),
                line,
            },
            message: message.into(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error and its sources joined with ": ", for a log line.
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
