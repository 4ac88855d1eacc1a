//! Changes in an object's story (issue 15): the changes that concern it, shown inline with its
//! events, and its incidents rooted in the change their failures followed.

use kubetrail_model::Change;

use super::{Explanation, Relation};
use crate::incidents::{IncidentConfig, concerning, link_changes};

/// Adds `changes` (those read for the story's window, e.g. by `kubetrail_query::story`) to
/// `x`: its incidents are rooted in the change their failures followed ([`link_changes`]), its
/// root cause and hints follow, and `x.changes` holds the changes of the object, its workload
/// (the correlation ID), the ConfigMaps and Secrets that references, its autoscaler and its
/// nodes up to the window's end, oldest first, with every incident's root change.
pub fn explain_changes(x: &mut Explanation, changes: &[Change], cfg: &IncidentConfig) {
    link_changes(&mut x.incidents, changes, cfg);
    x.root_cause = x.incidents.first().map(|i| i.root_cause.clone());
    x.hints.clear();
    for i in &x.incidents {
        if !x.hints.contains(&i.root_cause.hint) {
            x.hints.push(i.root_cause.hint.clone());
        }
    }
    let subject = x.correlation_id.clone().unwrap_or_else(|| x.object.clone());
    let nodes: Vec<String> = x
        .related
        .iter()
        .filter(|r| r.relation == Relation::Node)
        .filter_map(|r| r.object.strip_prefix("Node/").map(str::to_string))
        .collect();
    let mut shown: Vec<Change> = concerning(changes, &subject, &nodes, x.window.until)
        .into_iter()
        .cloned()
        .collect();
    if subject != x.object {
        for c in concerning(changes, &x.object, &[], x.window.until) {
            if !shown.contains(c) {
                shown.push(c.clone());
            }
        }
    }
    for root in x
        .incidents
        .iter()
        .filter_map(|i| i.root_cause.change.as_ref())
    {
        if !shown.contains(root) {
            shown.push(root.clone());
        }
    }
    shown.sort_by_key(|c| c.at);
    x.changes = shown;
}
