//! The installed kubectl works against the simulator: list, watch, create.
//!
//! Skipped (with a message) when no `kubectl` is on PATH, since it is not a Rust dependency.

mod common;

use std::process::Stdio;

use anyhow::{Context, Result, bail};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kubetrail_sim::{Pace, Scenario, SimHandle, Simulator, run_scenario};
use serde_json::Value;
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

struct Kubectl {
    sim: SimHandle,
    dir: TempDir,
}

impl Kubectl {
    /// A simulator and a kubeconfig for it. kubectl is part of the test environment
    /// (scripts/test.sh checks it): its absence fails the test rather than skipping it.
    async fn start() -> Result<Self> {
        let installed = Command::new("kubectl")
            .args(["version", "--client"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await
            .is_ok_and(|s| s.success());
        if !installed {
            bail!("kubectl is not installed (it is required by these tests)");
        }
        let sim = Simulator::start().await?;
        let dir = tempfile::tempdir()?;
        sim.write_kubeconfig(dir.path().join("config"))?;
        Ok(Self { sim, dir })
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new("kubectl");
        command
            .arg("--kubeconfig")
            .arg(self.dir.path().join("config"))
            .arg("--cache-dir")
            .arg(self.dir.path().join("cache"))
            .args(args)
            .stdin(Stdio::null())
            .kill_on_drop(true);
        command
    }

    async fn run(&self, args: &[&str]) -> Result<String> {
        let output = tokio::time::timeout(common::WAIT, self.command(args).output())
            .await
            .context("kubectl timed out")??;
        if !output.status.success() {
            bail!(
                "kubectl {args:?} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(String::from_utf8(output.stdout)?)
    }
}

fn event(name: &str) -> Event {
    Event {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("default".into()),
            ..Default::default()
        },
        regarding: Some(k8s_openapi::api::core::v1::ObjectReference {
            kind: Some("Pod".into()),
            namespace: Some("default".into()),
            name: Some("web-1".into()),
            ..Default::default()
        }),
        reason: Some("BackOff".into()),
        note: Some("Back-off restarting failed container".into()),
        type_: Some("Warning".into()),
        reporting_controller: Some("kubelet".into()),
        ..Default::default()
    }
}

#[tokio::test]
async fn kubectl_lists_events_of_every_namespace_as_json() -> Result<()> {
    let kubectl = Kubectl::start().await?;
    run_scenario(&kubectl.sim, Scenario::CrashLoop, Pace::instant()).await?;
    let output = kubectl.run(&["get", "events", "-A", "-o", "json"]).await?;
    let list: Value = serde_json::from_str(&output)?;
    let items = list["items"].as_array().cloned().unwrap_or_default();
    let back_off = items
        .iter()
        .find(|e| e["reason"] == "BackOff")
        .context("a BackOff event")?;
    assert_eq!(back_off["count"], 4);
    assert_eq!(back_off["source"]["component"], "kubelet");
    assert_eq!(back_off["metadata"]["namespace"], "payments");
    let v1 = kubectl
        .run(&["get", "events.events.k8s.io", "-A", "-o", "json"])
        .await?;
    let v1: Value = serde_json::from_str(&v1)?;
    assert_eq!(v1["items"].as_array().map(Vec::len), Some(items.len()));
    let pods = kubectl
        .run(&["get", "pods", "-n", "payments", "-o", "name"])
        .await?;
    assert!(pods.starts_with("pod/payments-api-"), "{pods}");
    let nodes = kubectl.run(&["get", "nodes", "-o", "name"]).await?;
    assert_eq!(nodes.lines().count(), 3, "{nodes}");
    Ok(())
}

#[tokio::test]
async fn kubectl_watch_shows_a_newly_created_event() -> Result<()> {
    let kubectl = Kubectl::start().await?;
    kubectl.sim.create(&event("seed.1"))?;
    let mut child = kubectl
        .command(&["get", "events", "-A", "-w"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().context("stdout is piped")?;
    let mut lines = BufReader::new(stdout).lines();
    let mut wait_for = async |needle: &str| -> Result<()> {
        let found = tokio::time::timeout(common::WAIT, async {
            while let Some(line) = lines.next_line().await? {
                if line.contains(needle) {
                    return Ok::<bool, anyhow::Error>(true);
                }
            }
            Ok(false)
        })
        .await
        .with_context(|| format!("kubectl did not show {needle} in time"))??;
        if !found {
            bail!("kubectl exited before showing {needle}");
        }
        Ok(())
    };
    // The initial list is printed before the watch starts; anything created after it is a
    // watch event.
    wait_for("seed.1").await?;
    kubectl.sim.create(&event("fresh.2"))?;
    wait_for("fresh.2").await?;
    child.kill().await?;
    Ok(())
}

#[tokio::test]
async fn kubectl_creates_a_pod_from_a_manifest() -> Result<()> {
    let kubectl = Kubectl::start().await?;
    let manifest = kubectl.dir.path().join("pod.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: hello\n  labels:\n    app: hello\nspec:\n  containers:\n  - name: app\n    image: nginx:1.27\n",
    )?;
    let path = manifest.to_string_lossy().to_string();
    let output = kubectl.run(&["create", "-f", &path]).await?;
    assert_eq!(output.trim(), "pod/hello created");
    let pod = kubectl
        .sim
        .get::<Pod>(Some("default"), "hello")?
        .context("created")?;
    assert_eq!(
        pod.metadata
            .labels
            .unwrap_or_default()
            .get("app")
            .map(String::as_str),
        Some("hello")
    );
    let again = kubectl.command(&["create", "-f", &path]).output().await?;
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("AlreadyExists")
            || String::from_utf8_lossy(&again.stderr).contains("already exists")
    );
    let labelled = kubectl.run(&["label", "pod", "hello", "tier=web"]).await?;
    assert!(labelled.contains("pod/hello labeled"), "{labelled}");
    let deleted = kubectl
        .run(&["delete", "pod", "hello", "--wait=false"])
        .await?;
    assert!(deleted.contains("pod \"hello\" deleted"), "{deleted}");
    assert!(kubectl.sim.get::<Pod>(Some("default"), "hello")?.is_none());
    Ok(())
}
