//! `kubetrail query -w`: list, then follow the store (like `kubectl get -w`): every second,
//! the events that are new or whose count grew are printed, oldest first, until interrupted.

use std::collections::HashMap;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use kubetrail_model::{Event, EventFilter, Timestamp};
use kubetrail_query::LabelSelector;
use kubetrail_store::{EventReader, Page};

use super::query::QueryArgs;
use crate::args::Output;
use crate::output::{Human, choose, wide};

/// How often the store is read again.
const POLL: Duration = Duration::from_secs(1);

pub async fn follow(
    store: &dyn EventReader,
    mut filter: EventFilter,
    selector: &LabelSelector,
    args: &QueryArgs,
) -> Result<ExitCode> {
    let format = choose(args.output.output);
    let wide = wide(args.output.output);
    // Following has no end: a range ending at the data's end would hide what comes next.
    filter.until = None;
    let mut seen: HashMap<(String, String), u64> = HashMap::new();
    let mut first = true;
    let mut ticks = tokio::time::interval(POLL);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = tokio::signal::ctrl_c() => return Ok(ExitCode::SUCCESS),
        }
        let page = Page {
            limit: if first && selector.is_empty() {
                args.limit
            } else {
                0
            },
            after: None,
        };
        let rows = store.query(&filter, &page).await?;
        let mut fresh: Vec<&Event> = rows
            .iter()
            .map(|r| &r.event)
            .filter(|e| seen.get(&(e.cluster.clone(), e.uid.clone())) != Some(&e.count))
            .filter(|e| selector.matches(&e.labels))
            .collect();
        if first && args.limit > 0 {
            fresh.truncate(args.limit);
        }
        fresh.reverse();
        for e in &fresh {
            seen.insert((e.cluster.clone(), e.uid.clone()), e.count);
        }
        if let Some(newest) = fresh.iter().map(|e| e.last_seen).max() {
            // Later reads need only what was seen since (an update moves last_seen on).
            filter.since = Some(filter.since.map_or(newest, |s| s.max(newest)));
        }
        print(&fresh, format, wide, first)?;
        first = false;
    }
}

fn print(events: &[&Event], format: Output, wide: bool, header: bool) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    match format {
        Output::Table | Output::Wide => {
            let now = Timestamp::now();
            super::query::table(&mut Human::new(&mut out), events, now, wide, header)?;
        }
        Output::Yaml => {
            for e in events {
                out.write_all(b"---\n")?;
                yaml_serde::to_writer(&mut out, e)?;
            }
        }
        Output::Json | Output::Ndjson => {
            for e in events {
                serde_json::to_writer(&mut out, e)?;
                out.write_all(b"\n")?;
            }
        }
    }
    out.flush()?;
    Ok(())
}
