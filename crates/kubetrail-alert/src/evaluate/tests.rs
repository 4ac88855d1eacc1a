use jiff::SignedDuration;
use kubetrail_model::Severity;

use super::*;
use crate::rules::parse_rules;
use crate::testing::{at, event, new};
use kubetrail_model::Occurrence;

/// What a store's write commits for a stored `e` whose count grew `by`: the increase, at its
/// last time.
fn grew(e: &Event, by: u64) -> Vec<EventOccurrences> {
    vec![EventOccurrences {
        event: e.clone(),
        occurrences: vec![Occurrence {
            at: e.last_seen,
            count: by,
        }],
    }]
}

fn rules(yaml: &str) -> Vec<Rule> {
    parse_rules(yaml).unwrap()
}

const CRASH: &str = "rules:
  - name: crash
    match: {reason: BackOff}
    condition: count >= 3 within 10m
    resolve_after: 15m
    cooldown: 10m
    repeat: 1h
    labels: {team: \"{{ namespace }}-team\"}
";

fn backoff(pod: &str, count: u64, minute: i64) -> Event {
    let mut e = event("shop", pod, "BackOff", count);
    e.first_seen = at(minute);
    e.last_seen = at(minute);
    e
}

fn kinds(changes: &[AlertChange]) -> Vec<(ChangeKind, &str)> {
    changes
        .iter()
        .map(|c| (c.kind, c.alert.group_key.as_str()))
        .collect()
}

#[test]
fn a_count_is_taken_across_every_replica_of_the_group_and_raises_one_alert() {
    let mut ev = Evaluator::new(rules(CRASH));
    assert!(
        ev.observe_occurrences(&new(&[backoff("web-1", 1, 0)]), at(0))
            .is_empty()
    );
    assert!(
        ev.observe_occurrences(&new(&[backoff("web-2", 1, 1)]), at(1))
            .is_empty()
    );
    let changes = ev.observe_occurrences(
        &new(&[backoff("web-3", 1, 2), backoff("web-4", 1, 2)]),
        at(2),
    );
    assert_eq!(
        kinds(&changes),
        [(ChangeKind::Raised, "prod/shop/Deployment/web")]
    );
    let a = &changes[0].alert;
    assert_eq!(a.event_count, 4);
    assert_eq!(a.first_seen, at(0));
    assert_eq!(a.last_seen, at(2));
    assert_eq!(a.starts_at, at(2));
    assert_eq!(a.severity, Severity::Error);
    assert_eq!(a.labels["alertname"], "crash");
    assert_eq!(a.labels["severity"], "error");
    assert_eq!(a.labels["correlation"], "shop/Deployment/web");
    assert_eq!(a.labels["team"], "shop-team");
    assert_eq!(a.events.len(), 2, "the events of the raising batch");

    // More events of the group: the same alert, updated, never a second one.
    let mut more = backoff("web-1", 5, 3);
    more.first_seen = at(0);
    let changes = ev.observe_occurrences(&grew(&more, 4), at(3));
    assert_eq!(
        kinds(&changes),
        [(ChangeKind::Updated, "prod/shop/Deployment/web")]
    );
    assert_eq!(
        changes[0].alert.event_count, 8,
        "the count increase of web-1 (4)"
    );
    assert_eq!(changes[0].alert.starts_at, at(2));
}

#[test]
fn occurrences_outside_the_window_do_not_count() {
    let mut ev = Evaluator::new(rules(CRASH));
    for m in [0, 11, 22, 33] {
        assert!(
            ev.observe_occurrences(&new(&[backoff(&format!("web-{m}"), 1, m)]), at(m))
                .is_empty()
        );
    }
    // An old event relisted late is outside the window of now.
    assert!(
        ev.observe_occurrences(&new(&[backoff("old", 10, 0)]), at(60))
            .is_empty()
    );
}

#[test]
fn alerts_resolve_when_the_condition_stops_holding_then_cool_down() {
    let mut ev = Evaluator::new(rules(CRASH));
    let raised = ev.observe_occurrences(&new(&[backoff("web-1", 3, 0)]), at(0));
    assert_eq!(raised.len(), 1);
    assert!(
        ev.tick(at(14)).is_empty(),
        "not yet: 15m without the condition"
    );
    let resolved = ev.tick(at(15));
    assert_eq!(
        kinds(&resolved),
        [(ChangeKind::Resolved, "prod/shop/Deployment/web")]
    );
    assert_eq!(resolved[0].alert.status, AlertStatus::Resolved);
    assert_eq!(resolved[0].alert.ends_at, Some(at(15)));
    assert_eq!(resolved[0].alert.starts_at, at(0));
    // Within the cooldown the group stays quiet even if the condition holds again.
    assert!(
        ev.observe_occurrences(&new(&[backoff("web-2", 3, 20)]), at(20))
            .is_empty()
    );
    // After it, a new alert.
    let again = ev.observe_occurrences(&new(&[backoff("web-3", 3, 26)]), at(26));
    assert_eq!(
        kinds(&again),
        [(ChangeKind::Raised, "prod/shop/Deployment/web")]
    );
    assert_eq!(again[0].alert.starts_at, at(26));
}

#[test]
fn a_firing_alert_is_repeated_after_the_repeat_interval() {
    let mut ev = Evaluator::new(rules(CRASH));
    ev.observe_occurrences(&new(&[backoff("web-1", 3, 0)]), at(0));
    let mut e = backoff("web-1", 3, 0);
    for m in (5..=60).step_by(5) {
        e.count += 3;
        e.last_seen = at(m);
        ev.observe_occurrences(&grew(&e, 3), at(m));
        let t = ev.tick(at(m));
        if m == 60 {
            assert_eq!(
                kinds(&t),
                [(ChangeKind::Repeated, "prod/shop/Deployment/web")]
            );
        } else {
            assert!(t.is_empty(), "minute {m}: {t:?}");
        }
    }
}

#[test]
fn groups_are_separate_and_idle_groups_are_forgotten() {
    let mut ev = Evaluator::new(rules(CRASH));
    let mut api = backoff("api-1", 3, 0);
    api.correlation_id = "shop/Deployment/api".into();
    let changes = ev.observe_occurrences(&new(&[backoff("web-1", 3, 0), api]), at(0));
    assert_eq!(changes.len(), 2);
    ev.tick(at(15));
    assert_eq!(ev.groups(), 2, "cooling down");
    ev.tick(at(26));
    assert_eq!(ev.groups(), 0);
}

#[test]
fn first_seen_fires_for_a_reason_new_to_a_namespace_with_history() {
    let mut ev = Evaluator::new(rules(
        "rules:\n  - name: new-reason\n    condition: first_seen\n    group_by: [cluster, namespace, reason]\n",
    ));
    // A namespace's first events teach it; nothing is new in a namespace never seen.
    assert!(
        ev.observe_occurrences(&new(&[backoff("web-1", 1, 0)]), at(0))
            .is_empty()
    );
    let mut failed = event("shop", "web-1", "FailedMount", 1);
    failed.uid = "fm".into();
    let changes = ev.observe_occurrences(&new(std::slice::from_ref(&failed)), at(1));
    assert_eq!(
        kinds(&changes),
        [(ChangeKind::Raised, "prod/shop/FailedMount")]
    );
    // Seen now: the same reason again is no longer new (it updates the open alert).
    failed.count = 2;
    let again = ev.observe_occurrences(&grew(&failed, 1), at(2));
    assert_eq!(
        kinds(&again),
        [(ChangeKind::Updated, "prod/shop/FailedMount")]
    );
    assert!(
        ev.tick(at(17))
            .iter()
            .all(|c| c.kind == ChangeKind::Resolved)
    );
}

#[test]
fn restored_alerts_stay_open_and_those_of_removed_rules_are_resolved() {
    let mut ev = Evaluator::new(rules(CRASH));
    let raised = ev.observe_occurrences(&new(&[backoff("web-1", 3, 0)]), at(0));
    let record = raised[0].alert.clone();
    let mut orphan = record.clone();
    orphan.rule = "deleted-rule".into();

    let mut restarted = Evaluator::new(rules(CRASH));
    let resolved = restarted.restore(&[record.clone(), orphan], at(5));
    assert_eq!(resolved.len(), 1);
    assert_eq!(resolved[0].alert.rule, "deleted-rule");
    assert_eq!(resolved[0].alert.status, AlertStatus::Resolved);
    // The open alert absorbs new events instead of raising a second one.
    let changes = restarted.observe_occurrences(&new(&[backoff("web-2", 3, 6)]), at(6));
    assert_eq!(
        kinds(&changes),
        [(ChangeKind::Updated, "prod/shop/Deployment/web")]
    );
    assert_eq!(changes[0].alert.starts_at, record.starts_at);
    assert_eq!(changes[0].alert.labels, record.labels);
}

#[test]
fn findings_raise_once_and_report_their_window_totals() {
    let mut ev = Evaluator::new(rules(
        "rules:\n  - name: spikes\n    condition: anomaly >= 3\n    group_by: [cluster, namespace, reason]\n",
    ));
    let f = Finding {
        event: backoff("web-1", 40, 0),
        score: 5.0,
        severity: Severity::Error,
        count: 40,
        first_seen: at(0),
        last_seen: at(0),
        summary: "40 BackOff in an hour, baseline 2".into(),
        cause: None,
    };
    let raised = ev.findings(0, std::slice::from_ref(&f), at(1));
    assert_eq!(kinds(&raised), [(ChangeKind::Raised, "prod/shop/BackOff")]);
    assert_eq!(raised[0].alert.event_count, 40);
    let again = ev.findings(0, &[f], at(2));
    assert_eq!(again[0].kind, ChangeKind::Updated);
    assert_eq!(again[0].alert.event_count, 40, "a total, not added up");
    assert!(ev.findings(7, &[], at(2)).is_empty());
    let r = ev.tick(at(2) + SignedDuration::from_mins(15));
    assert_eq!(r[0].kind, ChangeKind::Resolved);
}

/// Regression (issue 16, item 2): an alert about an incident described the last note and put
/// the root cause and its hint into one `root_cause` sentence.
#[test]
fn an_incident_alert_is_described_by_its_root_cause_with_the_hint() {
    let mut ev = Evaluator::new(rules(
        "rules:\n  - name: incidents\n    condition: incident\n    annotations: {summary: \"{{ correlation }} is failing\"}\n",
    ));
    let cause = Cause {
        reason: "FailedMount".into(),
        object: "shop/Pod/web-1".into(),
        message: "secret \"keys\" not found ".into(),
        hint: "Create the secret keys in shop".into(),
    };
    let f = Finding {
        event: backoff("web-1", 4, 0),
        score: 0.0,
        severity: Severity::Error,
        count: 4,
        first_seen: at(0),
        last_seen: at(0),
        summary: "FailedMount: secret \"keys\" not found (Create the secret keys in shop)".into(),
        cause: Some(cause),
    };
    let raised = ev.findings(0, &[f], at(1));
    let a = &raised[0].alert.annotations;
    assert_eq!(a["summary"], "shop/Deployment/web is failing");
    assert_eq!(
        a["description"],
        "FailedMount on shop/Pod/web-1: secret \"keys\" not found"
    );
    assert_eq!(a["root_cause"], a["description"]);
    assert_eq!(a["hint"], "Create the secret keys in shop");
}

/// Regression (issue 16, item 2): the description was the note of the event that raised the
/// alert (the last one), here a passing probe failure instead of the crash loop.
#[test]
fn the_description_is_the_most_informative_note_and_the_severity_the_highest() {
    let mut ev = Evaluator::new(rules(
        "rules:\n  - name: shop\n    match: {namespace: shop}\n    condition: count >= 4 within 10m\n",
    ));
    let mut probe = backoff("web-2", 1, 1);
    probe.uid = "probe".into();
    probe.reason = "Unhealthy".into();
    probe.note = "Readiness probe failed".into();
    probe.template = probe.note.clone();
    probe.severity = Severity::Warning;
    let raised = ev.observe_occurrences(&new(&[backoff("web-1", 3, 0), probe]), at(1));
    let a = &raised[0].alert;
    assert_eq!(
        a.annotations["description"],
        "Back-off restarting failed container app in pod web-1"
    );
    assert_eq!(a.severity, Severity::Error);
    assert_eq!(a.labels["reason"], "BackOff");
}

#[test]
fn an_open_alert_stays_open_while_its_events_keep_coming_below_the_threshold() {
    let mut ev = Evaluator::new(rules(CRASH));
    assert_eq!(
        ev.observe_occurrences(&new(&[backoff("web-1", 3, 0)]), at(0))
            .len(),
        1
    );
    // One occurrence every 12 minutes: below 3 in 10m, but the crash loop goes on.
    let mut e = backoff("web-1", 3, 0);
    for m in (12..=120).step_by(12) {
        e.count += 1;
        e.last_seen = at(m);
        let changes = ev.observe_occurrences(&grew(&e, 1), at(m));
        assert_eq!(
            kinds(&changes),
            [(ChangeKind::Updated, "prod/shop/Deployment/web")]
        );
        assert!(
            ev.tick(at(m))
                .iter()
                .all(|c| c.kind == ChangeKind::Repeated),
            "minute {m}: still open"
        );
    }
    assert_eq!(
        ev.tick(at(135))[0].kind,
        ChangeKind::Resolved,
        "15m without any"
    );
}

/// Regression: the occurrences a restart replays were added to the restored open alert's
/// count again; they only refill the counting windows.
#[test]
fn a_replay_after_a_restart_refills_windows_without_counting_an_open_alert_again() {
    let mut ev = Evaluator::new(rules(CRASH));
    let committed = new(&[backoff("web-1", 3, 0)]);
    let raised = ev.observe_occurrences(&committed, at(0));
    let record = raised[0].alert.clone();

    let mut restarted = Evaluator::new(rules(CRASH));
    restarted.restore(std::slice::from_ref(&record), at(1));
    let replayed = restarted.replay(&committed, at(1));
    assert_eq!(
        replayed[0].alert.event_count, 3,
        "counted before the restart"
    );
    // The window is full again: one more occurrence is counted on top of it.
    let later = restarted.observe_occurrences(&new(&[backoff("web-2", 1, 2)]), at(2));
    assert_eq!(
        kinds(&later),
        [(ChangeKind::Updated, "prod/shop/Deployment/web")]
    );
    assert_eq!(later[0].alert.event_count, 4);
}

/// Issue 14 §2: a restart replays its occurrences read in pages; page by page, it gives the
/// changes and the state of one replay of them all (one change per group, a raise a raise).
#[test]
fn a_replay_in_pages_changes_what_one_replay_of_every_page_changes() {
    let in_db = |pod: &str, count: u64, minute: i64| {
        let mut e = event("db", pod, "BackOff", count);
        (e.first_seen, e.last_seen) = (at(minute), at(minute));
        e
    };
    let events = new(&[
        backoff("web-1", 1, 0),
        in_db("db-1", 2, 1),
        backoff("web-2", 1, 2),
        in_db("db-2", 1, 3),
        backoff("web-3", 2, 4),
    ]);
    let mut at_once = Evaluator::new(rules(CRASH));
    let whole = at_once.replay(&events, at(5));

    let mut paged = Evaluator::new(rules(CRASH));
    let mut replayed = Replayed::default();
    for page in events.chunks(2) {
        paged.replay_page(page, at(5), &mut replayed);
    }
    let changes = paged.replayed(replayed);
    assert_eq!(
        kinds(&changes),
        [
            (ChangeKind::Raised, "prod/db/Deployment/web"),
            (ChangeKind::Raised, "prod/shop/Deployment/web"),
        ]
    );
    assert_eq!(format!("{changes:?}"), format!("{whole:?}"));
    // The windows are as full: the next occurrence counts on top of the same sums.
    let next = new(&[backoff("web-4", 1, 6)]);
    assert_eq!(
        format!("{:?}", paged.observe_occurrences(&next, at(6))),
        format!("{:?}", at_once.observe_occurrences(&next, at(6)))
    );
}
