//! `kubetrail incidents`: failures grouped into incidents with a likely root cause.

use std::collections::HashMap;
use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use jiff::{SignedDuration, Timestamp};
use kubetrail_analyze::{AffectedWorkload, Incident, IncidentConfig, Status, link_changes};
use kubetrail_model::{Severity, parse_duration};
use kubetrail_query::{Detail, JsonLayout, KeptList, ListItem};
use kubetrail_store::{IncidentLine, PageCaches};

use super::analysis_window::{changes, resolve, short};
use crate::args::{FilterArgs, Output, OutputArgs};
use crate::config::Config;
use crate::output::{Human, Table, print_items, truncate};

/// Failures grouped by workload (top owner), by node, and by causal chains, each with a likely
/// root cause, the rule that chose it and its evidence. The window ends at the newest matching
/// event (or --until) and is 24h long unless --since says otherwise (a duration in --since
/// counts back from the window's end).
#[derive(Debug, Args)]
pub struct IncidentsArgs {
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Silence that ends an incident (and makes it resolved).
    #[arg(long, default_value = "30m")]
    pub quiet: String,
    /// How long after a node condition or OOM kill an eviction or crash loop on that node is
    /// taken as its effect.
    #[arg(long, default_value = "10m")]
    pub link_window: String,
    /// Most events read from the store (the latest in the window); 0: no limit. Not used when
    /// the incidents kept at ingest answer (only --cluster and the time flags, default
    /// --quiet and --link-window).
    #[arg(long, default_value_t = 200_000)]
    pub max_events: usize,
    #[command(flatten)]
    pub output: OutputArgs,
}

pub async fn run(config: &Config, args: IncidentsArgs) -> Result<ExitCode> {
    let cfg = IncidentConfig {
        quiet: parse_duration(&args.quiet).context("--quiet")?,
        link_window: parse_duration(&args.link_window).context("--link-window")?,
        now: Some(Timestamp::now()),
        ..IncidentConfig::default()
    };
    // Each page it reads is read once (a list's bodies, the lines' index): a small page cache
    // (see `PageCaches::ONE_PASS`).
    let store = super::open_store_for_reading_with(config, PageCaches::ONE_PASS)?;
    let (filter, window) = resolve(
        store.as_ref(),
        &args.filter,
        SignedDuration::from_hours(24),
        Timestamp::now(),
    )
    .await?;
    let format = crate::output::choose(args.output.output);
    // A table, JSON or NDJSON of kept incidents reads their summaries, and JSON copies their
    // stored text: no incident is decoded but those a change may be linked to.
    if matches!(format, Output::Table | Output::Json | Output::Ndjson)
        && let Some(list) = kubetrail_query::window_list(store.as_ref(), &filter, window, &cfg)
            .await
            .map_err(super::flag_error)?
    {
        return print_list(store.as_ref(), &filter, list, &cfg, format).await;
    }
    // A table shows each incident's head: its timeline and objects are not read.
    let detail = match format {
        Output::Table => Detail::Head,
        _ => Detail::Whole,
    };
    let mut found = kubetrail_query::window_incidents(
        store.as_ref(),
        &filter,
        window,
        &cfg,
        args.max_events,
        detail,
    )
    .await
    .map_err(super::flag_error)?;
    if found.cut {
        super::analysis_window::warn_cut(args.max_events);
    }
    let changes = changes(
        store.as_ref(),
        &kubetrail_query::changes_filter(&filter, &found),
        cfg.change_window,
    )
    .await?;
    kubetrail_query::whole_where_changes(store.as_ref(), &mut found, &changes, &cfg).await?;
    let mut found = found.incidents;
    link_changes(&mut found, &changes, &cfg);
    if found.is_empty() {
        super::hint::nothing_matches(store.as_ref(), "incidents").await;
    }
    print_items(args.output.output, &found, |out| {
        table(
            out,
            found.iter().map(TableRow::from),
            found.iter().filter(|i| i.cluster_wide).map(Wide::from),
        )
    })
}

/// Prints a list of kept incidents (a table, JSON or NDJSON): changes linked as
/// [`link_changes`] links them, the incidents it may link read whole first.
async fn print_list(
    store: &dyn kubetrail_store::EventReader,
    filter: &kubetrail_model::EventFilter,
    mut list: KeptList,
    cfg: &IncidentConfig,
    format: Output,
) -> Result<ExitCode> {
    let since = kubetrail_query::changes_from(filter, list.earliest_start());
    let changes = changes(store, &since, cfg.change_window).await?;
    list.whole_where_changes(store, &changes, cfg)
        .await
        .map_err(super::flag_error)?;
    link_changes(&mut list.whole, &changes, cfg);
    if list.is_empty() {
        super::hint::nothing_matches(store, "incidents").await;
    }
    let mut out = std::io::stdout().lock();
    if format == Output::Table {
        // Under the table, the workloads each cluster-wide incident hit: of a stored one, that
        // list alone is decoded.
        #[derive(serde::Deserialize)]
        struct Affected {
            affected: Vec<AffectedWorkload>,
        }
        let mut hit: HashMap<usize, Vec<AffectedWorkload>> = HashMap::new();
        list.for_each_stored(
            store,
            |l| l.summary.cluster_wide,
            |k, _, body| -> Result<()> {
                let a: Affected = serde_json::from_slice(body).context("a stored incident")?;
                hit.insert(k, a.affected);
                Ok(())
            },
        )
        .await?;
        let rows = list.items.iter().map(|item| match item {
            ListItem::Line { line, status } => TableRow::line(line, *status),
            ListItem::Whole(k) => TableRow::from(&list.whole[*k]),
        });
        let wide = list
            .items
            .iter()
            .enumerate()
            .filter_map(|(k, item)| match item {
                ListItem::Whole(w) => Some(&list.whole[*w])
                    .filter(|i| i.cluster_wide)
                    .map(Wide::from),
                ListItem::Line { line, .. } => hit.get(&k).map(|a| Wide {
                    id: &line.summary.id,
                    subject: &line.summary.subject,
                    rule: &line.summary.rule,
                    affected: a,
                }),
            });
        // Buffered: stdout is line-buffered, a write per line of thousands.
        let mut buffered = list_writer(&mut out);
        table(&mut Human::new(&mut buffered), rows, wide)?;
        buffered.flush()?;
    } else {
        let layout = match format {
            Output::Ndjson => JsonLayout::Lines,
            _ => JsonLayout::Pretty,
        };
        // Buffered in large pieces: the 30-day list is tens of MB, written one incident at a
        // time (each larger than a default 8 KiB buffer, so each was a write of its own).
        let mut buffered = list_writer(&mut out);
        list.write_json(store, &mut buffered, layout)
            .await
            .map_err(super::flag_error)?;
        buffered.flush()?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// The buffer a list is written to stdout through. Written to a file in 8 KiB pieces and one
/// piece per incident (larger than 8 KiB, so past the buffer, most ending inside a block), the
/// kernel zeroed the rest of a new block at most writes; that and the copy were half of the
/// 30-day `-o json` read's time (`perf`: `ext4_block_write_begin`, `zero_user_segments`).
const OUT_BUFFER: usize = 256 * 1024;

/// `out` buffered as a list is written to it ([`OUT_BUFFER`]).
fn list_writer<W: Write>(out: W) -> std::io::BufWriter<W> {
    std::io::BufWriter::with_capacity(OUT_BUFFER, out)
}

/// What a table shows of an incident.
struct TableRow<'a> {
    id: &'a str,
    status: Status,
    severity: Severity,
    start: Timestamp,
    end: Timestamp,
    events: u64,
    subject: &'a str,
    rule: &'a str,
    reason: &'a str,
    message: &'a str,
}

impl<'a> From<&'a Incident> for TableRow<'a> {
    fn from(i: &'a Incident) -> Self {
        TableRow {
            id: &i.id,
            status: i.status,
            severity: i.severity,
            start: i.start,
            end: i.end,
            events: i.event_count,
            subject: &i.subject,
            rule: &i.root_cause.rule,
            reason: &i.root_cause.reason,
            message: &i.root_cause.message,
        }
    }
}

impl<'a> TableRow<'a> {
    /// A stored incident's line, with its status as of the read.
    fn line(l: &'a IncidentLine, status: Status) -> Self {
        let s = &l.summary;
        TableRow {
            id: &s.id,
            status,
            severity: s.severity,
            start: l.start,
            end: l.end,
            events: s.event_count,
            subject: &s.subject,
            rule: &s.rule,
            reason: &s.reason,
            message: &s.message,
        }
    }
}

/// What the table's footer shows of a cluster-wide incident.
struct Wide<'a> {
    id: &'a str,
    subject: &'a str,
    rule: &'a str,
    affected: &'a [AffectedWorkload],
}

impl<'a> From<&'a Incident> for Wide<'a> {
    fn from(i: &'a Incident) -> Self {
        Wide {
            id: &i.id,
            subject: &i.subject,
            rule: &i.root_cause.rule,
            affected: &i.affected,
        }
    }
}

/// The table of `rows`, then the workloads of the cluster-wide incidents `wide`.
fn table<'a, W: Write>(
    out: &mut Human<W>,
    rows: impl ExactSizeIterator<Item = TableRow<'a>>,
    wide: impl Iterator<Item = Wide<'a>>,
) -> Result<()> {
    if rows.len() == 0 {
        writeln!(out, "No incidents in the window.")?;
        return Ok(());
    }
    let mut t = Table::new([
        "ID",
        "STATUS",
        "SEVERITY",
        "START",
        "END",
        "EVENTS",
        "SUBJECT",
        "RULE",
        "ROOT CAUSE",
    ]);
    for i in rows {
        let status = serde_json::to_value(i.status)?
            .as_str()
            .unwrap_or_default()
            .to_string();
        t.row(vec![
            i.id.to_string(),
            status,
            i.severity.to_string(),
            short(i.start),
            short(i.end),
            i.events.to_string(),
            i.subject.to_string(),
            i.rule.to_string(),
            truncate(&format!("{}: {}", i.reason, i.message), 90),
        ]);
    }
    t.write_colored(out)?;
    affected(out, wide)
}

/// Under the table, each cluster-wide incident's cause and the workloads it hit, one line each.
fn affected<'a, W: Write>(out: &mut Human<W>, wide: impl Iterator<Item = Wide<'a>>) -> Result<()> {
    for i in wide {
        writeln!(out)?;
        writeln!(
            out,
            "{} {}: {} ({} workloads)",
            i.id,
            i.subject,
            i.rule,
            i.affected.len()
        )?;
        workload_lines(out, i.affected, "  ")?;
    }
    Ok(())
}

/// The workloads a cluster-wide incident hit, one line each with counts, after `indent` (what
/// `incidents` and `explain` print).
pub(crate) fn workload_lines(
    out: &mut impl Write,
    affected: &[AffectedWorkload],
    indent: &str,
) -> Result<()> {
    for a in affected {
        writeln!(
            out,
            "{indent}{}  {} objects, {} events",
            a.workload, a.objects, a.events
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records the length of each write.
    #[derive(Default)]
    struct Writes(Vec<usize>);

    impl Write for Writes {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.push(buf.len());
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Issue 14 §1: a 30-day list went out in 8 KiB writes and one write per incident larger
    /// than that, most ending inside a file system block (the kernel zeroed the rest of the
    /// block at each: half of the read's time).
    #[test]
    fn a_list_goes_out_in_large_writes() {
        let mut writes = Writes::default();
        {
            let mut out = list_writer(&mut writes);
            for n in 0..1_000 {
                // Incidents of 1 to 20 KiB and a few bytes.
                out.write_all(&vec![b'x'; 1024 * (1 + n % 20) + n % 7])
                    .expect("write");
            }
            out.flush().expect("flush");
        }
        let (last, whole) = writes.0.split_last().expect("writes");
        assert!(!whole.is_empty() && *last > 0);
        for &n in whole {
            assert!(n >= OUT_BUFFER - 21 * 1024, "a write of {n} bytes");
        }
    }
}
