//! What the tests and benchmarks of every crate share, kept once: where the real event dumps
//! are, a free port, polling until a condition holds (never a sleep as synchronisation), and a
//! builder for the normalized [`Event`] with plain defaults.
//!
//! A dev-dependency only: nothing here is part of kubetrail.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use kubetrail_model::{Category, Event, ObjectRef, Severity};

/// The real event dumps (`../shared/datasets/real-events/`, never modified): the directory in
/// `$KUBETRAIL_REAL_EVENTS` (scripts/test.sh sets it), else `shared/` next to the checkout.
/// Panics with what to set when they are not there.
pub fn real_events() -> PathBuf {
    let dir = std::env::var_os("KUBETRAIL_REAL_EVENTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets/real-events")
        });
    assert!(
        dir.join("README.md").is_file(),
        "real event dumps not found at {} (set KUBETRAIL_REAL_EVENTS)",
        dir.display()
    );
    dir
}

/// One real dump by file name, e.g. `troubleshoot__message-image-pull-fail.events.json`.
pub fn real(name: &str) -> PathBuf {
    real_events().join(name)
}

/// A TCP port on 127.0.0.1 that is free now and that nothing else is handed meanwhile: it lies
/// outside the kernel's ephemeral range, from which every `bind` to port 0 (another test's
/// server) and every outgoing connection's local port are taken. A port from port 0 was free a
/// moment ago only: a server started a few seconds later (an agent spooling before NATS comes
/// up) could find it taken by another test's listener, and the test would talk to that one.
/// Ports are handed out in turn from a start derived from the process id, so that the tests of
/// one binary never get the same port twice and two binaries rarely start at the same place.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let Some((floor, span)) = outside_ephemeral(ephemeral_range()) else {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        return listener.local_addr().expect("its address").port();
    };
    let start = std::process::id().wrapping_mul(7919) % span;
    for _ in 0..span {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = u16::try_from(floor + (start + n) % span).expect("a port below 65536");
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port between {floor} and {}", floor + span);
}

/// The kernel's ephemeral port range (`/proc/sys/net/ipv4/ip_local_port_range`), or Linux's
/// default when it cannot be read.
fn ephemeral_range() -> (u32, u32) {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|text| {
            let mut parts = text.split_whitespace().map(str::parse::<u32>);
            Some((parts.next()?.ok()?, parts.next()?.ok()?))
        })
        .unwrap_or((32_768, 60_999))
}

/// Where to take ports outside the ephemeral range `(low, high)`: `(first, how many)`, below it
/// (from 10,000, above the well-known and registered services a machine commonly runs) or
/// above it, whichever side has room for at least 2,000; `None` when neither has.
fn outside_ephemeral((low, high): (u32, u32)) -> Option<(u32, u32)> {
    const FLOOR: u32 = 10_000;
    const ROOM: u32 = 2_000;
    if low >= FLOOR + ROOM {
        Some((FLOOR, low - FLOOR))
    } else if high + ROOM < 65_535 {
        Some((high + 1, 65_535 - high))
    } else {
        None
    }
}

/// Waits until `done` holds, checking every 50 ms; fails naming `what` after `timeout`.
pub fn wait_for(what: &str, timeout: Duration, done: impl FnMut() -> bool) {
    wait_for_or_show(what, timeout, done, String::new);
}

/// [`wait_for`], and when it times out the failure also shows what `show` returns then (the
/// logs of the processes the test waited on).
pub fn wait_for_or_show(
    what: &str,
    timeout: Duration,
    mut done: impl FnMut() -> bool,
    show: impl FnOnce() -> String,
) {
    let deadline = Instant::now() + timeout;
    while !done() {
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}\n{}", show());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// 2024-05-01T00:00:00Z: the fixed "now" of tests that need one.
pub fn t0() -> Timestamp {
    Timestamp::from_second(1_714_521_600).expect("a valid timestamp")
}

/// A normalized Event about `kind` `namespace/name`, as processing leaves it: a Warning of
/// category `other` and severity `warning`, seen once at [`t0`], in cluster `prod`, its uid
/// derived from the object and reason. Change what a test needs with the builder methods or
/// the public fields.
pub fn event(namespace: &str, kind: &str, name: &str, reason: &str) -> EventBuilder {
    EventBuilder(Event {
        cluster: "prod".into(),
        uid: format!("{namespace}-{kind}-{name}-{reason}"),
        namespace: namespace.into(),
        name: format!("{name}.{reason}"),
        regarding: ObjectRef {
            api_version: "v1".into(),
            kind: kind.into(),
            namespace: namespace.into(),
            name: name.into(),
            uid: format!("uid-{kind}-{name}"),
            field_path: String::new(),
        },
        related: None,
        reason: reason.into(),
        note: String::new(),
        type_: "Warning".into(),
        action: String::new(),
        reporting_controller: String::new(),
        reporting_instance: String::new(),
        first_seen: t0(),
        last_seen: t0(),
        count: 1,
        resource_version: "1".into(),
        category: Category::Other,
        severity: Severity::Warning,
        correlation_id: format!("{namespace}/{kind}/{name}"),
        owner: None,
        node: None,
        template: String::new(),
        labels: BTreeMap::new(),
    })
}

/// Builds an [`Event`]; see [`event`].
#[derive(Debug, Clone)]
pub struct EventBuilder(pub Event);

impl EventBuilder {
    /// The cluster it came from.
    pub fn cluster(mut self, cluster: &str) -> Self {
        self.0.cluster = cluster.into();
        self
    }
    /// The message; the template is set to the same text.
    pub fn note(mut self, note: &str) -> Self {
        self.0.note = note.into();
        self.0.template = note.into();
        self
    }
    /// `Normal` or `Warning`.
    pub fn type_(mut self, type_: &str) -> Self {
        self.0.type_ = type_.into();
        self
    }
    /// What classification decided.
    pub fn classified(mut self, category: Category, severity: Severity) -> Self {
        self.0.category = category;
        self.0.severity = severity;
        self
    }
    /// Seen `count` times, from `first` to `last`.
    pub fn seen(mut self, first: Timestamp, last: Timestamp, count: u64) -> Self {
        self.0.first_seen = first;
        self.0.last_seen = last;
        self.0.count = count;
        self
    }
    /// The workload it correlates to, e.g. `shop/Deployment/web`.
    pub fn correlation(mut self, id: &str) -> Self {
        self.0.correlation_id = id.into();
        self
    }
    /// The node its object runs on.
    pub fn node(mut self, node: &str) -> Self {
        self.0.node = Some(node.into());
        self
    }
    /// The Event's uid (its identity in the store, with the cluster).
    pub fn uid(mut self, uid: &str) -> Self {
        self.0.uid = uid.into();
        self
    }
    /// The finished Event.
    pub fn build(self) -> Event {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builder_sets_what_it_names_and_keeps_the_rest() {
        let e = event("shop", "Pod", "web-1", "BackOff")
            .note("Back-off restarting failed container")
            .classified(Category::Crash, Severity::Error)
            .node("worker-1")
            .build();
        assert_eq!(e.regarding.kind, "Pod");
        assert_eq!(e.correlation_id, "shop/Pod/web-1");
        assert_eq!(e.template, e.note);
        assert_eq!((e.category, e.severity), (Category::Crash, Severity::Error));
        assert_eq!(e.node.as_deref(), Some("worker-1"));
        assert_eq!(e.count, 1);
    }

    #[test]
    fn waiting_ends_when_the_condition_holds() {
        let mut calls = 0;
        wait_for("the third call", Duration::from_secs(5), || {
            calls += 1;
            calls == 3
        });
        assert_eq!(calls, 3);
    }

    #[test]
    #[should_panic(expected = "timed out")]
    fn waiting_fails_after_the_timeout() {
        wait_for("nothing", Duration::from_millis(120), || false);
    }

    #[test]
    #[should_panic(expected = "the agent's log: spooling")]
    fn a_wait_that_times_out_shows_what_it_was_given() {
        wait_for_or_show(
            "nothing",
            Duration::from_millis(120),
            || false,
            || "the agent's log: spooling".to_string(),
        );
    }

    /// A port from port 0 lies in the ephemeral range, where the next `bind` to port 0 or an
    /// outgoing connection may take it before the caller's server starts (a fan-in test's NATS
    /// server started after its agent had spooled, in CI: it timed out talking to whatever
    /// held the port).
    #[test]
    fn a_free_port_lies_outside_the_ephemeral_range_and_is_not_handed_out_twice() {
        let (low, high) = ephemeral_range();
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..50 {
            let port = u32::from(free_port());
            assert!(port < low || port > high, "{port} in {low}-{high}");
            assert!(seen.insert(port), "{port} handed out twice");
            TcpListener::bind(("127.0.0.1", port as u16)).expect("the port is free");
        }
    }

    #[test]
    fn ports_are_taken_below_the_ephemeral_range_or_above_it() {
        assert_eq!(outside_ephemeral((32_768, 60_999)), Some((10_000, 22_768)));
        assert_eq!(outside_ephemeral((1_024, 40_000)), Some((40_001, 25_535)));
        assert_eq!(outside_ephemeral((1_024, 65_000)), None);
    }
}
