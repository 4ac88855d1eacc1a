//! YAML as `kubectl get events -o yaml` writes it, and multi-document streams of Lists and
//! single objects, streamed by splitting lines:
//! - documents end at `---` / `...` lines;
//! - in a document, a top-level `items:` line makes it a List; each item then starts at a `- `
//!   line at the indentation of the first one and is parsed on its own (a Kubernetes List
//!   has one item per Event, so this holds one Event at a time, however long the list);
//! - any other document is a single object, parsed whole.
//!
//! Each piece of text is parsed with yaml_serde knowing its first line, so errors say
//! `file:line:column`. Merge keys (`<<: *base`) are applied; an item that uses an anchor
//! defined outside it (in the List's header, in an earlier item) is resolved as YAML does
//! (`anchors`).

use std::collections::VecDeque;
use std::io::{BufRead, Read};

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::Raw;
use super::anchors::{Anchors, from_yaml};
use super::fault::Fault;
use super::json::MAX_VALUE;

pub(crate) struct YamlReader {
    reader: Box<dyn BufRead + Send>,
    raw: Vec<u8>,
    /// The number of the next line to read.
    next_line: u64,
    state: State,
    /// The piece being collected (a document, a List header, an item or a List trailer).
    text: String,
    text_line: u64,
    /// While the state is `ItemsPending`: where the `items:` line starts in `text`.
    header_len: usize,
    /// Items of the List being split so far.
    items: u64,
    /// Pieces complete, to be parsed in order.
    ready: VecDeque<Ready>,
    /// The `kind` of the List being read, from its header or trailer (parse order).
    kind: Option<String>,
    /// Anchors the List's items may use (parse order).
    anchors: Anchors,
    eof: bool,
}

/// Where the splitter is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Outside documents, or in one with nothing but comments so far.
    Between,
    /// In a document that has not shown a top-level `items:` (yet).
    Doc,
    /// After a top-level `items:` line; the next content line says whether a list follows.
    ItemsPending,
    /// In a List's items; `text` holds the current one. Items start at `- ` lines at `indent`.
    Items { indent: usize },
    /// After a List's items, in the rest of its document (`kind`, `metadata`).
    Trailer,
}

enum Ready {
    Doc { text: String, line: u64 },
    ListStart { header: Option<(String, u64)> },
    Item { text: String, line: u64 },
    Trailer { text: String, line: u64 },
    ListEnd { items: u64 },
}

impl YamlReader {
    pub(crate) fn new(reader: Box<dyn BufRead + Send>, first_line: u64) -> YamlReader {
        YamlReader {
            reader,
            raw: Vec::new(),
            next_line: first_line,
            state: State::Between,
            text: String::new(),
            text_line: first_line,
            header_len: 0,
            items: 0,
            ready: VecDeque::new(),
            kind: None,
            anchors: Anchors::default(),
            eof: false,
        }
    }

    pub(crate) fn next_raw(&mut self) -> Result<Option<Raw<'static>>, Fault> {
        loop {
            if let Some(ready) = self.ready.pop_front() {
                if let Some(raw) = self.parse(ready)? {
                    return Ok(Some(raw));
                }
                continue;
            }
            if self.eof {
                return Ok(None);
            }
            self.read_line()?;
        }
    }

    fn parse(&mut self, ready: Ready) -> Result<Option<Raw<'static>>, Fault> {
        Ok(match ready {
            Ready::Doc { text, line } => match parse::<Value>(&text, line)? {
                // Only comments, or an explicit null: nothing to import.
                Ok(Value::Null) => None,
                Ok(value) => Some(Raw::Value {
                    value,
                    line: Some(line),
                }),
                Err(message) => Some(Raw::Unsupported { line, message }),
            },
            Ready::ListStart { header } => {
                self.kind = None;
                self.anchors
                    .start(header.as_ref().map(|(text, _)| text.as_str()));
                if let Some((text, line)) = header {
                    self.kind = kind_of(&text, line)?;
                }
                None
            }
            Ready::Item { text, line } => {
                let parsed = parse::<Vec<Value>>(&text, line);
                let resolved = match &parsed {
                    Ok(Ok(_)) => None,
                    // Perhaps an alias to an anchor outside the item (YAML allows it).
                    _ => self.anchors.resolve(&text),
                };
                self.anchors.remember(&text);
                let at = Some(line);
                match resolved {
                    Some(value) => Some(Raw::Value { value, line: at }),
                    None => match parsed? {
                        Ok(values) => values
                            .into_iter()
                            .next()
                            .map(|value| Raw::Value { value, line: at }),
                        Err(message) => Some(Raw::Unsupported { line, message }),
                    },
                }
            }
            Ready::Trailer { text, line } => {
                let kind = kind_of(&text, line)?;
                if self.kind.is_none() {
                    self.kind = kind;
                }
                None
            }
            Ready::ListEnd { items } => {
                self.anchors = Anchors::default();
                Some(Raw::ListEnd {
                    kind: self.kind.take(),
                    items,
                })
            }
        })
    }

    fn read_line(&mut self) -> Result<(), Fault> {
        let mut raw = std::mem::take(&mut self.raw);
        raw.clear();
        let n = (&mut self.reader)
            .take(MAX_VALUE as u64 + 1)
            .read_until(b'\n', &mut raw)
            .map_err(Fault::Io)?;
        let no = self.next_line;
        if n == 0 {
            self.finish()?;
            self.eof = true;
            self.raw = raw;
            return Ok(());
        }
        self.next_line += 1;
        if raw.last() != Some(&b'\n') && raw.len() > MAX_VALUE {
            return Err(Fault::TooLarge {
                line: no,
                limit: MAX_VALUE,
            });
        }
        // (A byte order mark was consumed when the format was detected.)
        let bytes = raw.strip_suffix(b"\n").unwrap_or(&raw);
        let line = std::str::from_utf8(bytes).map_err(|e| Fault::Syntax {
            line: no,
            column: Some(e.valid_up_to() as u64 + 1),
            message: "invalid UTF-8".to_string(),
        })?;
        let result = self.on_line(line, no);
        self.raw = raw;
        result
    }

    fn on_line(&mut self, line: &str, no: u64) -> Result<(), Fault> {
        let kind = classify(line);
        match (self.state, kind) {
            // A new document, or the end of one, ends whatever was open.
            (_, Line::DocStart { content }) => {
                self.finish()?;
                if content {
                    self.start(State::Doc, line, no)?;
                }
            }
            (_, Line::DocEnd) => self.finish()?,

            (State::Between, Line::Blank | Line::Comment | Line::Directive) => {}
            (
                State::Between,
                Line::Content {
                    indent: 0,
                    dash: true,
                    ..
                },
            ) => {
                self.list_start(None);
                self.start(State::Items { indent: 0 }, line, no)?;
            }
            (State::Between, Line::Content { items: true, .. }) => {
                self.start(State::ItemsPending, line, no)?;
                self.header_len = 0;
            }
            (State::Between, Line::Content { .. }) => self.start(State::Doc, line, no)?,

            (State::Doc, Line::Content { items: true, .. }) => {
                self.header_len = self.text.len();
                self.push(line)?;
                self.state = State::ItemsPending;
            }
            (State::Doc | State::Trailer, _) => self.push(line)?,

            (
                State::ItemsPending,
                Line::Content {
                    indent, dash: true, ..
                },
            ) => {
                self.header_done();
                self.start(State::Items { indent }, line, no)?;
            }
            (State::ItemsPending, Line::Content { indent: 0, .. }) => {
                // `items:` with nothing under it; this is the next top-level key.
                self.header_done();
                self.start(State::Trailer, line, no)?;
            }
            (State::ItemsPending, Line::Content { .. }) => {
                // `items` holds something other than a sequence: read the document whole.
                self.push(line)?;
                self.state = State::Doc;
            }
            (State::ItemsPending, _) => self.push(line)?,

            (State::Items { indent: at }, Line::Content { indent, dash, .. }) => {
                if indent == at && dash {
                    self.end_item();
                    self.start(State::Items { indent }, line, no)?;
                } else if indent > at || (indent == at && at > 0) {
                    self.push(line)?;
                } else {
                    self.end_item();
                    self.start(State::Trailer, line, no)?;
                }
            }
            (State::Items { .. }, _) => self.push(line)?,
        }
        Ok(())
    }

    /// Ends what is open at the end of a document.
    fn finish(&mut self) -> Result<(), Fault> {
        match self.state {
            State::Between => {}
            State::Doc => {
                let text = std::mem::take(&mut self.text);
                self.ready.push_back(Ready::Doc {
                    text,
                    line: self.text_line,
                });
            }
            State::ItemsPending => {
                self.header_done();
                self.list_end();
            }
            State::Items { .. } => {
                self.end_item();
                self.list_end();
            }
            State::Trailer => {
                let text = std::mem::take(&mut self.text);
                self.ready.push_back(Ready::Trailer {
                    text,
                    line: self.text_line,
                });
                self.list_end();
            }
        }
        self.state = State::Between;
        Ok(())
    }

    fn start(&mut self, state: State, line: &str, no: u64) -> Result<(), Fault> {
        self.text.clear();
        self.text_line = no;
        self.state = state;
        self.push(line)
    }

    fn push(&mut self, line: &str) -> Result<(), Fault> {
        if self.text.len() + line.len() > MAX_VALUE {
            return Err(Fault::TooLarge {
                line: self.text_line,
                limit: MAX_VALUE,
            });
        }
        self.text.push_str(line);
        self.text.push('\n');
        Ok(())
    }

    /// The List's header (everything before `items:`) is complete.
    fn header_done(&mut self) {
        let mut text = std::mem::take(&mut self.text);
        text.truncate(self.header_len);
        let header = (!text.trim().is_empty()).then_some((text, self.text_line));
        self.list_start(header);
    }

    fn list_start(&mut self, header: Option<(String, u64)>) {
        self.items = 0;
        self.ready.push_back(Ready::ListStart { header });
    }

    fn end_item(&mut self) {
        let text = std::mem::take(&mut self.text);
        self.items += 1;
        self.ready.push_back(Ready::Item {
            text,
            line: self.text_line,
        });
    }

    fn list_end(&mut self) {
        self.ready.push_back(Ready::ListEnd { items: self.items });
    }
}

/// The `kind` of a List header or trailer; parsing it also checks its syntax.
fn kind_of(text: &str, line: u64) -> Result<Option<String>, Fault> {
    Ok(match parse::<Value>(text, line)? {
        Ok(value) => value
            .get("kind")
            .and_then(Value::as_str)
            .map(str::to_string),
        Err(_) => None,
    })
}

/// Parses `text`, whose first line is `line` of the file. A syntax error is a fault; valid YAML
/// with no JSON equivalent (non-string keys, tags) is `Ok(Err(message))`.
fn parse<T: DeserializeOwned>(text: &str, line: u64) -> Result<Result<T, String>, Fault> {
    match from_yaml::<T>(text) {
        Ok(value) => Ok(Ok(value)),
        Err(err) => match yaml_serde::from_str::<yaml_serde::Value>(text) {
            Ok(_) => Ok(Err(super::fault::yaml_message(&err, line))),
            Err(syntax) => Err(Fault::yaml(&syntax, line)),
        },
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Line {
    Blank,
    Comment,
    /// `---`; `content` when something other than a comment follows it on the line.
    DocStart {
        content: bool,
    },
    DocEnd,
    Directive,
    Content {
        indent: usize,
        /// Starts a sequence entry (`- ` or a lone `-`).
        dash: bool,
        /// A top-level `items:` with nothing after it.
        items: bool,
    },
}

fn classify(line: &str) -> Line {
    let trimmed = line.trim_end();
    if trimmed.is_empty() {
        return Line::Blank;
    }
    if let Some(rest) = marker(trimmed, "---") {
        let content = !rest.is_empty() && !rest.starts_with('#');
        return Line::DocStart { content };
    }
    if marker(trimmed, "...").is_some() {
        return Line::DocEnd;
    }
    let body = trimmed.trim_start_matches(' ');
    let indent = trimmed.len() - body.len();
    if body.starts_with('#') {
        return Line::Comment;
    }
    if indent == 0 && body.starts_with('%') {
        return Line::Directive;
    }
    let dash = body == "-" || body.starts_with("- ") || body.starts_with("-\t");
    let items = indent == 0
        && body
            .strip_prefix("items:")
            .map(str::trim)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('#'));
    Line::Content {
        indent,
        dash,
        items,
    }
}

/// `line` is the marker alone or followed by blanks and more; returns what follows.
fn marker<'a>(line: &'a str, marker: &str) -> Option<&'a str> {
    let rest = line.strip_prefix(marker)?;
    (rest.is_empty() || rest.starts_with([' ', '\t'])).then(|| rest.trim_start())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raws(text: &str) -> Result<Vec<String>, Fault> {
        let reader = Box::new(std::io::Cursor::new(text.as_bytes().to_vec()));
        let mut yaml = YamlReader::new(reader, 1);
        let mut out = Vec::new();
        while let Some(raw) = yaml.next_raw()? {
            out.push(match raw {
                Raw::Value { value, line } => format!("{}@{}", value, line.unwrap_or(0)),
                Raw::ListEnd { kind, items } => format!("end {kind:?} {items}"),
                Raw::Unsupported { line, .. } => format!("unsupported@{line}"),
                Raw::Json { .. } => unreachable!("YAML gives values"),
            });
        }
        Ok(out)
    }

    #[test]
    fn a_list_is_split_into_items_with_their_lines() {
        let text = "# comment\napiVersion: v1\nitems:\n- a: 1\n  b: |\n    x\n    - y\n\n- a: 2\nkind: EventList\nmetadata: {}\n";
        assert_eq!(
            raws(text).unwrap(),
            [
                r#"{"a":1,"b":"x\n- y\n"}@4"#,
                r#"{"a":2}@9"#,
                r#"end Some("EventList") 2"#
            ]
        );
    }

    #[test]
    fn indented_items_and_documents_mix() {
        let text = "---\nkind: Pod\n---\n# c\nitems:\n  - a: 1\n  -   a: 2\n      b: 3\nkind: List\n...\n--- {x: 1}\n";
        assert_eq!(
            raws(text).unwrap(),
            [
                r#"{"kind":"Pod"}@2"#,
                r#"{"a":1}@6"#,
                r#"{"a":2,"b":3}@7"#,
                r#"end Some("List") 2"#,
                r#"{"x":1}@11"#
            ]
        );
    }

    #[test]
    fn empty_and_flow_lists() {
        assert_eq!(
            raws("items: []\nkind: List\n").unwrap(),
            [r#"{"items":[],"kind":"List"}@1"#]
        );
        assert_eq!(
            raws("items:\nkind: List\n").unwrap(),
            [r#"end Some("List") 0"#]
        );
        assert_eq!(
            raws("- a: 1\n- a: 2\n").unwrap(),
            [r#"{"a":1}@1"#, r#"{"a":2}@2"#, "end None 2"]
        );
    }

    #[test]
    fn syntax_errors_have_file_lines() {
        let err = raws("apiVersion: v1\nitems:\n- a: 1\n- a: [\n  b: 2\n").unwrap_err();
        let Fault::Syntax { line, .. } = err else {
            panic!("{err:?}")
        };
        assert!((4..=6).contains(&line), "{line}");
        let err = raws("a: 1\n b: 2\n").unwrap_err();
        let Fault::Syntax { line, column, .. } = err else {
            panic!("{err:?}")
        };
        assert_eq!((line, column), (2, Some(3)));
    }

    /// Issue 11, item 14: anchors defined outside an item (`- *e`, `<<: *base` defined at
    /// List level) failed with "unknown anchor", and merge keys stayed a `<<` key.
    #[test]
    fn anchors_defined_outside_an_item_resolve_as_yaml_does() {
        let text = "apiVersion: v1\nbase: &base\n  type: Warning\n  reason: BackOff\nitems:\n- &e\n  <<: *base\n  n: 1\n- *e\n- <<: *base\n  reason: Other\nkind: List\n";
        assert_eq!(
            raws(text).unwrap(),
            [
                r#"{"n":1,"reason":"BackOff","type":"Warning"}@6"#,
                r#"{"n":1,"reason":"BackOff","type":"Warning"}@9"#,
                r#"{"reason":"Other","type":"Warning"}@10"#,
                r#"end Some("List") 3"#
            ]
        );
        // A top-level sequence, and a document whose anchors stay inside it.
        assert_eq!(
            raws("- &e {a: 1}\n- *e\n---\nx: &y {b: 2}\nz: {<<: *y, c: 3}\n").unwrap(),
            [
                r#"{"a":1}@1"#,
                r#"{"a":1}@2"#,
                "end None 2",
                r#"{"x":{"b":2},"z":{"b":2,"c":3}}@4"#
            ]
        );
        // An anchor of another document is unknown, as in YAML.
        let err = raws("- &e {a: 1}\n---\n- *e\n").unwrap_err();
        assert!(matches!(err, Fault::Syntax { line: 3, .. }), "{err:?}");
    }

    #[test]
    fn non_string_keys_are_unsupported_not_errors() {
        assert_eq!(raws("1: a\n").unwrap(), [r#"{"1":"a"}@1"#]);
        assert_eq!(raws("---\n? [a, b]\n: c\n").unwrap(), ["unsupported@2"]);
    }
}
