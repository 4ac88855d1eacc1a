//! Messages known to be harmless whatever the reason: the component retries by itself and the
//! message says nothing about the object's health. Rated info (unless the reason's own forms
//! say otherwise, e.g. an operator's `Degraded ... to True` that quotes a conflict), so no
//! incident starts from them alone; they are still stored and counted.
//!
//! Reason-specific harmless messages are forms of their reason instead (the kubelet's
//! `kube-root-ca.crt ... not registered` mount race under `FailedMount`, library-go's
//! `FastControllerResync` start-up notice).

use std::sync::LazyLock;

use regex::Regex;

/// A harmless message form.
pub struct Harmless {
    /// A short name, e.g. `optimistic-lock conflict`.
    pub name: &'static str,
    /// A case-insensitive regular expression searched in the message.
    pub note: &'static str,
    /// Why it is harmless, with the upstream source.
    pub why: &'static str,
}

/// Every harmless message form, tried in order by [`matches()`].
pub const HARMLESS: &[Harmless] = &[
    Harmless {
        name: "optimistic-lock conflict",
        note: r"the object has been modified; please apply your changes to the latest version",
        why: "the API server's conflict error (k8s.io/apimachinery/pkg/api/errors, \
              OptimisticLockErrorMsg) when an update carries an old resourceVersion; \
              controllers requeue and retry with the latest version",
    },
    Harmless {
        name: "pod already bound",
        note: r"Operation cannot be fulfilled on pods/binding .* is already assigned to node",
        why: "the API server refuses to bind a pod that is already bound (pods/binding, \
              pkg/registry/core/pod/storage/storage.go), e.g. after a scheduler leader change; \
              the scheduler's DefaultBinder reports it as FailedScheduling but the pod has \
              its node",
    },
    Harmless {
        name: "API server unreachable",
        // Only requests to the API server's own REST paths (`/api/v1/…`, `/apis/<group>/…`):
        // an admission webhook's URL is the webhook's service, and a webhook that refuses
        // connections is a failure of its own.
        note: r#"(?:Get|Put|Post|Patch|Delete) "https://[^"/]+/apis?/[^"]*": (?:dial tcp [^"]*?: connect: connection refused|(?:unexpected )?EOF|http2: client connection (?:lost|force closed)|net/http: TLS handshake timeout|read tcp [^"]*?: read: connection reset by peer)|etcdserver: (?:request timed out|leader changed)"#,
        why: "a controller's request to the API server failed in transport (connection \
              refused, reset or closed, TLS handshake timeout: client-go's transport errors) \
              or etcd timed out the write (`etcdserver: request timed out`, `leader changed`, \
              go.etcd.io/etcd/api/v3rpc/rpctypes): the API server or etcd was restarting. \
              Controllers return the error to their work queue, which retries with back-off \
              (client-go util/workqueue); the disruption itself is reported by the API server \
              and etcd (their probes, TerminationStart), not by every controller that noticed it",
    },
];

static COMPILED: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    HARMLESS
        .iter()
        .map(|h| Regex::new(&format!("(?i){}", h.note)).expect("harmless forms are valid regexes"))
        .collect()
});

/// The harmless form a message matches, if any.
pub fn matches(note: &str) -> Option<&'static Harmless> {
    COMPILED
        .iter()
        .position(|re| re.is_match(note))
        .map(|i| &HARMLESS[i])
}
