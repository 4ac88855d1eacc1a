//! `kubetrail alerts`: dry runs of rules over dumps (`test`), the recorded alerts with their
//! delivery state (`list`), and silences (`silence create|list|expire`). Also starts and stops
//! the live alerting stage for `run` and `demo`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use jiff::Timestamp;
use kubetrail_alert::{
    AlertMetrics, Alerting, Analysis, DryRunAlert, Rule, builtin_rules, dry_run, new_silence,
    parse_matcher, parse_rules,
};
use kubetrail_model::{Event, parse_duration, parse_time_bound};
use kubetrail_process::Processor;
use kubetrail_source::import::{self as source, Item};
use kubetrail_store::{AlertFilter, AlertStatus, Silence, Store, StoredAlert};
use tokio_util::sync::CancellationToken;

use crate::args::{Output, OutputArgs};
use crate::config::Config;
use crate::output::{Human, Table, choose, print_items, relative, truncate, write_json};

#[derive(Debug, Args)]
pub struct AlertsArgs {
    #[command(subcommand)]
    pub command: AlertsCommand,
}

#[derive(Debug, Subcommand)]
pub enum AlertsCommand {
    /// Which alerts a set of event dumps would raise (a dry run: nothing is stored or sent).
    Test(TestArgs),
    /// Recorded alerts and the state of their notifications.
    List(ListArgs),
    /// Silences: alerts matching them are recorded but not sent.
    Silence(SilenceArgs),
}

#[derive(Debug, Args)]
pub struct TestArgs {
    /// Files or directories of events (as `kubetrail import` takes).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Alert rules file(s) (`rules: [...]`); default: the configured rules (the built-in
    /// default rules when there is no configuration).
    #[arg(long)]
    pub rules: Vec<PathBuf>,
    /// Cluster name given to the events.
    #[arg(long)]
    pub cluster: Option<String>,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only firing or only resolved alerts.
    #[arg(long)]
    pub status: Option<AlertStatus>,
    /// Only alerts of these rules (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub rule: Vec<String>,
    /// Only alerts still firing at or after this time (RFC 3339 or a duration such as 2h).
    #[arg(long)]
    pub since: Option<String>,
    /// Most alerts shown, newest first (0: all).
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct SilenceArgs {
    #[command(subcommand)]
    pub command: SilenceCommand,
}

#[derive(Debug, Subcommand)]
pub enum SilenceCommand {
    /// Silence alerts whose labels match every matcher (name=value, name!=value, name=~regex,
    /// name!~regex), e.g. `alertname=crash-loop namespace=shop`.
    Create {
        #[arg(required = true)]
        matchers: Vec<String>,
        /// How long, from now (e.g. 2h).
        #[arg(long)]
        duration: String,
        /// Why.
        #[arg(long, default_value = "")]
        comment: String,
        /// Who (default: $USER).
        #[arg(long)]
        author: Option<String>,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Silences in force (with --all, also ended ones).
    List {
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// End a silence now.
    Expire { id: i64 },
}

pub async fn run(config: &Config, args: AlertsArgs) -> Result<ExitCode> {
    match args.command {
        AlertsCommand::Test(a) => test(config, a),
        AlertsCommand::List(a) => list(config, a).await,
        AlertsCommand::Silence(a) => silence(config, a.command).await,
    }
}

/// Starts the live alerting stage when it is enabled; returns once it has caught up with what
/// was recorded before, so call it before anything writes.
pub async fn start_alerting(
    config: &Config,
    store: Arc<dyn Store>,
    cancel: &CancellationToken,
) -> Result<Option<Alerting>> {
    if !config.alerting.enabled {
        return Ok(None);
    }
    let alerting = kubetrail_alert::start(
        config.alerting.clone(),
        store.clone(),
        store,
        Arc::new(Analysis),
        AlertMetrics::default(),
        cancel.clone(),
    )
    .await
    .context("cannot start alerting")?;
    Ok(Some(alerting))
}

/// Waits (a bounded time) for alerting to record what the stopped pipelines handed over and for
/// the delivery worker to finish its current pass. Call after the pipelines have stopped and
/// `cancel` is cancelled; undelivered notifications stay in the store for the next start.
pub async fn stop_alerting(alerting: Option<Alerting>) {
    let Some(Alerting {
        feed,
        evaluation,
        delivery,
        ..
    }) = alerting
    else {
        return;
    };
    drop(feed);
    if tokio::time::timeout(Duration::from_secs(10), evaluation)
        .await
        .is_err()
    {
        tracing::warn!("alert evaluation did not stop in time");
    }
    if tokio::time::timeout(Duration::from_secs(10), delivery)
        .await
        .is_err()
    {
        tracing::warn!("alert delivery did not stop in time; pending notifications stay queued");
    }
}

fn rules_for_test(config: &Config, files: &[PathBuf]) -> Result<Vec<Rule>> {
    if files.is_empty() {
        return Ok(if config.alerting.rules.is_empty() {
            builtin_rules()
        } else {
            config.alerting.rules.clone()
        });
    }
    let mut rules: Vec<Rule> = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read rules file {}", path.display()))?;
        let file =
            parse_rules(&text).with_context(|| format!("invalid rules file {}", path.display()))?;
        for r in file {
            if rules.iter().any(|o| o.name == r.name) {
                bail!(
                    "rule {:?} of {} has the name of an earlier rule",
                    r.name,
                    path.display()
                );
            }
            rules.push(r);
        }
    }
    Ok(rules)
}

/// Reads and processes every event of `paths`, as `import` would store them.
fn read_events(config: &Config, paths: &[PathBuf], cluster: &str) -> Result<Vec<Event>> {
    let found = source::discover(paths)?;
    let mut processor = Processor::new(config.rules(&[])?);
    let mut events = Vec::new();
    for file in &found.files {
        let items = source::read_file(&file.path, cluster)?;
        for item in items {
            match item.with_context(|| format!("cannot read {}", file.path.display()))? {
                Item::Event { event, .. } => events.push(processor.process(event)),
                Item::Object(link) => processor.observe(link),
                Item::Revision(_) | Item::Skipped { .. } => {}
            }
        }
    }
    Ok(events)
}

fn test(config: &Config, args: TestArgs) -> Result<ExitCode> {
    let rules = rules_for_test(config, &args.rules)?;
    let cluster = args.cluster.unwrap_or_else(|| config.cluster.clone());
    let events = read_events(config, &args.paths, &cluster)?;
    let alerts = dry_run(rules, &events, &[], &Analysis);
    let mut out = std::io::stdout().lock();
    match choose(args.output.output) {
        Output::Table => print_test(&mut Human::new(&mut out), &alerts, events.len())?,
        format => write_json(&mut out, &alerts, format)?,
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn print_test(out: &mut impl Write, alerts: &[DryRunAlert], events: usize) -> Result<()> {
    writeln!(out, "{} alert(s) from {events} event(s)", alerts.len())?;
    for a in alerts {
        writeln!(out)?;
        writeln!(
            out,
            "{} {} [{}] {} occurrence(s), {} → {}{}",
            a.rule,
            a.group_key,
            a.severity,
            a.event_count,
            a.first_seen.strftime("%Y-%m-%d %H:%M:%S"),
            a.last_seen.strftime("%Y-%m-%d %H:%M:%S"),
            if a.status == AlertStatus::Resolved {
                " (resolved)"
            } else {
                ""
            }
        )?;
        if let Some(summary) = a.annotations.get("summary") {
            writeln!(out, "  {}", truncate(summary, 140))?;
        }
        for e in &a.events {
            writeln!(
                out,
                "  - {} {} ×{}: {}",
                e.object,
                e.reason,
                e.count,
                truncate(&e.note, 100)
            )?;
        }
    }
    Ok(())
}

async fn list(config: &Config, args: ListArgs) -> Result<ExitCode> {
    let now = Timestamp::now();
    let since = args
        .since
        .as_deref()
        .map(|s| parse_time_bound(s, now))
        .transpose()
        .context("--since")?;
    let store = super::open_store_for_reading(config)?;
    let alerts = store
        .alerts(&AlertFilter {
            id: None,
            status: args.status,
            rules: args.rule,
            group_key: None,
            since,
            limit: args.limit,
        })
        .await?;
    print_items(args.output.output, &alerts, |out| {
        print_list(out, &alerts, now)
    })
}

fn deliveries(a: &StoredAlert) -> String {
    if a.alert.silenced_by.is_some() && a.deliveries.is_empty() {
        return format!("silenced by #{}", a.alert.silenced_by.unwrap_or_default());
    }
    if a.deliveries.is_empty() {
        return "-".into();
    }
    a.deliveries
        .iter()
        .map(|d| {
            let mut s = format!("{}:{} {}", d.notifier, d.payload.status, d.state);
            if d.attempts > 1 || d.last_error.is_some() {
                s.push_str(&format!(" ({} attempts", d.attempts));
                if let Some(e) = &d.last_error {
                    s.push_str(&format!(", {}", truncate(e, 40)));
                }
                s.push(')');
            }
            s
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn print_list(out: &mut impl Write, alerts: &[StoredAlert], now: Timestamp) -> Result<()> {
    let mut t = Table::new([
        "ID", "STATUS", "RULE", "SEVERITY", "GROUP", "EVENTS", "STARTED", "ENDED", "DELIVERY",
    ]);
    for a in alerts {
        t.row(vec![
            a.id.to_string(),
            a.alert.status.to_string(),
            a.alert.rule.clone(),
            a.alert.severity.to_string(),
            a.alert.group_key.clone(),
            a.alert.event_count.to_string(),
            relative(a.alert.starts_at, now),
            a.alert
                .ends_at
                .map_or_else(|| "-".to_string(), |t| relative(t, now)),
            deliveries(a),
        ]);
    }
    t.write(out)
}

async fn silence(config: &Config, command: SilenceCommand) -> Result<ExitCode> {
    let store = super::open_store(config)?;
    let now = Timestamp::now();
    match command {
        SilenceCommand::Create {
            matchers,
            duration,
            comment,
            author,
            output,
        } => {
            let matchers = matchers
                .iter()
                .map(|m| parse_matcher(m))
                .collect::<Result<Vec<_>, _>>()?;
            let duration = parse_duration(&duration).context("--duration")?;
            let author = author
                .or_else(|| std::env::var("USER").ok())
                .unwrap_or_default();
            let mut s = new_silence(matchers, now, duration, &author, &comment)?;
            s.id = store.save_silence(&s, now).await?;
            let mut out = std::io::stdout().lock();
            match choose(output.output) {
                Output::Table => writeln!(
                    out,
                    "silence {} created, until {}",
                    s.id,
                    s.ends_at.strftime("%Y-%m-%d %H:%M:%S UTC")
                )?,
                format => write_json(&mut out, std::slice::from_ref(&s), format)?,
            }
        }
        SilenceCommand::List { all, output } => {
            let silences = store.silences(if all { None } else { Some(now) }).await?;
            let mut out = std::io::stdout().lock();
            match choose(output.output) {
                Output::Table => print_silences(&mut Human::new(&mut out), &silences, now)?,
                format => write_json(&mut out, &silences, format)?,
            }
        }
        SilenceCommand::Expire { id } => {
            let all = store.silences(None).await?;
            let Some(mut s) = all.into_iter().find(|s| s.id == id) else {
                bail!("no silence with id {id}");
            };
            if s.ends_at <= now {
                println!("silence {id} had already ended");
                return Ok(ExitCode::SUCCESS);
            }
            s.ends_at = now.max(s.starts_at);
            store.save_silence(&s, now).await?;
            println!("silence {id} ended");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_silences(out: &mut impl Write, silences: &[Silence], now: Timestamp) -> Result<()> {
    let mut t = Table::new(["ID", "MATCHERS", "STARTS", "ENDS", "BY", "COMMENT"]);
    for s in silences {
        t.row(vec![
            s.id.to_string(),
            s.matchers
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" "),
            relative(s.starts_at, now),
            relative(s.ends_at, now),
            s.created_by.clone(),
            truncate(&s.comment, 60),
        ]);
    }
    t.write(out)
}
