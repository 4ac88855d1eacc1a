//! Issue 14 §1: incidents kept at ingest are those of one analysis of everything stored. A real
//! dump's events, shuffled and split into batches at random, are written one batch per
//! transaction; the maintainer runs after some batches (at random: it may lag behind); the
//! incidents read back (`kept_incidents`), before and after the last maintenance, equal
//! `incidents()` over every stored event.

use jiff::SignedDuration;
use kubetrail_analyze::link_changes;
use kubetrail_analyze::{Incident, IncidentConfig, Window, incidents};
use kubetrail_model::{
    AnalysisOccurrences, Change, ChangeOp, ChangeSource, Event, EventFilter, ObjectRef,
};
use kubetrail_process::{Processor, Rules};
use kubetrail_query::{
    Detail, JsonLayout, KeptList, ListItem, PassReads, WindowIncidents, kept_incidents, kept_list,
    kept_read, maintain_incidents_reading, whole_where_changes,
};
use kubetrail_source::import::{Item, read_file};
use kubetrail_store::{SqliteStore, Store};
use proptest::prelude::*;
use proptest::sample::Index;

/// Every Event copy of a dump, processed in file order as an import would.
fn copies(name: &str) -> Vec<Event> {
    let path = kubetrail_testkit::real(name);
    let mut processor = Processor::new(Rules::builtin());
    let mut out = Vec::new();
    for item in read_file(&path, "test").expect("a readable dump") {
        match item.expect("a readable item") {
            Item::Object(link) => processor.observe(link),
            Item::Event { event, .. } => out.push(processor.process(event)),
            Item::Revision(_) | Item::Skipped { .. } => {}
        }
    }
    out
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

/// The analysis of everything `store` holds, and the window it covers.
async fn batch(store: &dyn Store, cfg: &IncidentConfig) -> (Vec<Incident>, Window) {
    let all = EventFilter {
        since: Some("1970-01-01T00:00:00Z".parse().expect("a time")),
        until: Some("2100-01-01T00:00:00Z".parse().expect("a time")),
        ..EventFilter::default()
    };
    let events = store.occurrences(&all, 0).await.expect("occurrences");
    let first = events
        .iter()
        .filter_map(|e| e.first())
        .min()
        .expect("events");
    let last = events
        .iter()
        .filter_map(|e| e.last())
        .max()
        .expect("events");
    let window = Window::new(first, last + SignedDuration::from_micros(1)).expect("a window");
    let cfg = IncidentConfig {
        now: None,
        ..cfg.clone()
    };
    let events = AnalysisOccurrences::of_all(&events);
    (incidents(&events, window, &cfg).expect("incidents"), window)
}

async fn kept(store: &dyn Store, window: Window, cfg: &IncidentConfig) -> Vec<Incident> {
    kept_incidents(store, &[], window, window.until, cfg)
        .await
        .expect("kept incidents")
        .expect("SQLite keeps incidents")
}

fn titles(found: &[Incident]) -> Vec<String> {
    found
        .iter()
        .map(|i| {
            format!(
                "{} {} {} {}..{}",
                i.id, i.title, i.event_count, i.start, i.end
            )
        })
        .collect()
}

/// Writes `events` cut at `cuts` (maintaining after the batches `maintain` says, reading as
/// `reads` says), then checks the kept incidents against the batch analysis.
fn check(
    events: Vec<Event>,
    cuts: &[usize],
    maintain: &[bool],
    reads: PassReads,
    cfg: &IncidentConfig,
) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = SqliteStore::open(dir.path().join("kubetrail.db")).expect("a store");
    runtime().block_on(check_on(&store, events, cuts, maintain, reads, cfg));
}

async fn check_on(
    store: &dyn Store,
    events: Vec<Event>,
    cuts: &[usize],
    maintain: &[bool],
    reads: PassReads,
    cfg: &IncidentConfig,
) {
    let mut at: Vec<usize> = cuts.to_vec();
    at.push(0);
    at.push(events.len());
    at.sort_unstable();
    at.dedup();
    for (n, pair) in at.windows(2).enumerate() {
        let mut txn = store.begin().await.expect("begin");
        txn.write(events[pair[0]..pair[1]].to_vec())
            .await
            .expect("write");
        txn.commit().await.expect("commit");
        if maintain.get(n).copied().unwrap_or(false) {
            maintain_incidents_reading(store, cfg, reads)
                .await
                .expect("maintain");
        }
    }
    let (expected, window) = batch(store, cfg).await;
    assert!(!expected.is_empty(), "the dump has incidents");
    // Before the last maintenance: what is dirty is recomputed in memory.
    let early = kept(store, window, cfg).await;
    assert_eq!(titles(&early), titles(&expected));
    assert_eq!(early, expected);
    lists_are_the_kept_incidents(store, window, cfg, &expected).await;
    maintain_incidents_reading(store, cfg, reads)
        .await
        .expect("maintain");
    let kept_store = store.incident_store().expect("the store keeps incidents");
    assert!(kept_store.dirty_ranges().await.expect("dirty").is_empty());
    let rows = kept_store
        .stored_incidents(None, window.since, window.until)
        .await
        .expect("stored incidents");
    assert_eq!(rows.len(), expected.len(), "each incident stored once");
    let late = kept(store, window, cfg).await;
    assert_eq!(titles(&late), titles(&expected));
    assert_eq!(late, expected);
    heads_are_the_incidents_without_their_lists(store, window, cfg, &expected).await;
    lists_are_the_kept_incidents(store, window, cfg, &expected).await;
}

/// A short quiet period and link window, so that the dumps' hours hold many separate spans
/// and the maintainer's horizon is crossed often.
fn short() -> IncidentConfig {
    IncidentConfig {
        quiet: SignedDuration::from_mins(3),
        link_window: SignedDuration::from_mins(2),
        ..IncidentConfig::default()
    }
}

const DUMPS: [&str; 4] = [
    "troubleshoot__message-container-creating-failed-mount.events.json",
    "k8s-failure-reproduction__C5__2023-08-29T23-48-45.events.json",
    "k8s-failure-reproduction__C7__2023-08-21T19-25-26.events.json",
    "troubleshoot__support-bundle-2021-03-24__test.events.json",
];

/// How the maintainer reads: lean, or the next slice read ahead (the import's pass).
fn reads(ahead: bool) -> PassReads {
    match ahead {
        true => PassReads::AHEAD,
        false => PassReads::LEAN,
    }
}

type Case = (usize, Vec<Event>, Vec<Index>, Vec<bool>, bool, bool);

fn case() -> impl Strategy<Value = Case> {
    (0..DUMPS.len()).prop_flat_map(|d| {
        (
            Just(d),
            Just(copies(DUMPS[d])).prop_shuffle(),
            prop::collection::vec(any::<Index>(), 0..12),
            prop::collection::vec(any::<bool>(), 0..13),
            any::<bool>(),
            any::<bool>(),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Any order of a real dump's events, in any batches, with the maintainer running after
    /// any of them, keeps the incidents one analysis of the stored events finds.
    #[test]
    fn kept_incidents_equal_the_analysis_of_everything_stored(
        (_dump, events, cuts, maintain, quick, ahead) in case()
    ) {
        let cfg = if quick { short() } else { IncidentConfig::default() };
        let cuts: Vec<usize> = cuts.iter().map(|c| c.index(events.len() + 1)).collect();
        check(events, &cuts, &maintain, reads(ahead), &cfg);
    }
}

/// The dumps in file order, in batches of 25 events, maintained after every batch: many
/// small dirty spans, as a live cluster writes them.
#[test]
fn a_dump_written_in_file_order_keeps_the_incidents_of_its_analysis() {
    for dump in DUMPS {
        let events = copies(dump);
        let cuts: Vec<usize> = (25..events.len()).step_by(25).collect();
        let every = vec![true; cuts.len() + 1];
        check(
            events.clone(),
            &cuts,
            &every,
            reads(false),
            &IncidentConfig::default(),
        );
        check(events, &cuts, &every, reads(true), &short());
    }
}

/// A store written before incidents were kept (everything dirty, nothing stored) answers from
/// the events, and keeps them after one maintenance.
#[test]
fn a_store_with_nothing_kept_yet_answers_from_its_events() {
    let events = copies(DUMPS[0]);
    check(
        events,
        &[],
        &[false],
        reads(true),
        &IncidentConfig::default(),
    );
}

/// The same on PostgreSQL: a dump in random batches (fixed here), maintained after some.
#[tokio::test]
async fn kept_incidents_equal_the_analysis_of_everything_stored_on_postgres() {
    let (store, _guard) = kubetrail_store::conformance::fresh_postgres_store().await;
    let events = copies(DUMPS[1]);
    let cuts: Vec<usize> = (40..events.len()).step_by(97).collect();
    let maintain: Vec<bool> = (0..=cuts.len()).map(|n| n % 3 == 1).collect();
    let short = short();
    check_on(
        store.as_ref(),
        events.clone(),
        &cuts,
        &maintain,
        reads(false),
        &short,
    )
    .await;
    let (store, _guard) = kubetrail_store::conformance::fresh_postgres_store().await;
    let cfg = IncidentConfig::default();
    check_on(store.as_ref(), events, &cuts, &maintain, reads(true), &cfg).await;
}

/// A change just before the start of every other incident of `found`.
fn changes_before(found: &[Incident]) -> Vec<Change> {
    found
        .iter()
        .step_by(2)
        .map(|i| Change {
            cluster: i.cluster.clone(),
            object: ObjectRef::default(),
            at: i.start - SignedDuration::from_mins(1),
            op: ChangeOp::Updated,
            generation: None,
            resource_version: "1".into(),
            manager: None,
            source: ChangeSource::Watch,
            fields: Vec::new(),
            references: Vec::new(),
        })
        .collect()
}

/// The list's JSON in each layout: as `kubetrail incidents -o json` and `-o ndjson` write it,
/// and as the API answers.
async fn json(store: &dyn Store, list: &KeptList) -> [String; 3] {
    let mut all: [String; 3] = Default::default();
    for (k, layout) in [JsonLayout::Pretty, JsonLayout::Lines, JsonLayout::Compact]
        .into_iter()
        .enumerate()
    {
        let mut out = Vec::new();
        list.write_json(store, &mut out, layout)
            .await
            .expect("json");
        all[k] = String::from_utf8(out).expect("UTF-8");
    }
    all
}

/// What `kubetrail incidents -o json` and `-o ndjson` wrote of `found` read whole, and what the
/// API answered.
fn pretty(found: &[Incident]) -> [String; 3] {
    let lines: String = found
        .iter()
        .map(|i| serde_json::to_string(i).expect("json") + "\n")
        .collect();
    [
        serde_json::to_string_pretty(found).expect("json") + "\n",
        lines,
        serde_json::to_string(found).expect("json"),
    ]
}

/// A list read (`kept_list`) holds the kept incidents in order, each stored one as its summary
/// (columns, no JSON decoded), and writes them as JSON byte for byte as the incidents read
/// whole are written (its stored text copied, the status as of the read); with changes, those
/// read whole and linked are those of a whole read linked.
async fn lists_are_the_kept_incidents(
    store: &dyn Store,
    window: Window,
    cfg: &IncidentConfig,
    expected: &[Incident],
) {
    let read = || async {
        kept_list(store, &[], window, window.until, cfg)
            .await
            .expect("list")
            .expect("SQLite keeps incidents")
    };
    let list = read().await;
    assert_eq!(list.items.len(), expected.len());
    for (n, (item, want)) in list.items.iter().zip(expected).enumerate() {
        match item {
            ListItem::Line { line, status } => {
                let s = &line.summary;
                assert_eq!(
                    (
                        line.cluster.as_str(),
                        line.start,
                        line.end,
                        *status,
                        s.id.as_str(),
                        s.subject.as_str(),
                        s.severity,
                        s.event_count,
                        s.cluster_wide,
                    ),
                    (
                        want.cluster.as_str(),
                        want.start,
                        want.end,
                        want.status,
                        want.id.as_str(),
                        want.subject.as_str(),
                        want.severity,
                        want.event_count,
                        want.cluster_wide,
                    ),
                    "incident {n}"
                );
                assert_eq!(
                    [&s.rule, &s.reason, &s.message],
                    [
                        &want.root_cause.rule,
                        &want.root_cause.reason,
                        &want.root_cause.message
                    ],
                    "incident {n}"
                );
            }
            ListItem::Whole(k) => assert_eq!(&list.whole[*k], want, "incident {n}"),
        }
    }
    assert_eq!(json(store, &list).await, pretty(expected));
    let mut linked = expected.to_vec();
    let changes = changes_before(expected);
    link_changes(&mut linked, &changes, cfg);
    let mut list = read().await;
    list.whole_where_changes(store, &changes, cfg)
        .await
        .expect("whole incidents");
    link_changes(&mut list.whole, &changes, cfg);
    assert_eq!(json(store, &list).await, pretty(&linked));
    // Read whole, each is the incident.
    list.read_whole(store, |_| true).await.expect("whole");
    for (item, want) in list.items.iter().zip(&linked) {
        let ListItem::Whole(k) = item else {
            panic!("read whole")
        };
        assert_eq!(&list.whole[*k], want);
    }
}

/// A list read decodes heads: each kept incident without its timeline and objects, in the same
/// order; those a change may be linked to are read whole again.
async fn heads_are_the_incidents_without_their_lists(
    store: &dyn Store,
    window: Window,
    cfg: &IncidentConfig,
    expected: &[Incident],
) {
    let heads = kept_read(store, &[], window, window.until, cfg, Detail::Head)
        .await
        .expect("heads")
        .expect("SQLite keeps incidents");
    let mut found = WindowIncidents {
        incidents: heads.incidents,
        kept: true,
        cut: false,
        heads: heads.heads,
    };
    let without_lists = |i: &Incident| Incident {
        timeline: Vec::new(),
        objects: Vec::new(),
        ..i.clone()
    };
    assert_eq!(found.heads.len(), expected.len());
    assert!(found.heads.iter().all(Option::is_some), "all read as heads");
    assert_eq!(
        found.incidents,
        expected.iter().map(without_lists).collect::<Vec<_>>()
    );
    // A change just before the start of every other incident: those are read whole.
    let changes = changes_before(expected);
    whole_where_changes(store, &mut found, &changes, cfg)
        .await
        .expect("whole incidents");
    for (n, (got, want)) in found.incidents.iter().zip(expected).enumerate() {
        let near = changes
            .iter()
            .any(|c| c.at >= want.start - cfg.change_window && c.at <= want.start);
        if near {
            assert_eq!(got, want, "incident {n} read whole");
            assert_eq!(found.heads[n], None);
        } else {
            assert_eq!(*got, without_lists(want), "incident {n} stays a head");
        }
    }
}
