//! The generation the watch last handed over per object, for kinds whose every spec change
//! bumps `metadata.generation` ([`super::Watched::spec_generation`]): an update that brings
//! the same generation again changed the status only, and is skipped without decoding the
//! object further (issue 15: a storm of status updates must cost little).
//!
//! Bounded: at most [`Generations::MAX`] objects are remembered, then the memory starts over
//! (an object forgotten is handed over once more, and the change tracker finds it unchanged).
//! Memory stays flat whatever the number of watched objects.

use std::collections::HashMap;

/// uid → the generation last handed over.
#[derive(Debug, Default)]
pub(super) struct Generations {
    last: HashMap<String, i64>,
}

impl Generations {
    /// Objects remembered at most (~100 bytes each).
    pub(super) const MAX: usize = 4_096;

    /// Whether `generation` is the one last handed over for `uid`.
    pub(super) fn is_known(&self, uid: &str, generation: i64) -> bool {
        self.last.get(uid) == Some(&generation)
    }

    /// Remembers that `generation` of `uid` is handed over.
    pub(super) fn handed_over(&mut self, uid: &str, generation: i64) {
        if let Some(known) = self.last.get_mut(uid) {
            *known = generation;
            return;
        }
        if self.last.len() >= Self::MAX {
            self.last = HashMap::new();
        }
        self.last.insert(uid.to_owned(), generation);
    }

    /// Forgets a deleted object.
    pub(super) fn forget(&mut self, uid: &str) {
        self.last.remove(uid);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.last.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generation_handed_over_is_known_until_a_new_one_or_a_deletion() {
        let mut g = Generations::default();
        assert!(!g.is_known("u1", 1));
        g.handed_over("u1", 1);
        assert!(g.is_known("u1", 1));
        assert!(!g.is_known("u1", 2));
        g.handed_over("u1", 2);
        assert!(g.is_known("u1", 2) && !g.is_known("u1", 1));
        g.forget("u1");
        assert!(!g.is_known("u1", 2));
    }

    #[test]
    fn past_its_bound_it_starts_over_instead_of_growing() {
        let mut g = Generations::default();
        for i in 0..Generations::MAX {
            g.handed_over(&format!("u{i}"), 1);
        }
        assert_eq!(g.len(), Generations::MAX);
        g.handed_over("u0", 2);
        assert_eq!(
            g.len(),
            Generations::MAX,
            "a known object does not count twice"
        );
        g.handed_over("new", 1);
        assert_eq!(g.len(), 1);
        assert!(g.is_known("new", 1) && !g.is_known("u1", 1));
    }
}
