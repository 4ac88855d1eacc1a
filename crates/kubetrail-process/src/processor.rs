use crate::{ObjectLink, OwnerIndex, Rules};
use kubetrail_model::Event;

/// Stateful processing: rules plus what was learned from the stream so far.
#[derive(Debug)]
pub struct Processor {
    rules: Rules,
    owners: OwnerIndex,
}

impl Processor {
    pub fn new(rules: Rules) -> Self {
        Processor { rules, owners: OwnerIndex::default() }
    }
    pub fn observe(&mut self, link: ObjectLink) {
        self.owners.observe(link);
    }
    pub fn process(&mut self, mut ev: Event) -> Event {
        let c = self.rules.classify(&ev);
        ev.category = c.category;
        ev.severity = c.severity;
        ev
    }
}
