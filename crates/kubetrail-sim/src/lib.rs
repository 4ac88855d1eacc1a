//! A Kubernetes API simulator for kubetrail's tests and `kubetrail demo`.
//!
//! It sits at the very start of the pipeline, in place of a cluster: an in-process HTTP/1.1
//! server on 127.0.0.1 that speaks the list/watch protocol of a real API server (v1.36) for
//! Events (both `core/v1` and `events.k8s.io/v1`, one stored collection), Pods, Nodes,
//! ReplicaSets, Deployments, Jobs and Leases, with the semantics a watcher depends on: one
//! global resourceVersion, history replay, `410 Expired` after compaction, `limit`/`continue`,
//! field and label selectors, optimistic concurrency. kubectl and kube-rs work against it.
//! Tests drive it through [`Faults`] (dropped and stalled watches, 429/500 answers,
//! compaction), [`SimHandle::event_history`] (every Event ever created, with its count changes
//! and deletion) and [`run_scenario`] (the Events real components write during rollouts, crash
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
//!
//! `cargo run -p kubetrail-sim --example serve -- /tmp/sim.kubeconfig` runs every scenario in a
//! loop for manual use with kubectl.
//!
//! # Where it differs from a real API server
//! - No authentication or authorization of its own requests (TokenReview and
//!   SubjectAccessReview are answered from the [`Policy`] table for kubetrail to use).
//! - No server-side Table printing: `kubectl get` without `-o` shows NAME and AGE only
//!   (`-o json|yaml|wide|custom-columns` work); no `fieldValidation=Strict` (unknown fields
//!   are dropped); `/openapi/v3` lists operations but no schemas (enough for `kubectl create`
//!   and `apply`; `kubectl explain` does not work).
//! - Strategic merge patch and server-side apply are approximated by a JSON merge patch; JSON
//!   patch is refused (415); no managedFields.
//! - Deletion is immediate (no graceful deletion, finalizers or garbage collection); PUT
//!   replaces status too (no status subresource); no namespaces resource, no subresources
//!   (`/status`, `/log`, `/scale`), no `deletecollection`, no dry run.
//! - `resourceVersion=0` lists honour `limit` (the real watch cache may ignore it), and a
//!   watch from a resourceVersion newer than the store's waits for it rather than timing out.
//! - Events stay until deleted unless [`SimConfig::event_ttl`] is set (the real server's
//!   `--event-ttl` defaults to one hour).

// Shipped code neither unwraps nor prints (stdout is the CLI's output); tests may. Set
// here, not in [workspace.lints], which would cover tests too (CONTRIBUTING.md, Lints).
#![warn(clippy::unwrap_used, clippy::print_stdout, clippy::print_stderr)]

mod api;
mod convert;
mod discovery;
mod error;
mod faults;
mod handle;
mod kubeconfig;
mod ledger;
mod list;
mod openapi;
mod patch;
mod policy;
mod resources;
mod reviews;
pub mod scenarios;
#[doc(hidden)]
pub mod selectors;
mod server;
mod state;
mod status;
mod store;
mod storm;
mod watch;

pub use convert::{core_to_events, events_to_core};
pub use error::{Error, Result};
pub use faults::{Faults, InjectedFailure};
pub use handle::SimHandle;
pub use kubeconfig::{CONTEXT_NAME, kubeconfig_yaml};
pub use ledger::{CountChange, EventRecord};
pub use policy::{Policy, Rule, UserInfo};
pub use resources::Resource;
pub use scenarios::{Pace, RunMode, Scenario, UnknownScenario, run_scenario};
pub use server::Simulator;
pub use state::SimConfig;
pub use status::ApiError;
pub use storm::STORM_MANAGER;
