//! Rule evaluation throughput: 100 rules (the 6 built-in ones and 94 more on reasons,
//! namespaces, categories and messages) over a stream of 1,000,000 events, in batches of 2,000
//! as the live pipeline commits them. The events are the real dumps replicated (new uids,
//! shifted in time), processed as import would, with the occurrences a store's writes commit
//! for them.

// `criterion_group!` defines an undocumented `pub fn`; a benchmark is not an API.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use jiff::SignedDuration;
use kubetrail_alert::{Evaluator, Rule, builtin_rules, parse_rules};
use std::collections::HashMap;

use kubetrail_model::{Event, EventOccurrences, new_occurrences, stored_count};
use kubetrail_process::{Processor, Rules};
use kubetrail_source::import::{Item, discover, read_file};

const EVENTS: usize = 1_000_000;
const BATCH: usize = 2_000;

fn real_events() -> Vec<Event> {
    let dir = kubetrail_testkit::real_events();
    let found = discover(&[dir]).expect("the real dumps");
    let mut processor = Processor::new(Rules::builtin());
    let mut out = Vec::new();
    for f in &found.files {
        for item in read_file(&f.path, "bench").expect("open") {
            match item.expect("read") {
                Item::Event { event, .. } => out.push(processor.process(event)),
                Item::Object(link) => processor.observe(link),
                Item::Revision(_) | Item::Skipped { .. } => {}
            }
        }
    }
    out
}

/// The real events repeated until there are `n`, each copy with new uids, one hour later.
fn stream(base: &[Event], n: usize) -> Vec<Event> {
    let mut out = Vec::with_capacity(n);
    let mut copy = 0i64;
    while out.len() < n {
        for e in base {
            if out.len() == n {
                break;
            }
            let mut e = e.clone();
            e.uid = format!("{}-{copy}", e.uid);
            e.first_seen += SignedDuration::from_hours(copy);
            e.last_seen += SignedDuration::from_hours(copy);
            out.push(e);
        }
        copy += 1;
    }
    out.sort_by_key(|e| e.last_seen);
    out
}

/// What the store's writes commit for the stream, in order: the occurrences each event adds
/// by the one count-delta rule, given the count stored before (the evaluator's input).
fn committed(events: Vec<Event>) -> Vec<EventOccurrences> {
    let mut stored: HashMap<(String, String), u64> = HashMap::new();
    events
        .into_iter()
        .filter_map(|e| {
            let key = (e.cluster.clone(), e.uid.clone());
            let occurrences = new_occurrences(stored.get(&key).copied(), &e);
            let count = stored.entry(key).or_insert(0);
            *count = (*count).max(stored_count(&e));
            (!occurrences.is_empty()).then_some(EventOccurrences {
                event: e,
                occurrences,
            })
        })
        .collect()
}

fn hundred_rules() -> Vec<Rule> {
    let mut yaml = String::from("rules:\n");
    let reasons = [
        "BackOff",
        "Failed",
        "FailedMount",
        "Unhealthy",
        "FailedScheduling",
        "Killing",
        "Pulling",
        "FailedCreatePodSandBox",
        "NodeNotReady",
        "Evicted",
        "OOMKilling",
        "ProbeError",
    ];
    let categories = [
        "crash",
        "image",
        "storage",
        "health",
        "scheduling",
        "network",
        "node",
    ];
    for i in 0..94 {
        let r = reasons[i % reasons.len()];
        let c = categories[i % categories.len()];
        let cond = [
            "count >= 3 within 5m",
            "count >= 10 within 10m",
            "count >= 1 within 1m",
        ][i % 3];
        let matcher = match i % 4 {
            0 => format!("{{reason: {r}, namespace: {{not: kube-system}}}}"),
            1 => format!("{{category: {c}, severity: warning}}"),
            2 => format!("{{reason: [{r}, BackOff], message: \"(?i)failed|error\"}}"),
            _ => format!("{{namespace: ns-{i}, kind: Pod}}"),
        };
        yaml.push_str(&format!(
            "  - name: rule-{i}\n    match: {matcher}\n    condition: {cond}\n    group_by: [cluster, namespace, reason]\n"
        ));
    }
    let mut rules = builtin_rules();
    rules.extend(parse_rules(&yaml).expect("valid bench rules"));
    assert_eq!(rules.len(), 100);
    rules
}

fn evaluation(c: &mut Criterion) {
    let events = committed(stream(&real_events(), EVENTS));
    let rules = hundred_rules();
    let mut g = c.benchmark_group("alert");
    g.sample_size(10);
    g.throughput(Throughput::Elements(EVENTS as u64));
    g.bench_function("evaluate 100 rules x 1M events", |b| {
        b.iter(|| {
            let mut ev = Evaluator::new(rules.clone());
            let mut changes = 0usize;
            for batch in events.chunks(BATCH) {
                let now = batch.last().map(|e| e.event.last_seen).unwrap_or_default();
                changes += ev.observe_occurrences(batch, now).len();
                changes += ev.tick(now).len();
            }
            black_box(changes)
        })
    });
    g.finish();
}

criterion_group!(benches, evaluation);
criterion_main!(benches);
