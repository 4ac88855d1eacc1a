//! Live sources: the Kubernetes Event watch of a cluster and the reflectors that give
//! correlation its owner links and pod placements.
//!
//! [`batches`] is the watch as a `Stream` (compose it, test it against a scripted
//! [`EventClient`]); [`watch_events`] runs it as a task that sends to a channel.
//!
//! ```no_run
//! # async fn demo(client: kube::Client) {
//! use kubetrail_source::watch::{detect_api, watch_events, WatchConfig, WatchStats};
//! let (tx, mut rx) = tokio::sync::mpsc::channel(8);
//! let api = detect_api(&client).await.unwrap();
//! let cancel = tokio_util::sync::CancellationToken::new();
//! tokio::spawn(watch_events(client, api, WatchConfig::new("prod"), None, tx, Default::default(), cancel));
//! while let Some(batch) = rx.recv().await { let _ = batch.events.len(); }
//! # }
//! ```

mod backoff;
mod changes;
mod client;
mod events;
mod generations;
mod machine;
mod owners;

pub use backoff::{Backoff, RateLimit};
pub use changes::{Observed, TrackedResource, watch_changes};
pub use client::{EventClient, WatchStream};
pub use events::{
    Batch, EventApi, EventObject, GapNotice, WatchConfig, WatchStats, Watched, detect_api,
    watch_events,
};
pub use machine::batches;
pub use owners::{Observation, watch_owners};
