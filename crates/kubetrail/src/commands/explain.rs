//! `kubetrail explain NAMESPACE/KIND/NAME`: the story of one object.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use jiff::Timestamp;
use kubetrail_analyze::{Explanation, Incident, Window};
use kubetrail_query::{Range, StoryRequest, find_namespace, parse_target, story};

use super::analysis_window::{short, warn_cut};
use super::flag_error;
use crate::args::{Output, OutputArgs};
use crate::config::Config;
use crate::output::{Human, Table, choose, truncate};

/// The story of one object, named as kubectl names it (shop/Deployment/web, `-n shop
/// deploy/web`, `po/web-7d9f-abcde`, `node/worker-1`, `pod web-1`): its events and those of
/// its owners, its pods and its node, the incidents it is part of, their root cause and what
/// to check next. Without a namespace, the namespace of the newest event about the object is
/// used. The window ends at the object's newest event (or --until) and is 24h long unless
/// --since says otherwise (README, Time ranges).
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// NAMESPACE/KIND/NAME, KIND/NAME or KIND NAME; kinds by kubectl's short names too.
    #[arg(required = true, num_args = 1..=2)]
    pub object: Vec<String>,
    /// Namespace of the object (when not in OBJECT).
    #[arg(long, short = 'n')]
    pub namespace: Option<String>,
    /// Start: RFC 3339, a duration counted back from the end of the window, or `all`.
    #[arg(long)]
    pub since: Option<String>,
    /// End (exclusive): RFC 3339, or a duration before now.
    #[arg(long)]
    pub until: Option<String>,
    /// Cluster(s), comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub cluster: Vec<String>,
    /// Most events read per query; 0: no limit.
    #[arg(long, default_value_t = 50_000)]
    pub max_events: usize,
    #[command(flatten)]
    pub output: OutputArgs,
}

pub async fn run(config: &Config, args: ExplainArgs) -> Result<ExitCode> {
    let now = Timestamp::now();
    let mut target = parse_target(&args.object, args.namespace.as_deref()).map_err(flag_error)?;
    let range =
        Range::parse(args.since.as_deref(), args.until.as_deref(), now).map_err(flag_error)?;
    let clusters = kubetrail_query::split_list(&args.cluster);
    let store = super::open_store_for_reading(config)?;
    let store = store.as_ref();
    if target.namespace.is_empty() && target.kind != "Node" {
        let found = find_namespace(store, &target, &clusters)
            .await
            .map_err(flag_error)?;
        // kubectl's default namespace when the store knows nothing about the object.
        target.namespace = found.unwrap_or_else(|| "default".to_string());
    }
    let ask = StoryRequest {
        target: &target,
        clusters: &clusters,
        range,
        max_events: args.max_events,
        max_range: None,
        now,
    };
    let told = story(store, &ask, |f| Ok::<_, kubetrail_query::Error>(Some(f)))
        .await
        .map_err(flag_error)?
        .expect("the CLI narrows nothing away");
    if told.cut {
        warn_cut(args.max_events);
    }
    let (story, window) = (told.explanation, told.window);
    let mut out = std::io::stdout().lock();
    match choose(args.output.output) {
        Output::Table => text(&mut Human::new(&mut out), &story, window)?,
        Output::Ndjson => {
            serde_json::to_writer(&mut out, &story)?;
            out.write_all(b"\n")?;
        }
        Output::Yaml => yaml_serde::to_writer(&mut out, &story)?,
        Output::Json | Output::Wide => {
            serde_json::to_writer_pretty(&mut out, &story)?;
            out.write_all(b"\n")?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn text(out: &mut impl Write, x: &Explanation, window: Window) -> Result<()> {
    writeln!(out, "{}", x.object)?;
    if let Some(c) = &x.correlation_id {
        writeln!(out, "  correlation: {c}")?;
    }
    writeln!(
        out,
        "  window: {} .. {}",
        short(window.since),
        short(window.until)
    )?;
    if x.timeline.is_empty() && x.changes.is_empty() {
        writeln!(out, "\nNo events about it in the window.")?;
        return Ok(());
    }
    writeln!(out, "\nRelated objects:")?;
    for r in &x.related {
        let relation = serde_json::to_value(r.relation)?;
        writeln!(
            out,
            "  {:<7} {}",
            relation.as_str().unwrap_or_default(),
            r.object
        )?;
    }
    match &x.root_cause {
        Some(rc) => {
            writeln!(out, "\nLikely root cause ({}):", rc.rule)?;
            writeln!(out, "  {} on {} at {}", rc.reason, rc.object, short(rc.at))?;
            writeln!(out, "  {}", truncate(&rc.message, 200))?;
            writeln!(out, "  evidence:")?;
            for e in &rc.evidence {
                writeln!(out, "    - {}", truncate(e, 200))?;
            }
        }
        None => writeln!(out, "\nNo failures in the window.")?,
    }
    if !x.hints.is_empty() {
        writeln!(out, "\nWhat to check next:")?;
        for h in &x.hints {
            writeln!(out, "  - {h}")?;
        }
    }
    if !x.incidents.is_empty() {
        writeln!(out, "\nIncidents:")?;
        for i in &x.incidents {
            let status = serde_json::to_value(i.status)?;
            writeln!(
                out,
                "  {}  {:<8} {:<8} {} .. {}  {}",
                i.id,
                status.as_str().unwrap_or_default(),
                i.severity,
                short(i.start),
                short(i.end),
                i.title
            )?;
            if i.cluster_wide {
                cause_and_workloads(out, i)?;
            }
        }
    }
    writeln!(out, "\nTimeline:")?;
    let mut t = Table::new([
        "FIRST", "LAST", "RELATION", "OBJECT", "REASON", "COUNT", "MESSAGE",
    ]);
    // Events and changes merged by time, a change before the events of its second.
    let mut rows: Vec<(Timestamp, u8, Vec<String>)> = Vec::new();
    for s in &x.timeline {
        let relation = serde_json::to_value(s.relation)?;
        rows.push((
            s.entry.first_seen,
            1,
            vec![
                short(s.entry.first_seen),
                short(s.entry.last_seen),
                relation.as_str().unwrap_or_default().to_string(),
                s.entry.object.clone(),
                s.entry.reason.clone(),
                s.entry.count.to_string(),
                truncate(&s.entry.message, 80),
            ],
        ));
    }
    for c in &x.changes {
        let op = serde_json::to_value(c.op)?;
        rows.push((
            c.at,
            0,
            vec![
                short(c.at),
                short(c.at),
                "change".to_string(),
                change_object(c),
                op.as_str().unwrap_or_default().to_string(),
                "-".to_string(),
                truncate(&c.summary(), 80),
            ],
        ));
    }
    rows.sort_by_key(|(at, order, _)| (*at, *order));
    for (_, _, row) in rows {
        t.row(row);
    }
    t.write(out)
}

/// Under a cluster-wide incident (its own window is on its line): the cause, then each
/// workload it hit with counts, one line each, as `kubetrail incidents` lists them.
fn cause_and_workloads(out: &mut impl Write, i: &Incident) -> Result<()> {
    let rc = &i.root_cause;
    writeln!(
        out,
        "      cause: {} on {} at {}: {}",
        rc.reason,
        rc.object,
        short(rc.at),
        truncate(&rc.message, 120)
    )?;
    writeln!(out, "      workloads hit ({}):", i.affected.len())?;
    super::incidents::workload_lines(out, &i.affected, "        ")
}

/// `ns/Kind/name` of a changed object (`Kind/name` when cluster-scoped).
fn change_object(c: &kubetrail_model::Change) -> String {
    let o = &c.object;
    if o.namespace.is_empty() {
        format!("{}/{}", o.kind, o.name)
    } else {
        format!("{}/{}/{}", o.namespace, o.kind, o.name)
    }
}
