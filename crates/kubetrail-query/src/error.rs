use thiserror::Error;

/// What went wrong answering a question; a bad input names its parameter (the CLI's flag
/// without `--`, the API's query parameter: they are the same names).
#[derive(Debug, Error)]
pub enum Error {
    /// A parameter's value is invalid, or two parameters contradict each other.
    #[error("{name}: {message}")]
    Param {
        /// The parameter, e.g. `since` or `severity`.
        name: &'static str,
        /// What is wrong with its value.
        message: String,
    },
    /// The store failed a read.
    #[error("reading the store")]
    Store(#[from] kubetrail_store::Error),
    /// Stored incidents listed were replaced (by the maintainer) before they were read whole.
    #[error("the stored incidents changed while they were read (run again)")]
    Changed,
    /// Writing an answer failed.
    #[error("writing the answer")]
    Write(#[from] std::io::Error),
    /// What the maintainer computed (incidents, pattern parts) could not be stored (what
    /// the maintainer reports is the failed write's own error).
    #[error("what the pass computed was not stored (its writes stopped)")]
    NotWritten,
    /// The analysis refused its input (e.g. an empty window).
    #[error("analysing the events")]
    Analyze(#[from] kubetrail_analyze::Error),
}

impl Error {
    /// An [`Error::Param`] for parameter `name`.
    pub fn param(name: &'static str, message: impl ToString) -> Error {
        Error::Param {
            name,
            message: message.to_string(),
        }
    }
}

/// The query layer's result, [`enum@Error`] by default.
pub type Result<T, E = Error> = std::result::Result<T, E>;
