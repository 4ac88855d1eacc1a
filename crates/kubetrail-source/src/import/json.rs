//! JSON in all the shapes dumps come in, streamed one value at a time:
//! - a List (`kubectl get events -A -o json`): the top-level object is walked member by member
//!   and the elements of its `items` array are handed over one by one;
//! - a bare array of Events;
//! - concatenated values, pretty or not (`kubectl get events -w -o json`, with or without watch
//!   envelopes);
//! - NDJSON: when the first value is an object alone on the first line, the rest is read line
//!   by line and each line parsed as it is, the fastest path.

use super::Raw;
use super::fault::{Fault, Pos};
use super::scan::Input;

/// The most one value may take in memory: a single Event is a few KiB.
pub(crate) const MAX_VALUE: usize = 64 << 20;

pub(crate) struct JsonReader {
    input: Input,
    state: State,
    /// A top-level value; for a List, its members other than `items`.
    top: Vec<u8>,
    top_start: Pos,
    /// The `kind` of the top-level object being walked.
    kind: Option<String>,
    /// One element of a list, or one line.
    item: Vec<u8>,
    /// Elements of the list being streamed so far.
    items: u64,
    /// Top-level values so far.
    values: u64,
}

/// Where the reader is in the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between top-level values; the next one may be an object, an array or anything else.
    Top,
    /// NDJSON: one value per line until the end.
    Lines,
    /// Inside a top-level array; `first` until an element has been read.
    Array {
        first: bool,
    },
    /// Inside a top-level object, between members. `list` once its `items` were streamed.
    Members {
        first: bool,
        list: bool,
    },
    /// Inside the `items` array of a top-level object.
    Items {
        first: bool,
    },
    Done,
}

enum Member {
    /// `"items": [` was consumed: the elements follow.
    ItemsStart,
    Next,
    /// The closing brace was consumed.
    End,
}

impl JsonReader {
    pub(crate) fn new(input: Input) -> JsonReader {
        JsonReader {
            input,
            state: State::Top,
            top: Vec::new(),
            top_start: Pos { line: 1, column: 1 },
            kind: None,
            item: Vec::new(),
            items: 0,
            values: 0,
        }
    }

    pub(crate) fn is_ndjson(&self) -> bool {
        self.state == State::Lines
    }

    pub(crate) fn next_raw(&mut self) -> Result<Option<Raw<'_>>, Fault> {
        loop {
            match self.state {
                State::Done => return Ok(None),
                State::Top => {
                    let Some(b) = self.input.skip_ws(None)? else {
                        self.state = State::Done;
                        return Ok(None);
                    };
                    self.top_start = self.input.pos();
                    self.top.clear();
                    match b {
                        b'{' => {
                            self.input.bump(Some(&mut self.top))?;
                            self.kind = None;
                            self.state = State::Members {
                                first: true,
                                list: false,
                            };
                        }
                        b'[' => {
                            self.input.bump(None)?;
                            self.items = 0;
                            self.state = State::Array { first: true };
                        }
                        _ => {
                            self.input.copy_value(&mut self.top, MAX_VALUE)?;
                            self.values += 1;
                            let pos = self.top_start;
                            return Ok(Some(Raw::Json {
                                bytes: &self.top,
                                pos,
                            }));
                        }
                    }
                }
                State::Members { first, list } => match self.member(first)? {
                    Member::ItemsStart => {
                        self.items = 0;
                        self.state = State::Items { first: true };
                    }
                    Member::Next => self.state = State::Members { first: false, list },
                    Member::End => {
                        self.state = State::Top;
                        self.values += 1;
                        if list {
                            let kind = self.kind.take();
                            let items = self.items;
                            return Ok(Some(Raw::ListEnd { kind, items }));
                        }
                        if self.values == 1
                            && self.input.pos().line == self.top_start.line
                            && self.input.rest_of_line_blank()?
                        {
                            self.state = State::Lines;
                        }
                        let pos = self.top_start;
                        return Ok(Some(Raw::Json {
                            bytes: &self.top,
                            pos,
                        }));
                    }
                },
                State::Items { first } | State::Array { first } => {
                    let in_object = matches!(self.state, State::Items { .. });
                    let Some(b) = self.input.skip_ws(None)? else {
                        return Err(self.input.syntax_here("EOF while parsing a list"));
                    };
                    if b == b']' {
                        self.input.bump(None)?;
                        if in_object {
                            self.state = State::Members {
                                first: false,
                                list: true,
                            };
                        } else {
                            self.state = State::Top;
                            self.values += 1;
                            let items = self.items;
                            return Ok(Some(Raw::ListEnd { kind: None, items }));
                        }
                        continue;
                    }
                    if !first {
                        if b != b',' {
                            return Err(self.input.syntax_here("expected `,` or `]`"));
                        }
                        self.input.bump(None)?;
                        if self.input.skip_ws(None)?.is_none() {
                            return Err(self.input.syntax_here("EOF while parsing a list"));
                        }
                    }
                    let pos = self.input.pos();
                    self.item.clear();
                    self.input.copy_value(&mut self.item, MAX_VALUE)?;
                    self.items += 1;
                    self.state = if in_object {
                        State::Items { first: false }
                    } else {
                        State::Array { first: false }
                    };
                    return Ok(Some(Raw::Json {
                        bytes: &self.item,
                        pos,
                    }));
                }
                State::Lines => loop {
                    self.item.clear();
                    let Some(line) = self.input.read_line(&mut self.item, MAX_VALUE)? else {
                        self.state = State::Done;
                        return Ok(None);
                    };
                    let (start, end) = trim(&self.item);
                    if start == end {
                        continue;
                    }
                    self.values += 1;
                    let pos = Pos {
                        line,
                        column: start as u64 + 1,
                    };
                    return Ok(Some(Raw::Json {
                        bytes: &self.item[start..end],
                        pos,
                    }));
                },
            }
        }
    }

    /// Walks one member of a top-level object, copying it to `top`, except that the elements
    /// of an `items` array are left to be streamed.
    fn member(&mut self, first: bool) -> Result<Member, Fault> {
        let input = &mut self.input;
        let top = &mut self.top;
        let eof = |input: &Input| input.syntax_here("EOF while parsing an object");
        let Some(mut b) = input.skip_ws(Some(top))? else {
            return Err(eof(input));
        };
        if b == b'}' {
            input.bump(Some(top))?;
            return Ok(Member::End);
        }
        if !first {
            if b != b',' {
                return Err(input.syntax_here("expected `,` or `}`"));
            }
            input.bump(Some(top))?;
            b = input.skip_ws(Some(top))?.ok_or_else(|| eof(input))?;
        }
        if b != b'"' {
            return Err(input.syntax_here("key must be a string"));
        }
        let key_start = top.len();
        input.copy_value(top, MAX_VALUE)?;
        let key = &top[key_start..];
        let (is_items, is_kind) = (key == b"\"items\"", key == b"\"kind\"");
        if input.skip_ws(Some(top))?.ok_or_else(|| eof(input))? != b':' {
            return Err(input.syntax_here("expected `:`"));
        }
        input.bump(Some(top))?;
        let b = input.skip_ws(Some(top))?.ok_or_else(|| eof(input))?;
        if is_items && b == b'[' {
            input.bump(None)?;
            return Ok(Member::ItemsStart);
        }
        let value_start = top.len();
        input.copy_value(top, MAX_VALUE)?;
        if is_kind {
            self.kind = serde_json::from_slice::<String>(&top[value_start..]).ok();
        }
        if top.len() > MAX_VALUE {
            return Err(Fault::TooLarge {
                line: self.top_start.line,
                limit: MAX_VALUE,
            });
        }
        Ok(Member::Next)
    }
}

fn trim(bytes: &[u8]) -> (usize, usize) {
    let is_ws = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let start = bytes.iter().position(|b| !is_ws(b)).unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !is_ws(b))
        .map_or(start, |i| i + 1);
    (start, end)
}
