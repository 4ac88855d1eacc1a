//! Which stored Event a write names: its `(cluster, uid)`, about the same object. The same key
//! about another namespace or object is a conflict (kept as stored, counted in
//! [`crate::WriteSummary::conflicts`]), not an update: a uid alone must not let one source
//! rewrite another's event. The one rule both backends apply.

use kubetrail_model::Event;

/// Whether `e` is about the object a stored event with this namespace, regarding kind and
/// regarding name is about.
pub(crate) fn same_object(namespace: &str, kind: &str, name: &str, e: &Event) -> bool {
    e.namespace == namespace && e.regarding.kind == kind && e.regarding.name == name
}
