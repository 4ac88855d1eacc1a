//! `kubetrail`: the binary. Parses the command line, loads the configuration, wires sources,
//! processing and the store together, and prints results.

// No unwrap outside tests (CONTRIBUTING.md, Lints); printing is the binary's job.
#![warn(clippy::unwrap_used)]

mod alloc;
mod args;
mod change_tracker;
mod cli;
mod commands;
mod output;
mod pipeline;
mod resident;
mod spool;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

// The config file's modules live in the library (src/lib.rs) so the fuzz targets share them.
use kubetrail::{config, fanin};

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    output::Style::from_flags(cli.no_headers, cli.local_time, cli.color).set();
    // What retention deletes is always told (issue 11: it must never surprise).
    let wanted = std::env::var("KUBETRAIL_LOG")
        .unwrap_or_else(|_| "warn,kubetrail_store::retention_task=info".to_string());
    let mut filter = tracing_subscriber::EnvFilter::try_new(&wanted).unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("warn,kubetrail_store::retention_task=info")
    });
    let verbose = filter
        .max_level_hint()
        .is_some_and(|level| level > tracing_subscriber::filter::LevelFilter::INFO);
    if verbose && !wanted.contains("async_nats") {
        // The NATS client's debug lines print server addresses with their passwords; only
        // someone who asks for them by name gets them.
        if let Ok(quiet) = "async_nats=info".parse() {
            filter = filter.add_directive(quiet);
        }
    }
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match cli.log_format {
        cli::LogFormat::Text => logs.init(),
        cli::LogFormat::Json => logs.json().init(),
    }
    // The watchers (`run`, `agent`) do little work per event and spend most of it waiting:
    // one worker thread serves them (the store's work runs on blocking threads), and each
    // thread less is one stack and one allocator arena less (issue 14 §2).
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if matches!(cli.command, cli::Command::Run(_) | cli::Command::Agent(_)) {
        builder.worker_threads(1);
        // Long-running and flat in memory: freed pages go back at once, and in small pages,
        // and each thread gives back what it freed when it runs out of work (see `alloc`).
        alloc::purge_at_once();
        alloc::small_pages();
        alloc::collect_when_idle(&mut builder);
        // SQLite's memory given back as the rest is (`KUBETRAIL_SQLITE_MALLOC=system`: the C
        // library's malloc, to compare in `bench live --memory`).
        if std::env::var_os("KUBETRAIL_SQLITE_MALLOC").is_none_or(|v| v != "system") {
            alloc::sqlite_in_mimalloc();
        }
        // Its code resident as it runs, not in the page cache's 2 MiB blocks (see `resident`).
        resident::code_on_demand();
    }
    if gives_memory_back(&cli.command) {
        alloc::purge_at_once();
        alloc::small_pages();
    }
    if imports(&cli.command)
        && std::env::var_os("KUBETRAIL_SQLITE_MALLOC").is_none_or(|v| v != "system")
    {
        alloc::sqlite_in_mimalloc();
    }
    if imports(&cli.command) {
        // Its code resident as it runs, as `run`'s (see `resident`); again before its pass.
        resident::code_on_demand();
    }
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(cli)) {
        Ok(code) => code,
        // `kubetrail query | head`: the reader left; nothing is wrong.
        Err(e) if broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            // An error can quote event text (a file's content, a receiver's answer).
            let mut err = output::Human::new(std::io::stderr().lock());
            let _ = writeln!(err, "error: {e:#}");
            let _ = err.flush();
            ExitCode::FAILURE
        }
    }
}

/// The error is stdout's reader going away (EPIPE).
/// Whether `command` gives freed pages back at once and keeps out of transparent huge pages
/// (`alloc`), as `run` and `agent` do. An import holds a bounded amount in flight; with freed
/// pages given back at once and no huge pages, its peak was 83–90 MiB instead of 105–116
/// (issue 14 §3, docs/BENCHMARKS.md). A one-shot read of the store likewise: a 30-day
/// `patterns` over 1M events peaked at 67–71 MiB with huge pages and mimalloc's purge delay,
/// 49 MiB without (issue 14 §1). `serve` and `demo` keep mimalloc's defaults.
fn gives_memory_back(command: &cli::Command) -> bool {
    matches!(
        command,
        cli::Command::Import(_)
            | cli::Command::Bench(commands::bench::BenchArgs {
                what: commands::bench::BenchWhat::Import { .. }
            })
            | cli::Command::Query(_)
            | cli::Command::Aggregate(_)
            | cli::Command::Status(_)
            | cli::Command::Patterns(_)
            | cli::Command::Anomalies(_)
            | cli::Command::Changes(_)
            | cli::Command::Incidents(_)
            | cli::Command::Explain(_)
    )
}

/// Whether `command` imports (`import`, `bench import`): SQLite then allocates through
/// mimalloc too, as `run` does, so that what its connections free goes back to the system.
/// With the C library's `malloc`, the writer thread's arena kept the import's 32 MiB page
/// cache after it was given back (`EventSink::end_bulk`) and each reader's thread kept what
/// its reads had used, under the maintenance pass that follows (issue 14 §3).
fn imports(command: &cli::Command) -> bool {
    matches!(
        command,
        cli::Command::Import(_)
            | cli::Command::Bench(commands::bench::BenchArgs {
                what: commands::bench::BenchWhat::Import { .. }
            })
    )
}

fn broken_pipe(e: &anyhow::Error) -> bool {
    let pipe = Some(std::io::ErrorKind::BrokenPipe);
    e.chain().any(|cause| {
        cause.downcast_ref::<std::io::Error>().map(|io| io.kind()) == pipe
            || cause
                .downcast_ref::<serde_json::Error>()
                .and_then(serde_json::Error::io_error_kind)
                == pipe
            || cause
                .downcast_ref::<yaml_serde::Error>()
                .is_some_and(|y| y.to_string().contains("Broken pipe"))
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn gives_back(args: &[&str]) -> bool {
        let cli = cli::Cli::try_parse_from(args).expect("a valid command line");
        gives_memory_back(&cli.command)
    }

    /// Issue 14 §3: an import's SQLite allocated through the C library's `malloc`, whose
    /// per-thread arenas kept what the writer and the readers freed.
    #[test]
    fn imports_have_sqlite_allocate_through_mimalloc() {
        let parse = |args: &[&str]| cli::Cli::try_parse_from(args).expect("a valid command line");
        assert!(imports(
            &parse(&["kubetrail", "import", "dump.json"]).command
        ));
        assert!(imports(
            &parse(&["kubetrail", "bench", "import", "dump.json"]).command
        ));
        assert!(!imports(&parse(&["kubetrail", "serve"]).command));
    }

    #[test]
    fn imports_and_one_shot_reads_give_memory_back_and_the_server_keeps_its_pages() {
        for reads in [
            &["kubetrail", "import", "dump.json"][..],
            &["kubetrail", "bench", "import", "dump.json"],
            &["kubetrail", "patterns", "--since", "30d"],
            &["kubetrail", "incidents"],
            &["kubetrail", "query"],
            &["kubetrail", "aggregate", "--group-by", "reason"],
            &["kubetrail", "explain", "pod/web-1"],
        ] {
            assert!(gives_back(reads), "{reads:?}");
        }
        for keeps in [
            &["kubetrail", "serve"][..],
            &["kubetrail", "bench", "process", "dump.json"],
        ] {
            assert!(!gives_back(keeps), "{keeps:?}");
        }
    }
}
