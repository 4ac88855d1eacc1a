//! The same real Events in each format a dump comes in read back the same.

mod common;

use common::{gzip, read, real_json_events, write};
use kubetrail_source::import::{Format, SkipReason, WatchType, read_file};
use serde_json::{Value, json};

fn ndjson(values: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    for v in values {
        serde_json::to_writer(&mut out, v).unwrap();
        out.push(b'\n');
    }
    out
}

fn json_list(values: &[Value]) -> Vec<u8> {
    let list = json!({"apiVersion": "v1", "items": values, "kind": "List", "metadata": {"resourceVersion": ""}});
    serde_json::to_vec_pretty(&list).unwrap()
}

fn yaml_list(values: &[Value]) -> Vec<u8> {
    let list = json!({"apiVersion": "v1", "items": values, "kind": "EventList", "metadata": {}});
    yaml_serde::to_string(&list).unwrap().into_bytes()
}

#[test]
fn ndjson_of_real_events_reads_the_same_events() {
    let (values, expected) = real_json_events();
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "events.ndjson", &ndjson(&values));
    let got = read(&path);
    assert!(got.error.is_none(), "{:?}", got.error);
    assert_eq!(got.events, expected);
    let mut items = read_file(&path, "test").unwrap();
    items.next();
    assert_eq!(items.format(), Format::Ndjson);
}

#[test]
fn json_list_yaml_list_and_gzip_of_real_events_read_the_same_events() {
    let (values, expected) = real_json_events();
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in [
        ("list.json", json_list(&values)),
        ("list.yaml", yaml_list(&values)),
        ("list.json.gz", gzip(&json_list(&values))),
        ("events.ndjson.gz", gzip(&ndjson(&values))),
        ("list.yaml.gz", gzip(&yaml_list(&values))),
        // A bare array, compact, on one line.
        ("array.json", serde_json::to_vec(&values).unwrap()),
    ] {
        let path = write(dir.path(), name, &bytes);
        let got = read(&path);
        assert!(got.error.is_none(), "{name}: {:?}", got.error);
        assert_eq!(got.events.len(), expected.len(), "{name}");
        assert!(got.events == expected, "{name}: events differ");
    }
}

#[test]
fn concatenated_gzip_members_are_one_stream() {
    let (values, expected) = real_json_events();
    let (a, b) = values.split_at(values.len() / 2);
    let mut bytes = gzip(&ndjson(a));
    bytes.extend(gzip(&ndjson(b)));
    let dir = tempfile::tempdir().unwrap();
    let got = read(&write(dir.path(), "two-members.gz", &bytes));
    assert!(got.error.is_none(), "{:?}", got.error);
    assert_eq!(got.events, expected);
}

/// Watch envelopes, with deletions and bookmarks between them.
fn envelopes(values: &[Value]) -> (Vec<Value>, usize) {
    let mut out = Vec::new();
    let mut carried = 0;
    for (i, v) in values.iter().enumerate() {
        let kind = ["ADDED", "MODIFIED", "DELETED"][i % 3];
        carried += usize::from(kind != "DELETED");
        out.push(json!({"type": kind, "object": v}));
        if i % 50 == 0 {
            out.push(json!({"type": "BOOKMARK", "object": {"kind": "Event", "apiVersion": "v1", "metadata": {"resourceVersion": "12345"}}}));
        }
    }
    (out, carried)
}

#[test]
fn watch_envelopes_pretty_and_concatenated_or_one_per_line() {
    let (values, expected) = real_json_events();
    let (envelopes, carried) = envelopes(&values);
    let expected: Vec<_> = expected
        .into_iter()
        .enumerate()
        .filter(|(i, _)| i % 3 != 2)
        .map(|(_, e)| e)
        .collect();
    assert_eq!(expected.len(), carried);

    let mut pretty = Vec::new();
    for e in &envelopes {
        serde_json::to_writer_pretty(&mut pretty, e).unwrap();
        pretty.push(b'\n');
    }
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in [("watch.json", pretty), ("watch.ndjson", ndjson(&envelopes))] {
        let got = read(&write(dir.path(), name, &bytes));
        assert!(got.error.is_none(), "{name}: {:?}", got.error);
        assert!(got.events == expected, "{name}: events differ");
        let count = |t| {
            got.skipped
                .iter()
                .filter(|(_, r)| *r == SkipReason::Watch(t))
                .count()
        };
        assert_eq!(count(WatchType::Deleted), values.len() / 3, "{name}");
        assert_eq!(
            count(WatchType::Bookmark),
            values.len().div_ceil(50),
            "{name}"
        );
        assert_eq!(
            got.skipped.len(),
            count(WatchType::Deleted) + count(WatchType::Bookmark)
        );
    }
}

#[test]
fn pretty_concatenated_event_objects_read_one_by_one() {
    let (values, expected) = real_json_events();
    let mut bytes = Vec::new();
    for v in &values[..200] {
        serde_json::to_writer_pretty(&mut bytes, v).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let got = read(&write(dir.path(), "stream.json", &bytes));
    assert!(got.error.is_none(), "{:?}", got.error);
    assert!(got.events == expected[..200]);
}

#[test]
fn a_yaml_stream_mixes_lists_single_events_envelopes_and_other_kinds() {
    let (values, expected) = real_json_events();
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-1", "namespace": "ns",
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web", "uid": "r", "controller": true}]}});
    let status = json!({"apiVersion": "v1", "kind": "Status", "metadata": {}, "code": 410});
    let mut text = String::from("# a comment before everything\n");
    let docs = [
        yaml_list(&values[..3]),
        yaml_serde::to_string(&values[3]).unwrap().into_bytes(),
        yaml_serde::to_string(&pod).unwrap().into_bytes(),
        yaml_serde::to_string(&json!({"type": "MODIFIED", "object": values[4]}))
            .unwrap()
            .into_bytes(),
        yaml_serde::to_string(&status).unwrap().into_bytes(),
        yaml_list(&[]),
    ];
    for doc in docs {
        text.push_str("---\n# source: somewhere\n");
        text.push_str(std::str::from_utf8(&doc).unwrap());
    }
    let dir = tempfile::tempdir().unwrap();
    let got = read(&write(dir.path(), "mixed.yaml", text.as_bytes()));
    assert!(got.error.is_none(), "{:?}", got.error);
    assert!(got.events == expected[..5]);
    assert_eq!(got.objects.len(), 1);
    assert_eq!(got.objects[0].owner.as_ref().unwrap().name, "web");
    assert!(
        matches!(got.skipped.as_slice(), [(_, SkipReason::NotAnEvent { kind: Some(k) })] if k == "Status")
    );
}

#[test]
fn an_empty_list_is_zero_events_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in [
        (
            "empty.json",
            r#"{"apiVersion": "v1", "items": [], "kind": "List", "metadata": {"resourceVersion": ""}}"#,
        ),
        ("empty-array.json", "[]\n"),
        (
            "empty.yaml",
            "apiVersion: v1\nitems: []\nkind: List\nmetadata:\n  resourceVersion: \"\"\n",
        ),
        (
            "empty-eventlist.yaml",
            "apiVersion: v1\nitems:\nkind: EventList\n",
        ),
    ] {
        let got = read(&write(dir.path(), name, text.as_bytes()));
        assert!(got.error.is_none(), "{name}: {:?}", got.error);
        assert!(got.events.is_empty() && got.skipped.is_empty(), "{name}");
    }
}

#[test]
fn progress_counts_bytes_on_disk() {
    let (values, _) = real_json_events();
    let bytes = gzip(&json_list(&values));
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "list.json.gz", &bytes);
    let items = read_file(&path, "c").unwrap();
    assert!(items.is_gzip());
    let progress = items.progress();
    assert!(progress.load(std::sync::atomic::Ordering::Relaxed) <= bytes.len() as u64);
    let n = items.count();
    assert_eq!(n, values.len());
    assert_eq!(
        progress.load(std::sync::atomic::Ordering::Relaxed),
        bytes.len() as u64
    );
}
