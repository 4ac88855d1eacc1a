//! A state: the flat, sorted map of what matters in an object (`path → value`), its text form
//! for the store, and the diff of two states.

use std::collections::BTreeMap;

use kubetrail_model::FieldChange;

use super::limits::{self, MAX_FIELDS, MAX_STATE_ENTRIES, MORE};

/// What matters of an object, as `path → value` (e.g. `containers[web].image → nginx:1.28`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State(BTreeMap<String, String>);

impl State {
    /// A state from entries, capped: values cut to [`limits::MAX_VALUE_CHARS`], entries past
    /// [`MAX_STATE_ENTRIES`] (in path order) folded into one hashed [`MORE`] entry.
    pub fn new(entries: BTreeMap<String, String>) -> State {
        let mut kept = BTreeMap::new();
        let mut rest = Vec::new();
        for (i, (path, value)) in entries.into_iter().enumerate() {
            match i < MAX_STATE_ENTRIES {
                true => {
                    kept.insert(limits::cut(&path), limits::cut(&value));
                }
                false => rest.push(format!("{path}={value}")),
            }
        }
        if !rest.is_empty() {
            let n = rest.len();
            let hash = limits::content_hash(rest.join("\n").as_bytes());
            kept.insert(MORE.to_owned(), format!("{n} entries, {hash}"));
        }
        State(kept)
    }

    /// The entries, in path order.
    pub fn entries(&self) -> &BTreeMap<String, String> {
        &self.0
    }

    /// The text the store keeps (a JSON object).
    pub fn to_text(&self) -> String {
        serde_json::to_string(&self.0).expect("a map of strings always serializes")
    }

    /// A state back from [`State::to_text`]; `None` when the text is not one (a state of an
    /// older format is then taken as unknown: the next one is a baseline).
    pub fn from_text(text: &str) -> Option<State> {
        serde_json::from_str(text).ok().map(State)
    }
}

pub(super) fn diff(before: &State, after: &State) -> Vec<FieldChange> {
    let (a, b) = (&before.0, &after.0);
    let mut out = Vec::new();
    let mut more = 0usize;
    let paths: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for path in paths {
        let (old, new) = (a.get(path), b.get(path));
        if old == new {
            continue;
        }
        if out.len() == MAX_FIELDS {
            more += 1;
            continue;
        }
        out.push(FieldChange {
            path: path.clone(),
            before: old.cloned(),
            after: new.cloned(),
        });
    }
    if more > 0 {
        out.push(FieldChange {
            path: format!("… {more} more fields changed"),
            before: None,
            after: None,
        });
    }
    out
}
