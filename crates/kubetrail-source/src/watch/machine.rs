//! The Event watch as a [`Stream`] of [`Batch`]es: kube's watcher state machine made explicit.
//!
//! ```text
//!            ┌──────── 410 Gone (gap) ◄──────────────┐
//!            ▼                                       │
//!   Listing (paged) ──last page──► Opening ──ok──► Streaming ──timeout──► Opening
//!     │  ▲  error (gap when pages         ▲  error        │ error / broken
//!     ▼  │  were handed over)             │               ▼
//!     Waiting (backoff, or the server's Retry-After) ─────┘
//! ```
//!
//! Each batch carries the resourceVersion the cursor advances to once it is stored; a list's
//! pages advance it only with the last page. Nothing here spawns or sleeps outside
//! `tokio::time`, so tests drive it with paused (virtual) time.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures::{Stream, TryStreamExt};
use kube::api::{ListParams, WatchEvent, WatchParams};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::backoff::{Backoff, RateLimit};
use super::client::{EventClient, WatchStream};
use super::events::{Batch, GapNotice, WatchConfig, WatchStats, Watched};
use super::generations::Generations;

/// The watch of one Event stream as a stream of batches, from `resume` (a stored
/// resourceVersion) or from a full list. It ends when `cancel` fires, after handing over the
/// events it had read; it never ends on its own (errors are retried with backoff).
pub fn batches<K, C>(
    client: C,
    config: WatchConfig,
    resume: Option<String>,
    stats: Arc<WatchStats>,
    cancel: CancellationToken,
) -> impl Stream<Item = Batch<K::Item>> + Send
where
    K: Watched,
    C: EventClient<K>,
{
    let phase = match resume {
        Some(version) => Phase::Opening { version },
        None => Phase::listing(None),
    };
    let machine = Machine {
        backoff: Backoff::new(config.backoff_min, config.backoff_max),
        limit: RateLimit::new(config.requests_per_second, config.burst),
        client,
        config,
        stats,
        cancel,
        phase,
        pending: Vec::new(),
        skipped: false,
        generations: Generations::default(),
        deadline: None,
    };
    futures::stream::unfold(machine, |mut machine| async move {
        let batch = machine.next_batch().await?;
        Some((batch, machine))
    })
}

/// Where the watch is.
enum Phase<K> {
    /// Listing every Event page by page. `gap` says why (a relist); `listed` is the snapshot
    /// version of the pages handed over so far.
    Listing {
        gap: Option<GapNotice>,
        continue_token: Option<String>,
        listed: Option<String>,
    },
    /// About to open a watch from this resourceVersion.
    Opening { version: String },
    /// Reading an open watch; `version` is the last one seen.
    Streaming {
        version: String,
        stream: WatchStream<K>,
    },
    /// Waiting out a backoff before going on.
    Waiting {
        delay: Duration,
        then: Box<Phase<K>>,
    },
    /// Cancelled: nothing more.
    Stopped,
}

impl<K> Phase<K> {
    fn listing(gap: Option<GapNotice>) -> Self {
        Phase::Listing {
            gap,
            continue_token: None,
            listed: None,
        }
    }
}

struct Machine<K: Watched, C> {
    client: C,
    config: WatchConfig,
    stats: Arc<WatchStats>,
    cancel: CancellationToken,
    backoff: Backoff,
    limit: RateLimit,
    phase: Phase<K>,
    /// Items read from the watch and not yet handed over.
    pending: Vec<K::Item>,
    /// Status-only updates were skipped since the last batch: the cursor has moved on.
    skipped: bool,
    /// The generation last handed over per object (kinds with a spec generation only).
    generations: Generations,
    /// When the pending events must be handed over at the latest.
    deadline: Option<tokio::time::Instant>,
}

impl<K, C> Machine<K, C>
where
    K: Watched,
    C: EventClient<K>,
{
    /// Runs the machine until it has a batch to hand over, or is cancelled (`None`).
    async fn next_batch(&mut self) -> Option<Batch<K::Item>> {
        loop {
            let phase = std::mem::replace(&mut self.phase, Phase::Stopped);
            let step = match phase {
                Phase::Listing {
                    gap,
                    continue_token,
                    listed,
                } => self.list_page(gap, continue_token, listed).await,
                Phase::Opening { version } => self.open(version).await,
                Phase::Streaming { version, stream } => self.read(version, stream).await,
                Phase::Waiting { delay, then } => {
                    tokio::select! {
                        biased;
                        _ = self.cancel.cancelled() => (Phase::Stopped, None),
                        _ = tokio::time::sleep(delay) => (*then, None),
                    }
                }
                Phase::Stopped => return None,
            };
            let (next, batch) = step;
            self.phase = next;
            if batch.is_some() {
                return batch;
            }
        }
    }

    /// Waits for the rate limit; false when cancelled meanwhile.
    async fn acquire(&mut self) -> bool {
        tokio::select! {
            biased;
            _ = self.cancel.cancelled() => false,
            _ = self.limit.acquire() => true,
        }
    }

    /// Goes to `then` after a backoff, or after the server's Retry-After when it asks longer.
    fn retry(&mut self, error: Option<&kube::Error>, then: Phase<K>) -> Phase<K> {
        self.stats.errors.fetch_add(1, Ordering::Relaxed);
        let delay = self.backoff.next_delay().max(retry_after(error));
        Phase::Waiting {
            delay,
            then: Box::new(then),
        }
    }

    async fn list_page(
        &mut self,
        mut gap: Option<GapNotice>,
        continue_token: Option<String>,
        listed: Option<String>,
    ) -> (Phase<K>, Option<Batch<K::Item>>) {
        if continue_token.is_none() {
            if gap.is_some() {
                self.stats.relists.fetch_add(1, Ordering::Relaxed);
            }
            if !self.acquire().await {
                return (Phase::Stopped, None);
            }
        }
        let mut params = ListParams::default().limit(self.config.page_size);
        if let Some(f) = &self.config.field_selector {
            params = params.fields(f);
        }
        if let Some(l) = &self.config.label_selector {
            params = params.labels(l);
        }
        if let Some(c) = &continue_token {
            params = params.continue_token(c);
        }
        let page = tokio::select! {
            biased;
            _ = self.cancel.cancelled() => return (Phase::Stopped, None),
            page = self.client.list(&params) => page,
        };
        let page = match page {
            Ok(page) => page,
            Err(e) => {
                // E.g. an expired continue token: start the list over.
                warn!(cluster = %self.config.cluster, error = %e, "event list failed");
                // Pages already handed over show a snapshot the new list will not continue:
                // what changed and went between the two is missed.
                if let (Some(version), None) = (&listed, &gap) {
                    gap = Some(GapNotice {
                        expired_version: version.clone(),
                        cause: self.config.gap_cause(
                            "list failed half-way and started over",
                            "events changed and deleted meanwhile are missing",
                        ),
                    });
                }
                return (self.retry(Some(&e), Phase::listing(gap)), None);
            }
        };
        let version = page.metadata.resource_version.clone().unwrap_or_default();
        let next = page.metadata.continue_.clone().filter(|c| !c.is_empty());
        let mut events = Vec::with_capacity(page.items.len());
        for obj in page.items {
            if let Some((uid, generation)) = obj.spec_generation() {
                self.generations.handed_over(uid, generation);
            }
            self.accept(obj, &mut events);
        }
        // The cursor may only advance when the last page is stored.
        let batch = Batch {
            stream: self.config.stream(),
            events,
            cursor: next.is_none().then(|| version.clone()),
            gap,
            listed: true,
        };
        let phase = match next {
            Some(token) => Phase::Listing {
                gap: None,
                continue_token: Some(token),
                listed: Some(version),
            },
            None => {
                self.stats.synced.store(1, Ordering::Relaxed);
                info!(cluster = %self.config.cluster, stream = %self.config.stream(), %version, "listed");
                self.backoff.reset();
                Phase::Opening { version }
            }
        };
        (phase, Some(batch))
    }

    async fn open(&mut self, version: String) -> (Phase<K>, Option<Batch<K::Item>>) {
        if !self.acquire().await {
            return (Phase::Stopped, None);
        }
        self.stats.watch_restarts.fetch_add(1, Ordering::Relaxed);
        let mut params = WatchParams::default().timeout(self.config.watch_timeout);
        if let Some(f) = &self.config.field_selector {
            params = params.fields(f);
        }
        if let Some(l) = &self.config.label_selector {
            params = params.labels(l);
        }
        let opened = tokio::select! {
            biased;
            _ = self.cancel.cancelled() => return (Phase::Stopped, None),
            opened = self.client.watch(&params, &version) => opened,
        };
        match opened {
            Ok(stream) => {
                self.stats.synced.store(1, Ordering::Relaxed);
                (Phase::Streaming { version, stream }, None)
            }
            Err(kube::Error::Api(s)) if s.code == 410 => (self.expired(version), None),
            Err(e) => {
                warn!(cluster = %self.config.cluster, error = %e, "cannot open the event watch");
                (self.retry(Some(&e), Phase::Opening { version }), None)
            }
        }
    }

    /// Reads the open watch until a batch is ready or the watch ends.
    async fn read(
        &mut self,
        mut version: String,
        mut stream: WatchStream<K>,
    ) -> (Phase<K>, Option<Batch<K::Item>>) {
        loop {
            let next = tokio::select! {
                biased;
                _ = self.cancel.cancelled() => {
                    // Hand over what was read; the caller stores it before stopping.
                    return (Phase::Stopped, self.flush(&version));
                }
                _ = sleep_until(self.deadline) => {
                    let batch = self.flush(&version);
                    return (Phase::Streaming { version, stream }, batch);
                }
                next = stream.try_next() => next,
            };
            match next {
                Ok(Some(WatchEvent::Added(obj) | WatchEvent::Modified(obj))) => {
                    if let Some(v) = &obj.meta().resource_version {
                        version.clone_from(v);
                    }
                    if let Some((uid, generation)) = obj.spec_generation() {
                        if self.generations.is_known(uid, generation) {
                            // Status only: nothing to hand over but the cursor.
                            self.stats.received.fetch_add(1, Ordering::Relaxed);
                            self.skipped = true;
                            self.start_deadline();
                            continue;
                        }
                        self.generations.handed_over(uid, generation);
                    }
                    let mut pending = std::mem::take(&mut self.pending);
                    self.accept(obj, &mut pending);
                    self.pending = pending;
                }
                Ok(Some(WatchEvent::Deleted(obj))) => {
                    // For Events: it expired on the server, no new occurrence.
                    if let Some(v) = &obj.meta().resource_version {
                        version.clone_from(v);
                    }
                    if let Some(uid) = &obj.meta().uid {
                        self.generations.forget(uid);
                    }
                    if let Some(item) = obj.deleted(&self.config.cluster) {
                        self.pending.push(item);
                    }
                }
                Ok(Some(WatchEvent::Bookmark(b))) => {
                    version = b.metadata.resource_version;
                    if self.pending.is_empty() {
                        // Save the bookmark's version so a restart resumes after it.
                        let batch = Batch {
                            stream: self.config.stream(),
                            cursor: Some(version.clone()),
                            ..Batch::default()
                        };
                        return (Phase::Streaming { version, stream }, Some(batch));
                    }
                }
                Ok(Some(WatchEvent::Error(status))) if status.code == 410 => {
                    let batch = self.flush(&version);
                    return (self.expired(version), batch);
                }
                Ok(Some(WatchEvent::Error(status))) => {
                    warn!(cluster = %self.config.cluster, code = status.code, message = %status.message, "watch error");
                    let batch = self.flush(&version);
                    let error = kube::Error::Api(status);
                    return (self.retry(Some(&error), Phase::Opening { version }), batch);
                }
                Ok(None) => {
                    // The server closed the watch (timeout): reopen from where we are.
                    debug!(cluster = %self.config.cluster, "watch ended; reopening");
                    self.backoff.reset();
                    let batch = self.flush(&version);
                    return (Phase::Opening { version }, batch);
                }
                Err(kube::Error::SerdeError(e)) => {
                    // A malformed line: count it and read on.
                    self.stats.malformed.fetch_add(1, Ordering::Relaxed);
                    warn!(cluster = %self.config.cluster, error = %e, "malformed watch event skipped");
                }
                Err(e) => {
                    warn!(cluster = %self.config.cluster, error = %e, "event watch broke");
                    let batch = self.flush(&version);
                    return (self.retry(Some(&e), Phase::Opening { version }), batch);
                }
            }
            if self.pending.len() >= self.config.batch_max {
                let batch = self.flush(&version);
                return (Phase::Streaming { version, stream }, batch);
            }
            if !self.pending.is_empty() {
                self.start_deadline();
            }
        }
    }

    /// Starts the wait of the batch being gathered, unless it has started.
    fn start_deadline(&mut self) {
        if self.deadline.is_none() {
            self.deadline = Some(tokio::time::Instant::now() + self.config.batch_wait);
        }
    }

    /// A 410 Gone: relist, recording that events may be missing.
    fn expired(&mut self, version: String) -> Phase<K> {
        self.stats.expired.fetch_add(1, Ordering::Relaxed);
        warn!(cluster = %self.config.cluster, %version, "resource version expired; relisting");
        self.backoff.reset();
        Phase::listing(Some(GapNotice {
            expired_version: version,
            cause: self.config.gap_cause(
                "resourceVersion expired (410 Gone)",
                "events created and expired meanwhile are missing",
            ),
        }))
    }

    fn accept(&self, obj: K, out: &mut Vec<K::Item>) {
        self.stats.received.fetch_add(1, Ordering::Relaxed);
        // Kept for the warning: accepting moves the object's strings.
        let name = obj.meta().name.clone();
        match obj.accept(&self.config.cluster) {
            Ok(e) => out.push(e),
            Err(reason) => {
                self.stats.rejected.fetch_add(1, Ordering::Relaxed);
                warn!(cluster = %self.config.cluster, stream = %self.config.stream(), ?name, %reason, "object rejected");
            }
        }
    }

    /// The pending events as a batch advancing the cursor to `version`, if there are any, or
    /// skipped updates (then the batch is the cursor alone: one store write per batch wait
    /// however many status-only updates came).
    fn flush(&mut self, version: &str) -> Option<Batch<K::Item>> {
        self.deadline = None;
        let skipped = std::mem::take(&mut self.skipped);
        if self.pending.is_empty() && !skipped {
            return None;
        }
        Some(Batch {
            stream: self.config.stream(),
            events: std::mem::take(&mut self.pending),
            cursor: Some(version.to_string()),
            gap: None,
            listed: false,
        })
    }
}

/// How long the server asked us to wait in the Status body (`details.retryAfterSeconds`, as
/// apimachinery's `NewTooManyRequests` and `NewServerTimeout` set it); zero when it did not.
/// The `Retry-After` header form is honoured earlier, by kube's client retry layer.
fn retry_after(error: Option<&kube::Error>) -> Duration {
    match error {
        Some(kube::Error::Api(status)) => status
            .details
            .as_ref()
            .map(|d| Duration::from_secs(u64::from(d.retry_after_seconds)))
            .unwrap_or_default(),
        _ => Duration::ZERO,
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
#[path = "machine_tests.rs"]
mod tests;
