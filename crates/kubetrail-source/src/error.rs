use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// Errors from importing files. Each names the file, and where it can the line and column.
///
/// A bad *object* in a good file (an Event without uid, a timestamp that does not parse) is not
/// an error: it comes out of the item stream as a skipped item. These are about whole files.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot open {}", .path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot list directory {}", .path.display())]
    ReadDir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot read {}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}: truncated or corrupt gzip data", .path.display())]
    Gzip {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Malformed JSON or YAML.
    #[error("{}: {message}", position(.path, .line, .column))]
    Syntax {
        path: PathBuf,
        line: u64,
        column: Option<u64>,
        message: String,
    },
    /// One value (an object, a line, a YAML document) beyond the size the reader holds in memory.
    #[error("{}: a single value larger than {limit} bytes", position(.path, .line, &None))]
    TooLarge {
        path: PathBuf,
        line: u64,
        limit: usize,
    },
    /// Valid syntax, but neither a List nor a stream of Events.
    #[error("{}: not an Event list or stream (found {found})", .path.display())]
    NotEvents { path: PathBuf, found: String },
}

impl ImportError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            ImportError::Open { path, .. }
            | ImportError::ReadDir { path, .. }
            | ImportError::Read { path, .. }
            | ImportError::Gzip { path, .. }
            | ImportError::Syntax { path, .. }
            | ImportError::TooLarge { path, .. }
            | ImportError::NotEvents { path, .. } => path,
        }
    }
}

pub type Result<T, E = ImportError> = std::result::Result<T, E>;

fn position<'a>(path: &'a Path, line: &u64, column: &Option<u64>) -> Position<'a> {
    Position {
        path,
        line: *line,
        column: *column,
    }
}

/// `path:line` or `path:line:column`, as compilers and editors write positions.
struct Position<'a> {
    path: &'a Path,
    line: u64,
    column: Option<u64>,
}

impl fmt::Display for Position<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.path.display(), self.line)?;
        if let Some(column) = self.column {
            write!(f, ":{column}")?;
        }
        Ok(())
    }
}

/// Errors of the NATS JetStream fan-in ([`crate::nats`]).
#[derive(Debug, thiserror::Error)]
pub enum NatsError {
    #[error("cannot connect to NATS at {url}")]
    Connect {
        url: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("cannot read the NATS credentials file {}", path.display())]
    Credentials {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("not connected to NATS at {url}")]
    Disconnected { url: String },
    #[error("cannot create or find the JetStream stream {stream}")]
    Stream {
        stream: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("cannot create or find the JetStream consumer {durable}")]
    Consumer {
        durable: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("JetStream did not take a message on {subject}")]
    Publish {
        subject: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("cannot read messages from the JetStream consumer")]
    Messages(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("the JetStream consumer's message stream ended")]
    Closed,
    #[error("cannot acknowledge a JetStream message")]
    Ack(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("cannot encode a batch as JSON")]
    Encode(#[source] serde_json::Error),
    #[error("the message on {subject} is not a kubetrail batch")]
    Decode {
        subject: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("the message on {subject} has format version {found}, newer than this kubetrail knows")]
    Version { subject: String, found: u32 },
}
