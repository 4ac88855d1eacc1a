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
