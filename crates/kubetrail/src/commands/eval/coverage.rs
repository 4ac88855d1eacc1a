//! Classification coverage: how many of the most frequent reasons get their category from an
//! explicit rule rather than from the fallback on the kind of object they are about.

use std::collections::HashMap;

use kubetrail_model::Event;
use kubetrail_process::Rules;
use serde::Serialize;

/// Reasons looked at: the most frequent ones.
pub const TOP: usize = 200;

#[derive(Debug, Clone, Default, Serialize)]
pub struct Coverage {
    /// Reasons looked at (at most [`TOP`]).
    pub reasons: usize,
    /// Of those, reasons every event of which an explicit rule classifies.
    pub explicit: usize,
    /// `explicit / reasons` in percent.
    pub share: f64,
    /// The reasons that fall back (at least one event), most frequent first, with their count.
    pub fallback: Vec<(String, u64)>,
}

/// Whether `rules` give `event` its category on purpose: the one place that decides what
/// "explicit" means. The built-in rules match on the reason and the message, never on the kind,
/// while the fallback takes the category from the kind of the object; so a category that does
/// not change with the kind came from a rule.
pub fn is_explicit(rules: &Rules, event: &Event) -> bool {
    let mut as_node = event.clone();
    as_node.regarding.kind = "Node".to_string();
    let mut as_pod = event.clone();
    as_pod.regarding.kind = "Pod".to_string();
    rules.classify(&as_node).category == rules.classify(&as_pod).category
}

/// The coverage of `rules` over `events` (each Event object counted once).
pub fn coverage<'a>(rules: &Rules, events: impl IntoIterator<Item = &'a Event>) -> Coverage {
    let mut counts: HashMap<&str, (u64, bool)> = HashMap::new();
    for e in events {
        let entry = counts.entry(e.reason.as_str()).or_insert((0, true));
        entry.0 += 1;
        if entry.1 && !is_explicit(rules, e) {
            entry.1 = false;
        }
    }
    let mut ranked: Vec<(&str, (u64, bool))> = counts.into_iter().collect();
    ranked.sort_by(|a, b| b.1.0.cmp(&a.1.0).then_with(|| a.0.cmp(b.0)));
    ranked.truncate(TOP);
    let explicit = ranked.iter().filter(|(_, (_, ok))| *ok).count();
    Coverage {
        reasons: ranked.len(),
        explicit,
        share: if ranked.is_empty() {
            0.0
        } else {
            100.0 * explicit as f64 / ranked.len() as f64
        },
        fallback: ranked
            .iter()
            .filter(|(_, (_, ok))| !*ok)
            .map(|(r, (n, _))| (r.to_string(), *n))
            .collect(),
    }
}
