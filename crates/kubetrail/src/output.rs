//! Printing results: aligned tables for people, JSON and NDJSON for machines.
//!
//! Event text is written by whoever can create an Event, so nothing meant for people reaches
//! the terminal raw: [`visible`] shows every control character as an escape (`\e`, `\a`,
//! `\x01`, `\u{9b}`…), and every human-readable writer goes through it — [`Table`] cell by cell,
//! the rest through [`Human`]. JSON and NDJSON keep the exact text.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::{IsTerminal, Write};

use anyhow::Result;
use jiff::Timestamp;
use serde::Serialize;

use crate::args::{ColorChoice, Output};

/// How tables and times are shown, from the global flags (set once by `main`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Style {
    /// `--no-headers`: tables without their header line.
    pub no_headers: bool,
    /// `--local-time`: times in the local time zone (`TZ`), not UTC.
    pub local_time: bool,
    /// Severities in colour: `--color always`, or `auto` on a terminal without `NO_COLOR`.
    pub color: bool,
    /// Table lines cut to this many columns (the terminal's width, or `COLUMNS`).
    pub width: Option<usize>,
}

static STYLE: std::sync::OnceLock<Style> = std::sync::OnceLock::new();

impl Style {
    /// The style of the flags; the width from `COLUMNS`, else the terminal's.
    pub fn from_flags(no_headers: bool, local_time: bool, color: ColorChoice) -> Style {
        let terminal = std::io::stdout().is_terminal();
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let color = match color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => terminal && !no_color,
        };
        let width = std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.trim().parse::<usize>().ok())
            .filter(|w| *w > 0)
            .or_else(|| terminal.then(terminal_width).flatten());
        Style {
            no_headers,
            local_time,
            color,
            width,
        }
    }

    pub fn set(self) {
        let _ = STYLE.set(self);
    }

    pub fn get() -> Style {
        STYLE.get().copied().unwrap_or_default()
    }
}

fn terminal_width() -> Option<usize> {
    rustix::termios::tcgetwinsize(std::io::stdout())
        .ok()
        .map(|w| usize::from(w.ws_col))
        .filter(|w| *w > 0)
}

/// Prints a status line of a long-running command (`run`, `serve`, `demo`) on stdout. Unlike
/// `println!`, a reader that went away (`kubetrail demo | head`) is no reason to stop: the line
/// is dropped and the command goes on.
pub fn say(line: impl std::fmt::Display) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
}

/// A time for tables: `2023-07-10 05:27:49` in UTC, or in the local zone with `--local-time`
/// (then with its offset).
pub fn clock(t: Timestamp) -> String {
    if Style::get().local_time {
        let zoned = t.to_zoned(jiff::tz::TimeZone::system());
        return zoned.strftime("%Y-%m-%d %H:%M:%S %:z").to_string();
    }
    t.strftime("%Y-%m-%d %H:%M:%S").to_string()
}

/// The format to use: the one asked for, else a table on a terminal and JSON otherwise;
/// `wide` is a table (with more columns where a command has them: [`wide`]).
pub fn choose(asked: Option<Output>) -> Output {
    match asked {
        Some(Output::Wide) => Output::Table,
        Some(asked) => asked,
        None if std::io::stdout().is_terminal() => Output::Table,
        None => Output::Json,
    }
}

/// `-o wide` was asked for.
pub fn wide(asked: Option<Output>) -> bool {
    asked == Some(Output::Wide)
}

/// Prints `items` to stdout in the chosen format: `table` draws them for people, else JSON or
/// NDJSON. What every listing command ends with.
pub fn print_items<T: Serialize>(
    asked: Option<Output>,
    items: &[T],
    table: impl FnOnce(&mut Human<&mut std::io::StdoutLock<'static>>) -> Result<()>,
) -> Result<std::process::ExitCode> {
    let mut out = std::io::stdout().lock();
    match choose(asked) {
        Output::Table => table(&mut Human::new(&mut out))?,
        // Buffered: stdout is line-buffered, and pretty JSON is many short lines (a write
        // each made `incidents -o json` over 30 days spend seconds in writes).
        format => {
            let mut buffered = std::io::BufWriter::new(&mut out);
            write_json(&mut buffered, items, format)?;
            buffered.flush()?;
        }
    }
    out.flush()?;
    Ok(std::process::ExitCode::SUCCESS)
}

/// Writes `items` as a JSON array or as NDJSON.
pub fn write_json<T: Serialize>(out: &mut impl Write, items: &[T], format: Output) -> Result<()> {
    match format {
        Output::Yaml => yaml_serde::to_writer(&mut *out, items)?,
        Output::Ndjson => {
            for item in items {
                serde_json::to_writer(&mut *out, item)?;
                out.write_all(b"\n")?;
            }
        }
        _ => {
            serde_json::to_writer_pretty(&mut *out, items)?;
            out.write_all(b"\n")?;
        }
    }
    Ok(())
}

/// A plain aligned table; the last column is not padded.
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
    /// Leave out the header line (a watch's later batches).
    headerless: bool,
}

/// The colour of a severity in a table: bold red critical, red error, yellow warning.
fn severity_color(cell: &str) -> Option<&'static str> {
    match cell {
        "critical" => Some("\x1b[1;31m"),
        "error" => Some("\x1b[31m"),
        "warning" => Some("\x1b[33m"),
        _ => None,
    }
}

const RESET: &str = "\x1b[0m";

impl Table {
    pub fn new<S: Into<String>>(headers: impl IntoIterator<Item = S>) -> Self {
        Table {
            headers: headers.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
            headerless: false,
        }
    }

    /// Leaves out the header line.
    pub fn headerless(mut self) -> Self {
        self.headerless = true;
        self
    }

    /// Writes the table for people, its SEVERITY column in colour when the style says so:
    /// the colour codes are the only bytes that bypass [`visible`] (cells are escaped first).
    pub fn write_colored<W: Write>(&self, out: &mut Human<W>) -> Result<()> {
        let column = self.headers.iter().position(|h| h == "SEVERITY");
        let color = Style::get().color;
        let paint = |i: usize, cell: &str| match (color, column) {
            (true, Some(c)) if c == i => severity_color(cell),
            _ => None,
        };
        self.write_lines(out, paint, |out, code| out.raw(code))
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn write(&self, out: &mut impl Write) -> Result<()> {
        self.write_lines(out, |_, _| None, |_, _| Ok(()))
    }

    /// Writes the lines; `paint(column, cell)` names a colour for a cell, which `raw` writes
    /// before it (and the reset after it).
    fn write_lines<W: Write>(
        &self,
        out: &mut W,
        paint: impl Fn(usize, &str) -> Option<&'static str>,
        raw: impl Fn(&mut W, &str) -> std::io::Result<()>,
    ) -> Result<()> {
        let rows: Vec<Vec<Cow<'_, str>>> = self
            .rows
            .iter()
            .map(|row| row.iter().map(|cell| visible(cell)).collect())
            .collect();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let style = Style::get();
        if let Some(width) = style.width {
            fit(&mut widths, width);
        }
        let line = |out: &mut W, cells: Vec<&str>, header: bool| -> Result<()> {
            let last = cells.len().saturating_sub(1);
            for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
                let cell: Cow<'_, str> = if cell.chars().count() > *w {
                    Cow::Owned(truncate(cell, *w))
                } else {
                    Cow::Borrowed(cell)
                };
                let code = if header { None } else { paint(i, &cell) };
                if let Some(code) = code {
                    raw(out, code)?;
                }
                out.write_all(cell.as_bytes())?;
                if code.is_some() {
                    raw(out, RESET)?;
                }
                if i < last {
                    let pad = w - cell.chars().count() + 2;
                    out.write_all(" ".repeat(pad).as_bytes())?;
                }
            }
            out.write_all(b"\n")?;
            Ok(())
        };
        if !style.no_headers && !self.headerless {
            line(out, self.headers.iter().map(String::as_str).collect(), true)?;
        }
        for row in &rows {
            line(out, row.iter().map(AsRef::as_ref).collect(), false)?;
        }
        Ok(())
    }
}

/// Narrows the widest columns, one character at a time, until a line fits in `width` (no
/// column below 10 characters: a table too wide even then stays wider).
fn fit(widths: &mut [usize], width: usize) {
    let budget = width.saturating_sub(2 * widths.len().saturating_sub(1));
    let mut total: usize = widths.iter().sum();
    while total > budget {
        let Some((i, w)) = widths.iter().copied().enumerate().max_by_key(|(_, w)| *w) else {
            return;
        };
        if w <= 10 {
            return;
        }
        widths[i] -= 1;
        total -= 1;
    }
}

/// `text` safe to show on a terminal: every control character (C0, DEL, C1, line breaks and
/// tabs included) and every bidirectional override is written as a visible escape — ESC as
/// `\e`, BEL as `\a`, NUL as `\0`, `\t`, `\n`, `\r`, other C0 and DEL as `\x01`, C1 and
/// overrides as `\u{9b}` — so that an Event cannot set the title, clear the screen, plant a
/// link or fake a line. The one rule for everything written for people.
pub fn visible(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '\u{1b}' => out.push_str("\\e"),
            '\u{7}' => out.push_str("\\a"),
            '\0' => out.push_str("\\0"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if u32::from(c) < 0x80 && needs_escape(c) => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Control characters (Unicode `Cc`: C0, DEL, C1) and the bidirectional embeddings, overrides
/// and isolates, which reorder what follows them on screen.
fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// A writer for people: what is written goes through [`visible`], except the line breaks,
/// which are the writer's own (text from events never holds one by then: [`Table`] cells and
/// [`truncate`]d notes have theirs escaped or flattened).
pub struct Human<W: Write> {
    inner: W,
    /// The start of a character split across writes.
    partial: Vec<u8>,
}

impl<W: Write> Human<W> {
    /// Writes `code` as it is: for the colour codes of [`Table::write_colored`] only, never
    /// for text from events.
    fn raw(&mut self, code: &str) -> std::io::Result<()> {
        self.inner.write_all(code.as_bytes())
    }

    pub fn new(inner: W) -> Self {
        Human {
            inner,
            partial: Vec::new(),
        }
    }

    fn emit(&mut self, text: &str) -> std::io::Result<()> {
        for (i, line) in text.split('\n').enumerate() {
            if i > 0 {
                self.inner.write_all(b"\n")?;
            }
            self.inner.write_all(visible(line).as_bytes())?;
        }
        Ok(())
    }
}

impl<W: Write> Write for Human<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // Whole characters and nothing pending (a table's cells): written without a copy.
        if self.partial.is_empty()
            && let Ok(text) = std::str::from_utf8(buf)
        {
            self.emit(text)?;
            return Ok(buf.len());
        }
        self.partial.extend_from_slice(buf);
        let pending = std::mem::take(&mut self.partial);
        let mut rest = pending.as_slice();
        let mut text = String::new();
        loop {
            match std::str::from_utf8(rest) {
                Ok(s) => {
                    text.push_str(s);
                    rest = &[];
                    break;
                }
                Err(e) => {
                    let (good, after) = rest.split_at(e.valid_up_to());
                    text.push_str(std::str::from_utf8(good).expect("valid up to the error"));
                    match e.error_len() {
                        Some(n) => {
                            text.push(char::REPLACEMENT_CHARACTER);
                            rest = &after[n..];
                        }
                        // A character cut at the end of this write: wait for its rest.
                        None => {
                            rest = after;
                            break;
                        }
                    }
                }
            }
        }
        self.partial = rest.to_vec();
        self.emit(&text)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.partial.is_empty() {
            let cut = String::from_utf8_lossy(&std::mem::take(&mut self.partial)).into_owned();
            self.emit(&cut)?;
        }
        self.inner.flush()
    }
}

/// "45s ago", "3h ago", "2d ago"; older than 30 days: the date.
pub fn relative(t: Timestamp, now: Timestamp) -> String {
    let secs = now.as_second() - t.as_second();
    if secs < 0 {
        return format!("in {}", span(-secs));
    }
    if secs > 30 * 86_400 {
        if Style::get().local_time {
            return clock(t);
        }
        return t.strftime("%Y-%m-%d %H:%M").to_string();
    }
    format!("{} ago", span(secs))
}

fn span(secs: i64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3_600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3_600),
        s => format!("{}d", s / 86_400),
    }
}

/// Cuts `s` to at most `max` characters, marking the cut with `…`.
pub fn truncate(s: &str, max: usize) -> String {
    let flat: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        return flat;
    }
    let mut out: String = flat.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_times_read_naturally() {
        let now: Timestamp = "2024-05-10T12:00:00Z".parse().unwrap();
        let t = |s: &str| s.parse::<Timestamp>().unwrap();
        assert_eq!(relative(t("2024-05-10T11:59:15Z"), now), "45s ago");
        assert_eq!(relative(t("2024-05-10T09:00:00Z"), now), "3h ago");
        assert_eq!(relative(t("2024-05-08T12:00:00Z"), now), "2d ago");
        assert_eq!(relative(t("2021-08-03T09:21:09Z"), now), "2021-08-03 09:21");
    }

    #[test]
    fn tables_align_columns() {
        let mut t = Table::new(["A", "LONGER"]);
        t.row(vec!["xyz".into(), "1".into()]);
        let mut out = Vec::new();
        t.write(&mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "A    LONGER\nxyz  1\n");
    }

    #[test]
    fn control_characters_are_shown_not_sent_to_the_terminal() {
        assert_eq!(visible("plain text, ünïcode"), "plain text, ünïcode");
        assert!(matches!(visible("plain"), Cow::Borrowed(_)));
        assert_eq!(
            visible("a\u{1b}]0;title\u{7}b\u{1b}[2J\u{0}\u{1}\u{7f}\u{9b}\u{202e}\t\r\n"),
            r"a\e]0;title\ab\e[2J\0\x01\x7f\u{9b}\u{202e}\t\r\n"
        );
    }

    #[test]
    fn table_cells_are_escaped_and_aligned_on_what_is_shown() {
        let mut t = Table::new(["A", "B"]);
        t.row(vec!["\u{1b}[2J".into(), "x\ny".into()]);
        t.row(vec!["abcdef".into(), "z".into()]);
        let mut out = Vec::new();
        t.write(&mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "A       B\n\\e[2J   x\\ny\nabcdef  z\n"
        );
    }

    #[test]
    fn the_human_writer_keeps_its_line_breaks_and_escapes_the_rest() {
        let mut out = Vec::new();
        {
            let mut h = Human::new(&mut out);
            let note = "\u{1b}]8;;https://x/\u{1b}\\link";
            writeln!(h, "note: {note}").unwrap();
            // A C1 control split across two writes is still caught.
            h.write_all(&[b'a', 0xc2]).unwrap();
            h.write_all(&[0x9b, b'b', b'\n']).unwrap();
            h.flush().unwrap();
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "note: \\e]8;;https://x/\\e\\link\na\\u{9b}b\n"
        );
    }

    #[test]
    fn long_messages_are_cut_and_flattened() {
        assert_eq!(truncate("a\n b", 10), "a b");
        assert_eq!(truncate("abcdef", 4), "abc…");
    }
}
