//! The catalogue of event reasons: what the upstream components write, each reason with one
//! category and a severity chosen on purpose, and the message forms that change the severity.
//!
//! Every entry belongs to a [`Group`] that names the component emitting it and where in its
//! source the reason is written, so a rule can be checked against upstream. A reason appears in
//! exactly one entry, so it lands in exactly one category; the only exceptions are the reason
//! strings an upstream component itself shares between constants of different meaning (the
//! kubelet's `Failed` and `BackOff`, see [`SHARED`]), where the message tells which constant
//! was used.
//!
//! Severity follows the reason and the message, not the event type: a `ConfigMapCreateFailed`
//! sent as `Normal` is still a failure, a `FastControllerResync` sent as `Warning` is a start-up
//! notice. Messages known to be harmless ([`harmless`]) are rated info, so the incident engine
//! (which starts from warnings and worse) never opens an incident on them alone; they are
//! still stored, counted and queryable.
//!
//! Reasons not in the catalogue fall back to the object's kind and the event type (see
//! `classify`); [`catalogue_coverage`] measures how often that happens.

mod addons;
mod controllers;
pub mod harmless;
mod kubelet;
mod openshift;
mod render;

use std::collections::BTreeMap;
use std::sync::LazyLock;

use foldhash::{HashMap, HashMapExt};
use kubetrail_model::{Category, Severity};
use regex::Regex;

pub use render::markdown;

/// The reasons one component emits.
pub struct Group {
    /// The emitting component and where it writes these reasons, e.g. `kubelet
    /// (pkg/kubelet/events/event.go)`.
    pub component: &'static str,
    /// Its reasons, in the order the documentation lists them.
    pub entries: &'static [Entry],
}

/// One reason (or a family of reasons built from a pattern, see [`Entry::reason`]).
pub struct Entry {
    /// The reason exactly as emitted, or a family pattern with one `*` for components that
    /// build reasons from a kind (library-go's `<Kind>Created`: `*Created`).
    pub reason: &'static str,
    /// The category of every event with this reason (a form may change it only for [`SHARED`]
    /// reasons).
    pub category: Category,
    /// The severity when no message form matches.
    pub severity: Severity,
    /// Message forms that change the severity, tried in order.
    pub forms: &'static [Form],
}

/// A message form: a case-insensitive regular expression searched in the message.
pub struct Form {
    /// The expression, e.g. `failed (liveness|startup) probe`.
    pub note: &'static str,
    /// The severity of a message that matches.
    pub severity: Severity,
    /// A different category; only for reasons in [`SHARED`].
    pub category: Option<Category>,
    /// What the form means, for the documentation.
    pub meaning: &'static str,
}

/// Reason strings that one upstream component uses for several constants of different
/// meaning: (reason, the constants and their component). Only these may have forms that
/// change the category.
pub const SHARED: &[(&str, &str)] = &[
    (
        "Failed",
        "kubelet: FailedToCreateContainer, FailedToStartContainer, FailedToPullImage, \
         FailedToMakePodDataDirectories (pkg/kubelet/events/event.go); cert-manager also \
         uses it for a failed issuance",
    ),
    (
        "BackOff",
        "kubelet: BackOffStartContainer, BackOffPullImage (pkg/kubelet/events/event.go)",
    ),
];

/// Every group, in the order the documentation lists them.
pub fn groups() -> &'static [&'static Group] {
    &[
        &kubelet::KUBELET,
        &kubelet::NODE_PROBLEM_DETECTOR,
        &controllers::SCHEDULER,
        &controllers::WORKLOADS,
        &controllers::DEPLOYMENT,
        &controllers::DAEMONSET_STATEFULSET,
        &controllers::JOB,
        &controllers::CRONJOB,
        &controllers::NODE_LIFECYCLE,
        &controllers::ENDPOINTS,
        &controllers::HPA,
        &controllers::DISRUPTION,
        &controllers::VOLUMES,
        &controllers::CLOUD,
        &controllers::MISC,
        &controllers::API_SERVER,
        &addons::CLUSTER_AUTOSCALER,
        &addons::DESCHEDULER,
        &addons::CERT_MANAGER,
        &addons::CNI,
        &addons::INGRESS_NGINX,
        &addons::K3S,
        &addons::FLUX,
        &openshift::LIBRARY_GO,
        &openshift::LIBRARY_GO_APPLY,
        &openshift::ETCD_OPERATOR,
        &openshift::OPENSHIFT_OPERATORS,
        &openshift::MACHINE_API,
        &openshift::OLM,
    ]
}

/// A catalogued reason: its entry and the component that emits it.
#[derive(Clone, Copy)]
pub struct Found {
    /// The entry that matched the reason (exactly or as a family pattern).
    pub entry: &'static Entry,
    /// The component that emits it, as [`Group::component`].
    pub component: &'static str,
}

/// The entry for a reason: an exact entry, else the first family pattern that matches.
pub fn lookup(reason: &str) -> Option<Found> {
    CATALOGUE.lookup(reason).map(|c| c.found)
}

/// The category and severity the catalogue gives an event with this reason and message, or
/// `None` when the reason is not catalogued. A known harmless message ([`harmless::matches`])
/// is info unless one of the reason's own forms says otherwise.
pub fn classify(reason: &str, note: &str) -> Option<(Category, Severity)> {
    let compiled = CATALOGUE.lookup(reason)?;
    let entry = compiled.found.entry;
    for (form, re) in entry.forms.iter().zip(&compiled.forms) {
        if re.is_match(note) {
            return Some((form.category.unwrap_or(entry.category), form.severity));
        }
    }
    // A harmless message only lowers the severity to info: nothing to look for when the
    // reason is info already (most events), and the scan is a third of classification.
    if entry.severity != Severity::Info && harmless::matches(note).is_some() {
        return Some((entry.category, Severity::Info));
    }
    Some((entry.category, entry.severity))
}

struct Compiled {
    found: Found,
    forms: Vec<Regex>,
}

struct Catalogue {
    entries: Vec<Compiled>,
    exact: HashMap<&'static str, usize>,
    families: Vec<usize>,
}

impl Catalogue {
    fn build() -> Catalogue {
        let mut catalogue = Catalogue {
            entries: Vec::new(),
            exact: HashMap::new(),
            families: Vec::new(),
        };
        for group in groups() {
            for entry in group.entries {
                let index = catalogue.entries.len();
                if entry.reason.contains('*') {
                    catalogue.families.push(index);
                } else {
                    catalogue.exact.entry(entry.reason).or_insert(index);
                }
                let forms = entry
                    .forms
                    .iter()
                    .map(|f| {
                        Regex::new(&format!("(?i){}", f.note))
                            .expect("the catalogue's message forms are valid regexes")
                    })
                    .collect();
                catalogue.entries.push(Compiled {
                    found: Found {
                        entry,
                        component: group.component,
                    },
                    forms,
                });
            }
        }
        catalogue
    }

    fn lookup(&self, reason: &str) -> Option<&Compiled> {
        let index = self.exact.get(reason).copied().or_else(|| {
            self.families
                .iter()
                .copied()
                .find(|&i| family_matches(self.entries[i].found.entry.reason, reason))
        })?;
        Some(&self.entries[index])
    }
}

static CATALOGUE: LazyLock<Catalogue> = LazyLock::new(Catalogue::build);

/// `*Created` matches `ConfigMapCreated` (not `Created` itself: the kind part is not empty).
fn family_matches(pattern: &str, reason: &str) -> bool {
    let Some((prefix, suffix)) = pattern.split_once('*') else {
        return pattern == reason;
    };
    reason.len() > prefix.len() + suffix.len()
        && reason.starts_with(prefix)
        && reason.ends_with(suffix)
}

/// How many of the most frequent reasons the catalogue names, from a sample of events.
#[derive(Debug, Clone, PartialEq)]
pub struct Coverage {
    /// The most frequent reasons considered, with their number of events, most frequent first
    /// (ties by name).
    pub top: Vec<(String, u64)>,
    /// How many of `top` have a catalogue entry.
    pub matched: usize,
    /// The reasons of `top` without an entry (they fall back on kind and type), most frequent
    /// first.
    pub fallback: Vec<(String, u64)>,
}

impl Coverage {
    /// `matched / top.len()`, 1.0 for an empty sample.
    pub fn ratio(&self) -> f64 {
        if self.top.is_empty() {
            1.0
        } else {
            self.matched as f64 / self.top.len() as f64
        }
    }
}

/// Coverage of the `top` most frequent reasons among `reasons` (one item per event) by the
/// catalogue. Pass `events.iter().map(|e| e.reason.as_str())`; an empty reason counts as one
/// (it can never be catalogued).
pub fn catalogue_coverage<'a>(reasons: impl IntoIterator<Item = &'a str>, top: usize) -> Coverage {
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    for reason in reasons {
        *counts.entry(reason).or_default() += 1;
    }
    let mut ranked: Vec<(String, u64)> = counts
        .into_iter()
        .map(|(r, n)| (r.to_string(), n))
        .collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    ranked.truncate(top);
    let fallback: Vec<(String, u64)> = ranked
        .iter()
        .filter(|(r, _)| lookup(r).is_none())
        .cloned()
        .collect();
    Coverage {
        matched: ranked.len() - fallback.len(),
        top: ranked,
        fallback,
    }
}

// Short constructors for the tables.
use Category as C;
use Severity as S;

const fn e(reason: &'static str, category: Category, severity: Severity) -> Entry {
    Entry {
        reason,
        category,
        severity,
        forms: &[],
    }
}

const fn ef(
    reason: &'static str,
    category: Category,
    severity: Severity,
    forms: &'static [Form],
) -> Entry {
    Entry {
        reason,
        category,
        severity,
        forms,
    }
}

const fn f(note: &'static str, severity: Severity, meaning: &'static str) -> Form {
    Form {
        note,
        severity,
        category: None,
        meaning,
    }
}

/// A form that also changes the category: only for reasons in [`SHARED`].
const fn fc(
    note: &'static str,
    category: Category,
    severity: Severity,
    meaning: &'static str,
) -> Form {
    Form {
        note,
        severity,
        category: Some(category),
        meaning,
    }
}

#[cfg(test)]
mod tests;
