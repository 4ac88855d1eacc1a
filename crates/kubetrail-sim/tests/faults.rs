//! Fault injection: what a watcher must survive.

mod common;

use std::num::NonZeroU64;
use std::time::Duration;

use anyhow::Result;
use common::{Client, Next};
use hyper::StatusCode;
use k8s_openapi::api::core::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kubetrail_sim::{InjectedFailure, SimHandle, Simulator};

fn event(name: &str) -> Event {
    Event {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("demo".into()),
            ..Default::default()
        },
        reason: Some("BackOff".into()),
        message: Some("Back-off restarting failed container".into()),
        type_: Some("Warning".into()),
        ..Default::default()
    }
}

async fn start() -> Result<(SimHandle, Client)> {
    let sim = Simulator::start().await?;
    let client = Client::new(&sim.url());
    Ok((sim, client))
}

const WATCH: &str = "/api/v1/events?watch=1";

#[tokio::test]
async fn dropping_watches_cuts_every_open_connection() -> Result<()> {
    let (sim, client) = start().await?;
    let rv = sim.resource_version();
    let mut first = client
        .watch(&format!("{WATCH}&resourceVersion={rv}"))
        .await?;
    let mut second = client
        .watch(&format!(
            "/apis/events.k8s.io/v1/events?watch=1&resourceVersion={rv}"
        ))
        .await?;
    sim.create(&event("a"))?;
    // Both watches are open and delivering before the drop.
    first.next().await?;
    second.next().await?;
    sim.faults().drop_watches();
    assert!(matches!(
        first.next_within(Duration::from_secs(5)).await,
        Next::Cut
    ));
    assert!(matches!(
        second.next_within(Duration::from_secs(5)).await,
        Next::Cut
    ));
    // New watches work, and resume where the old ones stopped.
    let mut again = client
        .watch(&format!("{WATCH}&resourceVersion={rv}"))
        .await?;
    assert_eq!(again.next().await?["object"]["metadata"]["name"], "a");
    Ok(())
}

#[tokio::test]
async fn watches_are_cut_after_n_events() -> Result<()> {
    let (sim, client) = start().await?;
    for name in ["a", "b", "c"] {
        sim.create(&event(name))?;
    }
    sim.faults().drop_watches_after(NonZeroU64::new(2));
    let mut watch = client.watch(&format!("{WATCH}&resourceVersion=1")).await?;
    watch.next().await?;
    watch.next().await?;
    assert!(matches!(
        watch.next_within(Duration::from_secs(5)).await,
        Next::Cut
    ));
    sim.faults().drop_watches_after(None);
    let mut watch = client.watch(&format!("{WATCH}&resourceVersion=1")).await?;
    for _ in 0..3 {
        watch.next().await?;
    }
    Ok(())
}

#[tokio::test]
async fn the_next_requests_fail_with_retry_after() -> Result<()> {
    let (_sim, client) = start().await?;
    let sim = _sim;
    sim.faults().fail_next(
        2,
        InjectedFailure::TooManyRequests {
            retry_after_seconds: 3,
        },
    );
    sim.faults().fail_next(
        1,
        InjectedFailure::InternalError {
            retry_after_seconds: 1,
        },
    );
    // Discovery is not affected.
    assert_eq!(client.get("/api").await?.status, StatusCode::OK);
    for _ in 0..2 {
        let reply = client.get("/api/v1/events").await?;
        assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(reply.headers["retry-after"], "3");
        assert_eq!(reply.body["reason"], "TooManyRequests");
        assert_eq!(reply.body["details"]["retryAfterSeconds"], 3);
    }
    let reply = client.get("/api/v1/events?watch=1").await?;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(reply.headers["retry-after"], "1");
    assert_eq!(reply.body["reason"], "InternalError");
    assert_eq!(client.get("/api/v1/events").await?.status, StatusCode::OK);
    Ok(())
}

#[tokio::test]
async fn a_stalled_watch_stays_silent_then_catches_up() -> Result<()> {
    let (sim, client) = start().await?;
    let rv = sim.resource_version();
    let mut watch = client
        .watch(&format!("{WATCH}&resourceVersion={rv}"))
        .await?;
    sim.faults().stall_watches(Duration::from_millis(800));
    sim.create(&event("a"))?;
    assert!(matches!(
        watch.next_within(Duration::from_millis(300)).await,
        Next::Silent
    ));
    assert_eq!(watch.next().await?["object"]["metadata"]["name"], "a");
    Ok(())
}

#[tokio::test]
async fn compaction_expires_older_watches_and_lists() -> Result<()> {
    let (sim, client) = start().await?;
    sim.create(&event("a"))?;
    let old = sim.resource_version();
    sim.create(&event("b"))?;
    let compacted = sim.faults().compact();
    assert_eq!(compacted, sim.resource_version());
    let mut watch = client
        .watch(&format!("{WATCH}&resourceVersion={}", old - 1))
        .await?;
    let error = watch.next().await?;
    assert_eq!(error["type"], "ERROR");
    assert_eq!(error["object"]["code"], 410);
    let list = client
        .get(&format!(
            "/api/v1/events?resourceVersion={old}&resourceVersionMatch=Exact"
        ))
        .await?;
    assert_eq!(list.status, StatusCode::GONE);
    Ok(())
}

#[tokio::test]
async fn shutdown_ends_open_watches() -> Result<()> {
    let (sim, client) = start().await?;
    let mut watch = client.watch(&format!("{WATCH}&resourceVersion=1")).await?;
    tokio::time::timeout(Duration::from_secs(10), sim.shutdown()).await?;
    assert!(matches!(
        watch.next_within(Duration::from_secs(5)).await,
        Next::End | Next::Cut
    ));
    Ok(())
}
