//! Import throughput over the real Events of the shared dataset, replicated: NDJSON (the
//! fastest path), a pretty JSON List as kubectl writes it, and NDJSON watch envelopes.
//!
//! Compare with the k8s-openapi parse rate that `../shared/tools/limits/run.sh` measures on
//! the same events: the processing target is at least half of it for the whole pipeline.

// `criterion_group!` defines an undocumented `pub fn`; a benchmark is not an API.
#![allow(missing_docs)]

use std::io::Write;
use std::path::{Path, PathBuf};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kubetrail_source::import::{Item, read_file};
use serde_json::{Value, json};

const EVENTS: usize = 20_000;

use kubetrail_testkit::real_events as dataset;

/// The Event objects of the dataset's JSON files, replicated to `EVENTS`.
fn real_events() -> Vec<Value> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dataset())
        .expect("the shared dataset")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    let mut events = Vec::new();
    for path in paths {
        let doc: Value =
            serde_json::from_slice(&std::fs::read(&path).expect("readable")).expect("JSON");
        match doc {
            Value::Array(items) => events.extend(items),
            mut list => events.append(list["items"].as_array_mut().expect("a List")),
        }
    }
    events.iter().cycle().take(EVENTS).cloned().collect()
}

fn write(path: &Path, values: impl Iterator<Item = Value>, pretty_list: bool) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("a temp file"));
    if pretty_list {
        let list = json!({"apiVersion": "v1", "items": values.collect::<Vec<_>>(), "kind": "List"});
        serde_json::to_writer_pretty(&mut out, &list).expect("written");
    } else {
        for v in values {
            serde_json::to_writer(&mut out, &v).expect("written");
            out.write_all(b"\n").expect("written");
        }
    }
    out.flush().expect("written");
}

fn count_events(path: &Path) -> usize {
    read_file(path, "bench")
        .expect("opens")
        .filter(|item| matches!(item, Ok(Item::Event { .. })))
        .count()
}

fn import(c: &mut Criterion) {
    let events = real_events();
    let dir = tempfile::tempdir().expect("a temp dir");
    let ndjson = dir.path().join("events.ndjson");
    let list = dir.path().join("events.json");
    let watch = dir.path().join("watch.ndjson");
    write(&ndjson, events.iter().cloned(), false);
    write(&list, events.iter().cloned(), true);
    write(
        &watch,
        events.iter().map(|e| json!({"type": "ADDED", "object": e})),
        false,
    );

    let mut group = c.benchmark_group("import");
    group.sample_size(10);
    group.throughput(Throughput::Elements(EVENTS as u64));
    for (name, path) in [
        ("ndjson", &ndjson),
        ("json_list_pretty", &list),
        ("watch_envelopes_ndjson", &watch),
    ] {
        assert_eq!(count_events(path), EVENTS);
        group.bench_function(name, |b| b.iter(|| count_events(path)));
    }
    group.finish();
}

criterion_group!(benches, import);
criterion_main!(benches);
