//! `kubetrail bench`: measure processing, import and query on real events, so that the numbers
//! in docs/BENCHMARKS.md can be reproduced. Input: an NDJSON file of real events replicated with
//! fresh uids (e.g. `events-1m.ndjson` made by `../shared/tools/limits/run.sh prepare`).
//! Each measurement prints one JSON line.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use indicatif::ProgressBar;
use kubetrail_model::{AggregateQuery, Dimension, Event, EventFilter, Timestamp};
use kubetrail_process::{Processor, Rules};
use kubetrail_source::import::{self as source, Item};
use kubetrail_store::{
    EventReader, EventSink, Page, PostgresOptions, PostgresStore, SqliteStore, Store, redact_url,
};
use serde_json::json;

use crate::config::Config;

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub what: BenchWhat,
}

#[derive(Debug, Subcommand)]
pub enum BenchWhat {
    /// Read + parse + normalize + classify + correlate + template (no store), one thread;
    /// also the bare k8s-openapi parse of the same lines, for the ratio.
    Process {
        /// NDJSON file of events.
        input: PathBuf,
    },
    /// `kubetrail import` of the file into a fresh store; events/s and peak RSS.
    Import {
        input: PathBuf,
        /// Where to put the fresh store (default: a temporary directory).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// The writer's page cache in KiB (default: the import's bulk cache), to compare with
        /// the bare insert given the same cache.
        #[arg(long, default_value_t = SqliteStore::BULK_WRITER_CACHE_KIB)]
        cache_kib: u32,
        /// Leave out the incidents and patterns pass `kubetrail import` makes after its last
        /// file: the import alone, for the rate and peak RSS without the analysis kept at
        /// ingest (issue 14 §1: with the pass ≥ 0.85× of this rate; run both and compare
        /// `events_per_s_with_incidents` to this run's `events_per_s`).
        #[arg(long)]
        no_pass: bool,
    },
    /// Simulator → watch → process → store in this process: events/s and creation→commit
    /// latency; with --memory, the RSS of a separate `kubetrail run` as the cluster grows.
    Live {
        #[arg(long, default_value_t = 100_000)]
        events: u64,
        /// Events created per second (0: as fast as possible).
        #[arg(long, default_value_t = 0)]
        rate: u64,
        /// Measure the RSS and CPU of a `kubetrail run` process instead: idle, as the cluster
        /// grows, through a relist and an initial list.
        #[arg(long)]
        memory: bool,
        /// With --memory or --storm: run the measured process under this command, e.g.
        /// `heaptrack -o /tmp/run` or `perf record -g -o /tmp/run.perf` (a profile of each
        /// `kubetrail run` started).
        #[arg(long)]
        wrapper: Option<String>,
        /// With --memory: the configuration file of the measured process (e.g. with alerting
        /// off, to see what it costs).
        #[arg(long, requires = "memory")]
        run_config: Option<PathBuf>,
        /// Measure the Event rate and CPU of a separate `kubetrail run` (without change
        /// tracking, then tracking Deployments), quiet and while the simulator makes this
        /// many status-only Deployment updates a second (a storm the change tracker must read
        /// past, recording nothing).
        #[arg(long, conflicts_with = "memory")]
        storm: Option<u64>,
        /// With --memory or --storm: measure this kubetrail binary (e.g. an earlier build)
        /// instead of this one, with the same simulator and phases.
        #[arg(long)]
        run_binary: Option<PathBuf>,
        /// With --storm: run the measured `kubetrail run` on these CPUs only (as `taskset -c`
        /// writes them, e.g. `1`), and with --sim-cpus the simulator on others, so that the
        /// simulator's work does not slow `run`.
        #[arg(long, requires = "storm")]
        run_cpus: Option<super::bench_cpus::Cpus>,
        /// With --storm: run this process (the simulator, its storm, the Event generator) on
        /// these CPUs only, e.g. `0`.
        #[arg(long, requires = "storm")]
        sim_cpus: Option<super::bench_cpus::Cpus>,
    },
    /// Builds (or reuses) a store of N events made from the file's events with fresh uids and
    /// last-seen times spread over 30 days, then times filtered queries and group-bys. With
    /// the global --postgres-url (or storage.postgres) the store is that PostgreSQL database:
    /// it must be empty or hold exactly the N events of an earlier run.
    Query {
        input: PathBuf,
        /// Where the SQLite store is built; reused when it already holds the events.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        #[arg(long, default_value_t = 10_000_000)]
        events: u64,
        /// Number of random filtered queries.
        #[arg(long, default_value_t = 200)]
        draws: usize,
    },
}

pub async fn run(config: &Config, args: BenchArgs) -> Result<ExitCode> {
    match args.what {
        BenchWhat::Process { input } => process(&input)?,
        BenchWhat::Live {
            events,
            rate,
            memory,
            wrapper,
            run_config,
            run_binary,
            storm,
            run_cpus,
            sim_cpus,
        } => {
            let dir =
                std::env::temp_dir().join(format!("kubetrail-bench-live-{}", std::process::id()));
            let measured = super::bench_live::Measured {
                wrapper: wrapper.as_deref(),
                config: run_config.as_deref(),
                binary: run_binary.as_deref(),
                run_cpus: run_cpus.as_ref(),
            };
            if memory || storm.is_some() {
                // The measured `run` reads its code page by page from the binary's file: so
                // must this process, or the run would map the 2 MiB blocks this one keeps
                // cached (a deployed `run` is alone on its binary; see `resident`).
                crate::resident::code_on_demand();
            }
            let result = match (memory, storm) {
                (true, _) => super::bench_live::memory(events, rate, &dir, measured).await,
                (false, Some(storm)) => {
                    let sim_cpus = sim_cpus.as_ref();
                    super::bench_storm::storm(events, rate, storm, &dir, measured, sim_cpus).await
                }
                (false, None) => super::bench_live::live(events, rate, &dir).await,
            };
            let _ = std::fs::remove_dir_all(&dir);
            result?
        }
        BenchWhat::Import {
            input,
            data_dir,
            cache_kib,
            no_pass,
        } => import(&input, data_dir, cache_kib, !no_pass).await?,
        BenchWhat::Query {
            input,
            data_dir,
            events,
            draws,
        } => query(config, &input, data_dir.as_deref(), events, draws).await?,
    }
    Ok(ExitCode::SUCCESS)
}

fn process(input: &Path) -> Result<()> {
    // Bare k8s-openapi parse of the same lines: the reference the target is a fraction of.
    let data = std::fs::read(input).with_context(|| format!("cannot read {}", input.display()))?;
    let t = Instant::now();
    // As ../shared/tools/limits does: typed parse of each line, failures counted, not retried.
    let (mut n, mut errors) = (0u64, 0u64);
    for line in data.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        match serde_json::from_slice::<k8s_openapi::api::core::v1::Event>(line) {
            Ok(ev) => {
                std::hint::black_box(&ev);
                n += 1;
            }
            Err(_) => errors += 1,
        }
    }
    let parse_s = t.elapsed().as_secs_f64();
    drop(data);
    emit(
        json!({"measure": "k8s_openapi_parse", "events": n, "errors": errors, "seconds": parse_s, "events_per_s": n as f64 / parse_s}),
    );

    let t = Instant::now();
    let mut processor = Processor::new(Rules::builtin());
    let mut events = 0u64;
    for item in source::read_file(input, "bench")? {
        if let Item::Event { event, .. } = item? {
            std::hint::black_box(processor.process(event));
            events += 1;
        }
    }
    let s = t.elapsed().as_secs_f64();
    emit(json!({
        "measure": "process", "events": events, "seconds": s, "events_per_s": events as f64 / s,
        "ratio_to_k8s_openapi_parse": (events as f64 / s) / (n as f64 / parse_s),
    }));
    Ok(())
}

async fn import(input: &Path, data_dir: Option<PathBuf>, cache_kib: u32, pass: bool) -> Result<()> {
    let tmp;
    let dir = match data_dir {
        Some(d) => d,
        None => {
            tmp = std::env::temp_dir().join(format!("kubetrail-bench-{}", std::process::id()));
            tmp
        }
    };
    let db = dir.join("kubetrail.db");
    remove_db(&db);
    let store = SqliteStore::open_with_cache(&db, cache_kib)?;
    let t = Instant::now();
    let summary = super::import::import_files(
        &store,
        vec![input.to_path_buf()],
        Some(&store),
        "bench",
        Rules::builtin(),
        kubetrail_process::FutureLimit::default(),
        false,
        &ProgressBar::hidden(),
        &Arc::new(AtomicU64::new(0)),
    )
    .await?;
    let s = t.elapsed().as_secs_f64();
    if let Some((path, e)) = summary.files_failed.first() {
        bail!("{}: {e}", path.display());
    }
    let import_rss_mib = peak_rss_kib() as f64 / 1024.0;
    let mut out = json!({
        "measure": "import_sqlite", "events": summary.events_read, "new": summary.new,
        "seconds": s, "events_per_s": summary.events_read as f64 / s,
        "import_peak_rss_mib": import_rss_mib, "cache_kib": cache_kib, "pass": pass,
    });
    if pass {
        // What `kubetrail import` does after its last file: the incidents and patterns kept
        // at ingest.
        // Where the pass starts from: the process and SQLite's part of it once the bulk
        // writes are over (its highest from here on is the pass's; ending them again in
        // `pass_after_import` changes nothing).
        EventSink::end_bulk(&store).await?;
        out["rss_mib_before_pass"] = json!(status_kib("VmRSS:") as f64 / 1024.0);
        out["anon_rss_mib_before_pass"] = json!(status_kib("RssAnon:") as f64 / 1024.0);
        out["sqlite_mib_before_pass"] = json!(mib(crate::alloc::sqlite_heap_bytes(true).0));
        let t = Instant::now();
        let done = super::import::pass_after_import(&store)
            .await?
            .unwrap_or_default();
        let incidents_s = t.elapsed().as_secs_f64();
        out["sqlite_peak_mib_in_pass"] = json!(mib(crate::alloc::sqlite_heap_bytes(false).1));
        out["incidents_seconds"] = json!(incidents_s);
        out["events_per_s_with_incidents"] = json!(summary.events_read as f64 / (s + incidents_s));
        out["pass_events_read"] = json!(done.events_read);
        out["pass_largest_read"] = json!(done.max_read);
        out["pass_spans"] = json!(done.spans);
        out["incidents_stored"] = json!(done.stored);
        out["incidents_unchanged"] = json!(done.unchanged);
    }
    out["peak_rss_mib"] = json!(peak_rss_kib() as f64 / 1024.0);
    out["db_bytes"] = json!(std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0));
    emit(out);
    drop(store);
    remove_db(&db);
    Ok(())
}

const T0_MICROS: i64 = 1_735_689_600_000_000; // 2025-01-01T00:00:00Z
const SPAN_MICROS: i64 = 30 * 86_400_000_000;
const HOUR_MICROS: i64 = 3_600_000_000;
const DAY_MICROS: i64 = 24 * HOUR_MICROS;

async fn query(
    config: &Config,
    input: &Path,
    data_dir: Option<&Path>,
    total: u64,
    draws: usize,
) -> Result<()> {
    let (store, backend): (Arc<dyn Store>, &str) = match &config.postgres {
        Some(options) => (
            Arc::new(postgres_store(options, input, total).await?),
            "postgres",
        ),
        None => {
            let dir = data_dir.context("--data-dir is required for the SQLite store")?;
            (Arc::new(sqlite_store(dir, input, total).await?), "sqlite")
        }
    };
    measure_queries(store.as_ref(), backend, total, draws).await
}

/// The SQLite store of `dir`, (re)built when it does not hold exactly `total` events.
async fn sqlite_store(dir: &Path, input: &Path, total: u64) -> Result<SqliteStore> {
    let db = dir.join("kubetrail.db");
    let store = SqliteStore::open(&db)?;
    if store.stats().await?.events == total {
        return Ok(store);
    }
    drop(store);
    remove_db(&db);
    let writer = SqliteStore::open_with_cache(&db, SqliteStore::BULK_WRITER_CACHE_KIB)?;
    build(input, &writer, total).await?;
    drop(writer);
    Ok(SqliteStore::open(&db)?)
}

/// The PostgreSQL store, built when empty. A store holding other events is never wiped: the
/// user points the benchmark at an empty database or schema.
async fn postgres_store(
    options: &PostgresOptions,
    input: &Path,
    total: u64,
) -> Result<PostgresStore> {
    let store = PostgresStore::connect(options)
        .await
        .with_context(|| format!("cannot open {}", redact_url(&options.url)))?;
    let stored = store.stats().await?.events;
    if stored == total {
        return Ok(store);
    }
    if stored != 0 {
        bail!(
            "the PostgreSQL store at {} holds {stored} events, not {total}: give an empty \
             database or schema (storage.postgres.schema) for the benchmark",
            redact_url(&options.url)
        );
    }
    // The days of the span get their partitions first, so rows land in them directly
    // (instead of in the default partition, to be moved later).
    let mut day = T0_MICROS;
    while day < T0_MICROS + SPAN_MICROS {
        store
            .maintain_partitions(Timestamp::from_microsecond(day)?)
            .await?;
        day += 4 * DAY_MICROS;
    }
    build(input, &store, total).await?;
    let t = Instant::now();
    store.analyze().await?;
    emit(json!({"measure": "postgres_analyze", "seconds": t.elapsed().as_secs_f64()}));
    Ok(store)
}

/// Makes the filter of one timed query from a stored event.
type DrawFilter = dyn Fn(&mut Rng, &Event) -> Result<EventFilter>;

async fn measure_queries(store: &dyn Store, backend: &str, total: u64, draws: usize) -> Result<()> {
    let mut rng = Rng(0xF11_7E2);
    // Draw (namespace, reason, time) from stored events, as the limits tool does.
    let sample = store
        .query(
            &EventFilter::default(),
            &Page {
                limit: 20_000,
                after: None,
            },
        )
        .await?;
    let draw_filtered = |rng: &mut Rng, e: &Event| -> Result<EventFilter> {
        let lo = e.last_seen.as_microsecond() - rng.below(HOUR_MICROS as u64) as i64;
        Ok(EventFilter {
            namespaces: vec![e.namespace.clone()],
            reasons: vec![e.reason.clone()],
            since: Some(Timestamp::from_microsecond(lo)?),
            until: Some(Timestamp::from_microsecond(lo + HOUR_MICROS)?),
            ..EventFilter::default()
        })
    };
    // The history of one object, as `explain` and the UI's object page ask for it: name, kind
    // and (unless a Node) namespace, no window.
    let draw_object = |_: &mut Rng, e: &Event| -> Result<EventFilter> {
        let r = &e.regarding;
        Ok(EventFilter {
            namespaces: match r.kind.as_str() {
                "Node" => Vec::new(),
                _ => vec![r.namespace.clone()],
            },
            kinds: vec![r.kind.clone()],
            names: vec![r.name.clone()],
            ..EventFilter::default()
        })
    };
    // Full-text search for a word of a stored note, within one day.
    let draw_search = |rng: &mut Rng, e: &Event| -> Result<EventFilter> {
        let word = e
            .note
            .split(|c: char| !c.is_ascii_alphabetic())
            .filter(|w| w.len() >= 5)
            .max_by_key(|w| w.len())
            .unwrap_or("failed")
            .to_string();
        let lo = e.last_seen.as_microsecond() - rng.below(24 * HOUR_MICROS as u64) as i64;
        Ok(EventFilter {
            search: Some(word),
            since: Some(Timestamp::from_microsecond(lo)?),
            until: Some(Timestamp::from_microsecond(lo + 24 * HOUR_MICROS)?),
            ..EventFilter::default()
        })
    };
    // Full-text search for one of the words most notes of the real dumps hold (in 8–33% of
    // them), within one day.
    let draw_common = |rng: &mut Rng, e: &Event| -> Result<EventFilter> {
        const COMMON: [&str; 6] = ["container", "created", "image", "pod", "started", "node"];
        let word = COMMON[rng.below(COMMON.len() as u64) as usize];
        let lo = e.last_seen.as_microsecond() - rng.below(24 * HOUR_MICROS as u64) as i64;
        Ok(EventFilter {
            search: Some(word.to_string()),
            since: Some(Timestamp::from_microsecond(lo)?),
            until: Some(Timestamp::from_microsecond(lo + 24 * HOUR_MICROS)?),
            ..EventFilter::default()
        })
    };
    let measures: [(&str, &DrawFilter); 4] = [
        ("query_filtered_1h", &draw_filtered),
        ("query_object_history", &draw_object),
        ("query_search_24h", &draw_search),
        ("query_search_24h_common", &draw_common),
    ];
    for (name, draw) in measures {
        let mut lat = Vec::with_capacity(draws);
        for i in 0..draws + 20 {
            let e = &sample[rng.below(sample.len() as u64) as usize].event;
            let filter = draw(&mut rng, e)?;
            let t = Instant::now();
            let rows = store
                .query(
                    &filter,
                    &Page {
                        limit: 100,
                        after: None,
                    },
                )
                .await?;
            std::hint::black_box(rows);
            if i >= 20 {
                lat.push(t.elapsed().as_secs_f64() * 1e3);
            }
        }
        lat.sort_by(f64::total_cmp);
        emit(json!({
            "measure": name, "store": backend, "events": total, "draws": draws,
            "p50_ms": pct(&lat, 50.0), "p95_ms": pct(&lat, 95.0), "p99_ms": pct(&lat, 99.0),
        }));
    }
    for (name, lo, hi) in [
        (
            "groupby_reason_24h",
            T0_MICROS + 14 * 86_400_000_000,
            T0_MICROS + 15 * 86_400_000_000,
        ),
        ("groupby_reason_30d", T0_MICROS, T0_MICROS + SPAN_MICROS),
    ] {
        let q = AggregateQuery {
            filter: EventFilter {
                since: Some(Timestamp::from_microsecond(lo)?),
                until: Some(Timestamp::from_microsecond(hi)?),
                ..EventFilter::default()
            },
            group_by: vec![Dimension::Reason],
            interval: None,
            limit: None,
        };
        store.aggregate(&q).await?; // warm-up
        let mut times = Vec::new();
        let mut groups = 0;
        for _ in 0..5 {
            let t = Instant::now();
            groups = store.aggregate(&q).await?.len();
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        times.sort_by(f64::total_cmp);
        emit(
            json!({"measure": name, "store": backend, "events": total, "groups": groups, "median_ms": pct(&times, 50.0), "min_ms": times[0]}),
        );
    }
    Ok(())
}

/// Writes `total` events made from the input's events into a fresh store.
async fn build(input: &Path, store: &dyn Store, total: u64) -> Result<()> {
    let mut processor = Processor::new(Rules::builtin());
    let mut base: Vec<Event> = Vec::new();
    for item in source::read_file(input, "bench")? {
        if let Item::Event { event, .. } = item? {
            base.push(processor.process(event));
        }
    }
    if base.is_empty() {
        bail!("{} holds no events", input.display());
    }
    let mut rng = Rng(0x5EED_1000_0000);
    let mut times: Vec<i64> = (0..total)
        .map(|_| T0_MICROS + rng.below(SPAN_MICROS as u64) as i64)
        .collect();
    times.sort_unstable();
    let t = Instant::now();
    let chunk = 100_000u64;
    let mut done = 0u64;
    while done < total {
        let end = (done + chunk).min(total);
        let mut txn = store.begin().await?;
        let mut batch = Vec::with_capacity(5_000);
        for m in done..end {
            let src = &base[(m % base.len() as u64) as usize];
            let mut e = src.clone();
            let last = times[m as usize];
            let span = src.last_seen.as_microsecond() - src.first_seen.as_microsecond();
            e.last_seen = Timestamp::from_microsecond(last)?;
            e.first_seen = Timestamp::from_microsecond(last - span)?;
            e.uid = format!("{:016x}-{m:012x}", rng.next());
            batch.push(e);
            if batch.len() == 5_000 {
                txn.write(std::mem::take(&mut batch)).await?;
            }
        }
        if !batch.is_empty() {
            txn.write(batch).await?;
        }
        txn.commit().await?;
        done = end;
        eprintln!("  {done} events stored, {:.0}s", t.elapsed().as_secs_f64());
    }
    let s = t.elapsed().as_secs_f64();
    emit(
        json!({"measure": "build_store", "events": total, "seconds": s, "events_per_s": total as f64 / s}),
    );
    Ok(())
}

fn remove_db(db: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = db.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
}

fn emit(v: serde_json::Value) {
    println!("{v}");
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Peak resident set size of this process (VmHWM), in KiB.
fn peak_rss_kib() -> u64 {
    status_kib("VmHWM:")
}

/// A figure of `/proc/self/status` given in KiB (`key` with its colon; 0 when missing).
fn status_kib(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn mib(bytes: i64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// xorshift64*: deterministic draws without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}
