//! A map keyed by an object's (namespace, kind, name) that is read with borrowed strings: the
//! processor looks up every event's object, and building owned keys for each lookup cost more
//! than the lookups themselves. Hashed with foldhash: the keys are names from the cluster, not
//! attacker-chosen to collide at scale, and SipHash was most of a lookup's cost.

use foldhash::{HashMap, HashMapExt};

/// (namespace, kind, name) → `V`, bounded by the caller through [`ObjectMap::len`].
#[derive(Debug)]
pub(crate) struct ObjectMap<V> {
    by_namespace: HashMap<String, HashMap<String, HashMap<String, V>>>,
    len: usize,
}

impl<V> Default for ObjectMap<V> {
    fn default() -> Self {
        ObjectMap {
            by_namespace: HashMap::new(),
            len: 0,
        }
    }
}

impl<V> ObjectMap<V> {
    pub(crate) fn get(&self, namespace: &str, kind: &str, name: &str) -> Option<&V> {
        self.by_namespace.get(namespace)?.get(kind)?.get(name)
    }

    /// Sets the value of an object; keys are copied only when new.
    pub(crate) fn insert(&mut self, namespace: &str, kind: &str, name: &str, value: V) {
        let kinds = match self.by_namespace.get_mut(namespace) {
            Some(kinds) => kinds,
            None => self.by_namespace.entry(namespace.to_string()).or_default(),
        };
        let names = match kinds.get_mut(kind) {
            Some(names) => names,
            None => kinds.entry(kind.to_string()).or_default(),
        };
        match names.get_mut(name) {
            Some(old) => *old = value,
            None => {
                names.insert(name.to_string(), value);
                self.len += 1;
            }
        }
    }

    /// Takes an object's value out.
    pub(crate) fn remove(&mut self, namespace: &str, kind: &str, name: &str) -> Option<V> {
        let value = self
            .by_namespace
            .get_mut(namespace)?
            .get_mut(kind)?
            .remove(name)?;
        self.len -= 1;
        Some(value)
    }

    /// The (namespace, name) of every object of `kind` whose name `take` accepts, taken out
    /// with their values.
    pub(crate) fn take_where(
        &mut self,
        kind: &str,
        mut take: impl FnMut(&str) -> bool,
    ) -> Vec<(String, String, V)> {
        let mut taken = Vec::new();
        for (namespace, kinds) in &mut self.by_namespace {
            let Some(names) = kinds.get_mut(kind) else {
                continue;
            };
            let chosen: Vec<String> = names.keys().filter(|n| take(n)).cloned().collect();
            for name in chosen {
                if let Some(value) = names.remove(&name) {
                    taken.push((namespace.clone(), name, value));
                }
            }
        }
        self.len -= taken.len();
        taken
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn clear(&mut self) {
        self.by_namespace.clear();
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_found_by_all_three_parts_and_counted_once() {
        let mut map = ObjectMap::default();
        map.insert("shop", "Pod", "web-0", 1);
        map.insert("shop", "Pod", "web-0", 2);
        map.insert("shop", "Job", "web-0", 3);
        assert_eq!(map.get("shop", "Pod", "web-0"), Some(&2));
        assert_eq!(map.get("shop", "Job", "web-0"), Some(&3));
        assert_eq!(map.get("other", "Pod", "web-0"), None);
        assert_eq!(map.len(), 2);
        assert_eq!(map.remove("shop", "Job", "web-0"), Some(3));
        assert_eq!(map.remove("shop", "Job", "web-0"), None);
        map.insert("other", "Pod", "etcd-node-a", 4);
        let taken = map.take_where("Pod", |name| name.ends_with("-node-a"));
        assert_eq!(taken, vec![("other".into(), "etcd-node-a".into(), 4)]);
        assert_eq!(map.len(), 1);
        map.clear();
        assert_eq!((map.len(), map.get("shop", "Pod", "web-0")), (0, None));
    }
}
