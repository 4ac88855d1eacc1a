//! Bugs the fault rounds found, each pinned by the smallest test that shows it.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use kube::config::{KubeConfigOptions, Kubeconfig};
use kubetrail_sim::Simulator;
use kubetrail_source::watch::{WatchConfig, WatchStats, detect_api, watch_events};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::common::sim::backoff;

/// Found by fault round seed 36: a relist is a paged list; when its continue token expired
/// half-way (compaction), the list started over from a newer version without a gap, so an
/// Event raised and deleted between the two lists kept its older count, with nothing
/// recorded. A list that fails after pages were handed over must start over with a gap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_started_over_after_pages_were_handed_over_records_a_gap() {
    let sim = Simulator::start().await.expect("simulator");
    for i in 0..30 {
        sim.create(&backoff("shop", "web", 5, i)).expect("create");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&path).expect("kubeconfig");
    let kubeconfig = Kubeconfig::read_from(&path).expect("read kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("client config");
    let client = kube::Client::try_from(config).expect("client");
    let api = detect_api(&client).await.expect("events API");
    let mut watch = WatchConfig::new("c");
    watch.page_size = 5;
    // One batch in the channel and one held by the watcher: it stops after two pages.
    let (tx, mut rx) = mpsc::channel(1);
    let stats = Arc::new(WatchStats::default());
    let cancel = CancellationToken::new();
    tokio::spawn(watch_events(
        client,
        api,
        watch,
        None,
        tx,
        stats.clone(),
        cancel.clone(),
    ));
    let deadline = Instant::now() + Duration::from_secs(60);
    while stats.received.load(Ordering::SeqCst) < 10 {
        assert!(Instant::now() < deadline, "the first two pages never came");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The list's snapshot is now older than the history: its next page is 410.
    sim.create(&backoff("shop", "web", 5, 30)).expect("create");
    sim.compact();
    let mut gap = false;
    loop {
        let batch = tokio::time::timeout_at(deadline.into(), rx.recv())
            .await
            .expect("the list ends")
            .expect("the watch goes on");
        gap |= batch.gap.is_some();
        if batch.cursor.is_some() {
            break;
        }
    }
    cancel.cancel();
    assert!(
        gap,
        "the list started over after pages were handed over, with no gap"
    );
}
