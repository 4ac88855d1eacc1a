//! `kubetrail explain NAMESPACE/KIND/NAME`: the story of one object.

use std::collections::HashSet;
use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use jiff::{SignedDuration, Timestamp};
use kubetrail_analyze::{Explanation, IncidentConfig, Target, Window, explain, nodes_of};
use kubetrail_model::{EventFilter, EventOccurrences, parse_duration, parse_time_bound};
use kubetrail_store::Store;

use super::analysis_window::{events, newest, short};
use crate::cli::{Output, OutputArgs};
use crate::config::Config;
use crate::output::{Human, Table, choose, truncate};

/// The story of one object (e.g. shop/Deployment/web, shop/Pod/web-7d9f-abcde, Node/worker-1):
/// its events and those of its owners, its pods and its node, the incidents it is part of,
/// their root cause and what to check next. The window ends at the object's newest event (or
/// --until) and is 24h long unless --since says otherwise.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// NAMESPACE/KIND/NAME, or Node/NAME.
    pub object: String,
    /// Start: RFC 3339, or a duration counted back from the end of the window.
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
    let target: Target = args.object.parse()?;
    let store = super::open_store_for_reading(config)?;
    let store = store.as_ref();
    let now = Timestamp::now();
    let own = EventFilter {
        clusters: args.cluster.clone(),
        namespaces: namespace_filter(&target),
        kinds: vec![target.kind.clone()],
        names: vec![target.name.clone()],
        ..EventFilter::default()
    };
    let family = family_filter(store, &target, &own).await?;
    let until = match args.until.as_deref() {
        Some(text) => parse_time_bound(text, now).context("--until")?,
        None => {
            let a = newest(store, &own).await?;
            let b = newest(store, &family).await?;
            a.max(b).unwrap_or(now)
        }
    };
    let since = match args.since.as_deref() {
        None => until - SignedDuration::from_hours(24),
        Some(text) => match text.trim().parse::<Timestamp>() {
            Ok(t) => t,
            Err(_) => until - parse_duration(text).context("--since")?,
        },
    };
    let window = Window::new(since, until).context("--since/--until")?;
    let timed = |mut f: EventFilter| {
        f.since = Some(since);
        f.until = Some(until);
        f
    };
    let mut found = events(store, &timed(own), args.max_events).await?;
    found.extend(events(store, &timed(family), args.max_events).await?);
    let nodes = nodes_of(&target, &found);
    if !nodes.is_empty() && target.kind != "Node" {
        let node_filter = EventFilter {
            clusters: args.cluster.clone(),
            kinds: vec!["Node".into()],
            names: nodes,
            ..EventFilter::default()
        };
        found.extend(events(store, &timed(node_filter), args.max_events).await?);
    }
    let found = dedupe(found);
    let story = explain(&target, &found, window, &IncidentConfig::default())?;
    let mut out = std::io::stdout().lock();
    match choose(args.output.output) {
        Output::Table => text(&mut Human::new(&mut out), &story, window)?,
        Output::Ndjson => {
            serde_json::to_writer(&mut out, &story)?;
            out.write_all(b"\n")?;
        }
        Output::Json => {
            serde_json::to_writer_pretty(&mut out, &story)?;
            out.write_all(b"\n")?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn namespace_filter(target: &Target) -> Vec<String> {
    if target.kind == "Node" {
        Vec::new()
    } else {
        vec![target.namespace.clone()]
    }
}

/// The events around the target: those of its correlation ID (its owner's pods, ReplicaSets),
/// or, for a Node, those placed on it.
async fn family_filter(
    store: &dyn Store,
    target: &Target,
    own: &EventFilter,
) -> Result<EventFilter> {
    if target.kind == "Node" {
        return Ok(EventFilter {
            clusters: own.clusters.clone(),
            nodes: vec![target.name.clone()],
            ..EventFilter::default()
        });
    }
    let page = kubetrail_store::Page {
        limit: 1,
        after: None,
    };
    let correlation = store
        .query(own, &page)
        .await?
        .first()
        .map(|e| e.event.correlation_id.clone())
        .unwrap_or_else(|| target.correlation_id());
    Ok(EventFilter {
        clusters: own.clusters.clone(),
        correlations: vec![correlation],
        ..EventFilter::default()
    })
}

fn dedupe(events: Vec<EventOccurrences>) -> Vec<EventOccurrences> {
    let mut seen: HashSet<(String, String)> = HashSet::new();
    events
        .into_iter()
        .filter(|e| seen.insert((e.event.cluster.clone(), e.event.uid.clone())))
        .collect()
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
    if x.timeline.is_empty() {
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
        }
    }
    writeln!(out, "\nTimeline:")?;
    let mut t = Table::new([
        "FIRST", "LAST", "RELATION", "OBJECT", "REASON", "COUNT", "MESSAGE",
    ]);
    for s in &x.timeline {
        let relation = serde_json::to_value(s.relation)?;
        t.row(vec![
            short(s.entry.first_seen),
            short(s.entry.last_seen),
            relation.as_str().unwrap_or_default().to_string(),
            s.entry.object.clone(),
            s.entry.reason.clone(),
            s.entry.count.to_string(),
            truncate(&s.entry.message, 80),
        ]);
    }
    t.write(out)
}
