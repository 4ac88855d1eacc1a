//! Fault injection, driven from tests: the failures a watcher must survive.
//!
//! - [`Faults::drop_watches`] ends every open watch connection now, and
//!   [`Faults::drop_watches_after`] ends each one after it has sent N events, as an API server
//!   restart or a load balancer would; the connection is cut without the final chunk.
//! - [`Faults::fail_next`] answers the next K resource requests (reviews included) with 429,
//!   500 or 503 and a `Retry-After`, as API Priority and Fairness or an overloaded server does. Discovery is not
//!   affected, so kubectl and client start-up still work.
//! - [`Faults::stall_watches`] holds every watch (open or new) silent for a while: the
//!   connection stays up and nothing is sent, as with a stuck intermediary.
//! - [`Faults::compact`] drops the watch history, so resuming from an old version is `410`.

use std::collections::VecDeque;
use std::num::NonZeroU64;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::status::ApiError;
use crate::store::Store;

/// A failure answered instead of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InjectedFailure {
    /// `429 TooManyRequests` with `Retry-After`.
    TooManyRequests {
        /// Seconds the client is asked to wait.
        retry_after_seconds: u32,
    },
    /// `500 InternalError` with `Retry-After`.
    InternalError {
        /// Seconds the client is asked to wait.
        retry_after_seconds: u32,
    },
    /// `503 ServiceUnavailable` with `Retry-After`, as an API server whose webhook or
    /// aggregated API (e.g. the token authenticator) is down.
    ServiceUnavailable {
        /// Seconds the client is asked to wait.
        retry_after_seconds: u32,
    },
}

impl InjectedFailure {
    fn to_error(self) -> ApiError {
        match self {
            InjectedFailure::TooManyRequests {
                retry_after_seconds,
            } => ApiError::too_many_requests(retry_after_seconds),
            InjectedFailure::InternalError {
                retry_after_seconds,
            } => ApiError::internal(retry_after_seconds),
            InjectedFailure::ServiceUnavailable {
                retry_after_seconds,
            } => ApiError::service_unavailable(retry_after_seconds),
        }
    }
}

/// The fault switches of one simulator; cheap to clone, all clones act on the same server.
#[derive(Clone)]
pub struct Faults {
    state: Arc<FaultState>,
    store: Arc<Store>,
}

struct FaultState {
    /// Bumped to end every open watch.
    drop_generation: watch::Sender<u64>,
    /// Events a watch may send before it is cut; 0 = no limit.
    drop_after: AtomicU64,
    failures: Mutex<VecDeque<InjectedFailure>>,
    /// When the current stall ends; a change wakes stalled watches to look again.
    stall_until: watch::Sender<Option<Instant>>,
    /// Malformed lines still to be sent on watches, each before a real one.
    garbage_lines: AtomicU64,
}

impl Faults {
    pub(crate) fn new(store: Arc<Store>) -> Self {
        let (drop_generation, _) = watch::channel(0);
        let (stall_until, _) = watch::channel(None);
        Self {
            state: Arc::new(FaultState {
                drop_generation,
                drop_after: AtomicU64::new(0),
                failures: Mutex::new(VecDeque::new()),
                stall_until,
                garbage_lines: AtomicU64::new(0),
            }),
            store,
        }
    }

    /// Ends every open watch connection now.
    pub fn drop_watches(&self) {
        self.state
            .drop_generation
            .send_modify(|generation| *generation += 1);
    }

    /// Cuts each watch connection after it has sent `events` events; `None` turns it off.
    pub fn drop_watches_after(&self, events: Option<NonZeroU64>) {
        let limit = events.map_or(0, NonZeroU64::get);
        self.state.drop_after.store(limit, Ordering::SeqCst);
    }

    /// Answers the next `count` resource requests with `failure`.
    pub fn fail_next(&self, count: usize, failure: InjectedFailure) {
        let mut failures = lock(&self.state.failures);
        failures.extend(std::iter::repeat_n(failure, count));
    }

    /// Holds every watch silent for `duration`, open ones and those opened meanwhile
    /// ([`Faults::clear`] ends it early).
    pub fn stall_watches(&self, duration: Duration) {
        self.state
            .stall_until
            .send_replace(Some(Instant::now() + duration));
    }

    /// Sends `count` malformed JSON lines on watches, each before the next real change (which
    /// is still sent): how a watcher copes with a line it cannot decode.
    pub fn garble_next_watch_lines(&self, count: u64) {
        self.state.garbage_lines.fetch_add(count, Ordering::SeqCst);
    }

    /// Whether the next watch line should be preceded by a malformed one (consumes it).
    pub(crate) fn take_garbage_line(&self) -> bool {
        self.state
            .garbage_lines
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }

    /// Drops the watch history up to the current resourceVersion; returns that version.
    pub fn compact(&self) -> u64 {
        self.store.compact()
    }

    /// Turns every fault off (history already compacted stays compacted).
    pub fn clear(&self) {
        self.drop_watches_after(None);
        self.state.garbage_lines.store(0, Ordering::SeqCst);
        lock(&self.state.failures).clear();
        self.state.stall_until.send_replace(None);
    }

    /// The failure to answer this request with, if one is queued.
    pub(crate) fn take_failure(&self) -> Option<ApiError> {
        lock(&self.state.failures)
            .pop_front()
            .map(InjectedFailure::to_error)
    }

    /// A receiver that changes when watches are to be dropped.
    pub(crate) fn drop_signal(&self) -> watch::Receiver<u64> {
        self.state.drop_generation.subscribe()
    }

    /// The per-connection event limit, if any.
    pub(crate) fn drop_after(&self) -> Option<u64> {
        match self.state.drop_after.load(Ordering::SeqCst) {
            0 => None,
            n => Some(n),
        }
    }

    /// When the current stall ends, if one is in force.
    pub(crate) fn stalled_until(&self) -> Option<Instant> {
        let until = *self.state.stall_until.borrow();
        until.filter(|until| *until > Instant::now())
    }

    /// A receiver that changes when a stall starts or is cleared.
    pub(crate) fn stall_signal(&self) -> watch::Receiver<Option<Instant>> {
        self.state.stall_until.subscribe()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Fault switches stay meaningful after a panic elsewhere.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queued_failures_are_answered_in_order_then_run_out() {
        let faults = Faults::new(Arc::new(Store::new(10, 10)));
        faults.fail_next(
            1,
            InjectedFailure::TooManyRequests {
                retry_after_seconds: 2,
            },
        );
        faults.fail_next(
            1,
            InjectedFailure::InternalError {
                retry_after_seconds: 1,
            },
        );
        faults.fail_next(
            1,
            InjectedFailure::ServiceUnavailable {
                retry_after_seconds: 1,
            },
        );
        let codes: Vec<u16> = std::iter::from_fn(|| faults.take_failure())
            .map(|e| e.code)
            .collect();
        assert_eq!(codes, [429, 500, 503]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stall_ends_after_its_duration() {
        let faults = Faults::new(Arc::new(Store::new(10, 10)));
        faults.stall_watches(Duration::from_secs(5));
        assert!(faults.stalled_until().is_some());
        tokio::time::advance(Duration::from_secs(6)).await;
        assert!(faults.stalled_until().is_none());
    }
}
