//! `kubetrail query`: list stored events.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use kubetrail_model::{Event, Timestamp};
use kubetrail_store::Page;

use crate::cli::QueryArgs;
use crate::config::Config;
use crate::output::{Table, print_items, relative, truncate};

pub async fn run(config: &Config, args: QueryArgs) -> Result<ExitCode> {
    let now = Timestamp::now();
    let mut filter = super::build_filter(&args.filter)?;
    let range = super::build_range(&args.filter, now)?;
    let store = super::open_store_for_reading(config)?;
    kubetrail_query::resolve_bounds(store.as_ref(), &mut filter, range, now)
        .await
        .map_err(super::flag_error)?;
    let page = Page {
        limit: args.limit,
        after: None,
    };
    let rows = store.query(&filter, &page).await?;
    let events: Vec<&Event> = rows.iter().map(|r| &r.event).collect();
    print_items(args.output.output, &events, |out| table(out, &events, now))
}

fn table(out: &mut impl Write, events: &[&Event], now: Timestamp) -> Result<()> {
    if events.is_empty() {
        writeln!(out, "No events match.")?;
        return Ok(());
    }
    let mut t = Table::new([
        "LAST SEEN",
        "SEVERITY",
        "NAMESPACE",
        "OBJECT",
        "REASON",
        "COUNT",
        "MESSAGE",
    ]);
    for e in events {
        t.row(vec![
            relative(e.last_seen, now),
            e.severity.to_string(),
            e.namespace.clone(),
            format!("{}/{}", e.regarding.kind, e.regarding.name),
            e.reason.clone(),
            e.count.to_string(),
            truncate(&e.note, 100),
        ]);
    }
    t.write(out)
}
