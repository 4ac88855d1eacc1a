//! `run --source nats`: reads the durable consumer in batches, writes each batch in one store
//! transaction, and acknowledges its messages only after the commit. A message delivered again
//! (this instance or another crashed before acknowledging it) adds nothing: the store keeps an
//! Event once per `(cluster, uid)` and adds only count increases, so an occurrence — an Event's
//! count reaching a value — is never counted twice. Events the store refuses (a data error) are
//! quarantined in the batch's transaction and their messages acknowledged like the rest: only
//! a store that fails makes messages come again.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use kubetrail_model::{Event, Timestamp, error_chain};
use kubetrail_process::FutureLimit;
use kubetrail_server::Telemetry;
use kubetrail_source::NatsError;
use kubetrail_source::nats::{Consumer, NatsSettings, Received, redact_url};
use kubetrail_source::watch::Backoff;
use kubetrail_store::{EventSink, Gap, Isolated};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

/// Messages per store transaction, at most.
const MAX_MESSAGES: usize = 256;

/// How long a batch waits for more messages after its first.
const LINGER: Duration = Duration::from_millis(20);

/// Starts the consumer; it runs until `cancel`.
pub fn start(
    store: Arc<dyn EventSink>,
    settings: NatsSettings,
    max_future: FutureLimit,
    alerts: Option<kubetrail_alert::AlertFeed>,
    telemetry: Telemetry,
    cancel: &CancellationToken,
) -> JoinSet<(String, Result<()>)> {
    let mut tasks = JoinSet::new();
    let cancel = cancel.clone();
    tasks.spawn(async move {
        let name = format!("nats:{}", settings.stream);
        let w = Writer {
            store,
            max_future,
            alerts,
            telemetry,
        };
        let result = consume(&w, settings, cancel).await;
        (name, result)
    });
    tasks
}

/// Where consumed batches go.
struct Writer {
    store: Arc<dyn EventSink>,
    /// Events dated further past their delivery are refused (logged with their count).
    max_future: FutureLimit,
    alerts: Option<kubetrail_alert::AlertFeed>,
    /// Quarantined events by cluster, and whether store writes fail (`/readyz`).
    telemetry: Telemetry,
}

/// Connects and consumes; reconnects with backoff when NATS goes away.
async fn consume(w: &Writer, settings: NatsSettings, cancel: CancellationToken) -> Result<()> {
    let mut backoff = Backoff::new(Duration::from_millis(250), Duration::from_secs(15));
    loop {
        let connected = tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            c = Consumer::connect(&settings) => c,
        };
        match connected {
            Ok(mut consumer) => {
                info!(url = %redact_url(&settings.url), stream = %settings.stream, durable = %settings.durable, clusters = ?settings.clusters, "consuming from NATS JetStream");
                backoff.reset();
                match run(&mut consumer, w, &cancel).await {
                    Ok(()) => return Ok(()),
                    Err(e) => {
                        warn!(error = %error_chain(&e), "lost the JetStream consumer; reconnecting")
                    }
                }
            }
            Err(e) => warn!(error = %error_chain(&e), "cannot reach NATS JetStream; retrying"),
        }
        tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            _ = tokio::time::sleep(backoff.next_delay()) => {}
        }
    }
}

async fn run(
    consumer: &mut Consumer,
    w: &Writer,
    cancel: &CancellationToken,
) -> Result<(), NatsError> {
    loop {
        let batch = tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            b = consumer.next_batch(MAX_MESSAGES, LINGER) => b?,
        };
        handle(batch, w).await;
    }
}

/// Stores the batch's events and gaps in one transaction (events the store refuses are
/// quarantined in it), then acknowledges its messages; if the store fails, asks for them again
/// later instead.
async fn handle(batch: Vec<Received>, w: &Writer) {
    let mut events: Vec<Event> = Vec::new();
    let mut gaps: Vec<Gap> = Vec::new();
    let mut good: Vec<&Received> = Vec::new();
    for r in &batch {
        match &r.batch {
            Ok(b) => {
                events.extend(b.events.iter().cloned());
                gaps.extend(b.gaps.iter().map(|g| Gap {
                    cluster: b.cluster.clone(),
                    stream: g.stream.clone(),
                    from: g.from,
                    to: g.to,
                    cause: g.cause.clone(),
                }));
                good.push(r);
            }
            Err(e) => {
                // Not ours, or from a newer kubetrail: it will never store; say so and drop it.
                error!(subject = r.subject(), error = %error_chain(e), "dropping a JetStream message that is not a kubetrail batch");
                if let Err(e) = r.term().await {
                    warn!(error = %error_chain(&e), "cannot drop a bad JetStream message");
                }
            }
        }
    }
    if good.is_empty() {
        return;
    }
    let refused = w.max_future.retain(&mut events, Timestamp::now());
    if refused > 0 {
        warn!(refused, max_ahead = %format!("{:#}", w.max_future.max_ahead()), "refused events of a JetStream batch dated too far in the future");
    }
    let n = events.len();
    match write(w.store.as_ref(), events, gaps).await {
        Ok(done) => {
            w.telemetry.store_writes().succeeded();
            w.telemetry.stored_events(&done.written.summary.by_group);
            quarantined(&done, &w.telemetry);
            for r in &good {
                // A lost ack means one more delivery, which the store absorbs.
                if let Err(e) = r.ack().await {
                    warn!(error = %error_chain(&e), "cannot acknowledge a stored JetStream message");
                }
            }
            tracing::debug!(
                messages = good.len(),
                events = n,
                "stored a JetStream batch"
            );
            if let Some(alerts) = &w.alerts {
                alerts.committed(done.written).await;
            }
        }
        Err(e) => {
            let error = format!("{e:#}");
            w.telemetry.store_writes().failed(&error);
            warn!(messages = good.len(), events = n, %error, "cannot store a JetStream batch; it will be delivered again");
            for r in &good {
                let delay =
                    Duration::from_secs(u64::try_from(r.delivered()).unwrap_or(1).clamp(1, 30));
                if let Err(e) = r.nak(delay).await {
                    warn!(error = %error_chain(&e), "cannot hand a JetStream message back");
                }
            }
        }
    }
}

/// Logs and counts the events the store refused.
fn quarantined(written: &Isolated, telemetry: &Telemetry) {
    let mut by_cluster: BTreeMap<&str, u64> = BTreeMap::new();
    for r in &written.rejected {
        *by_cluster.entry(r.event.cluster.as_str()).or_default() += 1;
    }
    for (cluster, n) in &by_cluster {
        telemetry.cluster(cluster).quarantined(*n);
    }
    if let Some(first) = written.rejected.first() {
        warn!(
            events = written.rejected.len(),
            cluster = %first.event.cluster,
            uid = %first.event.uid,
            error = %first.error,
            "the store refused events: quarantined, their messages acknowledged (see kubetrail status)"
        );
    }
}

async fn write(store: &dyn EventSink, events: Vec<Event>, gaps: Vec<Gap>) -> Result<Isolated> {
    let mut txn = store.begin().await?;
    let written = txn.write_or_quarantine(events, "nats").await?;
    for g in gaps {
        warn!(cluster = %g.cluster, from = %g.from, to = %g.to, cause = %g.cause, "events may be missing: gap recorded by an agent");
        txn.save_gap(g).await?;
    }
    txn.commit().await?;
    Ok(written)
}
