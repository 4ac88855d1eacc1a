use thiserror::Error;

/// What went wrong answering a question; a bad input names its parameter (the CLI's flag
/// without `--`, the API's query parameter: they are the same names).
#[derive(Debug, Error)]
pub enum Error {
    #[error("{name}: {message}")]
    Param { name: &'static str, message: String },
    #[error("reading the store")]
    Store(#[from] kubetrail_store::Error),
    #[error("analysing the events")]
    Analyze(#[from] kubetrail_analyze::Error),
}

impl Error {
    pub fn param(name: &'static str, message: impl ToString) -> Error {
        Error::Param {
            name,
            message: message.to_string(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
