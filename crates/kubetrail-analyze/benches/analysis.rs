//! Patterns and incidents over 1,000,000 events, made from the real dumps: every event of every
//! dump is copied with a fresh uid, its namespace, node names and times moved per copy (so that
//! copies are different workloads on different nodes rather than one giant workload), and its
//! occurrences laid out as the store keeps them (1 at the first time, the rest at the last).
//!
//! Besides criterion's timings it prints the peak resident memory of one run of each, above
//! what the input already holds (Linux: VmHWM, reset through /proc/self/clear_refs).
//!
//! `cargo bench -p kubetrail-analyze --bench analysis` (KUBETRAIL_REAL_EVENTS to point at the
//! dumps; KUBETRAIL_BENCH_EVENTS to change the 1,000,000).

use std::time::Instant;

use criterion::Criterion;
use jiff::SignedDuration;
use kubetrail_analyze::{IncidentConfig, PatternConfig, Window, incidents, patterns};
use kubetrail_model::{
    AnalysisEvent, AnalysisOccurrences, Event, EventOccurrences, Occurrence, SharedStrings,
};
use kubetrail_process::{Processor, Rules};
use kubetrail_source::import::{Item, discover, read_file};

use kubetrail_testkit::real_events as dataset;

/// Every event of every dump, processed as an import would.
fn real_events() -> Vec<Event> {
    let found = discover(&[dataset()]).expect("the real dumps");
    let mut out = Vec::new();
    for file in &found.files {
        let mut processor = Processor::new(Rules::builtin());
        for item in read_file(&file.path, "bench").expect("a dump").flatten() {
            match item {
                Item::Object(link) => processor.observe(link),
                Item::Event { event, .. } => out.push(processor.process(event)),
                Item::Revision(_) | Item::Skipped { .. } => {}
            }
        }
    }
    out
}

fn suffixed(s: &str, copy: usize) -> String {
    if s.is_empty() {
        String::new()
    } else {
        format!("{s}-c{copy}")
    }
}

/// Copy `copy` of an event: another namespace, other nodes, later times.
fn copy_of(base: &Event, copy: usize) -> EventOccurrences {
    let mut e = base.clone();
    let shift = SignedDuration::from_mins(7 * copy as i64);
    e.uid = format!("{}-c{copy}", e.uid);
    e.first_seen += shift;
    e.last_seen += shift;
    let ns = e.namespace.clone();
    e.namespace = suffixed(&ns, copy);
    e.regarding.namespace = suffixed(&e.regarding.namespace, copy);
    if let Some(rest) = e.correlation_id.strip_prefix(&format!("{ns}/")) {
        e.correlation_id = format!("{}/{rest}", e.namespace);
    }
    if e.regarding.kind == "Node" {
        e.regarding.name = suffixed(&e.regarding.name, copy);
        e.correlation_id = format!("Node/{}", e.regarding.name);
    }
    e.node = e.node.as_deref().map(|n| suffixed(n, copy));
    e.reporting_instance = suffixed(&e.reporting_instance, copy);
    let count = e.count.max(1);
    let mut occurrences = vec![Occurrence {
        at: e.first_seen,
        count: 1,
    }];
    if count > 1 {
        occurrences.push(Occurrence {
            at: e.last_seen,
            count: count - 1,
        });
    }
    EventOccurrences {
        event: e,
        occurrences,
    }
}

/// `n` copies as analysis reads them, their strings shared as within one read.
fn generate(n: usize) -> Vec<AnalysisOccurrences> {
    let base = real_events();
    let mut strings = SharedStrings::default();
    (0..n)
        .map(|i| {
            let e = copy_of(&base[i % base.len()], i / base.len());
            AnalysisOccurrences {
                event: AnalysisEvent::of(&e.event, &mut strings),
                occurrences: e.occurrences,
            }
        })
        .collect()
}

/// Resident memory now and at its peak since the last reset, in bytes (Linux only).
fn rss() -> Option<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb * 1024)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

fn reset_peak() {
    // "5" resets the peak resident set size to the current one (Linux ≥ 4.0).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Runs `f` once, printing its time and its peak memory above the resident memory before it.
fn measure<T>(name: &str, f: impl FnOnce() -> T) -> T {
    reset_peak();
    let before = rss();
    let start = Instant::now();
    let out = f();
    let elapsed = start.elapsed();
    match (before, rss()) {
        (Some((rss_before, _)), Some((_, peak))) => println!(
            "{name}: one run {:.2} s, peak RSS {:.0} MiB above the {:.0} MiB before it",
            elapsed.as_secs_f64(),
            mib(peak.saturating_sub(rss_before)),
            mib(rss_before)
        ),
        _ => println!("{name}: one run {:.2} s", elapsed.as_secs_f64()),
    }
    out
}

fn main() {
    let n: usize = std::env::var("KUBETRAIL_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let start_rss = rss().map_or(0, |(r, _)| r);
    let events = generate(n);
    let input_rss = rss().map_or(0, |(r, _)| r);
    let first = events
        .iter()
        .filter_map(AnalysisOccurrences::first)
        .min()
        .expect("events");
    let last = events
        .iter()
        .filter_map(AnalysisOccurrences::last)
        .max()
        .expect("events");
    let window = Window::new(first, last + SignedDuration::from_secs(1)).expect("a window");
    println!(
        "{} events ({} occurrences) from {} to {}; the input holds {:.0} MiB",
        events.len(),
        events.iter().map(AnalysisOccurrences::count).sum::<u64>(),
        window.since,
        window.until,
        mib(input_rss.saturating_sub(start_rss))
    );
    let pattern_cfg = PatternConfig::default();
    let incident_cfg = IncidentConfig::default();
    let found = measure("patterns", || patterns(&events, &pattern_cfg));
    println!("  {} patterns", found.len());
    let found = measure("incidents", || {
        incidents(&events, window, &incident_cfg).expect("incidents")
    });
    println!("  {} incidents", found.len());
    drop(found);

    let mut c = Criterion::default().sample_size(10).configure_from_args();
    let mut group = c.benchmark_group(format!("analysis of {n} events"));
    group.throughput(criterion::Throughput::Elements(n as u64));
    group.bench_function("patterns", |b| b.iter(|| patterns(&events, &pattern_cfg)));
    group.bench_function("incidents", |b| {
        b.iter(|| incidents(&events, window, &incident_cfg).expect("incidents"))
    });
    group.finish();
    c.final_summary();
}
