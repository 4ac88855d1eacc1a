//! The errors of file imports ([`ImportError`]) and of the NATS fan-in ([`NatsError`]).

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// Errors from importing files. Each names the file, and where it can the line and column.
///
/// A bad *object* in a good file (an Event without uid, a timestamp that does not parse) is not
/// an error: it comes out of the item stream as a skipped item. These are about whole files.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A file could not be opened.
    #[error("cannot open {}", .path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// A directory given to import could not be listed.
    #[error("cannot list directory {}", .path.display())]
    ReadDir {
        /// The directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// Reading an open file failed.
    #[error("cannot read {}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// A `.gz` file whose compressed data is cut short or damaged.
    #[error("{}: truncated or corrupt gzip data", .path.display())]
    Gzip {
        /// The file.
        path: PathBuf,
        /// The decoder's error.
        #[source]
        source: io::Error,
    },
    /// Malformed JSON or YAML.
    #[error("{}: {message}", position(.path, *.line, *.column))]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The line of the error, from 1.
        line: u64,
        /// The column of the error, from 1; `None` when the parser does not say.
        column: Option<u64>,
        /// The parser's description of the error.
        message: String,
    },
    /// One value (an object, a line, a YAML document) beyond the size the reader holds in memory.
    #[error("{}: a single value larger than {limit} bytes", position(.path, *.line, None))]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The line the value starts on, from 1.
        line: u64,
        /// The largest value the reader holds, in bytes.
        limit: usize,
    },
    /// Valid syntax, but neither a List nor a stream of Events.
    #[error("{}: not an Event list or stream (found {found})", .path.display())]
    NotEvents {
        /// The file.
        path: PathBuf,
        /// The first thing met that is not an Event (e.g. a kind), or `nothing` for an empty file.
        found: String,
    },
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

/// A result whose error is an [`ImportError`].
pub type Result<T, E = ImportError> = std::result::Result<T, E>;

fn position(path: &Path, line: u64, column: Option<u64>) -> Position<'_> {
    Position { path, line, column }
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
    /// The NATS server could not be reached or refused the connection.
    #[error("cannot connect to NATS at {url}")]
    Connect {
        /// The server's URL.
        url: String,
        /// The client's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The credentials file (`.creds`) could not be read.
    #[error("cannot read the NATS credentials file {}", path.display())]
    Credentials {
        /// The credentials file.
        path: std::path::PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// Not connected to NATS when a batch was to be published.
    #[error("not connected to NATS at {url}")]
    Disconnected {
        /// The server's URL.
        url: String,
    },
    /// The JetStream stream could not be created or looked up.
    #[error("cannot create or find the JetStream stream {stream}")]
    Stream {
        /// The stream's name.
        stream: String,
        /// The client's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The durable JetStream consumer could not be created or looked up.
    #[error("cannot create or find the JetStream consumer {durable}")]
    Consumer {
        /// The consumer's durable name.
        durable: String,
        /// The client's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// JetStream did not acknowledge a published message (it may or may not have kept it).
    #[error("JetStream did not take a message on {subject}")]
    Publish {
        /// The subject published to.
        subject: String,
        /// The client's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Pulling messages from the consumer failed.
    #[error("cannot read messages from the JetStream consumer")]
    Messages(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The consumer's message stream ended (the connection or the consumer is gone).
    #[error("the JetStream consumer's message stream ended")]
    Closed,
    /// A message could not be acknowledged (ack, nak or term); JetStream delivers it again
    /// once its ack wait has passed.
    #[error("cannot acknowledge a JetStream message")]
    Ack(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A batch could not be encoded as a message.
    #[error("cannot encode a batch as JSON")]
    Encode(#[source] serde_json::Error),
    /// A message is not a batch in kubetrail's wire format.
    #[error("the message on {subject} is not a kubetrail batch")]
    Decode {
        /// The subject it came on.
        subject: String,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    #[error("the message on {subject} has format version {found}, newer than this kubetrail knows")]
    /// A message in a newer wire format than this kubetrail reads.
    Version {
        /// The subject it came on.
        subject: String,
        /// The message's format version.
        found: u32,
    },
}
