//! A Kubernetes API simulator for kubetrail's tests and `kubetrail demo`.
//!
//! It sits at the very start of the pipeline, in place of a cluster: an in-process HTTP/1.1
//! server on 127.0.0.1 that speaks the list/watch protocol of a real API server (v1.36) for
//! Events (both `core/v1` and `events.k8s.io/v1`, one stored collection), Pods, Nodes,
//! ReplicaSets, Deployments, Jobs and Leases, with the semantics a watcher depends on: one
//! global resourceVersion, history replay, `410 Expired` after compaction, `limit`/`continue`,
//! field and label selectors, optimistic concurrency. kubectl and kube-rs work against it.
//! Tests drive it through [`Faults`] (dropped and stalled watches, 429/500 answers,
//! compaction) and [`run_scenario`] (the Events real components write during rollouts, crash
//! loops, image pull failures, mount failures, OOM kills, node pressure, scheduling failures).
//!
//! ```no_run
//! # async fn demo() -> kubetrail_sim::Result<()> {
//! use kubetrail_sim::{Pace, Scenario, Simulator, run_scenario};
//!
//! let sim = Simulator::start().await?;
//! sim.write_kubeconfig("/tmp/sim.kubeconfig")?; // kubectl --kubeconfig /tmp/sim.kubeconfig get events -A
//! run_scenario(&sim, Scenario::CrashLoop, Pace::instant()).await?;
//! sim.faults().compact(); // a watch resuming from before now gets 410 Expired
//! sim.shutdown().await;
//! # Ok(())
//! # }
//! ```

mod api;
mod convert;
mod discovery;
mod error;
mod faults;
mod handle;
mod kubeconfig;
mod openapi;
mod patch;
mod policy;
mod resources;
mod reviews;
pub mod scenarios;
mod selectors;
mod server;
mod status;
mod store;
mod watch;

pub use convert::{core_to_events, events_to_core};
pub use error::{Error, Result};
pub use faults::{Faults, InjectedFailure};
pub use handle::SimHandle;
pub use kubeconfig::{CONTEXT_NAME, kubeconfig_yaml};
pub use policy::{Policy, Rule, UserInfo};
pub use resources::Resource;
pub use scenarios::{Pace, RunMode, Scenario, UnknownScenario, run_scenario};
pub use server::{SimConfig, Simulator};
pub use status::ApiError;
