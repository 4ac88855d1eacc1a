//! Evaluation: events in, alert changes out. Pure and synchronous — no I/O, no clock: every
//! call takes `now` — so the live pipeline, the dry run (`kubetrail alerts test`) and the tests
//! run the same code.
//!
//! ```
//! use kubetrail_alert::{Evaluator, builtin_rules};
//! let mut evaluator = Evaluator::new(builtin_rules());
//! let changes = evaluator.observe_occurrences(&[], kubetrail_model::Timestamp::now());
//! assert!(changes.is_empty());
//! ```

mod analysis;
mod counts;
mod dry_run;
mod findings;
mod labels;
mod notes;
mod state;

use std::collections::{HashMap, HashSet};

use jiff::Timestamp;
use kubetrail_model::{AlertRecord, AlertStatus};
use kubetrail_model::{Event, EventOccurrences};

use crate::condition::Condition;
use crate::group::group_key;
use crate::rules::Rule;
use crate::template::Context;

pub use analysis::Analysis;
pub use counts::spread;
pub use dry_run::{DryRunAlert, dry_run};
pub use findings::{Analyzer, Cause, Finding, NoAnalysis};
use labels::labels;
use state::{Group, Open, add_sample, annotations, record};

pub use labels::GROUP_KEY_LABEL;

/// What happened to an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// A new alert: notify.
    Raised,
    /// An open alert absorbed more events: record, do not notify.
    Updated,
    /// An open alert is still firing after the rule's repeat interval: notify again.
    Repeated,
    /// The condition stopped holding: notify the resolution.
    Resolved,
}

/// An alert to record (and, unless `Updated`, to send).
#[derive(Debug, Clone, PartialEq)]
pub struct AlertChange {
    /// What happened to the alert.
    pub kind: ChangeKind,
    /// The alert as it is now, to upsert into the store.
    pub alert: AlertRecord,
    /// The rule's notifiers (`None`: all).
    pub notifiers: Option<Vec<String>>,
}

impl AlertChange {
    /// Whether the change is sent to the notifiers (everything but [`ChangeKind::Updated`]).
    pub fn notifies(&self) -> bool {
        self.kind != ChangeKind::Updated
    }
}

/// Occurrences of one event to evaluate: `count` of them at `at`.
#[derive(Debug, Clone, Copy)]
pub struct Hit<'a> {
    /// The event, as stored.
    pub event: &'a Event,
    /// When the occurrences happened.
    pub at: Timestamp,
    /// How many occurred at `at`, at least 1.
    pub count: u64,
}

type GroupId = (usize, String);

/// The rules and the state of every group of every rule.
#[derive(Debug)]
pub struct Evaluator {
    rules: Vec<Rule>,
    groups: HashMap<GroupId, Group>,
    /// (cluster, namespace, reason) seen, and (cluster, namespace): for `first_seen`.
    reasons: HashSet<(String, String, String)>,
    namespaces: HashSet<(String, String)>,
}

/// How a contribution adds to an open alert's count.
#[derive(Debug, Clone, Copy)]
enum Amount {
    /// New occurrences.
    Add(u64),
    /// A finding's total over its window (reported again at every evaluation).
    Total(u64),
    /// Occurrences read back after a restart that the restored open alert already counted:
    /// they keep it open and refill what it remembers, and add nothing to its count.
    Counted(u64),
}

impl Evaluator {
    /// An evaluator of `rules` with no group open and nothing seen yet.
    pub fn new(rules: Vec<Rule>) -> Self {
        Evaluator {
            rules,
            groups: HashMap::new(),
            reasons: HashSet::new(),
            namespaces: HashSet::new(),
        }
    }

    /// The rules it evaluates, in configuration order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Groups currently tracked (open alerts, counting windows, cooldowns).
    pub fn groups(&self) -> usize {
        self.groups.len()
    }

    /// Evaluates occurrences as the store committed them: what a write added
    /// (`kubetrail_store::Written`), or what a restart reads back. The store's count-delta rule
    /// (`kubetrail_model::new_occurrences`) already made sure that no occurrence comes twice,
    /// whatever copies of an Event were written (a relist, a redelivery, a replay).
    pub fn observe_occurrences<'a>(
        &mut self,
        events: impl IntoIterator<Item = &'a EventOccurrences>,
        now: Timestamp,
    ) -> Vec<AlertChange> {
        self.evaluate(&hits(events), now, false)
    }

    /// Evaluates the stored occurrences read back after a restart, once [`Evaluator::restore`]
    /// took over the open alerts: they refill the counting windows, and those an open alert
    /// already counted (at or before its last occurrence) do not add to its count again.
    pub fn replay<'a>(
        &mut self,
        events: impl IntoIterator<Item = &'a EventOccurrences>,
        now: Timestamp,
    ) -> Vec<AlertChange> {
        let mut replayed = Replayed::default();
        self.replay_page(events, now, &mut replayed);
        self.replayed(replayed)
    }

    /// [`Evaluator::replay`] of one page of a replay read in pages, in the order of the read:
    /// the groups it touches are noted in `replayed`, and [`Evaluator::replayed`] gives the
    /// changes of the whole replay at its end, as one call of `replay` over every page would.
    pub fn replay_page<'a>(
        &mut self,
        events: impl IntoIterator<Item = &'a EventOccurrences>,
        now: Timestamp,
        replayed: &mut Replayed,
    ) {
        self.evaluate_into(&hits(events), now, true, &mut replayed.0);
    }

    /// The changes of a replay read in pages ([`Evaluator::replay_page`]): one per group touched.
    pub fn replayed(&self, replayed: Replayed) -> Vec<AlertChange> {
        self.changes(replayed.0)
    }

    /// Records that `reason` occurred in a namespace, for `first_seen`.
    pub fn learn(&mut self, cluster: &str, namespace: &str, reason: &str) {
        self.namespaces
            .insert((cluster.to_string(), namespace.to_string()));
        self.reasons.insert((
            cluster.to_string(),
            namespace.to_string(),
            reason.to_string(),
        ));
    }

    /// Evaluates occurrences. One change per group touched: `Raised` if the group's alert was
    /// raised by these hits, else `Updated`.
    pub fn observe(&mut self, hits: &[Hit<'_>], now: Timestamp) -> Vec<AlertChange> {
        self.evaluate(hits, now, false)
    }

    /// [`Evaluator::observe`]; when `replay`, see [`Evaluator::replay`].
    fn evaluate(&mut self, hits: &[Hit<'_>], now: Timestamp, replay: bool) -> Vec<AlertChange> {
        let mut touched: Vec<(GroupId, ChangeKind)> = Vec::new();
        self.evaluate_into(hits, now, replay, &mut touched);
        self.changes(touched)
    }

    /// [`Evaluator::evaluate`], noting the groups it changes in `touched`.
    fn evaluate_into(
        &mut self,
        hits: &[Hit<'_>],
        now: Timestamp,
        replay: bool,
        touched: &mut Vec<(GroupId, ChangeKind)>,
    ) {
        let mut learned = Vec::new();
        for hit in hits {
            let e = hit.event;
            let reason = (e.cluster.clone(), e.namespace.clone(), e.reason.clone());
            let first_seen = !self.reasons.contains(&reason)
                && self
                    .namespaces
                    .contains(&(e.cluster.clone(), e.namespace.clone()));
            learned.push(reason);
            for i in 0..self.rules.len() {
                let rule = &self.rules[i];
                if !rule.matcher.matches(e) {
                    continue;
                }
                let key = group_key(&rule.group_by, e);
                let holds = match rule.condition {
                    Condition::Count { min, within } => {
                        let g = self
                            .groups
                            .entry((i, key.clone()))
                            .or_insert_with(Group::new);
                        g.count(hit.at, hit.count, within, now);
                        g.window_sum >= min
                    }
                    Condition::FirstSeen => first_seen,
                    // Judged over windows by `findings`.
                    _ => continue,
                };
                let id = (i, key);
                let counted = replay
                    && self
                        .groups
                        .get(&id)
                        .and_then(|g| g.open.as_ref())
                        .is_some_and(|open| hit.at <= open.last_seen);
                let amount = match counted {
                    true => Amount::Counted(hit.count),
                    false => Amount::Add(hit.count),
                };
                if let Some(kind) = self.apply(&id, e, hit.at, amount, holds, now) {
                    note(touched, id, kind);
                }
            }
        }
        for (cluster, namespace, reason) in learned {
            self.learn(&cluster, &namespace, &reason);
        }
    }

    /// Evaluates the findings of analysis for rule number `rule` (a windowed condition).
    pub fn findings(
        &mut self,
        rule: usize,
        findings: &[Finding],
        now: Timestamp,
    ) -> Vec<AlertChange> {
        let Some(r) = self.rules.get(rule) else {
            return Vec::new();
        };
        let mut touched = Vec::new();
        let matching: Vec<&Finding> = findings
            .iter()
            .filter(|f| r.matcher.matches(&f.event))
            .collect();
        let r_describes = r.annotations.iter().any(|(k, _)| k == "description");
        let annotation = match r.condition.finding_kind() {
            Some(crate::FindingKind::Incident) => "root_cause",
            _ => "finding",
        };
        for f in matching {
            let id = (rule, group_key(&self.rules[rule].group_by, &f.event));
            if let Some(kind) = self.apply(
                &id,
                &f.event,
                f.last_seen,
                Amount::Total(f.count),
                true,
                now,
            ) {
                note(&mut touched, id.clone(), kind);
            }
            // What analysis said, for the notification (Slack shows a root cause).
            if let Some(open) = self.groups.get_mut(&id).and_then(|g| g.open.as_mut()) {
                match &f.cause {
                    // About an incident: its root cause is the description (unless the rule
                    // writes its own), with the hint.
                    Some(cause) => {
                        let text = cause.to_string();
                        if !r_describes {
                            open.annotations.insert("description".into(), text.clone());
                        }
                        open.annotations.insert("root_cause".into(), text);
                        open.annotations.insert("hint".into(), cause.hint.clone());
                    }
                    None => {
                        open.annotations
                            .entry(annotation.to_string())
                            .or_insert_with(|| f.summary.clone());
                    }
                }
            }
        }
        self.changes(touched)
    }

    /// Resolves alerts whose condition has not held for the rule's `resolve_after`, repeats
    /// those due, and forgets idle groups. Call it now and then (e.g. every few seconds).
    pub fn tick(&mut self, now: Timestamp) -> Vec<AlertChange> {
        let mut out = Vec::new();
        for ((i, key), g) in &mut self.groups {
            let rule = &self.rules[*i];
            if let Condition::Count { within, .. } = rule.condition {
                g.trim(now - within);
            }
            let Some(open) = &mut g.open else {
                continue;
            };
            if now.duration_since(open.last_hold) >= rule.resolve_after {
                out.push(AlertChange {
                    kind: ChangeKind::Resolved,
                    alert: record(rule, key, open, Some(now)),
                    notifiers: rule.notifiers.clone(),
                });
                g.open = None;
                g.resolved_at = Some(now);
                g.notes.clear();
            } else if now.duration_since(open.last_notified) >= rule.repeat {
                open.last_notified = now;
                out.push(AlertChange {
                    kind: ChangeKind::Repeated,
                    alert: record(rule, key, open, None),
                    notifiers: rule.notifiers.clone(),
                });
            }
        }
        let rules = &self.rules;
        self.groups
            .retain(|(i, _), g| !g.is_idle(now, rules[*i].cooldown));
        out.sort_by(|a, b| {
            (a.alert.rule.as_str(), a.alert.group_key.as_str())
                .cmp(&(b.alert.rule.as_str(), b.alert.group_key.as_str()))
        });
        out
    }

    /// Takes over alerts recorded before a restart: open ones stay open (with a fresh
    /// `resolve_after` to let the watch catch up), recently resolved ones keep their cooldown.
    /// Open alerts of rules that no longer exist are resolved (returned, to be recorded).
    pub fn restore(&mut self, alerts: &[AlertRecord], now: Timestamp) -> Vec<AlertChange> {
        let mut out = Vec::new();
        for a in alerts {
            let Some(i) = self.rules.iter().position(|r| r.name == a.rule) else {
                if a.status == AlertStatus::Firing {
                    let mut resolved = a.clone();
                    resolved.status = AlertStatus::Resolved;
                    resolved.ends_at = Some(now);
                    out.push(AlertChange {
                        kind: ChangeKind::Resolved,
                        alert: resolved,
                        notifiers: None,
                    });
                }
                continue;
            };
            let g = self
                .groups
                .entry((i, a.group_key.clone()))
                .or_insert_with(Group::new);
            match (a.status, a.ends_at) {
                (AlertStatus::Firing, _) => {
                    g.open = Some(Open {
                        starts_at: a.starts_at,
                        first_seen: a.first_seen,
                        last_seen: a.last_seen,
                        event_count: a.event_count,
                        last_hold: now.max(a.last_seen),
                        last_notified: now,
                        severity: a.severity,
                        labels: a.labels.clone(),
                        annotations: a.annotations.clone(),
                        events: a.events.clone(),
                    });
                }
                (AlertStatus::Resolved, Some(ended)) if g.open.is_none() => {
                    g.resolved_at = Some(g.resolved_at.map_or(ended, |r| r.max(ended)));
                }
                _ => {}
            }
        }
        out
    }

    /// Adds a contribution to a group; raises its alert when the condition holds and no alert
    /// is open (unless the group is cooling down). An open alert takes every contribution of
    /// its group, which keeps it open.
    fn apply(
        &mut self,
        id: &GroupId,
        e: &Event,
        at: Timestamp,
        amount: Amount,
        holds: bool,
        now: Timestamp,
    ) -> Option<ChangeKind> {
        let rule = &self.rules[id.0];
        let g = self.groups.entry(id.clone()).or_insert_with(Group::new);
        g.notes.add(
            e,
            at,
            match amount {
                Amount::Add(n) | Amount::Total(n) | Amount::Counted(n) => n,
            },
        );
        // The event the alert is about: the group's most informative, not its latest.
        let about = g.notes.best().unwrap_or(e);
        if let Some(open) = &mut g.open {
            open.event_count = match amount {
                Amount::Add(n) => open.event_count + n,
                Amount::Total(n) => open.event_count.max(n),
                Amount::Counted(_) => open.event_count,
            };
            open.last_seen = open.last_seen.max(at);
            open.first_seen = open.first_seen.min(at);
            if rule.severity.is_none() {
                open.severity = open.severity.max(e.severity);
            }
            add_sample(&mut open.events, e);
            // Hysteresis: an open alert stays open while its group's events keep coming, even
            // if their rate dips below the threshold for a while; otherwise a problem recurring
            // at about the threshold would resolve and fire again all day.
            open.last_hold = now;
            let c = Context {
                event: about,
                rule: &rule.name,
                group_key: &id.1,
                event_count: open.event_count,
                first_seen: open.first_seen,
                last_seen: open.last_seen,
            };
            open.annotations = annotations(rule, &c);
            return Some(ChangeKind::Updated);
        }
        if !holds {
            return None;
        }
        if g.resolved_at
            .is_some_and(|r| now.duration_since(r) < rule.cooldown)
        {
            return None;
        }
        let (count, first) = match (rule.condition.clone(), amount) {
            (Condition::Count { .. }, _) => (g.window_sum, g.window_start().unwrap_or(at)),
            (_, Amount::Add(n) | Amount::Total(n) | Amount::Counted(n)) => (n, at),
        };
        let severity = rule.severity.unwrap_or(about.severity);
        let c = Context {
            event: about,
            rule: &rule.name,
            group_key: &id.1,
            event_count: count,
            first_seen: first.min(at),
            last_seen: at,
        };
        let mut events = Vec::new();
        add_sample(&mut events, e);
        g.open = Some(Open {
            starts_at: now,
            first_seen: first.min(at),
            last_seen: at,
            event_count: count,
            last_hold: now,
            last_notified: now,
            severity,
            labels: labels(rule, severity, &c),
            annotations: annotations(rule, &c),
            events,
        });
        g.resolved_at = None;
        Some(ChangeKind::Raised)
    }

    fn changes(&self, touched: Vec<(GroupId, ChangeKind)>) -> Vec<AlertChange> {
        touched
            .into_iter()
            .filter_map(|(id, kind)| {
                let rule = &self.rules[id.0];
                let open = self.groups.get(&id)?.open.as_ref()?;
                Some(AlertChange {
                    kind,
                    alert: record(rule, &id.1, open, None),
                    notifiers: rule.notifiers.clone(),
                })
            })
            .collect()
    }
}

/// The groups a replay read in pages has touched so far ([`Evaluator::replay_page`]).
#[derive(Debug, Default)]
pub struct Replayed(Vec<(GroupId, ChangeKind)>);

/// The occurrences of `events` as hits, in order.
fn hits<'a>(events: impl IntoIterator<Item = &'a EventOccurrences>) -> Vec<Hit<'a>> {
    events
        .into_iter()
        .flat_map(|e| {
            e.occurrences.iter().map(|o| Hit {
                event: &e.event,
                at: o.at,
                count: o.count,
            })
        })
        .collect()
}

/// Records that a group changed; a raise stays a raise.
fn note(touched: &mut Vec<(GroupId, ChangeKind)>, id: GroupId, kind: ChangeKind) {
    match touched.iter_mut().find(|(t, _)| *t == id) {
        Some((_, k)) => {
            if *k != ChangeKind::Raised {
                *k = kind;
            }
        }
        None => touched.push((id, kind)),
    }
}

#[cfg(test)]
mod tests;
