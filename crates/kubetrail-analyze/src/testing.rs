//! Hand-built events for the unit tests: processed by the real processor, so that correlation,
//! templates, category and severity are what an import would give.

use jiff::{SignedDuration, Timestamp};
use kubetrail_model::{
    AnalysisEvent, AnalysisOccurrences, Category, Event, EventOccurrences, ObjectRef, Occurrence,
    Severity, SharedStrings,
};
use kubetrail_process::{Processor, Rules};

/// 2024-05-01T00:00:00Z plus `m` minutes.
pub fn at(m: i64) -> Timestamp {
    Timestamp::from_second(1_714_521_600).expect("a valid timestamp") + SignedDuration::from_mins(m)
}

/// An event under construction.
pub struct Draft {
    ev: Event,
    first: i64,
    last: i64,
}

/// An event about `kind` `name` in `namespace` (empty for Nodes).
pub fn about(
    kind: &str,
    namespace: &str,
    name: &str,
    type_: &str,
    reason: &str,
    note: &str,
) -> Draft {
    let ev = Event {
        cluster: "test".into(),
        uid: String::new(),
        namespace: if namespace.is_empty() {
            "default".into()
        } else {
            namespace.into()
        },
        name: String::new(),
        regarding: ObjectRef {
            api_version: "v1".into(),
            kind: kind.into(),
            namespace: namespace.into(),
            name: name.into(),
            uid: format!("uid-{name}"),
            field_path: String::new(),
        },
        related: None,
        reason: reason.into(),
        note: note.into(),
        type_: type_.into(),
        action: String::new(),
        reporting_controller: String::new(),
        reporting_instance: String::new(),
        first_seen: at(0),
        last_seen: at(0),
        count: 1,
        resource_version: "1".into(),
        category: Category::Other,
        severity: Severity::Info,
        correlation_id: String::new(),
        owner: None,
        node: None,
        template: String::new(),
        labels: Default::default(),
    };
    Draft {
        ev,
        first: 0,
        last: 0,
    }
}

/// A Warning event about a pod.
pub fn pod_warning(namespace: &str, pod: &str, reason: &str, note: &str) -> Draft {
    about("Pod", namespace, pod, "Warning", reason, note)
}

/// `n` `BackOff` Warnings, one a minute, of `pods` pods of one namespace in turn: an incident
/// of many events of few objects.
pub fn crash_loop(n: i64, pods: i64) -> Vec<AnalysisOccurrences> {
    (0..n)
        .map(|i| {
            pod_warning("shop", &format!("web-{}", i % pods), "BackOff", "Back-off")
                .at(i)
                .build()
        })
        .collect()
}

/// A Normal event about a pod.
pub fn pod_normal(namespace: &str, pod: &str, reason: &str, note: &str) -> Draft {
    about("Pod", namespace, pod, "Normal", reason, note)
}

/// An event about a node, reported by its kubelet.
pub fn node_event(node: &str, type_: &str, reason: &str, note: &str) -> Draft {
    about("Node", "", node, type_, reason, note).by_kubelet(node)
}

impl Draft {
    /// Seen once at minute `m`.
    pub fn at(mut self, m: i64) -> Draft {
        self.first = m;
        self.last = m;
        self.ev.count = 1;
        self
    }

    /// Seen `count` times from minute `first` to minute `last`.
    pub fn span(mut self, first: i64, last: i64, count: u64) -> Draft {
        self.first = first;
        self.last = last;
        self.ev.count = count;
        self
    }

    /// Reported by the kubelet of `node` (as `source.host` says in core/v1 Events).
    pub fn by_kubelet(mut self, node: &str) -> Draft {
        self.ev.reporting_controller = "kubelet".into();
        self.ev.reporting_instance = node.into();
        self
    }

    /// About one container (`spec.containers{name}`).
    pub fn container(mut self, name: &str) -> Draft {
        self.ev.regarding.field_path = format!("spec.containers{{{name}}}");
        self
    }

    /// About one init container (`spec.initContainers{name}`), e.g. a native sidecar.
    pub fn init_container(mut self, name: &str) -> Draft {
        self.ev.regarding.field_path = format!("spec.initContainers{{{name}}}");
        self
    }

    /// Processed as an import would, with occurrences as the store keeps them (1 at the first
    /// time and the rest at the last), as analysis reads it.
    pub fn build(self) -> AnalysisOccurrences {
        let whole = self.whole();
        AnalysisOccurrences {
            event: AnalysisEvent::of(&whole.event, &mut SharedStrings::default()),
            occurrences: whole.occurrences,
        }
    }

    /// Processed as an import would, with occurrences as the store keeps them: 1 at the first
    /// time and the rest at the last.
    pub fn whole(mut self) -> EventOccurrences {
        self.ev.first_seen = at(self.first);
        self.ev.last_seen = at(self.last);
        self.ev.uid = format!(
            "{}-{}-{}-{}-{}",
            self.ev.regarding.name,
            self.ev.reason,
            self.first,
            self.last,
            self.ev.note.len()
        );
        self.ev.name = format!("{}.{}", self.ev.regarding.name, self.ev.uid);
        let ev = Processor::new(Rules::builtin()).process(self.ev);
        let occurrences = if ev.count <= 1 || ev.first_seen == ev.last_seen {
            vec![Occurrence {
                at: ev.first_seen,
                count: ev.count.max(1),
            }]
        } else {
            vec![
                Occurrence {
                    at: ev.first_seen,
                    count: 1,
                },
                Occurrence {
                    at: ev.last_seen,
                    count: ev.count - 1,
                },
            ]
        };
        EventOccurrences {
            event: ev,
            occurrences,
        }
    }
}
