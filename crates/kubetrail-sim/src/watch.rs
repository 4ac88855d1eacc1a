//! Watch streams: chunked JSON lines `{"type": ..., "object": ...}`, as the real server sends.
//!
//! A watch starts either from the current state (every object as ADDED, then, if asked, one
//! BOOKMARK annotated `k8s.io/initial-events-end`) or after a resourceVersion (the history is
//! replayed). A version older than the compacted history is answered with HTTP 200 and one
//! in-stream ERROR carrying a `410 Expired` Status, exactly as in the real transcripts. With
//! selectors, an object that stops matching is sent as DELETED and one that starts matching as
//! ADDED, as the real watch filter does.
//!
//! Event watches never get periodic BOOKMARKs (the real server serves them from etcd and sends
//! none); other resources get one every `bookmark_interval` when the client allows bookmarks
//! and the simulator is configured with an interval (off by default).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::{broadcast, mpsc, watch};
use tokio::time::{Instant, Interval, sleep_until};

use crate::convert;
use crate::faults::Faults;
use crate::resources::Resource;
use crate::selectors::Filter;
use crate::status::ApiError;
use crate::store::{Change, ChangeType, Store, WatchSetup, WatchStart};

/// What the client asked for.
pub(crate) struct WatchRequest {
    pub filter: Filter,
    pub start: WatchStart,
    pub allow_bookmarks: bool,
    /// Send the `initial-events-end` BOOKMARK after the initial ADDED events.
    pub initial_events_end: bool,
    pub timeout: Option<Duration>,
}

/// The server parts a watch needs.
#[derive(Clone)]
pub(crate) struct WatchContext {
    pub store: Arc<Store>,
    pub faults: Faults,
    pub shutdown: watch::Receiver<bool>,
    pub bookmark_interval: Option<Duration>,
}

/// Why a connection was cut (the body ends with an error, so no final chunk is sent).
#[derive(Debug, thiserror::Error)]
#[error("watch connection cut")]
struct WatchCut;

/// How a stream ends.
enum End {
    /// The body ends normally (timeout, shutdown, client gone).
    Done,
    /// The connection is cut (injected drop, the watch fell too far behind).
    Cut,
}

#[derive(Serialize)]
struct WatchLine<'a> {
    #[serde(rename = "type")]
    type_: &'a str,
    object: &'a Value,
}

/// Starts a watch and returns its streaming response.
pub(crate) fn serve(context: WatchContext, request: WatchRequest) -> Response {
    let setup = match context.store.watch(request.filter.resource, request.start) {
        Ok(setup) => setup,
        Err(error) => return expired_stream(&error),
    };
    let (tx, rx) = mpsc::channel::<Item>(64);
    let watcher = Watcher {
        drop_signal: context.faults.drop_signal(),
        faults: context.faults,
        shutdown: context.shutdown,
        deadline: request.timeout.map(|t| Instant::now() + t),
        request,
        tx,
        sent: 0,
    };
    let interval = context.bookmark_interval;
    tokio::spawn(async move { watcher.run(setup, interval).await });
    streaming(Body::from_stream(WatchBody { rx, cutting: false }))
}

/// What the watch task hands to the response body.
enum Item {
    Line(Bytes),
    /// Cut the connection once what was sent before is flushed.
    Cut,
}

/// The response body of a watch.
struct WatchBody {
    rx: mpsc::Receiver<Item>,
    cutting: bool,
}

impl futures::Stream for WatchBody {
    type Item = Result<Bytes, WatchCut>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.cutting {
            return Poll::Ready(Some(Err(WatchCut)));
        }
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(Item::Line(line))) => Poll::Ready(Some(Ok(line))),
            // hyper flushes what it has written when the body is pending; only then fail it,
            // so the lines sent before a cut reach the client.
            Poll::Ready(Some(Item::Cut)) => {
                self.cutting = true;
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

fn streaming(body: Body) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, private"),
    );
    response
}

/// HTTP 200 and a single ERROR line: how the real server answers an expired watch.
fn expired_stream(error: &ApiError) -> Response {
    let line = encode_line("ERROR", &error.to_status());
    streaming(Body::from(line))
}

fn encode_line(type_: &str, object: &Value) -> Bytes {
    let mut line = serde_json::to_vec(&WatchLine { type_, object }).unwrap_or_default();
    line.push(b'\n');
    Bytes::from(line)
}

struct Watcher {
    request: WatchRequest,
    faults: Faults,
    drop_signal: watch::Receiver<u64>,
    shutdown: watch::Receiver<bool>,
    deadline: Option<Instant>,
    tx: mpsc::Sender<Item>,
    sent: u64,
}

impl Watcher {
    async fn run(mut self, setup: WatchSetup, bookmark_interval: Option<Duration>) {
        if let End::Cut = self.stream(setup, bookmark_interval).await {
            let _ = self.tx.send(Item::Cut).await;
        }
    }

    async fn stream(&mut self, setup: WatchSetup, bookmark_interval: Option<Duration>) -> End {
        let WatchSetup {
            initial,
            replay,
            rv,
            mut live,
        } = setup;
        let resource = self.request.filter.resource;
        // Everything up to `last_rv` has been sent (or filtered out): what a BOOKMARK promises.
        let mut last_rv = rv;
        for object in &initial {
            if !self.request.filter.selects(object) {
                continue;
            }
            if let Err(end) = self.send("ADDED", object).await {
                return end;
            }
        }
        if self.request.initial_events_end && self.request.allow_bookmarks {
            let bookmark = convert::bookmark(resource, rv, true);
            if let Err(end) = self.send_raw("BOOKMARK", &bookmark).await {
                return end;
            }
        }
        for change in &replay {
            if let Err(end) = self.send_change(change).await {
                return end;
            }
        }
        let periodic = !matches!(resource, Resource::CoreEvent | Resource::Event)
            && self.request.allow_bookmarks;
        let mut ticker = bookmark_interval
            .filter(|_| periodic)
            .map(|period| tokio::time::interval_at(Instant::now() + period, period));
        loop {
            // Biased: a drop, shutdown or timeout wins over pending changes.
            let step = tokio::select! {
                biased;
                end = self.interrupted() => Step::End(end),
                () = tick(&mut ticker) => Step::Bookmark,
                received = live.recv() => Step::Change(received),
            };
            let sent = match step {
                Step::End(end) => return end,
                Step::Bookmark => {
                    let bookmark = convert::bookmark(resource, last_rv, false);
                    self.send_raw("BOOKMARK", &bookmark).await
                }
                Step::Change(Ok(change)) => {
                    last_rv = last_rv.max(change.rv);
                    self.send_change(&change).await
                }
                // Fell behind the broadcast buffer: cut, the client resumes from its last
                // version like after any dropped connection.
                Step::Change(Err(broadcast::error::RecvError::Lagged(_))) => Err(End::Cut),
                Step::Change(Err(broadcast::error::RecvError::Closed)) => Err(End::Done),
            };
            if let Err(end) = sent {
                return end;
            }
        }
    }

    /// Sends a change if this watch selects it, translated as the real watch filter does.
    async fn send_change(&mut self, change: &Change) -> Result<(), End> {
        let filter = &self.request.filter;
        if change.kind != filter.resource.store_kind() {
            return Ok(());
        }
        let now_selected = change.change != ChangeType::Deleted && filter.selects(&change.object);
        let was_selected = change
            .prev
            .as_ref()
            .is_some_and(|prev| filter.selects(prev));
        match (change.change, was_selected, now_selected) {
            (ChangeType::Added, _, true) | (ChangeType::Modified, false, true) => {
                self.send("ADDED", &change.object).await
            }
            (ChangeType::Modified, true, true) => self.send("MODIFIED", &change.object).await,
            (ChangeType::Deleted, true, _) => self.send("DELETED", &change.object).await,
            (ChangeType::Modified, true, false) => {
                let mut left = change.prev.clone().unwrap_or_default();
                crate::store::set_meta(
                    &mut left,
                    "resourceVersion",
                    Value::String(change.rv.to_string()),
                );
                self.send("DELETED", &left).await
            }
            _ => Ok(()),
        }
    }

    async fn send(&mut self, type_: &str, stored: &Value) -> Result<(), End> {
        let shown = convert::encode(self.request.filter.resource, stored);
        self.send_raw(type_, &shown).await
    }

    async fn send_raw(&mut self, type_: &str, object: &Value) -> Result<(), End> {
        let mut stall_changes = self.faults.stall_signal();
        while let Some(until) = self.faults.stalled_until() {
            // Biased: a drop or shutdown wins over the end of the stall.
            tokio::select! {
                biased;
                end = self.interrupted() => return Err(end),
                () = sleep_until(until) => {}
                // Cleared or extended: look again.
                _ = stall_changes.changed() => {}
            }
        }
        if self.faults.take_garbage_line() {
            let garbage =
                Bytes::from_static(b"{\"type\":\"ADDED\",\"object\":{\"kind\":\"Event\",]}\n");
            if self.tx.send(Item::Line(garbage)).await.is_err() {
                return Err(End::Done);
            }
        }
        if self
            .tx
            .send(Item::Line(encode_line(type_, object)))
            .await
            .is_err()
        {
            return Err(End::Done);
        }
        self.sent += 1;
        match self.faults.drop_after() {
            Some(limit) if self.sent >= limit => Err(End::Cut),
            _ => Ok(()),
        }
    }

    /// Resolves when the stream must end regardless of changes.
    async fn interrupted(&mut self) -> End {
        let deadline = self.deadline;
        tokio::select! {
            biased;
            _ = self.drop_signal.changed() => End::Cut,
            _ = self.shutdown.wait_for(|stopping| *stopping) => End::Done,
            () = self.tx.closed() => End::Done,
            () = async {
                match deadline {
                    Some(deadline) => sleep_until(deadline).await,
                    None => std::future::pending().await,
                }
            } => End::Done,
        }
    }
}

enum Step {
    End(End),
    Bookmark,
    Change(Result<Arc<Change>, broadcast::error::RecvError>),
}

async fn tick(ticker: &mut Option<Interval>) {
    match ticker {
        Some(ticker) => {
            ticker.tick().await;
        }
        None => std::future::pending().await,
    }
}
