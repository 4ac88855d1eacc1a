//! What goes wrong inside a reader, before it is tied to a file name.

use std::io;
use std::path::Path;

use crate::error::ImportError;

/// A position in the (decompressed) input, 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pos {
    pub line: u64,
    pub column: u64,
}

#[derive(Debug)]
pub(crate) enum Fault {
    Io(io::Error),
    Syntax {
        line: u64,
        column: Option<u64>,
        message: String,
    },
    TooLarge {
        line: u64,
        limit: usize,
    },
}

impl Fault {
    /// A serde_json error in a value that starts at `start` in the file.
    pub(crate) fn json(err: &serde_json::Error, start: Pos) -> Fault {
        let (line, column) = match (err.line() as u64, err.column() as u64) {
            (0, _) => (start.line, start.column),
            (1, c) => (start.line, start.column + c.saturating_sub(1)),
            (l, c) => (start.line + l - 1, c),
        };
        Fault::Syntax {
            line,
            column: Some(column),
            message: json_message(err),
        }
    }

    /// A yaml_serde error in a text whose first line is `first_line` of the file.
    pub(crate) fn yaml(err: &yaml_serde::Error, first_line: u64) -> Fault {
        let (line, column) = match err.location() {
            Some(at) => (first_line + at.line() as u64 - 1, Some(at.column() as u64)),
            None => (first_line, None),
        };
        Fault::Syntax {
            line,
            column,
            message: yaml_message(err, first_line),
        }
    }

    pub(crate) fn into_error(self, path: &Path, gzip: bool) -> ImportError {
        let path = path.to_path_buf();
        match self {
            Fault::Io(source) if gzip => ImportError::Gzip { path, source },
            Fault::Io(source) => ImportError::Read { path, source },
            Fault::Syntax {
                line,
                column,
                message,
            } => ImportError::Syntax {
                path,
                line,
                column,
                message,
            },
            Fault::TooLarge { line, limit } => ImportError::TooLarge { path, line, limit },
        }
    }
}

/// serde_json's message without its ` at line L column C` suffix (the error says where).
pub(crate) fn json_message(err: &serde_json::Error) -> String {
    let message = err.to_string();
    let suffix = format!(" at line {} column {}", err.line(), err.column());
    match message.strip_suffix(&suffix) {
        Some(bare) => bare.to_string(),
        None => message,
    }
}

/// yaml_serde's message without its primary position, and with the line numbers of any other
/// position ("while parsing a block mapping at line 3 column 1") made relative to the file.
pub(crate) fn yaml_message(err: &yaml_serde::Error, first_line: u64) -> String {
    let mut message = err.to_string();
    if let Some(at) = err.location() {
        let primary = format!(" at line {} column {}", at.line(), at.column());
        message = message.replacen(&primary, "", 1);
    }
    shift_lines(&message, first_line.saturating_sub(1))
}

/// Adds `by` to every number that follows "line ".
fn shift_lines(message: &str, by: u64) -> String {
    if by == 0 {
        return message.to_string();
    }
    let mut out = String::with_capacity(message.len() + 8);
    let mut rest = message;
    while let Some(at) = rest.find("line ") {
        let (head, tail) = rest.split_at(at + "line ".len());
        out.push_str(head);
        let digits = tail.bytes().take_while(u8::is_ascii_digit).count();
        match tail[..digits].parse::<u64>() {
            Ok(n) => out.push_str(&(n + by).to_string()),
            Err(_) => out.push_str(&tail[..digits]),
        }
        rest = &tail[digits..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_positions_are_made_relative_to_the_file() {
        let err = serde_json::from_slice::<serde_json::Value>(b"{\n  \"a\" 1}").unwrap_err();
        let fault = Fault::json(
            &err,
            Pos {
                line: 10,
                column: 5,
            },
        );
        match fault {
            Fault::Syntax {
                line,
                column,
                message,
            } => {
                assert_eq!((line, column), (11, Some(7)));
                assert_eq!(message, "expected `:`");
            }
            other => panic!("unexpected {other:?}"),
        }
        let err = serde_json::from_slice::<serde_json::Value>(b"[1,]").unwrap_err();
        let Fault::Syntax { line, column, .. } = Fault::json(&err, Pos { line: 3, column: 5 })
        else {
            panic!("not a syntax fault");
        };
        assert_eq!((line, column), (3, Some(8)));
    }

    #[test]
    fn yaml_context_positions_are_shifted() {
        assert_eq!(
            shift_lines(
                "x at line 3 column 1, while parsing at line 1 column 2",
                100
            ),
            "x at line 103 column 1, while parsing at line 101 column 2"
        );
    }
}
