//! Correlation: the top owner of an Event's regarding object, from owner links seen in the
//! same stream (ownerReferences of Pods, ReplicaSets, Jobs) or, failing that, from Kubernetes
//! naming conventions.

use kubetrail_model::Owner;

use crate::objects::ObjectMap;

/// One `ownerReferences` entry (the controller one).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OwnerRef {
    /// The owner's kind, e.g. `ReplicaSet`.
    pub kind: String,
    /// The owner's name, in the owned object's namespace.
    pub name: String,
    /// The owner's uid; empty when only the name is known (a `SuccessfulCreate` event).
    pub uid: String,
}

/// What a non-Event object says about its place: its identity and its controller owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectLink {
    /// The object's kind, e.g. `Pod`.
    pub kind: String,
    /// The object's namespace; empty for cluster-scoped objects.
    pub namespace: String,
    /// The object's name.
    pub name: String,
    /// The object's uid; empty when not known.
    pub uid: String,
    /// Its controller owner; `None` when it has none (the link then teaches nothing).
    pub owner: Option<OwnerRef>,
}

/// Owner links learned so far (bounded in size).
#[derive(Debug, Default)]
pub struct OwnerIndex {
    /// (namespace, kind, name) → controller owner.
    owners: ObjectMap<OwnerRef>,
}

const MAX_LINKS: usize = 200_000;

impl OwnerIndex {
    /// Remembers the object's controller owner (replacing an earlier one); a link without an
    /// owner is ignored. Past 200,000 links the index starts over.
    pub fn observe(&mut self, link: ObjectLink) {
        let Some(owner) = link.owner else { return };
        if self.owners.len() >= MAX_LINKS {
            // Bounded memory: start over rather than grow without limit; names fall back to
            // conventions until the links are seen again.
            self.owners.clear();
        }
        self.owners
            .insert(&link.namespace, &link.kind, &link.name, owner);
    }

    /// Remembers `child` (e.g. a Pod) as created by `owner` (e.g. a ReplicaSet), as a
    /// controller's `SuccessfulCreate` event says.
    pub fn observe_created(
        &mut self,
        namespace: &str,
        owner_kind: &str,
        owner_name: &str,
        child_kind: &str,
        child_name: &str,
    ) {
        self.observe(ObjectLink {
            kind: child_kind.to_string(),
            namespace: namespace.to_string(),
            name: child_name.to_string(),
            uid: String::new(),
            owner: Some(OwnerRef {
                kind: owner_kind.to_string(),
                name: owner_name.to_string(),
                uid: String::new(),
            }),
        });
    }

    /// Follows owner links from `(kind, name)` to the top; `None` when nothing is known.
    pub fn top_owner(&self, namespace: &str, kind: &str, name: &str) -> Option<Owner> {
        let mut current: Option<&OwnerRef> = None;
        let (mut k, mut n) = (kind, name);
        for _ in 0..8 {
            match self.owners.get(namespace, k, n) {
                Some(o) => {
                    current = Some(o);
                    (k, n) = (&o.kind, &o.name);
                }
                None => break,
            }
        }
        current.map(|o| Owner {
            kind: o.kind.clone(),
            name: o.name.clone(),
        })
    }
}

/// Infers the top owner from Kubernetes naming conventions:
/// - Pod `<deployment>-<pod-template-hash>-<suffix>` → Deployment;
/// - Pod `<cronjob>-<scheduled-minute>-<suffix>` → CronJob;
/// - Pod `<statefulset>-<ordinal>` → StatefulSet;
/// - Pod `<controller>-<suffix>` → `Workload` (a Job, DaemonSet or bare ReplicaSet: the name
///   alone cannot tell which, and we do not guess);
/// - ReplicaSet `<deployment>-<hash>` → Deployment; Job `<cronjob>-<scheduled-minute>` → CronJob.
///
/// Generated suffixes use Kubernetes' alphabet without vowels (`bcdfghjklmnpqrstvwxz2456789`),
/// which keeps ordinary words from being taken for them.
pub fn infer_owner_from_name(kind: &str, name: &str) -> Option<Owner> {
    let owner = |kind: &str, name: &str| {
        Some(Owner {
            kind: kind.to_string(),
            name: name.to_string(),
        })
    };
    match kind {
        "Pod" => {
            let (rest, last) = name.rsplit_once('-')?;
            if is_generated(last, 5, 5) {
                if let Some((base, mid)) = rest.rsplit_once('-') {
                    if is_schedule_minute(mid) && !base.is_empty() {
                        return owner("CronJob", base);
                    }
                    if is_generated(mid, 6, 10) && !base.is_empty() {
                        return owner("Deployment", base);
                    }
                }
                return (!rest.is_empty())
                    .then(|| owner("Workload", rest))
                    .flatten();
            }
            if !last.is_empty()
                && last.len() <= 5
                && last.bytes().all(|b| b.is_ascii_digit())
                && !rest.is_empty()
            {
                return owner("StatefulSet", rest);
            }
            None
        }
        "ReplicaSet" => {
            let (base, hash) = name.rsplit_once('-')?;
            (is_generated(hash, 6, 10) && !base.is_empty())
                .then(|| owner("Deployment", base))
                .flatten()
        }
        "Job" => {
            let (base, minute) = name.rsplit_once('-')?;
            (is_schedule_minute(minute) && !base.is_empty())
                .then(|| owner("CronJob", base))
                .flatten()
        }
        _ => None,
    }
}

/// Characters of `k8s.io/apimachinery/pkg/util/rand.SafeEncodeString`.
fn is_generated(s: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&s.len())
        && s.bytes()
            .all(|b| b"bcdfghjklmnpqrstvwxz2456789".contains(&b))
}

/// CronJob's Job names end in the scheduled time in minutes since the epoch (8 digits today),
/// or in seconds in very old releases (10 digits).
fn is_schedule_minute(s: &str) -> bool {
    (8..=10).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(kind: &str, name: &str) -> Option<Owner> {
        infer_owner_from_name(kind, name)
    }
    fn owner(kind: &str, name: &str) -> Option<Owner> {
        Some(Owner {
            kind: kind.into(),
            name: name.into(),
        })
    }

    #[test]
    fn pod_names_lead_to_their_controllers() {
        assert_eq!(o("Pod", "web-7d9f8b6c4-x2x9z"), owner("Deployment", "web"));
        assert_eq!(
            o("Pod", "my-api-server-5c9b7d8f6d-4kqzv"),
            owner("Deployment", "my-api-server")
        );
        assert_eq!(o("Pod", "hello-27958372-vx2kp"), owner("CronJob", "hello"));
        assert_eq!(o("Pod", "postgres-0"), owner("StatefulSet", "postgres"));
        assert_eq!(o("Pod", "fluentd-x7k2p"), owner("Workload", "fluentd"));
        assert_eq!(o("Pod", "nginx"), None);
        assert_eq!(o("Pod", "my-nginx"), None);
        assert_eq!(o("Pod", "-x7k2p"), None);
    }

    #[test]
    fn replicasets_and_jobs_lead_to_deployments_and_cronjobs() {
        assert_eq!(o("ReplicaSet", "web-7d9f8b6c4"), owner("Deployment", "web"));
        assert_eq!(o("Job", "hello-1616542740"), owner("CronJob", "hello"));
        assert_eq!(o("Job", "migrate"), None);
        assert_eq!(o("Deployment", "web-7d9f8b6c4"), None);
    }

    #[test]
    fn learned_links_are_followed_to_the_top() {
        let mut idx = OwnerIndex::default();
        idx.observe_created("shop", "ReplicaSet", "web-abc", "Pod", "web-abc-xyz");
        idx.observe_created("shop", "Deployment", "web", "ReplicaSet", "web-abc");
        assert_eq!(
            idx.top_owner("shop", "Pod", "web-abc-xyz"),
            owner("Deployment", "web")
        );
        assert_eq!(idx.top_owner("other", "Pod", "web-abc-xyz"), None);
    }

    proptest::proptest! {
        #[test]
        fn inference_never_panics(kind in "(Pod|ReplicaSet|Job|Node)", name in ".{0,40}") {
            let _ = infer_owner_from_name(&kind, &name);
        }
    }
}
