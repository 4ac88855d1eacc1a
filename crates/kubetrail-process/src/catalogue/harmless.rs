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
