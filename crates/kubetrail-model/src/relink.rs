//! A correlation learned after some of an object's events were stored.

use serde::{Deserialize, Serialize};

use crate::Owner;

/// Events of one object stored before its owner link was known get the owner and correlation
/// ID its later events get: dumps are often sorted by name, so a DaemonSet's pods come before
/// the controller's `SuccessfulCreate` that names them, and a static pod's mirror pod before
/// its Node. Made by `kubetrail-process`'s `Processor`, applied by the store in the same
/// transaction as the events before it (as pod placements back-fill nodes).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Relink {
    /// The cluster of the object (and of the events to update).
    pub cluster: String,
    /// The object's namespace (the events' `regarding` namespace); empty for cluster-scoped
    /// objects. A relink never crosses namespaces.
    pub namespace: String,
    /// The object's kind, e.g. `Pod`.
    pub kind: String,
    /// The object's name.
    pub name: String,
    /// Its top owner now.
    pub owner: Owner,
    /// The correlation ID its events get now.
    pub correlation_id: String,
    /// The object's own correlation ID when it had none other (a ReplicaSet or Job whose owner
    /// was unknown): the stored events under it (its pods') follow it to the new one. `None`
    /// when only the object's own events move (a pod's guessed owner is no one else's).
    pub absorbs: Option<String>,
}
