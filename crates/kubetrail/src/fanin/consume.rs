//! `run --source nats`: reads the durable consumer in batches, writes each batch in one store
//! transaction, and acknowledges its messages only after the commit. A message delivered again
//! (this instance or another crashed before acknowledging it) adds nothing: the store keeps an
//! Event once per `(cluster, uid)` and adds only count increases, so an occurrence — an Event's
//! count reaching a value — is never counted twice.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use kubetrail_model::{Event, Timestamp};
use kubetrail_process::FutureLimit;
use kubetrail_source::NatsError;
use kubetrail_source::nats::{Consumer, NatsSettings, Received, redact_url};
use kubetrail_source::watch::Backoff;
use kubetrail_store::{Gap, Store};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

/// Messages per store transaction, at most.
const MAX_MESSAGES: usize = 256;

/// How long a batch waits for more messages after its first.
const LINGER: Duration = Duration::from_millis(20);

/// Starts the consumer; it runs until `cancel`.
pub fn start(
    store: Arc<dyn Store>,
    settings: NatsSettings,
    max_future: FutureLimit,
    alerts: Option<kubetrail_alert::AlertFeed>,
    cancel: &CancellationToken,
) -> JoinSet<(String, Result<()>)> {
    let mut tasks = JoinSet::new();
    let cancel = cancel.clone();
    tasks.spawn(async move {
        let name = format!("nats:{}", settings.stream);
        let result = consume(store, settings, max_future, alerts, cancel).await;
        (name, result)
    });
    tasks
}

/// Connects and consumes; reconnects with backoff when NATS goes away.
async fn consume(
    store: Arc<dyn Store>,
    settings: NatsSettings,
    max_future: FutureLimit,
    alerts: Option<kubetrail_alert::AlertFeed>,
    cancel: CancellationToken,
) -> Result<()> {
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
                match run(
                    &mut consumer,
                    store.as_ref(),
                    max_future,
                    alerts.as_ref(),
                    &cancel,
                )
                .await
                {
                    Ok(()) => return Ok(()),
                    Err(e) => {
                        warn!(error = %chain(&e), "lost the JetStream consumer; reconnecting")
                    }
                }
            }
            Err(e) => warn!(error = %chain(&e), "cannot reach NATS JetStream; retrying"),
        }
        tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            _ = tokio::time::sleep(backoff.next_delay()) => {}
        }
    }
}

async fn run(
    consumer: &mut Consumer,
    store: &dyn Store,
    max_future: FutureLimit,
    alerts: Option<&kubetrail_alert::AlertFeed>,
    cancel: &CancellationToken,
) -> Result<(), NatsError> {
    loop {
        let batch = tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            b = consumer.next_batch(MAX_MESSAGES, LINGER) => b?,
        };
        handle(batch, store, max_future, alerts).await;
    }
}

/// Stores the batch's events and gaps in one transaction, then acknowledges its messages; if
/// the store fails, asks for them again later instead. Events dated further past their
/// delivery than `max_future` allows are refused (logged with their count), the others kept.
async fn handle(
    batch: Vec<Received>,
    store: &dyn Store,
    max_future: FutureLimit,
    alerts: Option<&kubetrail_alert::AlertFeed>,
) {
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
                error!(subject = r.subject(), error = %chain(e), "dropping a JetStream message that is not a kubetrail batch");
                if let Err(e) = r.term().await {
                    warn!(error = %chain(&e), "cannot drop a bad JetStream message");
                }
            }
        }
    }
    if good.is_empty() {
        return;
    }
    let refused = max_future.retain(&mut events, Timestamp::now());
    if refused > 0 {
        warn!(refused, max_ahead = %format!("{:#}", max_future.max_ahead()), "refused events of a JetStream batch dated too far in the future");
    }
    let n = events.len();
    let for_alerts = alerts.map(|_| events.clone());
    match write(store, events, gaps).await {
        Ok(()) => {
            for r in &good {
                // A lost ack means one more delivery, which the store absorbs.
                if let Err(e) = r.ack().await {
                    warn!(error = %chain(&e), "cannot acknowledge a stored JetStream message");
                }
            }
            tracing::debug!(
                messages = good.len(),
                events = n,
                "stored a JetStream batch"
            );
            if let (Some(alerts), Some(events)) = (alerts, for_alerts) {
                alerts.committed(events).await;
            }
        }
        Err(e) => {
            warn!(messages = good.len(), events = n, error = %format!("{e:#}"), "cannot store a JetStream batch; it will be delivered again");
            for r in &good {
                let delay =
                    Duration::from_secs(u64::try_from(r.delivered()).unwrap_or(1).clamp(1, 30));
                if let Err(e) = r.nak(delay).await {
                    warn!(error = %chain(&e), "cannot hand a JetStream message back");
                }
            }
        }
    }
}

async fn write(store: &dyn Store, events: Vec<Event>, gaps: Vec<Gap>) -> Result<()> {
    let mut txn = store.begin().await?;
    txn.write(events).await?;
    for g in gaps {
        warn!(cluster = %g.cluster, from = %g.from, to = %g.to, cause = %g.cause, "events may be missing: gap recorded by an agent");
        txn.save_gap(g).await?;
    }
    txn.commit().await?;
    Ok(())
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
