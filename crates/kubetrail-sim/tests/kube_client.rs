//! kube-rs, the client kubetrail's watcher uses, works against the simulator: discovery,
//! paginated lists, the watcher (list then watch, or a streaming list) and its relist after
//! a compaction.

mod common;

use anyhow::{Context, Result};
use futures::{Stream, StreamExt};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::watcher;
use kubetrail_sim::{SimHandle, Simulator};

async fn client(sim: &SimHandle) -> Result<kube::Client> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("config");
    sim.write_kubeconfig(&path)?;
    let kubeconfig = Kubeconfig::read_from(&path)?;
    let config =
        kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?;
    Ok(kube::Client::try_from(config)?)
}

fn event(name: &str) -> Event {
    Event {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("demo".into()),
            ..Default::default()
        },
        reason: Some("BackOff".into()),
        type_: Some("Warning".into()),
        reporting_controller: Some("kubelet".into()),
        ..Default::default()
    }
}

/// The next watcher event whose name (Apply/InitApply/Delete) or kind (Init/InitDone) matches.
async fn next_matching<S>(
    stream: &mut S,
    wanted: impl Fn(&watcher::Event<Event>) -> bool,
) -> Result<watcher::Event<Event>>
where
    S: Stream<Item = Result<watcher::Event<Event>, watcher::Error>> + Unpin,
{
    tokio::time::timeout(common::WAIT, async {
        loop {
            match stream.next().await {
                Some(Ok(event)) if wanted(&event) => return Ok(event),
                Some(_) => {}
                None => anyhow::bail!("the watcher ended"),
            }
        }
    })
    .await
    .context("no matching watcher event in time")?
}

fn applied(name: &'static str) -> impl Fn(&watcher::Event<Event>) -> bool {
    move |event| match event {
        watcher::Event::Apply(e) | watcher::Event::InitApply(e) => {
            e.metadata.name.as_deref() == Some(name)
        }
        _ => false,
    }
}

#[tokio::test]
async fn kube_discovers_and_lists_in_pages() -> Result<()> {
    let sim = Simulator::start().await?;
    let client = client(&sim).await?;
    let discovery = kube::Discovery::new(client.clone()).run().await?;
    assert!(discovery.has_group("events.k8s.io"));
    assert!(discovery.has_group("coordination.k8s.io"));
    for name in ["a", "b", "c"] {
        sim.create(&event(name))?;
    }
    let api: Api<Event> = Api::all(client);
    let first = api.list(&ListParams::default().limit(2)).await?;
    assert_eq!(first.items.len(), 2);
    let token = first
        .metadata
        .continue_
        .clone()
        .context("a continue token")?;
    let rest = api
        .list(&ListParams::default().limit(2).continue_token(&token))
        .await?;
    assert_eq!(rest.items.len(), 1);
    assert_eq!(
        rest.metadata.resource_version,
        first.metadata.resource_version
    );
    Ok(())
}

#[tokio::test]
async fn the_kube_watcher_follows_and_relists_after_compaction() -> Result<()> {
    let sim = Simulator::start().await?;
    let client = client(&sim).await?;
    sim.create(&event("before"))?;
    let api: Api<Event> = Api::namespaced(client, "demo");
    let mut stream = watcher(api, watcher::Config::default()).boxed();
    next_matching(&mut stream, applied("before")).await?;
    next_matching(&mut stream, |e| matches!(e, watcher::Event::InitDone)).await?;
    sim.create(&event("live"))?;
    next_matching(&mut stream, applied("live")).await?;

    // The history the watch would resume from is gone: the watcher gets 410 and relists.
    // The stall keeps "missed" from reaching the watcher before its connection is dropped.
    sim.faults()
        .stall_watches(std::time::Duration::from_secs(60));
    sim.create(&event("missed"))?;
    sim.compact();
    sim.faults().drop_watches();
    sim.faults().clear();
    next_matching(&mut stream, |e| matches!(e, watcher::Event::Init)).await?;
    next_matching(&mut stream, applied("missed")).await?;
    Ok(())
}

#[tokio::test]
async fn the_kube_watcher_streams_its_initial_list() -> Result<()> {
    let sim = Simulator::start().await?;
    let client = client(&sim).await?;
    sim.create(&event("first"))?;
    let api: Api<Event> = Api::all(client);
    let mut stream = watcher(api, watcher::Config::default().streaming_lists()).boxed();
    next_matching(&mut stream, applied("first")).await?;
    next_matching(&mut stream, |e| matches!(e, watcher::Event::InitDone)).await?;
    sim.create(&event("second"))?;
    next_matching(&mut stream, applied("second")).await?;
    Ok(())
}
