//! The comparison of a store with the simulator's full history (every Event ever created,
//! deleted and expired ones included, with its final count).
//!
//! Per uid, with `s` its stored count (0 when absent) and `f` its final count:
//! - `s == f`: exact;
//! - `s > f`: **doubled** (an occurrence counted twice);
//! - `s < f`: occurrences missing, *covered* when a recorded gap explains them, else **lost**:
//!   - a resume gap of a watch ("(resourceVersion N)" in its cause: a 410, or a list started
//!     over) covers an Event whose first missing change is newer than N and that was deleted
//!     before the gap ended: changed and gone while the watcher could not resume, which a
//!     relist cannot see;
//!   - a spool gap ("N events dropped") covers up to N Events whose first missing change
//!     happened before the gap ended;
//!   - any other gap covers nothing (it is listed, so that a new kind is noticed).
//!
//! A stored uid the simulator never created is a **phantom**.

use std::collections::BTreeMap;

use kubetrail_sim::EventRecord;
use kubetrail_store::Gap;
use serde_json::{Value, json};

/// What a gap says it may have lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Could not go on from this resourceVersion (410, or a list started over) and relisted.
    Expired(u64),
    /// This many events dropped because the spool was full.
    SpoolFull(u64),
    Other,
}

fn kind(gap: &Gap) -> Kind {
    let number_before = |text: &str, marker: &str| {
        let head = text.split(marker).next()?;
        head.rsplit(|c: char| !c.is_ascii_digit())
            .next()?
            .parse::<u64>()
            .ok()
    };
    let number_after = |text: &str, marker: &str| {
        let tail = text.rsplit_once(marker)?.1;
        let digits: String = tail.chars().take_while(char::is_ascii_digit).collect();
        digits.parse::<u64>().ok()
    };
    if gap.stream != "spool"
        && let Some(rv) = number_after(&gap.cause, "resourceVersion ")
    {
        return Kind::Expired(rv);
    }
    if gap.stream == "spool"
        && let Some(n) = number_before(&gap.cause, " events dropped")
    {
        return Kind::SpoolFull(n);
    }
    Kind::Other
}

/// A uid whose store count differs from the truth.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Miss {
    pub uid: String,
    pub name: String,
    pub stored: u64,
    pub truth: u64,
    pub deleted: bool,
}

/// What one gap covered.
#[derive(Clone, Debug, PartialEq)]
pub struct GapUse {
    pub gap: Gap,
    pub uids: usize,
    pub occurrences: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    pub created: usize,
    pub deleted: usize,
    /// Occurrences in the simulator's history (sum of final counts).
    pub occurrences: u64,
    pub stored: usize,
    pub exact: usize,
    pub lost: Vec<Miss>,
    pub doubled: Vec<Miss>,
    pub phantoms: Vec<String>,
    pub gaps: Vec<GapUse>,
}

impl Verdict {
    /// Nothing lost outside a gap, nothing doubled, nothing invented.
    pub fn clean(&self) -> bool {
        self.lost.is_empty() && self.doubled.is_empty() && self.phantoms.is_empty()
    }

    pub fn covered_uids(&self) -> usize {
        self.gaps.iter().map(|g| g.uids).sum()
    }

    pub fn covered_occurrences(&self) -> u64 {
        self.gaps.iter().map(|g| g.occurrences).sum()
    }

    pub fn to_json(&self) -> Value {
        let misses = |m: &[Miss]| {
            m.iter()
                .take(20)
                .map(|m| json!({"uid": m.uid, "name": m.name, "stored": m.stored, "truth": m.truth, "deleted": m.deleted}))
                .collect::<Vec<_>>()
        };
        json!({
            "created": self.created,
            "deleted": self.deleted,
            "occurrences": self.occurrences,
            "stored": self.stored,
            "exact": self.exact,
            "in_gaps": {"uids": self.covered_uids(), "occurrences": self.covered_occurrences()},
            "lost": self.lost.len(),
            "doubled": self.doubled.len(),
            "phantoms": self.phantoms.len(),
            "lost_sample": misses(&self.lost),
            "doubled_sample": misses(&self.doubled),
            "gaps": self.gaps.iter().map(|g| json!({
                "stream": g.gap.stream,
                "cause": g.gap.cause,
                "seconds": g.gap.to.duration_since(g.gap.from).as_secs_f64(),
                "uids": g.uids,
                "occurrences": g.occurrences,
            })).collect::<Vec<_>>(),
        })
    }
}

/// Compares `stored` (uid → count) with `history`, explaining shortfalls by `gaps`.
pub fn judge(history: &[EventRecord], stored: &BTreeMap<String, u64>, gaps: &[Gap]) -> Verdict {
    // Only the Event streams' gaps explain missing events (not the change streams' of issue 15).
    let mut uses: Vec<GapUse> = gaps
        .iter()
        .filter(|g| !g.stream.starts_with("changes/"))
        .map(|g| GapUse {
            gap: g.clone(),
            uids: 0,
            occurrences: 0,
        })
        .collect();
    let mut verdict = Verdict {
        created: history.len(),
        deleted: history.iter().filter(|r| r.deleted.is_some()).count(),
        occurrences: history.iter().map(EventRecord::final_count).sum(),
        stored: stored.len(),
        exact: 0,
        lost: Vec::new(),
        doubled: Vec::new(),
        phantoms: Vec::new(),
        gaps: Vec::new(),
    };
    for record in history {
        let s = stored.get(&record.uid).copied().unwrap_or(0);
        let truth = record.final_count();
        let miss = || Miss {
            uid: record.uid.clone(),
            name: format!("{}/{}", record.namespace, record.name),
            stored: s,
            truth,
            deleted: record.deleted.is_some(),
        };
        if s == truth {
            verdict.exact += 1;
            continue;
        }
        if s > truth {
            verdict.doubled.push(miss());
            continue;
        }
        let first_missing = record
            .first_change_above(s)
            .expect("a count below the final one has a change above it");
        let cover = uses.iter_mut().find(|u| match kind(&u.gap) {
            Kind::Expired(rv) => {
                first_missing.resource_version > rv
                    && record.deleted.is_some_and(|(_, at)| at <= u.gap.to)
            }
            Kind::SpoolFull(dropped) => first_missing.at <= u.gap.to && (u.uids as u64) < dropped,
            Kind::Other => false,
        });
        match cover {
            Some(u) => {
                u.uids += 1;
                u.occurrences += truth - s;
            }
            None => verdict.lost.push(miss()),
        }
    }
    let created: std::collections::BTreeSet<&str> =
        history.iter().map(|r| r.uid.as_str()).collect();
    verdict.phantoms = stored
        .keys()
        .filter(|uid| !created.contains(uid.as_str()))
        .cloned()
        .collect();
    verdict.gaps = uses;
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;
    use kubetrail_sim::CountChange;

    fn at(s: i64) -> jiff::Timestamp {
        jiff::Timestamp::from_second(1_700_000_000 + s).expect("valid")
    }

    /// An Event created at `rv`/`t` (seconds), its count raised once per later (rv, t).
    fn record(uid: &str, changes: &[(u64, i64)], deleted: Option<(u64, i64)>) -> EventRecord {
        EventRecord {
            uid: uid.into(),
            namespace: "ns".into(),
            name: uid.into(),
            counts: changes
                .iter()
                .enumerate()
                .map(|(i, (rv, t))| CountChange {
                    resource_version: *rv,
                    at: at(*t),
                    count: i as u64 + 1,
                })
                .collect(),
            deleted: deleted.map(|(rv, t)| (rv, at(t))),
        }
    }

    fn gap(stream: &str, from: i64, to: i64, cause: &str) -> Gap {
        Gap {
            cluster: "faults".into(),
            stream: stream.into(),
            from: at(from),
            to: at(to),
            cause: cause.into(),
        }
    }

    fn stored(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
        pairs.iter().map(|(u, c)| (u.to_string(), *c)).collect()
    }

    #[test]
    fn exact_doubled_lost_and_phantom_are_told_apart() {
        let history = [
            record("a", &[(2, 0), (5, 1)], None),
            record("b", &[(3, 0)], None),
            record("c", &[(4, 0)], None),
        ];
        let v = judge(
            &history,
            &stored(&[("a", 2), ("b", 2), ("x", 1)]),
            &[gap("events", 0, 9, "something else")],
        );
        assert_eq!(v.exact, 1);
        assert_eq!(v.doubled.len(), 1);
        assert_eq!(
            v.lost.iter().map(|m| m.uid.as_str()).collect::<Vec<_>>(),
            ["c"]
        );
        assert_eq!(v.phantoms, ["x"]);
        assert_eq!(v.occurrences, 4);
        assert!(!v.clean());
    }

    #[test]
    fn a_410_gap_covers_what_changed_after_its_version_and_was_deleted_before_its_end() {
        let cause = "resourceVersion expired (410 Gone): events created and expired meanwhile are missing (resourceVersion 10)";
        let history = [
            // Created after 10, deleted before the relist: covered.
            record("gone", &[(11, 5)], Some((12, 6))),
            // Created before 10: the watcher had it; missing it is a loss.
            record("old", &[(9, 1)], Some((12, 6))),
            // Still there at the relist: the list shows it, so missing it is a loss.
            record("alive", &[(13, 6)], None),
            // Deleted after the relist: the list showed it.
            record("late", &[(14, 6)], Some((30, 20))),
        ];
        let v = judge(&history, &stored(&[]), &[gap("events", 0, 10, cause)]);
        let lost: Vec<&str> = v.lost.iter().map(|m| m.uid.as_str()).collect();
        assert_eq!(lost, ["old", "alive", "late"]);
        assert_eq!((v.gaps[0].uids, v.gaps[0].occurrences), (1, 1));
    }

    #[test]
    fn a_spool_gap_covers_no_more_events_than_it_says_it_dropped() {
        let cause = "spool full while storage was unavailable: 2 events dropped";
        let history = [
            record("a", &[(2, 1)], None),
            record("b", &[(3, 2), (4, 3)], None),
            record("c", &[(5, 3)], None),
            record("d", &[(6, 30)], None),
        ];
        let v = judge(
            &history,
            &stored(&[("b", 1)]),
            &[gap("spool", 5, 10, cause)],
        );
        // a and b fit the two dropped; c is one too many; d came after the gap ended.
        let lost: Vec<&str> = v.lost.iter().map(|m| m.uid.as_str()).collect();
        assert_eq!(lost, ["c", "d"]);
        assert_eq!((v.gaps[0].uids, v.gaps[0].occurrences), (2, 2));
    }
}
