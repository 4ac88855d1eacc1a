//! The counters of one watch (kept by `kubetrail-source`'s watch, read by `/metrics` and
//! tests): plain atomics, so that their readers need neither the watch nor the kube crate.

use std::sync::atomic::AtomicU64;

/// Counters of one watch, read by metrics and tests.
#[derive(Debug, Default)]
pub struct WatchStats {
    /// Event objects received from lists and watches.
    pub received: AtomicU64,
    /// Received Events that normalization refused (no uid, no time).
    pub rejected: AtomicU64,
    /// Watch lines that did not decode; they are skipped.
    pub malformed: AtomicU64,
    /// Watches opened (the first one included).
    pub watch_restarts: AtomicU64,
    /// Relists after an expired resourceVersion.
    pub relists: AtomicU64,
    /// 410 Gone answers: the resourceVersion to resume from had expired.
    pub expired: AtomicU64,
    /// Failed requests retried after a backoff.
    pub errors: AtomicU64,
    /// Set once the initial list (or resume) has been handed over.
    pub synced: AtomicU64,
}
