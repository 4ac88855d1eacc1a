//! Whether the store takes writes, as the writers saw it: a store that keeps failing writes
//! (down, full, read-only) makes `/readyz` answer 503 even while its reads still work; one
//! write that succeeds makes it ready again. An event the store refuses (a data error, set
//! aside in quarantine) is the event's fault and does not count.

use std::sync::Mutex;

/// Failed writes in a row after which `/readyz` reports the store: more than a passing
/// hiccup (a lost deadlock, a restart), reached within seconds by the pipelines' retries.
pub const FAILING_WRITES: u64 = 3;

/// Consecutive failed writes and the last error. Shared by every writer of a process.
#[derive(Debug, Default)]
pub struct StoreWrites {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    failures_in_a_row: u64,
    last_error: String,
}

impl StoreWrites {
    /// A write committed: the run of failures ends.
    pub fn succeeded(&self) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.failures_in_a_row = 0;
        s.last_error.clear();
    }

    /// A write failed with `error` (kept for `/readyz` to show).
    pub fn failed(&self, error: &str) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.failures_in_a_row += 1;
        s.last_error = error.to_string();
    }

    /// `Some(why)` once [`FAILING_WRITES`] writes in a row have failed.
    pub fn failing(&self) -> Option<String> {
        let s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        (s.failures_in_a_row >= FAILING_WRITES).then(|| {
            format!(
                "{} writes in a row failed, the last with: {}",
                s.failures_in_a_row, s.last_error
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_failing_in_a_row_make_the_store_failing_until_one_succeeds() {
        let w = StoreWrites::default();
        w.failed("connection refused");
        w.failed("connection refused");
        assert_eq!(w.failing(), None, "a passing hiccup");
        w.failed("connection refused");
        assert_eq!(
            w.failing().as_deref(),
            Some("3 writes in a row failed, the last with: connection refused")
        );
        w.succeeded();
        assert_eq!(w.failing(), None);
    }
}
