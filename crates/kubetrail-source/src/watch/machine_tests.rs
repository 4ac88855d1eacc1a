//! The watch's transitions against a scripted API, in virtual time (`start_paused`): list
//! pages, bookmarks, 410 in the stream and as HTTP, 429 with Retry-After, a dropped connection,
//! a list that fails half-way, batching by size and by time, cancellation.

use std::collections::VecDeque;
use std::sync::Mutex;

use futures::StreamExt;
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1 as core;
use kube::api::{ListParams, ObjectList, WatchEvent, WatchParams};
use kube::core::response::StatusDetails;
use kube::core::{ListMeta, Status, TypeMeta};
use tokio::time::Instant;

use super::*;

/// What the scripted API server answers to a watch.
enum WatchAnswer {
    /// These items, then the server closes the watch (its timeout).
    Closes(Vec<kube::Result<WatchEvent<core::Event>>>),
    /// These items, then it stays open and silent.
    StaysOpen(Vec<kube::Result<WatchEvent<core::Event>>>),
    Fails(kube::Error),
}

#[derive(Debug, Clone, PartialEq)]
enum Call {
    List { continue_token: Option<String> },
    Watch { version: String },
}

/// Answers calls from a script, in order, and records them with their virtual time. A call past
/// the end of the script never answers.
#[derive(Default)]
struct Script {
    lists: Mutex<VecDeque<kube::Result<ObjectList<core::Event>>>>,
    watches: Mutex<VecDeque<WatchAnswer>>,
    calls: Mutex<Vec<(Call, Instant)>>,
}

impl Script {
    fn list(self, answer: kube::Result<ObjectList<core::Event>>) -> Self {
        self.lists.lock().unwrap().push_back(answer);
        self
    }
    fn watch(self, answer: WatchAnswer) -> Self {
        self.watches.lock().unwrap().push_back(answer);
        self
    }
    fn calls(&self) -> Vec<Call> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .map(|(c, _)| c.clone())
            .collect()
    }
    fn times(&self) -> Vec<Instant> {
        self.calls.lock().unwrap().iter().map(|(_, t)| *t).collect()
    }
}

impl EventClient<core::Event> for std::sync::Arc<Script> {
    fn list<'a>(
        &'a self,
        params: &'a ListParams,
    ) -> BoxFuture<'a, kube::Result<ObjectList<core::Event>>> {
        self.calls.lock().unwrap().push((
            Call::List {
                continue_token: params.continue_token.clone(),
            },
            Instant::now(),
        ));
        let answer = self.lists.lock().unwrap().pop_front();
        Box::pin(async move {
            match answer {
                Some(a) => a,
                None => std::future::pending().await,
            }
        })
    }

    fn watch<'a>(
        &'a self,
        _params: &'a WatchParams,
        version: &'a str,
    ) -> BoxFuture<'a, kube::Result<WatchStream<core::Event>>> {
        self.calls.lock().unwrap().push((
            Call::Watch {
                version: version.to_string(),
            },
            Instant::now(),
        ));
        let answer = self.watches.lock().unwrap().pop_front();
        Box::pin(async move {
            match answer {
                Some(WatchAnswer::Closes(items)) => Ok(futures::stream::iter(items).boxed()),
                Some(WatchAnswer::StaysOpen(items)) => Ok(futures::stream::iter(items)
                    .chain(futures::stream::pending())
                    .boxed()),
                Some(WatchAnswer::Fails(e)) => Err(e),
                None => std::future::pending().await,
            }
        })
    }
}

fn event(name: &str, version: &str) -> core::Event {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "namespace": "shop", "uid": format!("uid-{name}"),
                     "resourceVersion": version},
        "involvedObject": {"kind": "Pod", "namespace": "shop", "name": "web-1"},
        "reason": "BackOff", "message": "Back-off restarting failed container",
        "type": "Warning", "count": 1,
        "lastTimestamp": "2026-12-05T10:00:00Z", "firstTimestamp": "2026-12-05T10:00:00Z"
    }))
    .expect("a valid Event")
}

fn page(
    version: &str,
    names: &[&str],
    next: Option<&str>,
) -> kube::Result<ObjectList<core::Event>> {
    Ok(ObjectList {
        types: TypeMeta::default(),
        metadata: ListMeta {
            resource_version: Some(version.to_string()),
            continue_: next.map(str::to_string),
            ..ListMeta::default()
        },
        items: names.iter().map(|n| event(n, version)).collect(),
    })
}

fn added(name: &str, version: &str) -> kube::Result<WatchEvent<core::Event>> {
    Ok(WatchEvent::Added(event(name, version)))
}

fn bookmark(version: &str) -> kube::Result<WatchEvent<core::Event>> {
    Ok(WatchEvent::Bookmark(
        serde_json::from_value(serde_json::json!({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"resourceVersion": version}
        }))
        .expect("a bookmark"),
    ))
}

fn status(code: u16, retry_after_seconds: u32) -> Box<Status> {
    Box::new(Status {
        code,
        message: format!("code {code}"),
        // As the API server sends it (apierrors.NewTooManyRequests sets retryAfterSeconds).
        details: (retry_after_seconds > 0).then(|| {
            serde_json::from_value::<StatusDetails>(
                serde_json::json!({ "retryAfterSeconds": retry_after_seconds }),
            )
            .expect("status details")
        }),
        ..Status::default()
    })
}

fn dropped_connection() -> kube::Error {
    kube::Error::Service("connection reset by peer".into())
}

struct Run {
    script: std::sync::Arc<Script>,
    stats: Arc<WatchStats>,
    cancel: CancellationToken,
}

fn config() -> WatchConfig {
    let mut config = WatchConfig::new("prod");
    config.page_size = 2;
    config.batch_max = 3;
    config.batch_wait = Duration::from_millis(100);
    config.backoff_min = Duration::from_millis(200);
    config.backoff_max = Duration::from_secs(30);
    // No rate limit in the way of the transitions under test.
    config.requests_per_second = 1_000.0;
    config.burst = 1_000;
    config
}

fn start(
    script: Script,
    config: WatchConfig,
    resume: Option<&str>,
) -> (Run, impl Stream<Item = Batch> + Send) {
    let script = std::sync::Arc::new(script);
    let stats = Arc::new(WatchStats::default());
    let cancel = CancellationToken::new();
    let stream = batches(
        script.clone(),
        config,
        resume.map(str::to_string),
        stats.clone(),
        cancel.clone(),
    );
    (
        Run {
            script,
            stats,
            cancel,
        },
        stream,
    )
}

fn names(batch: &Batch) -> Vec<String> {
    batch.events.iter().map(|e| e.name.clone()).collect()
}

async fn next(stream: &mut (impl Stream<Item = Batch> + Unpin)) -> Batch {
    stream.next().await.expect("a batch")
}

#[tokio::test(start_paused = true)]
async fn a_paged_list_advances_the_cursor_only_with_its_last_page_then_watches_from_it() {
    let script = Script::default()
        .list(page("10", &["a", "b"], Some("page-2")))
        .list(page("10", &["c"], None))
        .watch(WatchAnswer::StaysOpen(vec![added("d", "11")]));
    let (run, stream) = start(script, config(), None);
    let mut stream = Box::pin(stream);

    let first = next(&mut stream).await;
    assert_eq!(names(&first), ["a", "b"]);
    assert_eq!(first.cursor, None, "not the last page");
    assert_eq!(first.stream, "events");
    let second = next(&mut stream).await;
    assert_eq!(names(&second), ["c"]);
    assert_eq!(second.cursor.as_deref(), Some("10"));
    assert_eq!(run.stats.synced.load(Ordering::Relaxed), 1);

    let started = Instant::now();
    let third = next(&mut stream).await;
    assert_eq!(names(&third), ["d"]);
    assert_eq!(third.cursor.as_deref(), Some("11"));
    assert_eq!(
        Instant::now() - started,
        Duration::from_millis(100),
        "one event waits batch_wait for company"
    );
    assert_eq!(
        run.script.calls(),
        [
            Call::List {
                continue_token: None
            },
            Call::List {
                continue_token: Some("page-2".into())
            },
            Call::Watch {
                version: "10".into()
            },
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_full_batch_is_handed_over_at_once_and_the_rest_after_batch_wait() {
    let script = Script::default().watch(WatchAnswer::StaysOpen(vec![
        added("a", "21"),
        added("b", "22"),
        added("c", "23"),
        added("d", "24"),
    ]));
    let (_run, stream) = start(script, config(), Some("20"));
    let mut stream = Box::pin(stream);
    let started = Instant::now();
    let full = next(&mut stream).await;
    assert_eq!(names(&full), ["a", "b", "c"]);
    assert_eq!(full.cursor.as_deref(), Some("23"));
    assert_eq!(Instant::now(), started, "a full batch does not wait");
    let rest = next(&mut stream).await;
    assert_eq!(names(&rest), ["d"]);
    assert_eq!(rest.cursor.as_deref(), Some("24"));
    assert_eq!(Instant::now() - started, Duration::from_millis(100));
}

#[tokio::test(start_paused = true)]
async fn a_bookmark_with_nothing_pending_saves_its_version_alone() {
    let script = Script::default().watch(WatchAnswer::StaysOpen(vec![
        bookmark("30"),
        added("a", "31"),
        bookmark("35"),
    ]));
    let (_run, stream) = start(script, config(), Some("29"));
    let mut stream = Box::pin(stream);
    let first = next(&mut stream).await;
    assert!(first.events.is_empty());
    assert_eq!(first.cursor.as_deref(), Some("30"));
    // A bookmark behind pending events moves the cursor they are stored with.
    let second = next(&mut stream).await;
    assert_eq!(names(&second), ["a"]);
    assert_eq!(second.cursor.as_deref(), Some("35"));
}

#[tokio::test(start_paused = true)]
async fn gone_in_the_stream_hands_over_what_was_read_then_relists_with_a_gap() {
    let script = Script::default()
        .watch(WatchAnswer::StaysOpen(vec![
            added("a", "41"),
            Ok(WatchEvent::Error(status(410, 0))),
        ]))
        .list(page("50", &["b"], None));
    let (run, stream) = start(script, config(), Some("40"));
    let mut stream = Box::pin(stream);
    let read = next(&mut stream).await;
    assert_eq!(names(&read), ["a"]);
    assert_eq!(read.cursor.as_deref(), Some("41"));
    assert_eq!(read.gap, None);
    let relisted = next(&mut stream).await;
    assert_eq!(names(&relisted), ["b"]);
    assert_eq!(relisted.cursor.as_deref(), Some("50"));
    let gap = relisted.gap.expect("the relist says events may be missing");
    assert_eq!(gap.expired_version, "41");
    assert!(gap.cause.contains("410"), "{}", gap.cause);
    assert_eq!(run.stats.expired.load(Ordering::Relaxed), 1);
    assert_eq!(run.stats.relists.load(Ordering::Relaxed), 1);
}

#[tokio::test(start_paused = true)]
async fn gone_when_opening_the_watch_relists_with_a_gap_at_once() {
    let script = Script::default()
        .watch(WatchAnswer::Fails(kube::Error::Api(status(410, 0))))
        .list(page("60", &["a"], None));
    let (run, stream) = start(script, config(), Some("5"));
    let mut stream = Box::pin(stream);
    let started = Instant::now();
    let relisted = next(&mut stream).await;
    assert_eq!(
        Instant::now(),
        started,
        "410 is not an error to back off from"
    );
    assert_eq!(relisted.gap.expect("a gap").expired_version, "5");
    assert_eq!(run.stats.errors.load(Ordering::Relaxed), 0);
}

#[tokio::test(start_paused = true)]
async fn too_many_requests_waits_the_retry_after_the_server_asks_for() {
    let script = Script::default()
        .watch(WatchAnswer::Fails(kube::Error::Api(status(429, 7))))
        .watch(WatchAnswer::StaysOpen(vec![added("a", "71")]));
    let (run, stream) = start(script, config(), Some("70"));
    let mut stream = Box::pin(stream);
    let batch = next(&mut stream).await;
    assert_eq!(names(&batch), ["a"]);
    let times = run.script.times();
    assert_eq!(
        run.script.calls(),
        [
            Call::Watch {
                version: "70".into()
            },
            Call::Watch {
                version: "70".into()
            },
        ]
    );
    let waited = times[1] - times[0];
    // The backoff alone would be 100–200 ms; the server asked for 7 s.
    assert_eq!(waited, Duration::from_secs(7), "{waited:?}");
    assert_eq!(run.stats.errors.load(Ordering::Relaxed), 1);
}

#[tokio::test(start_paused = true)]
async fn a_dropped_connection_hands_over_what_was_read_and_resumes_after_a_backoff() {
    let script = Script::default()
        .watch(WatchAnswer::StaysOpen(vec![
            added("a", "81"),
            Err(dropped_connection()),
        ]))
        .watch(WatchAnswer::StaysOpen(vec![added("b", "82")]));
    let (run, stream) = start(script, config(), Some("80"));
    let mut stream = Box::pin(stream);
    let read = next(&mut stream).await;
    assert_eq!(names(&read), ["a"]);
    assert_eq!(read.cursor.as_deref(), Some("81"));
    let after = next(&mut stream).await;
    assert_eq!(names(&after), ["b"]);
    assert_eq!(
        run.script.calls()[1],
        Call::Watch {
            version: "81".into()
        },
        "resumes from the last version read, not the first"
    );
    let times = run.script.times();
    let waited = times[1] - times[0];
    assert!(
        waited >= Duration::from_millis(100) && waited <= Duration::from_millis(200),
        "backoff with jitter: {waited:?}"
    );
    assert_eq!(run.stats.errors.load(Ordering::Relaxed), 1);
}

#[tokio::test(start_paused = true)]
async fn a_watch_the_server_closes_is_reopened_from_its_last_version_without_backoff() {
    let script = Script::default()
        .watch(WatchAnswer::Closes(vec![added("a", "91")]))
        .watch(WatchAnswer::StaysOpen(vec![added("b", "92")]));
    let (run, stream) = start(script, config(), Some("90"));
    let mut stream = Box::pin(stream);
    let started = Instant::now();
    assert_eq!(names(&next(&mut stream).await), ["a"]);
    assert_eq!(Instant::now(), started, "the close hands over at once");
    assert_eq!(names(&next(&mut stream).await), ["b"]);
    let times = run.script.times();
    assert_eq!(times[1], times[0], "no backoff after a normal close");
    assert_eq!(run.stats.watch_restarts.load(Ordering::Relaxed), 2);
}

#[tokio::test(start_paused = true)]
async fn a_list_that_fails_half_way_starts_over_and_records_a_gap() {
    let expired_token = kube::Error::Api(status(410, 0));
    let script = Script::default()
        .list(page("100", &["a", "b"], Some("page-2")))
        .list(Err(expired_token))
        .list(page("105", &["a", "b", "c"], None));
    let (run, stream) = start(script, config(), None);
    let mut stream = Box::pin(stream);
    let first = next(&mut stream).await;
    assert_eq!(first.cursor, None);
    assert_eq!(first.gap, None);
    let again = next(&mut stream).await;
    assert_eq!(names(&again), ["a", "b", "c"]);
    assert_eq!(again.cursor.as_deref(), Some("105"));
    let gap = again
        .gap
        .expect("pages handed over from an abandoned snapshot");
    assert_eq!(gap.expired_version, "100");
    assert_eq!(
        run.script.calls()[2],
        Call::List {
            continue_token: None
        },
        "the list starts over"
    );
}

#[tokio::test(start_paused = true)]
async fn a_first_list_that_fails_is_retried_without_a_gap() {
    let script = Script::default()
        .list(Err(dropped_connection()))
        .list(page("110", &["a"], None));
    let (_run, stream) = start(script, config(), None);
    let mut stream = Box::pin(stream);
    let batch = next(&mut stream).await;
    assert_eq!(names(&batch), ["a"]);
    assert_eq!(
        batch.gap, None,
        "nothing was handed over, nothing can be missed"
    );
}

#[tokio::test(start_paused = true)]
async fn malformed_lines_are_counted_and_skipped() {
    let garbage: serde_json::Error = serde_json::from_str::<u8>("x").unwrap_err();
    let script = Script::default().watch(WatchAnswer::StaysOpen(vec![
        Err(kube::Error::SerdeError(garbage)),
        added("a", "121"),
    ]));
    let (run, stream) = start(script, config(), Some("120"));
    let mut stream = Box::pin(stream);
    assert_eq!(names(&next(&mut stream).await), ["a"]);
    assert_eq!(run.stats.malformed.load(Ordering::Relaxed), 1);
    assert_eq!(run.stats.errors.load(Ordering::Relaxed), 0);
}

#[tokio::test(start_paused = true)]
async fn cancelling_hands_over_pending_events_then_ends() {
    let script = Script::default().watch(WatchAnswer::StaysOpen(vec![added("a", "131")]));
    let mut config = config();
    config.batch_wait = Duration::from_secs(3600);
    let (run, stream) = start(script, config, Some("130"));
    let mut stream = Box::pin(stream);
    let reader = tokio::spawn(async move {
        let mut got = Vec::new();
        while let Some(batch) = stream.next().await {
            got.push(batch);
        }
        got
    });
    // Cancel once the watch holds the event (received), long before batch_wait.
    while run.stats.received.load(Ordering::Relaxed) == 0 {
        tokio::task::yield_now().await;
    }
    run.cancel.cancel();
    let got = reader.await.expect("reader");
    assert_eq!(got.len(), 1);
    assert_eq!(names(&got[0]), ["a"]);
    assert_eq!(got[0].cursor.as_deref(), Some("131"));
}

#[tokio::test(start_paused = true)]
async fn a_namespaced_watch_saves_its_cursor_under_its_own_stream() {
    let script = Script::default().watch(WatchAnswer::StaysOpen(vec![bookmark("140")]));
    let mut config = config();
    config.namespace = Some("shop".into());
    let (_run, stream) = start(script, config, Some("139"));
    let mut stream = Box::pin(stream);
    assert_eq!(next(&mut stream).await.stream, "events/shop");
}

/// Regression: a change watch's gap notice said "events created and expired meanwhile are
/// missing" (the Event watch's words) for every stream; it names the resource now.
#[tokio::test(start_paused = true)]
async fn a_change_watch_gap_names_its_resource_not_events() {
    let script = Script::default()
        .watch(WatchAnswer::Fails(kube::Error::Api(status(410, 0))))
        .list(page("60", &["a"], None))
        .watch(WatchAnswer::StaysOpen(Vec::new()));
    let mut config = config();
    config.stream_name = "changes/configmaps".into();
    let (_run, stream) = start(script, config, Some("5"));
    let mut stream = Box::pin(stream);
    let relisted = next(&mut stream).await;
    assert_eq!(relisted.stream, "changes/configmaps");
    let cause = relisted.gap.expect("a gap").cause;
    assert!(cause.contains("410 Gone"), "{cause}");
    assert!(cause.contains("configmaps"), "{cause}");
    assert!(!cause.contains("events"), "{cause}");
}
