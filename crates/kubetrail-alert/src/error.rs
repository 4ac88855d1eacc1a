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
    /// The line in the YAML text, from 1; `None` when it cannot be found (e.g. a default).
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
    Invalid {
        /// Which rule or notifier, which field, which line.
        place: Place,
        /// What is wrong with it.
        message: String,
    },
    /// YAML that does not parse or has unknown fields; the message names the field and line.
    #[error("{0}")]
    Yaml(String),
    /// A rules file that cannot be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why it cannot be read.
        #[source]
        source: std::io::Error,
    },
    /// An error in a rules file, with the file it is in.
    #[error("in {path}")]
    InFile {
        /// The rules file.
        path: PathBuf,
        /// The error in it.
        #[source]
        source: Box<Error>,
    },
    /// A silence matcher that is not `name=value`, `name!=value`, `name=~regex` or
    /// `name!~regex`, or whose regex does not compile.
    #[error(
        "invalid silence matcher {0:?} (expected name=value, name!=value, name=~regex or name!~regex)"
    )]
    InvalidMatcher(String),
    /// A silence that cannot be created (no matcher, an end before its start, …).
    #[error("invalid silence: {0}")]
    InvalidSilence(String),
    /// A store call of the outbox, the silences or the windowed evaluation failed.
    #[error("the store failed")]
    Store(#[from] kubetrail_store::Error),
    /// The notifiers' HTTP client could not be built (TLS setup).
    #[error("cannot build the HTTP client")]
    Http(#[source] reqwest::Error),
    /// Writing the Prometheus text failed (only a formatter error can cause it).
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

/// Alerting's result, [`Error`] by default.
pub type Result<T, E = Error> = std::result::Result<T, E>;
