//! Byte-level reading of a JSON stream: whitespace, single bytes, whole values and lines, with
//! line and column tracking. Values are copied out whole (for serde to parse from a slice,
//! which is several times faster than parsing from a reader) but never more than one at a time.

use std::io::BufRead;

use memchr::{memchr, memchr2};

use super::fault::{Fault, Pos};

/// Deeper nesting than this is refused (serde_json itself stops at 128).
const MAX_DEPTH: usize = 1024;

/// Where the reader is: the absolute offset of the next unread byte and the current line.
#[derive(Debug)]
struct Track {
    offset: u64,
    line: u64,
    line_start: u64,
}

impl Track {
    /// A newline at index `i` of the chunk that starts at `offset`.
    fn newline(&mut self, i: usize) {
        self.line += 1;
        self.line_start = self.offset + i as u64 + 1;
    }

    fn pos_at(&self, i: usize) -> Pos {
        Pos {
            line: self.line,
            column: self.offset + i as u64 - self.line_start + 1,
        }
    }

    fn syntax_at(&self, i: usize, message: &str) -> Fault {
        let pos = self.pos_at(i);
        Fault::Syntax {
            line: pos.line,
            column: Some(pos.column),
            message: message.to_string(),
        }
    }
}

pub(crate) struct Input {
    reader: Box<dyn BufRead + Send>,
    track: Track,
    stack: Vec<u8>,
}

impl Input {
    pub(crate) fn new(reader: Box<dyn BufRead + Send>, first_line: u64) -> Input {
        Input {
            reader,
            track: Track {
                offset: 0,
                line: first_line,
                line_start: 0,
            },
            stack: Vec::new(),
        }
    }

    /// The position of the next unread byte.
    pub(crate) fn pos(&self) -> Pos {
        self.track.pos_at(0)
    }

    pub(crate) fn syntax_here(&self, message: &str) -> Fault {
        self.track.syntax_at(0, message)
    }

    /// Skips whitespace, copying it to `out` when given (so that positions inside a copied
    /// value stay true), and returns the next byte without consuming it; `None` at the end.
    pub(crate) fn skip_ws(&mut self, mut out: Option<&mut Vec<u8>>) -> Result<Option<u8>, Fault> {
        loop {
            let chunk = self.reader.fill_buf().map_err(Fault::Io)?;
            if chunk.is_empty() {
                return Ok(None);
            }
            let mut i = 0;
            while i < chunk.len() {
                match chunk[i] {
                    b' ' | b'\t' | b'\r' => {}
                    b'\n' => self.track.newline(i),
                    _ => break,
                }
                i += 1;
            }
            let next = chunk.get(i).copied();
            if let Some(out) = out.as_deref_mut() {
                out.extend_from_slice(&chunk[..i]);
            }
            self.reader.consume(i);
            self.track.offset += i as u64;
            if next.is_some() {
                return Ok(next);
            }
        }
    }

    /// Consumes one byte that the caller has peeked (never a newline), copying it to `out`.
    pub(crate) fn bump(&mut self, out: Option<&mut Vec<u8>>) -> Result<(), Fault> {
        let chunk = self.reader.fill_buf().map_err(Fault::Io)?;
        if let (Some(&b), Some(out)) = (chunk.first(), out) {
            out.push(b);
        }
        let n = chunk.len().min(1);
        self.reader.consume(n);
        self.track.offset += n as u64;
        Ok(())
    }

    /// After a value: whether the rest of its line is blank (the newline is consumed then).
    pub(crate) fn rest_of_line_blank(&mut self) -> Result<bool, Fault> {
        loop {
            let chunk = self.reader.fill_buf().map_err(Fault::Io)?;
            if chunk.is_empty() {
                return Ok(false);
            }
            let mut i = 0;
            while i < chunk.len() && matches!(chunk[i], b' ' | b'\t' | b'\r') {
                i += 1;
            }
            let next = chunk.get(i).copied();
            let newline = next == Some(b'\n');
            if newline {
                self.track.newline(i);
                i += 1;
            }
            self.reader.consume(i);
            self.track.offset += i as u64;
            if next.is_some() {
                return Ok(newline);
            }
        }
    }

    /// Appends the next line (with its newline) to `out`; returns its line number, or `None` at
    /// the end of the input.
    pub(crate) fn read_line(
        &mut self,
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<Option<u64>, Fault> {
        let line = self.track.line;
        let n = read_until_newline(&mut *self.reader, out, limit + 1).map_err(Fault::Io)?;
        if n == 0 {
            return Ok(None);
        }
        if out.last() == Some(&b'\n') {
            self.track.newline(n - 1);
        } else if out.len() > limit {
            return Err(Fault::TooLarge { line, limit });
        }
        self.track.offset += n as u64;
        Ok(Some(line))
    }

    /// Copies one JSON value (the next byte must start it) to `out`. Checks the structure
    /// (brackets, strings, commas, colons) so that values are split at the right place; the
    /// contents of strings and numbers are left for serde to check when it parses the copy.
    pub(crate) fn copy_value(&mut self, out: &mut Vec<u8>, limit: usize) -> Result<(), Fault> {
        let start_line = self.track.line;
        let start_len = out.len();
        self.stack.clear();
        let mut scan = Scan {
            stack: &mut self.stack,
            expect: Expect::Value,
            mode: Mode::Structural,
            done: false,
        };
        loop {
            let chunk = self.reader.fill_buf().map_err(Fault::Io)?;
            if chunk.is_empty() {
                return scan.at_eof().map_err(|m| self.track.syntax_at(0, m));
            }
            match scan.run(chunk, &mut self.track) {
                Ok((used, done)) => {
                    out.extend_from_slice(&chunk[..used]);
                    self.reader.consume(used);
                    self.track.offset += used as u64;
                    if done {
                        return Ok(());
                    }
                    if out.len() - start_len > limit {
                        return Err(Fault::TooLarge {
                            line: start_line,
                            limit,
                        });
                    }
                }
                Err((i, message)) => return Err(self.track.syntax_at(i, message)),
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Value,
    /// Right after `[`: a value or `]`.
    ValueOrEnd,
    /// After `,` in an object.
    Key,
    /// Right after `{`: a key or `}`.
    KeyOrEnd,
    Colon,
    CommaOrEnd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Structural,
    Str {
        key: bool,
    },
    /// After a backslash in a string: the next byte is escaped.
    Escape {
        key: bool,
    },
    /// Inside a number or a literal (`true`, `false`, `null`).
    Scalar,
}

struct Scan<'s> {
    stack: &'s mut Vec<u8>,
    expect: Expect,
    mode: Mode,
    done: bool,
}

type ScanError = (usize, &'static str);

impl Scan<'_> {
    /// Scans `chunk` until the value ends; returns how many bytes belong to the value and
    /// whether it ended.
    fn run(&mut self, chunk: &[u8], track: &mut Track) -> Result<(usize, bool), ScanError> {
        let n = chunk.len();
        let mut i = 0;
        while i < n {
            match self.mode {
                Mode::Str { key } => match string_end(&chunk[i..]) {
                    None => return Ok((n, false)),
                    Some(k) => {
                        i += k;
                        if chunk[i] == b'\\' {
                            self.mode = Mode::Escape { key };
                            i += 1;
                        } else {
                            i += 1;
                            self.mode = Mode::Structural;
                            if key {
                                self.expect = Expect::Colon;
                            } else if self.end_value() {
                                return Ok((i, true));
                            }
                        }
                    }
                },
                Mode::Escape { key } => {
                    i += 1;
                    self.mode = Mode::Str { key };
                }
                Mode::Scalar => {
                    while i < n && is_scalar_byte(chunk[i]) {
                        i += 1;
                    }
                    if i == n {
                        return Ok((n, false));
                    }
                    self.mode = Mode::Structural;
                    if self.end_value() {
                        return Ok((i, true));
                    }
                }
                Mode::Structural => {
                    match chunk[i] {
                        b' ' | b'\t' | b'\r' => {}
                        b'\n' => track.newline(i),
                        b => self.structural(b).map_err(|m| (i, m))?,
                    }
                    i += 1;
                    if self.done {
                        return Ok((i, true));
                    }
                }
            }
        }
        Ok((n, false))
    }

    fn structural(&mut self, b: u8) -> Result<(), &'static str> {
        match self.expect {
            Expect::Value | Expect::ValueOrEnd => match b {
                b'{' => {
                    self.push(b)?;
                    self.expect = Expect::KeyOrEnd;
                }
                b'[' => {
                    self.push(b)?;
                    self.expect = Expect::ValueOrEnd;
                }
                b'"' => self.mode = Mode::Str { key: false },
                b'-' | b'0'..=b'9' | b't' | b'f' | b'n' => self.mode = Mode::Scalar,
                b']' if self.expect == Expect::ValueOrEnd => {
                    self.stack.pop();
                    self.end_value();
                }
                _ => return Err("expected value"),
            },
            Expect::Key | Expect::KeyOrEnd => match b {
                b'"' => self.mode = Mode::Str { key: true },
                b'}' if self.expect == Expect::KeyOrEnd => {
                    self.stack.pop();
                    self.end_value();
                }
                _ => return Err("key must be a string"),
            },
            Expect::Colon => {
                if b != b':' {
                    return Err("expected `:`");
                }
                self.expect = Expect::Value;
            }
            Expect::CommaOrEnd => {
                let in_object = self.stack.last() == Some(&b'{');
                match (b, in_object) {
                    (b',', true) => self.expect = Expect::Key,
                    (b',', false) => self.expect = Expect::Value,
                    (b'}', true) | (b']', false) => {
                        self.stack.pop();
                        self.end_value();
                    }
                    (_, true) => return Err("expected `,` or `}`"),
                    (_, false) => return Err("expected `,` or `]`"),
                }
            }
        }
        Ok(())
    }

    fn push(&mut self, b: u8) -> Result<(), &'static str> {
        if self.stack.len() >= MAX_DEPTH {
            return Err("nesting too deep");
        }
        self.stack.push(b);
        Ok(())
    }

    /// A value just ended: the whole value when nothing is open, else the next member.
    fn end_value(&mut self) -> bool {
        if self.stack.is_empty() {
            self.done = true;
        } else {
            self.expect = Expect::CommaOrEnd;
        }
        self.done
    }

    fn at_eof(&mut self) -> Result<(), &'static str> {
        match self.mode {
            Mode::Scalar if self.stack.is_empty() => Ok(()),
            Mode::Str { .. } | Mode::Escape { .. } => Err("EOF while parsing a string"),
            _ => match self.stack.last() {
                Some(b'{') => Err("EOF while parsing an object"),
                Some(_) => Err("EOF while parsing a list"),
                None => Err("EOF while parsing a value"),
            },
        }
    }
}

/// The first `"` or `\` in `rest`. Most strings are short keys, where a plain loop beats
/// setting up a vectorized search; long ones (messages) get the vectorized search.
fn string_end(rest: &[u8]) -> Option<usize> {
    const SHORT: usize = 24;
    let head = &rest[..rest.len().min(SHORT)];
    match head.iter().position(|&b| b == b'"' || b == b'\\') {
        Some(k) => Some(k),
        None => memchr2(b'"', b'\\', &rest[head.len()..]).map(|k| k + head.len()),
    }
}

/// What `reader.take(max).read_until(b'\n', out)` does, with the memchr crate's search for the
/// newline: std's byte search was most of reading an NDJSON line (issue 14 §5).
fn read_until_newline(
    reader: &mut dyn BufRead,
    out: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<usize> {
    let mut n = 0;
    while n < max {
        let chunk = match reader.fill_buf() {
            Ok(chunk) => chunk,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            break;
        }
        let chunk = &chunk[..chunk.len().min(max - n)];
        let (used, done) = match memchr(b'\n', chunk) {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        out.extend_from_slice(&chunk[..used]);
        reader.consume(used);
        n += used;
        if done {
            break;
        }
    }
    Ok(n)
}

fn is_scalar_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn input(s: &str) -> Input {
        // A tiny buffer so that values cross chunk boundaries.
        let reader =
            std::io::BufReader::with_capacity(3, std::io::Cursor::new(s.as_bytes().to_vec()));
        Input::new(Box::new(reader), 1)
    }

    fn values(s: &str) -> Result<Vec<String>, Fault> {
        let mut input = input(s);
        let mut out = Vec::new();
        while input.skip_ws(None)?.is_some() {
            let mut v = Vec::new();
            input.copy_value(&mut v, 1 << 20)?;
            out.push(String::from_utf8(v).expect("test input is UTF-8"));
        }
        Ok(out)
    }

    #[test]
    fn concatenated_values_are_split_where_they_end() {
        let got = values(r#"{"a":"x\"}"} [1, {"b": [true]}] "s\\" 12 null{}"#).unwrap();
        assert_eq!(
            got,
            [
                r#"{"a":"x\"}"}"#,
                r#"[1, {"b": [true]}]"#,
                r#""s\\""#,
                "12",
                "null",
                "{}"
            ]
        );
    }

    #[test]
    fn structure_errors_say_where() {
        let err = values("{\"a\": 1,\n  \"b\" 2}").unwrap_err();
        match err {
            Fault::Syntax {
                line,
                column,
                message,
            } => {
                assert_eq!((line, column), (2, Some(7)));
                assert_eq!(message, "expected `:`");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn a_value_cut_short_is_an_error() {
        assert!(matches!(values("[{\"a\": 1}"), Err(Fault::Syntax { .. })));
        assert!(matches!(values("\"abc"), Err(Fault::Syntax { .. })));
    }

    proptest::proptest! {
        /// Reading lines with memchr (issue 14 §5) reads what `take(max).read_until` read:
        /// the same bytes and counts, line after line, across chunk boundaries.
        #[test]
        fn lines_are_read_as_take_and_read_until_read_them(
            text in "[ab\n]{0,40}",
            capacity in 1usize..8,
            max in 1usize..10,
        ) {
            let reader = |text: &str| {
                std::io::BufReader::with_capacity(capacity, std::io::Cursor::new(text.as_bytes().to_vec()))
            };
            let (mut ours, mut std_) = (reader(&text), reader(&text));
            loop {
                let (mut a, mut b) = (Vec::new(), Vec::new());
                let n = read_until_newline(&mut ours, &mut a, max).unwrap();
                let m = (&mut std_).take(max as u64).read_until(b'\n', &mut b).unwrap();
                proptest::prop_assert_eq!((n, &a), (m, &b));
                if n == 0 {
                    break;
                }
            }
        }
    }

    #[test]
    fn lines_are_counted_between_values() {
        let mut input = input("{}\n\n  {}");
        input.skip_ws(None).unwrap();
        input.copy_value(&mut Vec::new(), 100).unwrap();
        input.skip_ws(None).unwrap();
        assert_eq!(input.pos(), Pos { line: 3, column: 3 });
    }
}
