//! Printing results: aligned tables for people, JSON and NDJSON for machines.

use std::io::{IsTerminal, Write};

use anyhow::Result;
use jiff::Timestamp;
use serde::Serialize;

use crate::cli::Output;

/// The format to use: the one asked for, else a table on a terminal and JSON otherwise.
pub fn choose(asked: Option<Output>) -> Output {
    asked.unwrap_or_else(|| {
        if std::io::stdout().is_terminal() {
            Output::Table
        } else {
            Output::Json
        }
    })
}

/// Prints `items` to stdout in the chosen format: `table` draws them for people, else JSON or
/// NDJSON. What every listing command ends with.
pub fn print_items<T: Serialize>(
    asked: Option<Output>,
    items: &[T],
    table: impl FnOnce(&mut std::io::StdoutLock<'static>) -> Result<()>,
) -> Result<std::process::ExitCode> {
    let mut out = std::io::stdout().lock();
    match choose(asked) {
        Output::Table => table(&mut out)?,
        format => write_json(&mut out, items, format)?,
    }
    out.flush()?;
    Ok(std::process::ExitCode::SUCCESS)
}

/// Writes `items` as a JSON array or as NDJSON.
pub fn write_json<T: Serialize>(out: &mut impl Write, items: &[T], format: Output) -> Result<()> {
    match format {
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
}

impl Table {
    pub fn new<S: Into<String>>(headers: impl IntoIterator<Item = S>) -> Self {
        Table {
            headers: headers.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn write(&self, out: &mut impl Write) -> Result<()> {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |cells: Vec<&str>| -> String {
            let last = cells.len().saturating_sub(1);
            let mut s = String::new();
            for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
                s.push_str(cell);
                if i < last {
                    s.extend(std::iter::repeat_n(' ', w - cell.chars().count() + 2));
                }
            }
            s
        };
        writeln!(
            out,
            "{}",
            line(self.headers.iter().map(String::as_str).collect())
        )?;
        for row in &self.rows {
            writeln!(out, "{}", line(row.iter().map(String::as_str).collect()))?;
        }
        Ok(())
    }
}

/// "45s ago", "3h ago", "2d ago"; older than 30 days: the date.
pub fn relative(t: Timestamp, now: Timestamp) -> String {
    let secs = now.as_second() - t.as_second();
    if secs < 0 {
        return format!("in {}", span(-secs));
    }
    if secs > 30 * 86_400 {
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
    fn long_messages_are_cut_and_flattened() {
        assert_eq!(truncate("a\n b", 10), "a b");
        assert_eq!(truncate("abcdef", 4), "abc…");
    }
}
